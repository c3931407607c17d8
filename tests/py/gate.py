"""A gate that holds requests inside an app until the test releases them, so a test can
act while a request is in flight and assert on order, not on how long things take.

A handler of ``apps/gate_app.py`` connects to the gate's listener on 127.0.0.1, sends
its name and blocks until released; the test waits for the names it expects."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading

import pytest

from conftest import Reader, Response, ServerProcess

WAIT = 30  # seconds: for something that must happen (a hang bound, not a speed bound)


class Gate:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self._cv = threading.Condition()
        self._held: list[socket.socket] = []
        self._names: list[str] = []
        self._released = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            name = b""
            conn.settimeout(WAIT)
            try:
                while not name.endswith(b"\n"):
                    data = conn.recv(256)
                    if not data:
                        break
                    name += data
            except OSError:
                pass
            with self._cv:
                self._names.append(name.decode(errors="replace").strip())
                if self._released:
                    self._open(conn)
                else:
                    self._held.append(conn)
                self._cv.notify_all()

    @staticmethod
    def _open(conn: socket.socket) -> None:
        try:
            conn.sendall(b"go")
        except OSError:
            pass
        conn.close()

    def path(self, route: str, name: str) -> str:
        """The request path that makes a gate_app handler hold on this gate as `name`."""
        return f"{route}?port={self.port}&name={name}"

    def wait_entered(self, n: int, timeout: float = WAIT) -> list[str]:
        """Wait until `n` handlers are held; returns the names of all that entered."""
        with self._cv:
            self._cv.wait_for(lambda: len(self._names) >= n, timeout)
            return list(self._names)

    def entered(self) -> list[str]:
        with self._cv:
            return list(self._names)

    def held(self) -> int:
        with self._cv:
            return len(self._held)

    def release(self) -> None:
        """Let every held handler go on (and any that arrives later)."""
        with self._cv:
            self._released = True
            held, self._held = self._held, []
        for conn in held:
            self._open(conn)

    def close(self) -> None:
        self.release()
        self._listener.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_refused(port: int, timeout: float = WAIT) -> bool:
    """Wait until 127.0.0.1:`port` refuses connections (a draining server closed its
    listener); False if it still accepts after `timeout`."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def drain_while_held(route: str, name: str, *, listener_closes: bool) -> tuple[int, Response]:
    """gate_app with one request held on the gate (`route`, as `name`) when SIGTERM comes:
    the process does not exit while the request is held (`listener_closes`: the drain
    has closed the listener by then); released, the request is answered in full (200,
    {"released": name}) and the process exits 0. The server's port and that answer."""
    srv = ServerProcess("gate_app:app", "--threads", "1")
    try:
        with Gate() as gate, srv.connect(timeout=WAIT) as s:
            s.sendall(f"GET {gate.path(route, name)} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert gate.wait_entered(1) == [name]
            srv.proc.send_signal(signal.SIGTERM)
            if listener_closes:
                assert wait_refused(srv.port), "the drain did not begin"
            with pytest.raises(subprocess.TimeoutExpired):
                srv.proc.wait(1)  # never exits while the request is held
            gate.release()
            r = Reader(s).read()
            assert r.status == 200 and r.json() == {"released": name}, r
        assert srv.proc.wait(WAIT) == 0, srv.output()
    finally:
        srv.stop()
    return srv.port, r
