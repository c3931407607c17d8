"""A gate that holds requests inside an app until the test releases them, so a test can
act while a request is in flight and assert on order, not on how long things take.

A handler of ``apps/gate_app.py`` connects to the gate's listener on 127.0.0.1, sends
its name and blocks until released; the test waits for the names it expects."""

from __future__ import annotations

import socket
import threading

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
