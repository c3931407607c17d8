"""The receive ring grows to what a reactor has in flight (uring/recv_ring.hpp): 2,000
connections whose requests all arrive while the reactor is held by a slow handler (an app
with an async route: the loop hosted on the reactor's thread, as in the HttpArena entry)
are all answered, and a second such burst is read without the ring running dry
(app.stats()'s `enobufs`, each dry recv a direct read and an EAGAIN system call): whole
4 KiB buffers (RINGBOLT_INCREMENTAL_BUFFERS=0, as on a kernel before 6.15) start at 64 and
run dry in the first burst, then offer enough; incremental ones hold the first burst's
bytes in their first few buffers already. Real sockets on 127.0.0.1; on epoll (no ring)
the count stays 0 and the answers are checked the same."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import pytest
from ringbolt import App, _native
from ringbolt.testing import TestClient

from conftest import host_the_loop

CONNS = 2000


def make_app(started: threading.Event) -> App:
    app = App()

    @app.get("/hold")
    def hold(req: Any) -> str:
        started.set()
        time.sleep(1.0)  # the reactor's thread: every other request waits in its socket
        return "held"

    @app.get("/n/{i:int}")
    def n(req: Any) -> str:
        return str(req.params["i"])

    host_the_loop(app)  # completions run whenever the reactor's thread enters the kernel

    return app


LAYOUTS = ["whole", "incremental"]


def burst(client: Any, conns: list[socket.socket], started: threading.Event, round_: int) -> None:
    """Every connection sends a request while the reactor is held; every answer checked."""
    started.clear()
    holder = threading.Thread(target=lambda: client.get("/hold"))
    holder.start()
    assert started.wait(30)
    for i, s in enumerate(conns):
        s.sendall(f"GET /n/{i + round_} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    holder.join(60)
    for i, s in enumerate(conns):
        want = str(i + round_).encode()
        data = b""
        while not data.endswith(want) or b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            assert chunk, f"connection {i} closed"
            data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data


@pytest.mark.parametrize("layout", LAYOUTS)
def test_thousands_of_readable_connections_grow_the_ring_once(layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if layout == "incremental" and not _native.probe_io_uring().get("incremental_buffers"):
        pytest.skip("this kernel's buffers are not consumed incrementally")
    if layout == "whole":
        monkeypatch.setenv("RINGBOLT_INCREMENTAL_BUFFERS", "0")
    started = threading.Event()
    app = make_app(started)
    with TestClient(app, timeout=60) as client:
        port = client.port
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNS)]
        try:
            for s in conns:  # the connections are accepted (idle) before the reactor is held
                s.settimeout(60)
            assert client.get("/n/0").text == "0"
            first = app.stats()["total"]["enobufs"]
            burst(client, conns, started, 0)
            second = app.stats()["total"]["enobufs"]
            if layout == "incremental":
                assert second == first, "2,000 small requests ran four 32 KiB buffers dry"
            elif os.environ.get("RINGBOLT_IO") != "epoll":
                assert second > first, "2,000 requests did not run 64 buffers dry: the growth did not run"
            burst(client, conns, started, 1)
            assert app.stats()["total"]["enobufs"] == second, "the ring did not keep what the first burst needed"
        finally:
            for s in conns:
                s.close()
