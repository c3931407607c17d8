"""Writes the seed corpus of h2_connection_fuzz (tests/fuzz/corpus/h2_connection):
scripts in the target's format (a config byte, then operations) carrying real HTTP/2
frames, so the fuzzer starts from requests, bodies, control frames and floods.
Run with a Python that has `hpack` (the test dependencies): python tests/fuzz/h2_seeds.py"""

from __future__ import annotations

import struct
from pathlib import Path

import hpack

OUT = Path(__file__).parent / "corpus" / "h2_connection"
FEED, ANSWER, STREAM, READ_MORE, SEND, TIME, DRAIN, EOF, WS_ACCEPT, WS_APP = 0, 3, 4, 5, 6, 7, 8, 9, 10, 11


def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def headers(path: str, method: str = "GET", extra: list[tuple[str, str]] | None = None) -> bytes:
    return hpack.Encoder().encode([(":method", method), (":path", path), (":scheme", "http"),
                                   (":authority", "x"), *(extra or [])])


def feed(data: bytes) -> bytes:
    out = b""
    for i in range(0, len(data), 256):
        chunk = data[i:i + 256]
        out += bytes([FEED, len(chunk) - 1]) + chunk
    return out


def ws_connect(path: str = "/a", protocol: str = "websocket") -> bytes:
    """An extended CONNECT's header block (RFC 8441 §4)."""
    return hpack.Encoder().encode([(":method", "CONNECT"), (":protocol", protocol), (":scheme", "http"),
                                   (":path", path), (":authority", "x"), ("sec-websocket-version", "13")])


