"""Clients that keep sending over keep-alive connections while a server drains, reloads
or is taken out of a load balancer, recording every request that got no answer: what
"loses nothing" means in tests/py/test_drain_faults.py, test_proxy_protocol.py and
test_gunicorn_worker.py."""

from __future__ import annotations

import socket
import threading
import time

from conftest import Reader, Response


def connection_says_close(r: Response) -> bool:
    return (r.header("connection") or "").lower() == "close"


def read_response(sock: socket.socket, reader: Reader, deadline: float) -> Response | str:
    """The next response, or why there is none: 'EOF', 'reset', 'timeout'."""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        return reader.read()
    except socket.timeout:
        return "timeout"
    except ConnectionResetError:
        return "reset"
    except ConnectionError as exc:  # the conftest reader's "closed before a full response"
        return f"EOF ({exc})"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


class KeepAliveClient(threading.Thread):
    """Sends GET /ping in a loop over a persistent connection.

    A response with ``Connection: close`` ends that connection cleanly; then the client
    either stops (``reconnect=False``) or opens a new one. A request that gets no
    response (EOF, reset, send failure) is *lost* and recorded with whether it was the
    first request of its connection. Bounded by ``run_for`` seconds and ``max_requests``."""

    def __init__(self, port: int, *, reconnect: bool, run_for: float, max_requests: int = 200_000) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.reconnect = reconnect
        self.run_for = run_for
        self.max_requests = max_requests
        self.halt = threading.Event()
        self.sent = 0
        self.answered = 0
        self.closed_cleanly = 0  # connections ended by a Connection: close response
        self.lost: list[str] = []
        self.bad: list[str] = []  # answered, but not 200
        self.connect_errors: list[str] = []
        self.pids: list[tuple[float, int]] = []

    def run(self) -> None:
        end = time.monotonic() + self.run_for
        sock: socket.socket | None = None
        reader: Reader | None = None
        on_this_connection = 0
        opened = 0
        last_answer = 0.0
        try:
            while not self.halt.is_set() and time.monotonic() < end and self.sent < self.max_requests:
                if sock is None:
                    if opened and not self.reconnect:
                        return
                    try:
                        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    except OSError as exc:
                        self.connect_errors.append(f"{type(exc).__name__}: {exc}")
                        if not self.reconnect:
                            return
                        time.sleep(0.01)
                        continue
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    reader = Reader(sock)
                    opened += 1
                    on_this_connection = 0
                assert reader is not None
                self.sent += 1
                where = "first request of its connection" if on_this_connection == 0 else \
                    f"request {on_this_connection + 1} of a kept-alive connection, " \
                    f"{time.monotonic() - last_answer:.3f} s after the previous answer"
                try:
                    sock.sendall(f"GET /ping?n={self.sent} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                except OSError as exc:
                    self.lost.append(f"{where}: send failed: {type(exc).__name__}: {exc}")
                    sock.close()
                    sock = None
                    continue
                r = read_response(sock, reader, time.monotonic() + 5)
                if isinstance(r, str):
                    self.lost.append(f"{where}: no response ({r})")
                    sock.close()
                    sock = None
                    continue
                self.answered += 1
                last_answer = time.monotonic()  # an idle gap is what a drain's grace must cover
                on_this_connection += 1
                if r.status != 200:
                    self.bad.append(repr(r))
                else:
                    self.pids.append((time.monotonic(), r.json()["pid"]))
                if connection_says_close(r):
                    self.closed_cleanly += 1
                    sock.close()
                    sock = None
        finally:
            if sock is not None:
                sock.close()


def assert_every_request_answered(clients: list[KeepAliveClient], what: str) -> None:
    """Every request the keep-alive clients sent got a 200; none was lost."""
    lost = [f"client {i}: {x}" for i, c in enumerate(clients) for x in c.lost + c.connect_errors]
    bad = [x for c in clients for x in c.bad]
    summary = (f"{what}: {sum(c.sent for c in clients)} sent, "
               f"{sum(c.answered for c in clients)} answered, "
               f"{sum(c.closed_cleanly for c in clients)} connections ended by Connection: close")
    assert not bad, f"{summary}; non-200: {bad[:5]}"
    assert not lost, f"{summary}; {len(lost)} lost:\n" + "\n".join(lost[:10])
