"""One error format for the whole app: the answers the runtime gives before any handler
runs are RFC 9457 problem+json with a detail naming the cause, like the app's own
errors: the HTTP/1.1 parser's refusals (400 with its cause, 413, 414, 431, 417, 501, 505,
408), CONNECT, WebSocket handshake refusals (400, 426), and a static file that cannot be
opened for want of file descriptors (503). The static files' other errors are in
test_static.py. Each runs on the backend RINGBOLT_IO selects (both in CI)."""

from __future__ import annotations

import resource
import socket
import time
from pathlib import Path

import pytest

from conftest import Reader, ServerProcess, assert_problem, request

PIPELINED = b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n"
WAIT_S = 20.0  # generous: only catches hangs


def post(fields: bytes, body: bytes = b"", version: bytes = b"1.1") -> bytes:
    return b"POST /p HTTP/" + version + b"\r\nHost: t\r\n" + fields + b"\r\n" + body


def chunked(body: bytes) -> bytes:
    return post(b"Transfer-Encoding: chunked\r\n", body)


# (id, raw request, status, what the detail names)
PARSER_ERRORS = [
    ("malformed request line", b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400, "does not parse"),
    ("missing Host", b"GET / HTTP/1.1\r\n\r\n", 400, "Host header field"),
    ("duplicate Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "more than once"),
    ("bad Content-Length", post(b"Content-Length: abc\r\n"), 400, "Content-Length"),
    ("CL and TE", post(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 400, "ambiguous"),
    ("TE not chunked", post(b"Transfer-Encoding: gzip\r\n", b"abc"), 400, "must end in chunked"),
    ("bad chunk", chunked(b"zz\r\nab\r\n0\r\n\r\n"), 400, "chunked body is malformed"),
    ("414", b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "max_request_line"),
    ("431 bytes", b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 1100 + b"\r\n\r\n", 431, "max_header_size"),
    ("431 count", b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-A: b\r\n" * 11 + b"\r\n", 431, "max_headers"),
    ("413 Content-Length", post(b"Content-Length: 101\r\n", b"x" * 101), 413, "max_body_size"),
    ("413 chunked", chunked(b"40\r\n" + b"x" * 64 + b"\r\n40\r\n" + b"y" * 64 + b"\r\n0\r\n\r\n"), 413,
     "max_body_size"),
    ("501 transfer coding", post(b"Transfer-Encoding: pigeons, chunked\r\n", b"0\r\n\r\n"), 501, "transfer coding"),
    ("505", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"),
    ("417", b"GET / HTTP/1.1\r\nHost: t\r\nExpect: something\r\n\r\n", 417, "100-continue"),
    ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501, "CONNECT"),
]


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("catchall:app", "--threads", "2", "--max-request-line", "256", "--max-header-size", "1024",
                      "--max-headers", "10", "--max-body-size", "100", "--header-timeout", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("raw, status, detail", [pytest.param(r[1], r[2], r[3], id=r[0]) for r in PARSER_ERRORS])
def test_parser_refusals_are_problems(srv, raw, status, detail):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(raw + PIPELINED)
        rd = Reader(s)
        assert_problem(rd.read(), status, detail)
        assert rd.closed(), f"closed after the error, nothing more sent: {rd.buf!r}"
    assert request(srv, b"GET /still/alive HTTP/1.1\r\nHost: t\r\n\r\n").status == 200


# Rows that are the same cause reached two ways (one limit, one detail).
SAME_CAUSE = [{"431 bytes", "431 count"}, {"413 Content-Length", "413 chunked"}]


def test_each_cause_has_its_own_detail(srv):
    by_detail: dict[str, set[str]] = {}
    for name, raw, _, _ in PARSER_ERRORS:
        with srv.connect(timeout=WAIT_S) as s:
            s.sendall(raw)
            by_detail.setdefault(Reader(s).read().json()["detail"], set()).add(name)
    shared = [names for names in by_detail.values() if len(names) > 1]
    assert all(names in SAME_CAUSE for names in shared), by_detail


def test_header_timeout_is_a_408_problem(srv):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Partial: ")  # never finished
        rd = Reader(s)
        r = rd.read()  # --header-timeout 1: within a few seconds
        assert_problem(r, 408, "header_timeout")
        assert r.header("connection") == "close"
        assert rd.closed()


def test_body_timeout_is_a_408_problem():
    s = ServerProcess("catchall:app", "--threads", "1", "--body-timeout", "1", "--min-body-rate", "0")
    try:
        with s.connect(timeout=WAIT_S) as c:
            c.sendall(b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")  # 7 bytes never come
            r = Reader(c).read()
            assert_problem(r, 408)
        assert request(s, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status == 200
    finally:
        assert s.stop() == 0, s.output()


# ---- WebSocket handshakes refused natively ----

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS = "Upgrade: websocket\r\nConnection: Upgrade\r\n"

WS_REFUSALS = [
    ("bad version", f"GET /echo HTTP/1.1\r\nHost: x\r\n{WS}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n",
     426, "version 13"),
    ("short key", f"GET /echo HTTP/1.1\r\nHost: x\r\n{WS}Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n",
     400, "Sec-WebSocket-Key"),
    ("no key", f"GET /echo HTTP/1.1\r\nHost: x\r\n{WS}Sec-WebSocket-Version: 13\r\n", 400, "Sec-WebSocket-Key"),
    ("HTTP/1.0", f"GET /echo HTTP/1.0\r\nHost: x\r\n{WS}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n",
     400, "HTTP/1.1"),
    ("not an upgrade", "GET /echo HTTP/1.1\r\nHost: x\r\n", 426, "WebSocket endpoint"),
]


@pytest.fixture(scope="module")
def ws_srv():
    s = ServerProcess("ws_app:app", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("head, status, detail", [pytest.param(r[1], r[2], r[3], id=r[0]) for r in WS_REFUSALS])
def test_websocket_refusals_are_problems(ws_srv, head, status, detail):
    r = request(ws_srv, (head + "\r\n").encode())
    assert_problem(r, status, detail)
    if status == 426 and "Sec-WebSocket-Version" in head:
        assert r.header("sec-websocket-version") == "13"
    elif status == 426:
        assert r.header("upgrade") == "websocket"
    assert request(ws_srv, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").json() == {"ok": True}


# ---- a static file when the process is out of file descriptors ----

NOFILE = 64


def test_static_file_without_descriptors_is_a_503_problem(tmp_path: Path):
    pub = tmp_path / "public"
    pub.mkdir()
    (pub / "hello.txt").write_bytes(b"hello static\n")

    def low_nofile() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

    s = ServerProcess("static_app:app", "--threads", "1", env={"RINGBOLT_TEST_STATIC": str(tmp_path)},
                      preexec_fn=low_nofile)
    hogs: list[socket.socket] = []
    try:
        with s.connect(timeout=WAIT_S) as first:
            rd = Reader(first)
            first.sendall(b"GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            assert rd.read().body == b"hello static\n"
            # Connections the server accepts until its descriptor table is full (then it
            # pauses accepting; the rest wait in the backlog).
            for _ in range(2 * NOFILE):
                hogs.append(socket.create_connection(("127.0.0.1", s.port), timeout=WAIT_S))
            deadline = time.monotonic() + WAIT_S
            while True:
                first.sendall(b"GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                r = rd.read()
                if r.status == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)  # the server has not accepted them all yet
            assert_problem(r, 503, "too many open files")
            assert r.header("retry-after") == "1"
            for h in hogs:
                h.close()
            hogs.clear()
            deadline = time.monotonic() + WAIT_S
            while True:  # once the clients leave, the file is served again
                first.sendall(b"GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                r = rd.read()
                if r.status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert r.body == b"hello static\n", r
    finally:
        for h in hogs:
            h.close()
        assert s.stop() == 0, s.output()


# ---- the App under another ASGI server answers a missing FileResponse the same way ----


def test_missing_file_response_under_asgi_is_the_native_problem():
    import asyncio
    import json

    from ringbolt import App, FileResponse

    app = App()

    @app.get("/f")
    def f(req):
        return FileResponse("/nonexistent-ringbolt/file.txt")

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/f", "raw_path": b"/f", "query_string": b"", "root_path": "", "headers": [(b"host", b"t")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 404 and (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {"type": "about:blank", "title": "Not Found", "status": 404,
                                           "detail": "The file does not exist."}
