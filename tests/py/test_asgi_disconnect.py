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


def events(srv: ServerProcess) -> list:
    with srv.connect() as s:
        s.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return ast.literal_eval(Reader(s).read().body.decode())


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
    time.sleep(0.5)  # the app is waiting in receive() (nothing is answered to it)
    assert not [e for e in events(srv) if e[0] == path], "the app saw a disconnect before the client left"
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    _, kind, waited = wait_for_event(srv, path)
    assert kind == "http.disconnect"
    assert waited >= 0.4, "receive() returned before the client left"
