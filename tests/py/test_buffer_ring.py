"""The provided-buffer ring holds a buffer for every connection of a few thousand busy
ones: 2,000 connections whose requests all arrive while the reactor is held by a slow
handler (an app with an async route: the loop hosted on the reactor's thread, as in the
HttpArena entry) are read in the next turn without the ring running dry (app.stats()'s
`enobufs`: with the former 1,024 buffers a core it grew here, each dry recv a
direct read and an EAGAIN system call). Real sockets on 127.0.0.1; on epoll (no ring) the
count stays 0 and the answers are checked the same."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from ringbolt import App
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


def test_thousands_of_readable_connections_do_not_run_the_ring_dry() -> None:
    started = threading.Event()
    app = make_app(started)
    with TestClient(app, timeout=60) as client:
        port = client.port
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNS)]
        try:
            for s in conns:  # the connections are accepted (idle) before the reactor is held
                s.settimeout(60)
            assert client.get("/n/0").text == "0"
            before = app.stats()["total"]["enobufs"]
            holder = threading.Thread(target=lambda: client.get("/hold"))
            holder.start()
            assert started.wait(30)
            for i, s in enumerate(conns):
                s.sendall(f"GET /n/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            holder.join(60)
            for i, s in enumerate(conns):
                data = b""
                while not data.endswith(str(i).encode()) or b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    assert chunk, f"connection {i} closed"
                    data += chunk
                assert data.startswith(b"HTTP/1.1 200")
            assert app.stats()["total"]["enobufs"] - before == 0
        finally:
            for s in conns:
                s.close()
