"""HTTP/1.1 behaviour on the wire: keep-alive, pipelining, split writes, errors, limits."""

from __future__ import annotations

import time

import pytest

from conftest import Reader, ServerProcess, get, request


def test_keep_alive_reuses_connection(server):
    with server.connect() as s:
        rd = Reader(s)
        for i in range(20):
            s.sendall(f"GET /users/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            r = rd.read()
            assert r.status == 200 and r.json()["id"] == i
            assert r.header("connection") is None


def test_three_pipelined_requests_in_one_write(server):
    with server.connect() as s:
        s.sendall(
            b"GET /users/1 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /const HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
        )
        rd = Reader(s)
        assert rd.read().json() == {"id": 1, "type": "int"}
        assert rd.read().json() == {"const": True}  # native answer waits for the Python one before it
        assert rd.read().body == b"abc"


def test_many_pipelined_mixed(server):
    reqs = []
    for i in range(50):
        reqs.append(f"GET /users/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode() if i % 3 else b"GET /const HTTP/1.1\r\nHost: t\r\n\r\n")
    with server.connect() as s:
        s.sendall(b"".join(reqs))
        rd = Reader(s)
        for i in range(50):
            r = rd.read()
            assert r.json() == ({"id": i, "type": "int"} if i % 3 else {"const": True})


def test_request_in_one_byte_writes(server):
    raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    with server.connect() as s:
        for b in raw:
            s.sendall(bytes([b]))
            time.sleep(0.001)
        r = Reader(s).read()
        assert r.status == 200 and r.body == b"hello"


@pytest.mark.parametrize("split", [1, 5, 17, 30, 40])
def test_request_split_at_offsets(server, split):
    raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world"
    with server.connect() as s:
        s.sendall(raw[:split])
        time.sleep(0.02)
        s.sendall(raw[split:])
        assert Reader(s).read().body == b"hello world"


def test_large_body_across_many_reads(server):
    body = bytes(range(256)) * 4096  # 1 MiB
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 65536):
            s.sendall(body[i : i + 65536])
        r = Reader(s).read()
        assert r.status == 200 and r.body == body


def test_chunked_request_body(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
        r = Reader(s).read()
        assert r.status == 200 and r.body == b"hello world"


def test_404(server):
    r = get(server, "/does/not/exist")
    assert r.status == 404 and r.header("content-type") == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No route matches this path."}


def test_405_with_allow(server):
    r = request(server, b"DELETE /users/1 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 405
    assert r.header("allow") == "GET, HEAD"


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"garbage\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host on HTTP/1.1
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n", 413),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-A: b\r\n" * 120 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: t\r\nExpect: something\r\n\r\n", 417),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ],
)
def test_bad_requests_get_error_and_close(server, raw, status):
    with server.connect() as s:
        s.sendall(raw + b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # a pipelined request after the bad one
        rd = Reader(s)
        r = rd.read()
        assert r.status == status, r
        assert r.header("connection") == "close"
        assert rd.closed(), "no further response may follow an error"
    assert get(server, "/").status == 200


def test_http10_closes_by_default(server):
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        rd = Reader(s)
        r = rd.read()
        assert r.status == 200 and r.header("connection") == "close"
        assert rd.closed()


def test_http10_keep_alive(server):
    with server.connect() as s:
        rd = Reader(s)
        for _ in range(3):
            s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = rd.read()
            assert r.status == 200 and r.header("connection") == "keep-alive"


def test_connection_close_request(server):
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = Reader(s)
        assert rd.read().header("connection") == "close"
        assert rd.closed()


def test_expect_100_continue(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        rd = Reader(s)
        interim = rd.read(head_request=True)
        assert interim.status == 100
        s.sendall(b"data")
        r = rd.read()
        assert r.status == 200 and r.body == b"data"


def test_client_half_close_still_answered(server):
    import socket

    with server.connect() as s:
        s.sendall(b"GET /users/5 HTTP/1.1\r\nHost: t\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        rd = Reader(s)
        assert rd.read().json() == {"id": 5, "type": "int"}
        assert rd.closed()


def test_many_connections_concurrently(server):
    socks = [server.connect() for _ in range(200)]
    try:
        for i, s in enumerate(socks):
            s.sendall(f"GET /users/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        for i, s in enumerate(socks):
            assert Reader(s).read().json()["id"] == i
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def long_timeouts():
    srv = ServerProcess("basic:app", "--threads", "1", "--header-timeout", "120", "--body-timeout", "120")
    yield srv
    assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize(
    "partial",
    [b"GET /users/1 HTTP/1.1\r\nHo", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"],
)
def test_half_close_inside_a_request_closes_at_once(long_timeouts, partial):
    """A client that shuts down its sending side in the middle of a request can never
    finish it: the server closes at once instead of waiting for the header/body timeout.
    The timeouts here are 120 s and the close must come within 30 s with nothing sent (a
    server that waits for the timeout would answer 408 at 120 s): ordering, not speed."""
    import socket

    with long_timeouts.connect(timeout=30) as s:
        s.sendall(b"GET /users/2 HTTP/1.1\r\nHost: t\r\n\r\n" + partial)
        s.shutdown(socket.SHUT_WR)
        rd = Reader(s)
        assert rd.read().json() == {"id": 2, "type": "int"}  # what was complete is answered
        assert rd.closed(timeout=30), f"not closed before the timeouts, or answered: {rd.buf!r}"