def ws_frame(op: int, payload: bytes, fin: bool = True) -> bytes:
    """A masked client WebSocket frame (RFC 6455 §5.2), payload under 126 bytes."""
    mask = b"\x01\x02\x03\x04"
    return bytes([(0x80 if fin else 0) | op, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


SETTINGS = frame(4, 0, 0)
SETTINGS_ACK = frame(4, 1, 0)  # the client has the server's SETTINGS (extended CONNECT is on)
GZIP, BR, ZSTD = 32, 64, 96  # config bits 5-6: the coding the server offers
AE = [("accept-encoding", "gzip, br, zstd")]
SEEDS = {
    "get_native_and_app": bytes([0]) + feed(SETTINGS + frame(1, 5, 1, headers("/n")) + frame(1, 5, 3, headers("/a")))
    + bytes([ANSWER, 100, 20, SEND]),
    "post_buffered": bytes([0]) + feed(SETTINGS + frame(1, 4, 1, headers("/a", "POST")) + frame(0, 1, 1, b"x" * 300))
    + bytes([ANSWER, 50, 3, SEND]),
    "post_streamed": bytes([6]) + feed(SETTINGS + frame(1, 4, 1, headers("/a", "POST")) + frame(0, 0, 1, b"y" * 200))
    + bytes([READ_MORE, STREAM, 1, 5, SEND]) + feed(frame(0, 1, 1, b"z" * 50)) + bytes([STREAM, 0, 2, SEND]),
    # Issue 25: four uploads (no Content-Length: streamed) whose DATA interleaves past the
    # connection window, small windows (config bit 7), the app reading one now and then.
    "parallel_uploads": bytes([4 | 128]) + feed(SETTINGS + frame(4, 1, 0) + b"".join(frame(1, 4, s, headers("/a", "POST"))
                                                                    for s in (1, 3, 5, 7)))
    + b"".join(feed(frame(0, 0, s, b"u" * 4000)) + bytes([READ_MORE, SEND]) for _ in range(6) for s in (1, 3, 5, 7))
    + feed(b"".join(frame(0, 1, s, b"") for s in (1, 3, 5, 7))) + bytes([STREAM, 1 | 64, 1, SEND]),
    "streamed_answer_trailers": bytes([0]) + feed(SETTINGS + frame(1, 5, 1, headers("/a")))
    + bytes([STREAM, 1, 40, SEND, STREAM, 2, 40, STREAM, 8, 0, SEND]),
    "control_frames": bytes([0]) + feed(SETTINGS + frame(6, 0, 0, b"12345678") + frame(8, 0, 0, struct.pack(">I", 1000))
                                        + frame(1, 5, 1, headers("/a")) + frame(3, 0, 1, struct.pack(">I", 8))
                                        + frame(7, 0, 0, struct.pack(">II", 0, 0))) + bytes([SEND]),
    "continuation": bytes([0]) + feed(SETTINGS + frame(1, 0, 1, headers("/a")) + frame(9, 0, 1, b"")
                                      + frame(9, 4, 1, hpack.Encoder().encode([("x-a", "b")]))) + bytes([SEND]),
    "limits": bytes([9]) + feed(SETTINGS + frame(1, 5, 1, headers("/a", extra=[(f"x-{i}", "v" * 50) for i in range(8)]))
                                + frame(1, 4, 3, headers("/a", "POST")) + frame(0, 1, 3, b"b" * 200)
                                + b"".join(frame(1, 5, s, headers("/n")) + frame(3, 0, s, b"\0\0\0\x08")
                                           for s in range(5, 30, 2))) + bytes([SEND]),
    "zero_window_timeout": bytes([0]) + feed(frame(4, 0, 0, struct.pack(">HI", 4, 0)) + frame(1, 5, 1, headers("/n")))
    + bytes([SEND, TIME, 35, TIME, 35, SEND]),
    "drain_then_eof": bytes([0]) + feed(SETTINGS + frame(1, 5, 1, headers("/a"))) + bytes([DRAIN, SEND, ANSWER, 100, 1,
                                                                                          SEND, EOF, 1, SEND]),
    "garbage": bytes([0]) + feed(b"\x00\x00\x04\x09\x00\x00\x00\x00\x01garbage!" * 4) + bytes([SEND]),
    # Compression on (config bits 5-6: gzip 32, br 64, zstd 96): whole answers, coded
    # streams, a file piece inside a coded stream (reset) and a whole file answer.
    "gzip_whole_and_native": bytes([GZIP]) + feed(SETTINGS + frame(1, 5, 1, headers("/n", extra=AE))
                                                  + frame(1, 5, 3, headers("/a", extra=AE))
                                                  + frame(1, 5, 5, headers("/a"))) + bytes([ANSWER, 50, 200, ANSWER, 50, 30, SEND]),
    "br_coded_stream": bytes([BR]) + feed(SETTINGS + frame(1, 5, 1, headers("/a", extra=AE)))
    + bytes([STREAM, 1, 40, SEND, STREAM, 2, 40, STREAM, 2 | 128, 3, STREAM, 8, 0, SEND]),
    "zstd_file_piece_in_coded_stream": bytes([ZSTD]) + feed(SETTINGS + frame(1, 5, 1, headers("/a", extra=AE)))
    + bytes([STREAM, 1, 40, SEND, STREAM, 2 | 16, 10, SEND]) + feed(frame(1, 5, 3, headers("/n", extra=AE)))
    + bytes([SEND]),
    "gzip_head_body_end_and_file_answer": bytes([GZIP]) + feed(SETTINGS + frame(1, 5, 1, headers("/a", extra=AE))
                                                              + frame(1, 5, 3, headers("/a", extra=AE)))
    + bytes([STREAM, 1 | 64 | 16, 30, STREAM, 1 | 64, 30, SEND]),
    "br_coded_stream_abort": bytes([BR]) + feed(SETTINGS + frame(1, 5, 1, headers("/a", extra=AE)))
    + bytes([STREAM, 1 | 128, 5, SEND, STREAM, 4, 0, SEND]),
    "zstd_uncoded_type_and_head": bytes([ZSTD]) + feed(SETTINGS + frame(1, 5, 1, headers("/a", extra=AE))
                                                      + frame(1, 5, 3, headers("/a", "HEAD", extra=AE)))
    + bytes([STREAM, 1 | 32, 20, STREAM, 0, 0, SEND, STREAM, 1, 20, STREAM, 0, 0, SEND]),
    # WebSockets over HTTP/2 (RFC 8441): accepted (op 10), frames both ways in DATA, the
    # app's messages (op 11: text, ping/close, abort, credit), the close handshake, a
    # reset, the end of the stream, pings on timeouts, drain; an unknown :protocol.
    "websocket_echo_and_close": bytes([0]) + feed(SETTINGS + SETTINGS_ACK + frame(1, 4, 1, ws_connect()))
    + bytes([WS_ACCEPT, 0x1F, SEND]) + feed(frame(0, 0, 1, ws_frame(1, b"hello") + ws_frame(2, b"\x00\x01", False)))
    + feed(frame(0, 0, 1, ws_frame(0, b"more") + ws_frame(9, b"p")))
    + bytes([WS_APP, 0, 0, 3, WS_APP, 0, 4, SEND]) + feed(frame(0, 0, 1, ws_frame(8, b"\x03\xe8")))
    + bytes([SEND]) + feed(frame(0, 1, 1, b"")) + bytes([SEND]),
    "websocket_app_closes_then_times_out": bytes([0]) + feed(SETTINGS + SETTINGS_ACK + frame(1, 4, 1, ws_connect()))
    + bytes([WS_ACCEPT, 0x10, WS_APP, 0, 2 | 8, SEND, TIME, 10, TIME, 10, SEND]),
    "websocket_reset_and_second_stream": bytes([0]) + feed(SETTINGS + SETTINGS_ACK + frame(1, 4, 1, ws_connect())
                                                           + frame(1, 4, 3, ws_connect("/b")))
    + bytes([WS_ACCEPT, 0x01, WS_ACCEPT, 0x01]) + feed(frame(3, 0, 1, struct.pack(">I", 8)))
    + feed(frame(0, 0, 3, b"".join(ws_frame(2, b"x" * 100) for _ in range(8))))
    + bytes([SEND, WS_APP, 1, 4, SEND, WS_APP, 1, 1, 50, TIME, 25, SEND, DRAIN, SEND, WS_APP, 1, 3, SEND]),
    "websocket_early_data_and_unknown_protocol": bytes([0]) + feed(
        SETTINGS + SETTINGS_ACK + frame(1, 4, 1, ws_connect()) + frame(0, 0, 1, ws_frame(1, b"early"))
        + frame(1, 4, 3, ws_connect("/c", "chat")) + frame(1, 5, 5, headers("/a")))
    + bytes([WS_ACCEPT, 0x33, SEND, WS_ACCEPT, 0x00, SEND, EOF, 1, SEND]),
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (OUT / name).write_bytes(data)
    print(f"{len(SEEDS)} seeds in {OUT}")
