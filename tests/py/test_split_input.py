"""Split input end to end: every request of a small set is sent split at EVERY offset in
two writes (TCP_NODELAY and a short pause, so they arrive as separate reads), and one
byte at a time; the response bytes must equal those for the unsplit request (Date
header ignored)."""

from __future__ import annotations

import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ServerProcess

PAUSE = 0.003  # between the writes

# (id, raw bytes, number of responses, which of them answer HEAD)
REQUESTS: list[tuple[str, bytes, int, tuple[bool, ...]]] = [
    ("get", b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n", 1, (False,)),
    (
        "get-query-headers",
        b"GET /a/b%20c?x=1&y=%41 HTTP/1.1\r\nHost: example.com:80\r\nUser-Agent: t/1\r\nX-Multi: 1\r\nx-multi:  2 \r\n\r\n",
        1,
        (False,),
    ),
    ("post-cl", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world", 1, (False,)),
    (
        "chunked-ext-trailer",
        b"PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value;q=\"a b\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
        1,
        (False,),
    ),
    (
        "pipelined-pair",
        b"GET /first HTTP/1.1\r\nHost: t\r\n\r\nPOST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
        2,
        (False, False),
    ),
    ("head", b"HEAD /fixed HTTP/1.1\r\nHost: t\r\n\r\n", 1, (True,)),
    ("native", b"GET /const HTTP/1.1\r\nHost: t\r\n\r\n", 1, (False,)),
    ("http10-keep-alive", b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1, (False,)),
    ("absolute-form", b"GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", 1, (False,)),
    (
        "crlf-chunked-then-native",
        b"\r\nPOST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"GET /const HTTP/1.1\r\nHost: t\r\n\r\n",
        2,
        (False, False),
    ),
    (
        "expect-continue",
        b"POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata",
        1,
        (False,),
    ),
    ("error-400", b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 1, (False,)),
]

DATE = re.compile(rb"\r\nDate: [^\r]*")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def normalize(resp: bytes) -> bytes:
    # A 100 (Continue) is sent only when the head arrives without its body, so whether it
    # appears depends on the split: drop it, compare the final responses.
    return DATE.sub(b"\r\nDate: -", resp).replace(CONTINUE, b"")


def read_responses(s: socket.socket, n: int, heads: tuple[bool, ...]) -> bytes:
    """Read until n final responses are complete (Content-Length framing)."""
    buf = b""
    pos = 0
    done = 0
    while done < n:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            data = s.recv(65536)
            if not data:
                raise ConnectionError(f"closed after {done} responses: {buf!r}")
            buf += data
            continue
        head = buf[pos:end]
        if head.startswith(b"HTTP/1.1 100 "):
            pos = end + 4
            continue
        m = re.search(rb"\r\nContent-Length: (\d+)", head)
        length = 0 if heads[done] or not m else int(m.group(1))
        while len(buf) < end + 4 + length:
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed inside a body")
            buf += data
        pos = end + 4 + length
        done += 1
    return buf


def exchange(port: int, parts: list[bytes], n: int, heads: tuple[bool, ...]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, p in enumerate(parts):
            if i:
                time.sleep(PAUSE)
            s.sendall(p)
        return normalize(read_responses(s, n, heads))


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("catchall:app", "--threads", "2")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("raw, n, heads", [pytest.param(r, n, h, id=i) for i, r, n, h in REQUESTS])
def test_split_in_two_at_every_offset(srv, raw, n, heads):
    want = exchange(srv.port, [raw], n, heads)
    assert want.startswith(b"HTTP/1.1 ")
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda k: exchange(srv.port, [raw[:k], raw[k:]], n, heads), range(1, len(raw))))
    bad = [k for k, g in enumerate(got, start=1) if g != want]
    assert not bad, f"split at {bad[:10]}: {got[bad[0] - 1]!r} != {want!r}"


@pytest.mark.parametrize("raw, n, heads", [pytest.param(r, n, h, id=i) for i, r, n, h in REQUESTS])
def test_one_byte_at_a_time(srv, raw, n, heads):
    want = exchange(srv.port, [raw], n, heads)
    got = exchange(srv.port, [raw[i : i + 1] for i in range(len(raw))], n, heads)
    assert got == want


# ---- pipelined requests that arrive while the one before is in the application ----

SLOW_FIRST = [
    pytest.param(b"POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", id="content-length"),
    pytest.param(b"POST /fast HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", id="chunked"),
    pytest.param(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n", id="no-body"),
]


@pytest.fixture(scope="module")
def slow_srv():
    s = ServerProcess("slow_handler:app", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("second", SLOW_FIRST)
def test_pipelined_request_trickles_in_while_the_first_is_in_the_app(slow_srv, second):
    """The first handler takes 50 ms; the second request arrives byte by byte meanwhile."""
    raw = b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n" + second
    with socket.create_connection(("127.0.0.1", slow_srv.port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(raw)):
            s.sendall(raw[i : i + 1])
            time.sleep(0.001)
        got = read_responses(s, 2, (False, False))
    assert got.count(b"HTTP/1.1 200 OK\r\n") == 2, got
    assert b'"slow":true' in got and got.endswith(b'"fast":true,"body":"' + (b"abc" if b"POST" in second else b"") + b'"}')
