"""HTTP/2 end to end (issue 12): h2c by prior knowledge on real sockets, on both io
backends. The Python `h2` library drives precise frame-level exchanges (bad input and the
known attacks); curl, nghttp and h2load are the real clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from typing import Any

import h2.events
import h2.settings
import hpack
import pytest

from conftest import ServerProcess
from h2_tls_helpers import (  # noqa: F401  (Client and status re-exported for older importers)
    BACKENDS,
    CLIENT_ENV,
    Client,
    curl,
    env_io,
    h2_counters as counters,
    h2load,
    running,
    status,
    wait_for,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = 0x0, 0x1, 0x7, 0x8, 0xB


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest) -> Any:
    # A long keep-alive: the idle clock starts once an answer is handed to the kernel, and
    # on a loaded machine a client may still be reading an 8 MB one 5 s later (its next
    # request would meet the GOAWAY). The idle timeout has a test of its own.
    s = ServerProcess(
        "h2_app:app", "--metrics", "--threads", "1", "--timeout-keep-alive", "30", env=env_io(request.param)
    )
    s.io = request.param  # type: ignore[attr-defined]
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture(scope="module")
def io(srv: ServerProcess) -> str:
    return srv.io  # type: ignore[attr-defined,no-any-return]


# ---- raw frames for what the library will not send ----

def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def request_block(path: str = "/", extra: list[tuple[str, str]] | None = None) -> bytes:
    return hpack.Encoder().encode([(":method", "GET"), (":path", path), (":scheme", "http"),
                                   (":authority", "localhost"), *(extra or [])])


def raw_conn(srv: ServerProcess, settings: bytes = b"") -> socket.socket:
    s = srv.connect(timeout=20)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
    return s


def read_frames(s: socket.socket, timeout: float = 20.0, until_goaway: bool = True) -> list[tuple[int, int, int, bytes]]:
    """Frames until EOF (or a GOAWAY when `until_goaway`)."""
    buf = b""
    frames: list[tuple[int, int, int, bytes]] = []
    deadline = time.monotonic() + timeout
    s.settimeout(timeout)
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            ftype, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            frames.append((ftype, flags, sid, buf[9:9 + length]))
            buf = buf[9 + length:]
        if until_goaway and any(f[0] == GOAWAY for f in frames):
            break
    return frames


def read_frames_until(s: socket.socket, done: Any, timeout: float = 20.0) -> list[tuple[int, int, int, bytes]]:
    """Frames (a GOAWAY does not stop the reading) until `done(frames)` holds, EOF, or `timeout`."""
    frames: list[tuple[int, int, int, bytes]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(frames):
        frames += read_frames(s, timeout=2, until_goaway=False)
    return frames


def headers_of(sid: int) -> Any:
    """For read_frames_until: the response HEADERS of stream `sid` arrived."""
    return lambda frames: any(f[0] == HEADERS and f[2] == sid for f in frames)


def response_status(frames: list[tuple[int, int, int, bytes]], sid: int) -> str:
    block = next(p for t, _, i, p in frames if t == HEADERS and i == sid)
    return str(dict(hpack.Decoder().decode(block))[":status"])


def goaway_code(frames: list[tuple[int, int, int, bytes]]) -> int | None:
    for ftype, _, _, payload in frames:
        if ftype == GOAWAY:
            return int.from_bytes(payload[4:8], "big")
    return None


def serves(srv: ServerProcess) -> bool:
    c = Client(srv)
    try:
        return status(c.get("/")) == 200
    finally:
        c.close()


# ---- requests and responses ----

def test_get_and_request_head(srv: ServerProcess) -> None:
    c = Client(srv)
    r = c.get("/")
    assert status(r) == 200
    assert json.loads(r["body"]) == {"message": "Hello, World!"}
    assert r["headers"]["server"] == "ringbolt" and "date" in r["headers"]
    assert r["headers"]["content-length"] == str(len(r["body"]))
    r = c.get("/inspect?a=1&b=2", headers=[("x-test", "yes"), ("cookie", "a=1"), ("cookie", "b=2")])
    seen = json.loads(r["body"])
    assert seen["http_version"] == "2" and seen["path"] == "/inspect" and seen["query"] == {"a": "1", "b": "2"}
    hdrs = dict(seen["headers"])
    assert hdrs["host"] == "localhost" and hdrs["x-test"] == "yes"
    assert hdrs["cookie"] == "a=1; b=2"  # RFC 9113 §8.2.3: crumbs joined for HTTP/1.1 semantics
    assert seen["scheme"] == "http"
    c.close()


def test_native_answers(srv: ServerProcess) -> None:
    c = Client(srv)
    r = c.get("/const")
    assert status(r) == 200 and r["body"] == b"constant"
    r = c.get("/nope")
    assert status(r) == 404 and r["headers"]["content-type"] == "application/problem+json"
    r = c.get("/echo")  # a route without GET
    assert status(r) == 405 and "POST" in r["headers"]["allow"]
    r = c.get("/boom")
    assert status(r) == 500
    r = c.get("/status/204")
    assert status(r) == 204 and r["body"] == b"" and "content-length" not in r["headers"]
    r = c.get("/inspect", method="HEAD")
    assert status(r) == 200 and r["body"] == b"" and int(r["headers"]["content-length"]) > 0
    c.close()


def test_many_streams_on_one_connection(srv: ServerProcess) -> None:
    c = Client(srv)
    sids = [c.request(f"/inspect?i={i}") for i in range(50)]
    c.wait(*sids)
    for i, sid in enumerate(sids):
        assert status(c.responses[sid]) == 200
        assert json.loads(c.responses[sid]["body"])["query"] == {"i": str(i)}
    c.close()


def test_request_bodies(srv: ServerProcess) -> None:
    c = Client(srv)
    payload = os.urandom(3 * 1024 * 1024 + 17)  # larger than every window: WINDOW_UPDATEs must flow
    r = c.get("/echo", method="POST", body=payload)
    assert status(r) == 200 and r["body"] == payload
    r = c.get("/upload", method="POST", body=payload)
    assert status(r) == 200 and json.loads(r["body"]) == {"received": len(payload)}
    r = c.get("/echo", method="POST", body=b"")
    assert status(r) == 200 and r["body"] == b""
    c.close()


def test_streamed_body_window_follows_the_app(srv: ServerProcess) -> None:
    # The app sleeps before reading: the client's stream window is not given back until
    # it reads (WINDOW_UPDATE follows the app), then the whole body goes through.
    c = Client(srv)
    assert status(c.get("/")) == 200  # the server's SETTINGS (its 256 KiB stream window) are in
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "POST"), (":path", "/lazy-upload?s=4"), (":scheme", "http"),
                              (":authority", "localhost")])
    c.responses[sid] = {"headers": None, "body": b"", "ended": False, "reset": None}
    sent = 0
    while c.conn.local_flow_control_window(sid) > 0:
        n = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size)
        c.conn.send_data(sid, b"u" * n)
        sent += n
    c.flush()
    assert sent >= 256 * 1024
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            c.pump(timeout=max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            break
    assert c.conn.local_flow_control_window(sid) == 0  # the app has not read yet
    rest = 3 * 1024 * 1024
    c.send_body(sid, b"v" * rest)  # waits for WINDOW_UPDATEs, which come as the app reads
    c.wait(sid)
    assert json.loads(c.responses[sid]["body"]) == {"received": sent + rest}
    c.close()


def test_body_over_the_limit_is_413(io: str) -> None:
    with running("h2_app:app", "--max-body-size", "1000", io=io) as s, Client(s) as c:
        r = c.get("/echo", method="POST", body=b"x" * 5000)
        assert status(r) == 413
        r = c.get("/upload", method="POST", body=b"x" * 5000)  # streamed: the app's read fails
        assert status(r) == 413
        assert status(c.get("/")) == 200  # the connection goes on


def test_large_and_streamed_responses(srv: ServerProcess) -> None:
    c = Client(srv)
    r = c.get("/big/1000000")
    assert r["body"] == bytes(i % 251 for i in range(1000000))
    for path in ("/stream/500", "/astream/300"):
        r = c.get(path)
        n = int(path.rsplit("/", 1)[1])
        assert status(r) == 200 and len(r["body"]) == n * 6000
        assert r["body"][-6000:] == (b"%06d" % (n - 1)) * 1000
    c.close()


def test_streamed_response_follows_a_small_window(srv: ServerProcess) -> None:
    # A client with a 1 KiB stream window gets all 3 MB as it opens it: the producer waits
    # for the window (and the output queue), never the other way round.
    c = Client(srv, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1024})
    r = c.get("/stream/500", timeout=120)
    assert len(r["body"]) == 500 * 6000
    c.close()


def test_large_response_to_a_client_that_reads_late(srv: ServerProcess) -> None:
    # Windows wide open (2^31-1), then nothing read for a while: the server stops framing
    # DATA once its output queue is full and goes on as the socket drains.
    c = Client(srv, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    c.conn.increment_flow_control_window(2**31 - 1 - 65535)
    c.flush()
    sid = c.request("/big/8000000")
    time.sleep(1.5)
    c.wait(sid, timeout=60)
    assert c.responses[sid]["body"] == bytes(i % 251 for i in range(8000000))
    assert status(c.get("/")) == 200
    c.close()


def test_static_files(io: str, tmp_path: Any) -> None:
    public = tmp_path / "public"
    public.mkdir()
    small = b"small file\n"
    large = os.urandom(3 * 1024 * 1024 + 5)  # read from the file as the window allows
    (public / "small.txt").write_bytes(small)
    (public / "large.bin").write_bytes(large)
    with running("static_app:app", io=io, env={"RINGBOLT_TEST_STATIC": str(tmp_path)}) as s, Client(s) as c:
        r = c.get("/assets/small.txt")
        assert status(r) == 200 and r["body"] == small and r["headers"]["cache-control"] == "public, max-age=60"
        r = c.get("/assets/large.bin")
        assert status(r) == 200 and r["body"] == large
        r = c.get("/assets/large.bin", headers=[("range", "bytes=10-19")])
        assert status(r) == 206 and r["body"] == large[10:20]
        r = c.get("/assets/large.bin", method="HEAD")
        assert status(r) == 200 and r["body"] == b"" and r["headers"]["content-length"] == str(len(large))
        assert status(c.get("/assets/missing")) == 404


def test_wsgi_app_over_h2(io: str) -> None:
    with running("wsgi_app:app", io=io) as s, Client(s) as c:
        r = c.get("/environ?x=1")
        seen = json.loads(r["body"])
        assert status(r) == 200 and seen["SERVER_PROTOCOL"] == "HTTP/2" and seen["QUERY_STRING"] == "x=1"
        payload = os.urandom(300000)
        r = c.get("/echo", method="POST", body=payload)
        assert status(r) == 200 and r["body"] == payload


def test_asgi_app_sees_http_version_2(io: str) -> None:
    with running("h2_asgi_app:app", io=io) as s, Client(s) as c:
        payload = os.urandom(200000)
        r = c.get("/x", method="POST", body=payload)
        head, _, rest = r["body"].partition(b"\n")
        assert json.loads(head) == {"http_version": "2", "path": "/x", "body_len": len(payload)}
        assert rest == payload


# ---- real clients ----

def test_curl_prior_knowledge(srv: ServerProcess) -> None:
    body, tail = curl("--http2-prior-knowledge", f"http://127.0.0.1:{srv.port}/inspect")
    assert tail == ["2", "200"]
    assert json.loads(body)["http_version"] == "2"
    data = os.urandom(100000)
    out2 = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--data-binary", "@-",
                           f"http://127.0.0.1:{srv.port}/echo"], input=data, capture_output=True,
                          env=CLIENT_ENV, timeout=60, check=True).stdout
    assert out2 == data


@pytest.mark.skipif(shutil.which("nghttp") is None, reason="nghttp2-client is not installed")
def test_nghttp(srv: ServerProcess) -> None:
    out = subprocess.run(["nghttp", "-n", "-s", f"http://127.0.0.1:{srv.port}/",
                          f"http://127.0.0.1:{srv.port}/big/100000"], capture_output=True, env=CLIENT_ENV,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert b"100000" in out.stdout  # the stat line of the second response


@pytest.mark.skipif(shutil.which("h2load") is None, reason="nghttp2-client is not installed")
def test_h2load_has_no_errors(srv: ServerProcess) -> None:
    out = h2load(f"http://127.0.0.1:{srv.port}/")
    assert "2000 succeeded, 0 failed, 0 errored, 0 timeout" in out, out
    assert "status codes: 2000 2xx" in out, out


def test_upgrade_h2c(srv: ServerProcess) -> None:
    # RFC 7540 §3.2 (deprecated by RFC 9113, still what curl --http2 does for http://):
    # the upgrading request is answered as stream 1 after the 101.
    out = subprocess.run(["curl", "-sv", "--http2", "--data-binary", "upgrade-body",
                          f"http://127.0.0.1:{srv.port}/echo"], capture_output=True, env=CLIENT_ENV,
                         timeout=60, check=True)
    assert b"HTTP/1.1 101 Switching Protocols" in out.stderr and b"HTTP/2 200" in out.stderr
    assert out.stdout == b"upgrade-body"
    out = subprocess.run(["nghttp", "-u", "-n", "-s", f"http://127.0.0.1:{srv.port}/",
                          f"http://127.0.0.1:{srv.port}/inspect"], capture_output=True, env=CLIENT_ENV, timeout=60)
    assert out.returncode == 0, out.stderr


def test_upgrade_h2c_by_hand(srv: ServerProcess) -> None:
    with srv.connect(timeout=20) as s:
        s.sendall(b"GET /inspect HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols") and b"Upgrade: h2c" in head
        c = Client(srv, sock=s)  # sends the preface and SETTINGS
        c.responses[1] = {"headers": None, "body": b"", "ended": False, "reset": None}
        c.conn.initiate_upgrade_connection()
        c.conn.data_to_send()
        for ev in c.conn.receive_data(rest):
            if isinstance(ev, h2.events.ResponseReceived):
                c.responses[1]["headers"] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                c.responses[1]["body"] += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                c.responses[1]["ended"] = True
        c.wait(1)
        assert status(c.responses[1]) == 200
        assert json.loads(c.responses[1]["body"])["http_version"] == "2"
        assert status(c.get("/")) == 200  # later requests on HTTP/2 streams


@pytest.mark.parametrize("settings", ["!!not-base64!!", "AAMAAAB"])  # bad characters; not 6-byte entries
def test_upgrade_with_bad_settings_stays_http11(srv: ServerProcess, settings: str) -> None:
    with srv.connect(timeout=20) as s:
        s.sendall(b"GET /inspect HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                  b"HTTP2-Settings: " + settings.encode() + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b'"http_version":"1.1"' in data


def test_http11_still_served_beside(srv: ServerProcess) -> None:
    with srv.connect() as s:
        s.sendall(b"GET /inspect HTTP/1.1\r\nHost: a\r\n\r\n")
        data = b""
        while b"}" not in data:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b'"http_version":"1.1"' in data


def test_no_http2_answers_the_preface_as_http11(io: str) -> None:
    with running("h2_app:app", "--no-http2", io=io) as s:
        with s.connect() as sock:
            sock.sendall(PREFACE)
            data = sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 505") or data.startswith(b"HTTP/1.1 400"), data


# ---- bad input (RFC 9113 §8) ----

@pytest.mark.parametrize("extra", [
    [("X-Upper", "1")],                 # §8.2.1: upper-case field names are malformed
    [("connection", "keep-alive")],     # §8.2.2: connection-specific fields
    [("transfer-encoding", "chunked")],
    [("te", "gzip")],                   # only "trailers" is allowed
])
def test_malformed_request_resets_the_stream(srv: ServerProcess, extra: list[tuple[str, str]]) -> None:
    c = Client(srv, validate=False)
    sid = c.request("/", headers=extra)
    c.wait(sid)
    assert c.responses[sid]["reset"] == PROTOCOL_ERROR
    assert status(c.get("/")) == 200  # the connection goes on
    c.close()


def test_missing_pseudo_header_resets_the_stream(srv: ServerProcess) -> None:
    s = raw_conn(srv)
    block = hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"), (":authority", "x")])  # no :path
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 3, request_block("/")))
    frames = read_frames_until(s, lambda frames: any(f[0] == DATA and f[2] == 3 for f in frames))
    resets = [(sid, int.from_bytes(p, "big")) for t, _, sid, p in frames if t == RST_STREAM]
    assert (1, PROTOCOL_ERROR) in resets
    assert any(t == HEADERS and sid == 3 for t, _, sid, _ in frames)
    s.close()


def test_bad_method_token_is_400(srv: ServerProcess) -> None:
    c = Client(srv, validate=False)
    r = c.get("/", method="GE(T")
    assert r["reset"] == PROTOCOL_ERROR  # nghttp2 checks the method token (RFC 9113 §8.3.1)
    r = c.get("/a b")  # a space in the path: the HTTP/1.1 rules the dispatcher relies on refuse it
    assert r["reset"] == PROTOCOL_ERROR or status(r) == 400
    c.close()


def test_garbage_after_the_preface_gets_goaway(srv: ServerProcess) -> None:
    with srv.connect() as s:
        s.sendall(PREFACE + b"\x00\x00\x04\x09\x00\x00\x00\x00\x01garbage-not-a-frame" * 3)
        frames = read_frames(s)
        assert goaway_code(frames) is not None
    with srv.connect() as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")  # a broken preface: closed
        read_frames(s, timeout=10)
    assert serves(srv)


def test_connect_is_refused(srv: ServerProcess) -> None:
    s = raw_conn(srv)
    block = hpack.Encoder().encode([(":method", "CONNECT"), (":authority", "example.com:443")])
    s.sendall(frame(HEADERS, END_HEADERS, 1, block))
    assert response_status(read_frames_until(s, headers_of(1)), 1) == "501"
    s.close()


# ---- protections ----

def _rapid_reset() -> bytes:
    # CVE-2023-44487: streams opened and cancelled at once, far past the reset budget.
    return b"".join(frame(HEADERS, END_HEADERS | END_STREAM, sid, request_block("/"))
                    + frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL)) for sid in range(1, 2 * 600, 2))


def _continuation_flood() -> bytes:
    # CVE-2024-27316: a header block that never ends (CONTINUATION after CONTINUATION).
    filler = hpack.Encoder().encode([("x-filler", "a" * 100)])
    return frame(HEADERS, 0, 1, request_block("/")) + b"".join(frame(CONTINUATION, 0, 1, filler) for _ in range(200))


# The floods, by what is sent after the preface. Each protection answers GOAWAY
# ENHANCE_YOUR_CALM and counts one in h2_floods.
FLOODS = {
    "rapid-reset": _rapid_reset,
    "ping-flood": lambda: frame(PING, 0, 0, b"12345678") * 1000,
    "settings-flood": lambda: frame(SETTINGS, 0, 0, b"") * 1000,
    "continuation-flood": _continuation_flood,
}


@pytest.mark.parametrize("attack", list(FLOODS))
def test_flood_gets_enhance_your_calm(srv: ServerProcess, attack: str) -> None:
    before = counters(srv).get("h2_floods", 0)
    s = raw_conn(srv)
    try:
        s.sendall(FLOODS[attack]())
    except (BrokenPipeError, ConnectionResetError):
        pass
    code = goaway_code(read_frames(s))
    s.close()
    assert code == ENHANCE_YOUR_CALM, f"{attack}: GOAWAY {code}"
    assert wait_for(lambda: counters(srv).get("h2_floods", 0) > before)
    assert serves(srv)  # the server goes on serving others


def test_hpack_bomb_and_oversized_header_list_get_431(srv: ServerProcess) -> None:
    before = counters(srv).get("h2_header_overflows", 0)
    # One 4000-byte entry in the dynamic table, then referenced again and again: a few
    # bytes on the wire that decode to far more than the header list limit.
    enc = hpack.Encoder()
    first = enc.encode([(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x"),
                        ("x-bomb", "b" * 4000)])
    again = enc.encode([("x-bomb", "b" * 4000)]) * 20
    s = raw_conn(srv)
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, first + again))
    assert response_status(read_frames_until(s, headers_of(1)), 1) == "431"
    s.close()
    # Too many fields, each small.
    c = Client(srv)
    r = c.get("/", headers=[(f"x-h{i}", "v") for i in range(150)])
    assert status(r) == 431
    assert status(c.get("/")) == 200
    c.close()
    assert wait_for(lambda: counters(srv).get("h2_header_overflows", 0) >= before + 2)


def test_too_many_concurrent_streams_are_refused(srv: ServerProcess) -> None:
    before = counters(srv).get("h2_refused_streams", 0)
    s = raw_conn(srv)
    # 110 streams whose requests never end (no END_STREAM): all stay open.
    s.sendall(b"".join(frame(HEADERS, END_HEADERS, sid, request_block("/echo"))
                       for sid in range(1, 2 * 110, 2)))
    frames = read_frames_until(s, lambda frames: any(f[0] == RST_STREAM for f in frames))
    refused = [sid for t, _, sid, p in frames if t == RST_STREAM and int.from_bytes(p, "big") == REFUSED_STREAM]
    assert refused and min(refused) > 2 * 100 - 1  # the first 100 are taken
    s.close()
    assert wait_for(lambda: counters(srv).get("h2_refused_streams", 0) > before)


def test_zero_window_stall_is_closed(io: str) -> None:
    # A response waiting for window is cut by --write-timeout, as HTTP/1.1's output is.
    with running("h2_app:app", "--metrics", "--write-timeout", "1", io=io) as s:
        # SETTINGS_INITIAL_WINDOW_SIZE 0: the response can never send DATA.
        sock = raw_conn(s, struct.pack(">HI", 0x4, 0))
        sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/big/100000")))
        start = time.monotonic()
        frames = read_frames(sock, timeout=30, until_goaway=False)  # until EOF
        assert time.monotonic() - start < 25
        assert goaway_code(frames) == ENHANCE_YOUR_CALM  # an abuse, as the floods (not NO_ERROR)
        assert not any(t == DATA and sid == 1 and p for t, _, sid, p in frames)
        sock.close()
        assert wait_for(lambda: counters(s).get("h2_window_stalls", 0) >= 1)


def test_idle_connection_gets_goaway(io: str) -> None:
    with running("h2_app:app", "--timeout-keep-alive", "1", io=io) as s:
        c = Client(s)
        assert status(c.get("/")) == 200
        start = time.monotonic()
        while c.pump(timeout=20):
            pass
        assert time.monotonic() - start < 15
        assert any(isinstance(e, h2.events.ConnectionTerminated) and e.error_code == NO_ERROR for e in c.events)


def test_admission_limit_answers_503_per_stream(io: str) -> None:
    args = ("--limit-concurrency", "1", "--threads", "1", "--handler-threads", "2")
    with running("h2_app:app", *args, io=io) as s, Client(s) as c:
        a = c.request("/slow?s=1")
        b = c.request("/slow?s=1")
        c.wait(a, b)
        codes = sorted(status(c.responses[x]) for x in (a, b))
        assert codes == [200, 503]
        assert c.responses[b if status(c.responses[b]) == 503 else a]["headers"]["retry-after"] == "1"
        assert status(c.get("/")) == 200


def test_graceful_drain_sends_goaway_and_finishes_streams(io: str) -> None:
    s = ServerProcess("h2_app:app", "--threads", "1", env=env_io(io))
    sock = raw_conn(s)
    sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/aslow?s=2")))
    time.sleep(0.5)
    s.proc.send_signal(signal.SIGTERM)
    frames = read_frames(sock, timeout=30, until_goaway=False)  # until the server closes
    goaways = [p for t, _, _, p in frames if t == GOAWAY]
    assert goaways and int.from_bytes(goaways[0][4:8], "big") == NO_ERROR
    assert int.from_bytes(goaways[0][:4], "big") >= 1  # stream 1 is still answered
    body = b"".join(p for t, _, sid, p in frames if t == DATA and sid == 1)
    assert json.loads(body) == {"slept": True}
    assert any(t == DATA and sid == 1 and f & END_STREAM for t, f, sid, _ in frames)
    sock.close()
    assert s.proc.wait(30) == 0


def test_client_reset_of_a_streaming_response(srv: ServerProcess) -> None:
    c = Client(srv, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1024})
    sid = c.request("/stream/100000")
    c.pump()
    c.conn.reset_stream(sid, CANCEL)
    c.flush()
    assert status(c.get("/")) == 200  # the connection and the server go on
    c.close()
    assert serves(srv)
