"""10,000 concurrent keep-alive connections to one server: one request on each, every
response read, then a second request on each (keep-alive reuse); zero errors, bounded
time. Non-blocking sockets and one selector, no threads."""

from __future__ import annotations

import re
import resource
import selectors
import socket
import time

import pytest

from conftest import ServerProcess, request

N = 10_000
TIME_BOUND_S = 60
NEED_FDS = N + 1000  # per process: the client holds N sockets, the server N connections


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < NEED_FDS:
        pytest.skip(f"RLIMIT_NOFILE hard limit is {hard}; {N} connections need {NEED_FDS} fds per process")
    if soft < hard or soft == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture(scope="module")
def srv():
    raise_nofile()  # before the server starts: it inherits the limit
    s = ServerProcess("catchall:app", "--threads", "2", "--backlog", "4096", "--keep-alive-timeout", "60")
    yield s
    assert s.stop() == 0, s.output()


CL = re.compile(rb"\r\nContent-Length: (\d+)\r\n", re.IGNORECASE)


def one_round(sel: selectors.BaseSelector, socks: list[socket.socket], rnd: int, deadline: float) -> list[str]:
    """Send one request on every connection, read every response; return the errors."""
    errors: list[str] = []
    bufs = [b""] * len(socks)
    pending = set(range(len(socks)))
    for i, s in enumerate(socks):
        s.send(f"GET /c/{i}/{rnd} HTTP/1.1\r\nHost: t\r\n\r\n".encode())  # small: never blocks
        sel.modify(s, selectors.EVENT_READ, i)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            i = key.data
            if i not in pending:
                continue
            try:
                data = socks[i].recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                errors.append(f"conn {i}: {e!r}")
                pending.discard(i)
                continue
            if not data:
                errors.append(f"conn {i}: closed by the server in round {rnd}")
                pending.discard(i)
                continue
            bufs[i] += data
            end = bufs[i].find(b"\r\n\r\n")
            if end < 0:
                continue
            m = CL.search(bufs[i][: end + 2])
            if m is None or len(bufs[i]) < end + 4 + int(m.group(1)):
                continue
            pending.discard(i)
            body = bufs[i][end + 4 :]
            if not bufs[i].startswith(b"HTTP/1.1 200 ") or f'"path":"/c/{i}/{rnd}"'.encode() not in body:
                errors.append(f"conn {i}: unexpected response {bufs[i][:200]!r}")
            elif len(body) != int(m.group(1)):
                errors.append(f"conn {i}: extra bytes {body!r}")
    errors += [f"conn {i}: no response in round {rnd}" for i in sorted(pending)[:20]]
    return errors


def test_ten_thousand_keep_alive_connections(srv):
    t0 = time.monotonic()
    deadline = t0 + TIME_BOUND_S
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    try:
        for i in range(N):
            s = socket.create_connection((srv.host, srv.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, i)
        t_connected = time.monotonic()
        errors = one_round(sel, socks, 1, deadline)
        assert not errors, f"{len(errors)} errors in round 1, e.g. {errors[:5]}"
        t1 = time.monotonic()
        errors = one_round(sel, socks, 2, deadline)  # the same connections, kept alive
        assert not errors, f"{len(errors)} errors in round 2, e.g. {errors[:5]}"
        t2 = time.monotonic()
    finally:
        for s in socks:
            s.close()
        sel.close()
    print(f"\n{N} connections: connect {t_connected - t0:.1f}s, round 1 {t1 - t_connected:.1f}s, round 2 {t2 - t1:.1f}s")
    assert t2 - t0 < TIME_BOUND_S
    assert srv.proc.poll() is None
    assert request(srv, b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n").status == 200
