"""WebSocket end to end (RFC 6455, RFC 7692) over real sockets: the `websockets` client
library for what a browser-like client does, and raw frames for what a broken or hostile
client does. Runs on both io backends (make test-py runs the suite twice)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from conftest import SANITIZER, ServerProcess, get
from ws_helpers import fails_1011_then_echoes, refused, run, url

KEY = base64.b64encode(b"0123456789abcdef").decode()


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("ws_app:app", "--threads", "1", "--metrics", "--ws-max-size", "1000000")
    yield s
    code = s.stop()
    assert code == 0, s.output()


def metric(s: ServerProcess, name: str) -> int:
    text = get(s, "/metrics").body.decode()
    total = 0
    for line in text.splitlines():
        if line.startswith(f"ringbolt_{name}") and not line.startswith("#"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def events(s: ServerProcess) -> list[str]:
    return get(s, "/events").json()["events"]


def wait_event(s: ServerProcess, prefix: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(s):
            if e.startswith(prefix):
                return e
        time.sleep(0.05)
    raise AssertionError(f"no event {prefix!r} in {events(s)}")


# ---- a raw client: handshake and frames by hand ----


class Raw:
    def __init__(self, s: ServerProcess, path: str = "/echo", extra: str = "") -> None:
        self.sock = s.connect(timeout=10)
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            assert data, f"closed during the handshake: {self.buf!r}"
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, mask: bool = True, rsv: int = 0) -> None:
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed with {self.buf!r} buffered")
            self.buf += data

    def recv_frame(self) -> tuple[bool, int, bytes]:
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frames are never masked"
        n = b1 & 0x7F
        at = 2
        if n == 126:
            self._need(4)
            n = struct.unpack("!H", self.buf[2:4])[0]
            at = 4
        elif n == 127:
            self._need(10)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            at = 10
        self._need(at + n)
        payload = self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def expect_close(self, code: int) -> str:
        fin, op, payload = self.recv_frame()
        assert op == 8, (op, payload)
        got = struct.unpack("!H", payload[:2])[0]
        assert got == code, (got, payload[2:])
        return payload[2:].decode()

    def expect_eof(self) -> None:
        self.sock.settimeout(10)
        try:
            assert self.sock.recv(65536) == b""
        except ConnectionResetError:
            pass

    def close(self) -> None:
        self.sock.close()


# ---- echo and the API ----


@pytest.mark.parametrize("compression", ["deflate", None])
def test_echo_text_binary_and_large(srv, compression):
    async def main():
        async with websockets.connect(url(srv, "/echo"), compression=compression, max_size=None) as ws:
            negotiated = ws.response.headers.get("sec-websocket-extensions")
            if compression:
                assert negotiated and negotiated.startswith("permessage-deflate")
            else:
                assert negotiated is None
            await ws.send("hello é 🎉")
            assert await ws.recv() == "hello é 🎉"
            await ws.send(b"\x00\x01\xff")
            assert await ws.recv() == b"\x00\x01\xff"
            big = os.urandom(300_000)
            await ws.send(big)
            assert await ws.recv() == big
            text = "abc" * 100_000
            await ws.send(text)
            assert await ws.recv() == text
            for i in range(200):  # many small messages in flight at once
                await ws.send(f"m{i}")
            assert [await ws.recv() for _ in range(200)] == [f"m{i}" for i in range(200)]

    run(main())


def test_handshake_facets_subprotocol_and_headers(srv):
    async def main():
        async with websockets.connect(url(srv, "/room/lobby?user=ann"), subprotocols=["chat.v1", "chat.v2"],
                                      origin="http://example.com",
                                      additional_headers={"Cookie": "session=s3cret; other=1"}) as ws:
            assert ws.subprotocol == "chat.v2"
            assert ws.response.headers["x-room"] == "lobby"
            info = json.loads(await ws.recv())
            assert info == {"room": "lobby", "query": "ann", "origin": "http://example.com", "subprotocol": "chat.v2",
                            "cookie": "s3cret", "url": f"ws://127.0.0.1:{srv.port}/room/lobby?user=ann"}
            await ws.close(1000, "done here")
        assert wait_event(srv, "room lobby closed") == "room lobby closed 1000 done here"

    run(main())


def test_server_close_code_and_reason(srv):
    async def main():
        async with websockets.connect(url(srv, "/close/4001")) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd.code == 4001
            assert info.value.rcvd.reason == "bye now"

    run(main())


def test_refused_handshake_is_403(srv):
    assert run(refused(url(srv, "/deny"))).status_code == 403


def test_handler_failure_closes_1011_and_others_go_on(srv):
    run(fails_1011_then_echoes(srv, "trigger"))
    assert "handler failed on purpose" in srv.output() or srv.proc.poll() is None


def test_api_misuse_raises_naming_the_cause(srv):
    async def main():
        async with websockets.connect(url(srv, "/misuse")) as ws:
            assert "x-bad" not in ws.response.headers and "mine" not in ws.response.headers.values()
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "done")

    run(main())
    seen = [e for e in events(srv) if e.startswith("misuse")]
    assert len(seen) == 7, seen
    assert "not-offered" in seen[0] and "x-bad" in seen[1] and "Sec-WebSocket-Accept" in seen[2]
    assert all("cannot be sent" in e for e in seen[3:5]) and "at most 123 bytes" in seen[5]
    assert "str (text) or bytes (binary)" in seen[6]


# ---- handshake refusals (RFC 6455 §4.2.1, §4.4) ----


def test_handshake_errors(srv):
    base = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    from conftest import request

    r = request(srv, (base + f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n").encode())
    assert r.status == 426 and r.header("sec-websocket-version") == "13"
    r = request(srv, (base + "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert r.status == 400 and b"Sec-WebSocket-Key" in r.body
    r = request(srv, (base + "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    assert r.status == 400
    r = get(srv, "/echo")  # a plain GET to a WebSocket endpoint
    assert r.status == 426 and r.header("upgrade") == "websocket"
    r = request(srv, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert r.status == 405
    r = get(srv, "/")  # the server is unharmed
    assert r.status == 200


# ---- the protocol by hand ----


def test_fragments_with_a_ping_between(srv):
    raw = Raw(srv)
    assert raw.head.startswith("HTTP/1.1 101")
    raw.send_frame(1, "frag".encode(), fin=False)
    raw.send_frame(9, b"ping-data")  # a control frame inside a fragmented message (§5.4)
    raw.send_frame(0, "ment".encode(), fin=False)
    raw.send_frame(0, "ed é".encode())
    assert raw.recv_frame() == (True, 10, b"ping-data")  # pong, same payload (§5.5.3)
    assert raw.recv_frame() == (True, 1, "fragmented é".encode())
    raw.send_frame(8, struct.pack("!H", 1000) + b"ok")
    assert raw.expect_close(1000) == ""
    raw.expect_eof()  # the server closes the TCP connection after the close handshake


def test_accept_value_is_rfc_6455(srv):
    import hashlib

    raw = Raw(srv)
    fields = dict(line.split(": ", 1) for line in raw.head.split("\r\n")[1:])
    fields = {k.lower(): v for k, v in fields.items()}
    expected = base64.b64encode(hashlib.sha1((KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert fields["sec-websocket-accept"] == expected.decode()
    assert fields["upgrade"] == "websocket" and fields["connection"] == "Upgrade"
    assert "content-length" not in fields and "transfer-encoding" not in fields
    raw.close()


def test_unmasked_client_frame_is_1002(srv):
    raw = Raw(srv)
    raw.send_frame(1, b"hello", mask=False)
    assert "masked" in raw.expect_close(1002)
    raw.expect_eof()


def test_reserved_bits_and_opcodes_are_1002(srv):
    raw = Raw(srv)
    raw.send_frame(1, b"x", rsv=2)
    raw.expect_close(1002)
    raw.expect_eof()
    raw = Raw(srv)
    raw.send_frame(3, b"x")
    assert "opcode" in raw.expect_close(1002)
    raw.expect_eof()
    raw = Raw(srv)
    raw.send_frame(0, b"x")  # a continuation without a message
    raw.expect_close(1002)
    raw.expect_eof()


def test_bad_utf8_is_1007_and_fails_fast(srv):
    raw = Raw(srv)
    raw.send_frame(1, b"ok \xff")
    raw.expect_close(1007)
    raw.expect_eof()
    # Fail fast (§8.1): the first fragment already cannot be UTF-8 (U+110000 and up);
    # the close comes without the message ever being finished.
    raw = Raw(srv)
    raw.send_frame(1, b"abc\xf4\x90", fin=False)
    raw.expect_close(1007)
    raw.expect_eof()


def test_oversize_message_is_1009(srv):
    raw = Raw(srv)
    raw.send_frame(2, b"x" * 1_000_001)  # --ws-max-size 1000000
    raw.expect_close(1009)
    raw.expect_eof()
    raw = Raw(srv)  # the limit is on the message, across fragments
    raw.send_frame(2, b"x" * 600_000, fin=False)
    raw.send_frame(0, b"x" * 600_000)
    raw.expect_close(1009)
    raw.expect_eof()


def test_bad_close_frames(srv):
    raw = Raw(srv)
    raw.send_frame(8, b"\x03")  # a 1-byte close payload
    raw.expect_close(1002)
    raw = Raw(srv)
    raw.send_frame(8, struct.pack("!H", 1005))  # a code that must never be sent
    raw.expect_close(1002)
    raw = Raw(srv)
    raw.send_frame(8, struct.pack("!H", 1000) + b"\xff")  # a reason that is not UTF-8
    raw.expect_close(1007)
    raw = Raw(srv)
    raw.send_frame(8, b"")  # no code: answered with an empty close
    fin, op, payload = raw.recv_frame()
    assert (op, payload) == (8, b"")
    raw.expect_eof()


def test_tcp_close_without_close_frame_tells_the_app_1006(srv):
    raw = Raw(srv, "/hold")
    raw.close()
    assert wait_event(srv, "hold closed") == "hold closed 1006"


# ---- flow control both ways ----


def test_app_that_does_not_receive_stops_the_socket_being_read(srv):
    before = metric(srv, "websocket_reads_paused")
    raw = Raw(srv, "/lazy?sleep=until-woken")
    sent = 0
    chunk = b"y" * 65536
    raw.sock.settimeout(0.5)
    # 8 MiB while the handler waits (for GET /lazy-wake, however slow a loaded machine
    # makes this client): the 1 MiB read window fills, reading pauses, the kernel buffers
    # fill and the client cannot send more until the handler receives.
    try:
        while sent < 128:
            raw.send_frame(2, chunk)
            sent += 1
    except (socket.timeout, BlockingIOError):
        pass
    assert sent < 128, "the server kept reading although the app took nothing"
    assert metric(srv, "websocket_reads_paused") > before
    assert get(srv, "/lazy-wake").status == 200
    raw.sock.settimeout(30)
    while sent < 128:  # the handler wakes and takes everything: the rest goes through
        raw.send_frame(2, chunk)
        sent += 1
    raw.send_frame(8, struct.pack("!H", 1000))
    raw.expect_close(1000)
    assert wait_event(srv, "lazy got") == f"lazy got {128 * 65536} closed 1000"


def test_slow_reader_makes_send_wait_with_bounded_memory(srv):
    rss_before = get(srv, "/rss").json()["rss_kib"]
    raw = Raw(srv, "/flood?n=2000")  # 2000 x 64 KiB = 125 MiB if nothing waited
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    time.sleep(2)  # the client reads nothing: send() must be waiting by now
    assert not any(e.startswith("flood sent") for e in events(srv))
    rss_paused = get(srv, "/rss").json()["rss_kib"]
    slack = 64 * 1024 + int(os.environ.get("RINGBOLT_TEST_RSS_SLACK_MIB", "0")) * 1024
    assert rss_paused - rss_before < slack, (rss_before, rss_paused)
    received = 0
    raw.sock.settimeout(30)
    while received < 2000:
        fin, op, payload = raw.recv_frame()
        assert op == 2 and len(payload) == 65536
        received += 1
    assert wait_event(srv, "flood sent") == "flood sent 2000"
    raw.close()


# ---- many connections, drain ----


def test_many_idle_websockets(srv):
    import resource

    n = 5000 if not SANITIZER else 500
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 200:  # this process holds the client ends
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    rss_before = get(srv, "/rss").json()["rss_kib"]
    socks = [Raw(srv, "/hold") for _ in range(n)]
    rss_after = get(srv, "/rss").json()["rss_kib"]
    per_conn = (rss_after - rss_before) * 1024 / n
    print(f"\n{n} idle WebSockets: {per_conn:.0f} bytes of RSS each")
    # Each holds a suspended handler coroutine and its channel: tens of KiB at most.
    assert per_conn < 64 * 1024 * (4 if SANITIZER else 1), per_conn
    for raw in socks[:50]:
        raw.send_frame(1, b"bye")
    for raw in socks:
        raw.close()
    raw = Raw(srv)
    raw.send_frame(1, b"after")
    assert raw.recv_frame() == (True, 1, b"after")
    raw.close()


def test_drain_closes_websockets_with_1001():
    s = ServerProcess("ws_app:app", "--threads", "1")
    try:
        raw = Raw(s, "/hold")
        echo = Raw(s, "/echo")
        echo.send_frame(1, b"before")
        assert echo.recv_frame() == (True, 1, b"before")
        s.proc.send_signal(signal.SIGTERM)
        assert "shutting down" in raw.expect_close(1001)
        echo.expect_close(1001)
        raw.send_frame(8, struct.pack("!H", 1001))  # the client answers: the server closes
        raw.expect_eof()
        echo.close()  # this one never answers: closed at the close timeout
        assert s.proc.wait(30) == 0
    finally:
        s.stop()
    assert "hold closed 1001" not in s.output()  # events are in memory only; the exit code is the proof
