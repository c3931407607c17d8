"""ASGI http.disconnect while the app still runs: the connection's watch fails when the
client resets or closes its side, and the app's pending receive() returns at once."""

from __future__ import annotations

import ast
import socket
import struct
import time

import pytest

from conftest import Reader, ServerProcess


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("asgi_disconnect_app:app", "--threads", "1")
    yield s
    s.stop()


def listing(srv: ServerProcess, path: str) -> list:
    with srv.connect() as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return ast.literal_eval(Reader(s).read().body.decode())


def events(srv: ServerProcess) -> list:
    return listing(srv, "/events")


def wait_until_in_receive(srv: ServerProcess, path: str, timeout: float = 10.0) -> None:
    """Until the app has `path`'s request and waits in its second receive(): the waits the
    tests then time start there, not at the send (a loaded machine may take a while to
    get the request to the app)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path in listing(srv, "/waiting"):
            return
        time.sleep(0.02)
    raise AssertionError(f"the app never waited in receive() for {path}")


def wait_for_event(srv: ServerProcess, path: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(srv) if e[0] == path]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"the app never saw {path}'s client leave: {events(srv)}")


@pytest.mark.parametrize("how", ["reset", "close"])
def test_receive_returns_disconnect_when_the_client_leaves(srv, how):
    path = f"/wait-{how}"
    s = srv.connect()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    wait_until_in_receive(srv, path)
    time.sleep(0.5)  # the app waits in receive() (nothing is answered to it)
    assert not [e for e in events(srv) if e[0] == path], "the app saw a disconnect before the client left"
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    _, kind, waited = wait_for_event(srv, path)
    assert kind == "http.disconnect"
    assert waited >= 0.4, "receive() returned before the client left"


def test_a_request_pipelined_after_a_closing_answer_hears_disconnect(srv):
    """Its answer can never go out (the connection closes after the first one): the app
    waiting in receive() must be told, not left waiting for ever."""
    s = srv.connect()
    s.sendall(b"GET /wait-slow HTTP/1.1\r\nHost: t\r\n\r\n")  # held by the app first
    wait_until_in_receive(srv, "/wait-slow")
    # Not pipelined behind /wait-slow on purpose: on a second connection, so this one's
    # close does not depend on the app; then a request pipelined after the closing one.
    with srv.connect() as c:
        c.sendall(b"GET /close-now HTTP/1.1\r\nHost: t\r\n\r\nGET /wait-pipelined HTTP/1.1\r\nHost: t\r\n\r\n")
        r = Reader(c).read()
        assert r.status == 200 and r.body == b"bye"
        _, kind, _ = wait_for_event(srv, "/wait-pipelined")
        assert kind == "http.disconnect"
    s.close()
    wait_for_event(srv, "/wait-slow")


def test_a_watch_used_again_hears_only_its_own_client():
    """The disconnect watches of finished requests leave their memory for later ones: after
    a watch that failed (its client left) and many answered requests, a request that waits
    hears nothing until its own client leaves."""
    srv = ServerProcess("asgi_disconnect_app:app", "--threads", "1")
    try:
        for rnd in range(3):
            left = f"/wait-left-{rnd}"
            s = srv.connect()
            s.sendall(f"GET {left} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            time.sleep(0.2)
            s.close()
            wait_for_event(srv, left)
            for _ in range(20):
                events(srv)  # answered: each one's watch goes, its memory kept
            fresh = f"/wait-fresh-{rnd}"
            s = srv.connect()
            s.sendall(f"GET {fresh} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            wait_until_in_receive(srv, fresh)
            time.sleep(0.4)
            assert not [e for e in events(srv) if e[0] == fresh], "a reused watch failed before its client left"
            s.close()
            _, kind, waited = wait_for_event(srv, fresh)
            assert kind == "http.disconnect" and waited >= 0.3
    finally:
        srv.stop()
