"""Writes the seed corpus of h3_connection_fuzz (tests/fuzz/corpus/h3_connection):
scripts in the target's format (a config byte, then operations) carrying real HTTP/3
stream bytes (control and QPACK streams, HEADERS and DATA frames with static-table QPACK
field sections), so the fuzzer starts from requests, bodies, answers, acks and resets.
Run with any Python 3: python tests/fuzz/h3_seeds.py"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).parent / "corpus" / "h3_connection"
FEED, ANSWER, STREAM, READ_MORE, PULL, ACK, RETRANSMIT, RESET, CLOSE, DRAIN = 0, 3, 4, 5, 6, 7, 8, 9, 10, 11

# The fuzz target's stream picks: client request streams 4*k (pick 2*k), the client's
# unidirectional streams 2, 6, 10 (picks 1, 3, 5).
CONTROL, QPACK_ENC, QPACK_DEC = 1, 3, 5


def request_stream(k: int) -> int:
    return 2 * k


def varint(v: int) -> bytes:
    assert v < 0x4000
    return bytes([v]) if v < 0x40 else bytes([0x40 | (v >> 8), v & 0xFF])


def frame(ftype: int, payload: bytes) -> bytes:
    return varint(ftype) + varint(len(payload)) + payload


def literal(static_name_index: int, value: str) -> bytes:
    # RFC 9204 §4.5.4: literal with a static name reference, no Huffman.
    assert static_name_index < 16 and len(value) < 0x7F
    return bytes([0x50 | static_name_index, len(value)]) + value.encode()


def field_section(path: str, method_index: int = 17) -> bytes:
    # Required Insert Count 0, Base 0; :method (static 17 GET, 20 POST), :scheme https
    # (23), :authority x, :path.
    return bytes([0, 0, 0xC0 | method_index, 0xC0 | 23]) + literal(0, "x") + literal(1, path)


def literal_name(name: str, value: str) -> bytes:
    # RFC 9204 §4.5.6: literal with a literal name (3-bit prefix length), no Huffman.
    assert 7 <= len(name) < 7 + 0x7F and len(value) < 0x7F
    return bytes([0x27, len(name) - 7]) + name.encode() + bytes([len(value)]) + value.encode()


def extended_connect(path: str) -> bytes:
    # RFC 9220 §3: :method CONNECT (static 15), :protocol websocket, :scheme https, :authority, :path.
    return (bytes([0, 0, 0xC0 | 15]) + literal_name(":protocol", "websocket") + bytes([0xC0 | 23])
            + literal(0, "x") + literal(1, path) + literal_name("sec-websocket-version", "13"))


def ws_frame(op: int, payload: bytes) -> bytes:
    # A masked client frame (RFC 6455 §5.2), short.
    mask = b"\x01\x02\x03\x04"
    return bytes([0x80 | op, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def feed(pick: int, data: bytes, fin: bool = False) -> bytes:
    out = b""
    for i in range(0, len(data), 256):
        chunk = data[i:i + 256]
        last = i + 256 >= len(data)
        out += bytes([FEED, 1 if fin and last else 0, pick, len(chunk) - 1]) + chunk
    return out


def setup() -> bytes:
    return feed(CONTROL, b"\x00" + frame(4, b"")) + feed(QPACK_ENC, b"\x02") + feed(QPACK_DEC, b"\x03")


def deliver() -> bytes:
    return bytes([PULL, 0, RETRANSMIT, ACK, 1, PULL, 0, ACK, 1])


# Op 11's operand, by its top two bits: drain/EOF, accept as a WebSocket, play one, time.
WS_ACCEPT, WS_PLAY, TIME = 0x40, 0x80, 0xC0


def seeds() -> dict[str, bytes]:
    get_native = setup() + feed(request_stream(0), frame(1, field_section("/native")), fin=True)
    get_app = setup() + feed(request_stream(1), frame(1, field_section("/app")), fin=True)
    post = frame(1, field_section("/upload", 20)) + frame(0, b"b" * 40)
    return {
        "get_native": b"\x00" + get_native + deliver() + bytes([CLOSE, 0]),
        "get_app_whole": b"\x00" + get_app + deliver() + bytes([ANSWER, 100, 20, 1]) + deliver(),
        "get_app_streamed": b"\x00" + get_app + bytes([STREAM, 1, 30]) + deliver() + bytes([STREAM, 2, 40])
        + bytes([PULL, 2, RETRANSMIT, ACK, 0]) + bytes([STREAM, 8, 0]) + deliver(),
        "post_streamed": b"\x02" + setup() + feed(request_stream(2), post, fin=True) + bytes([READ_MORE])
        + bytes([ANSWER, 50, 3, 0]) + deliver(),
        "post_reset": b"\x02" + setup() + feed(request_stream(2), post) + bytes([RESET, 1, request_stream(2)])
        + deliver() + bytes([CLOSE, request_stream(2)]),
        "stop_sending": b"\x00" + get_app + bytes([STREAM, 1, 30, RESET, 0, request_stream(1)]) + deliver(),
        "drain": b"\x00" + get_app + bytes([DRAIN, 1]) + feed(request_stream(3), frame(1, field_section("/n")), True)
        + deliver() + bytes([ANSWER, 50, 3, 0]) + deliver(),
        "stream_cap": b"\x04" + setup() + b"".join(feed(request_stream(k), frame(1, field_section("/a")), True)
                                                   for k in range(4)) + deliver(),
        "bad_control": b"\x00" + feed(CONTROL, b"\x00" + frame(4, b"") + frame(0, b"")) + deliver(),
        # WebSocket routes on (config bit 4): an extended CONNECT accepted, a message each
        # way, a ping, the clocks, the client's close and FIN.
        "websocket": b"\x10" + setup() + feed(request_stream(0), frame(1, extended_connect("/ws")))
        + bytes([DRAIN, WS_ACCEPT, 0x25]) + deliver()
        + feed(request_stream(0), frame(0, ws_frame(1, b"hello")))
        + bytes([DRAIN, WS_PLAY, 0, 0, 3, DRAIN, WS_PLAY, 0, 2]) + deliver() + bytes([DRAIN, TIME | 30]) + deliver()
        + feed(request_stream(0), frame(0, ws_frame(8, b"\x03\xe8")), fin=True) + deliver()
        + bytes([CLOSE, request_stream(0)]),
        "websocket_reset": b"\x10" + setup() + feed(request_stream(1), frame(1, extended_connect("/ws")))
        + bytes([DRAIN, WS_ACCEPT, 0xFF]) + deliver() + feed(request_stream(1), frame(0, ws_frame(2, b"x" * 50)))
        + bytes([RESET, 1, request_stream(1)]) + deliver() + bytes([DRAIN, WS_PLAY, 0, 1, 9]) + deliver(),
        "websocket_refused": b"\x00" + setup() + feed(request_stream(0), frame(1, extended_connect("/ws")))
        + deliver(),
        "small_limits": b"\x01" + setup() + feed(request_stream(0), frame(1, field_section("/" + "p" * 100)), True)
        + deliver(),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
