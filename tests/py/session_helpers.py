"""What the session and CSRF tests share: the server of tests/py/apps/sessions_app.py,
Set-Cookie parsing (the tests send cookies by hand: httpx keeps Secure cookies off
plain HTTP, and the tests look at every attribute), and a redis-server of their own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx

from conftest import LoggedServer, ServerProcess, free_port

NEW_KEY = "n" * 40  # the key that signs
OLD_KEY = "o" * 40  # an older key, still accepted for reading
KEYS = f"{NEW_KEY},{OLD_KEY}"


@dataclass
class SetCookie:
    name: str
    value: str
    attrs: dict[str, str] = field(default_factory=dict)  # lower-cased names; flags map to ""


def set_cookies(r: httpx.Response) -> dict[str, SetCookie]:
    out = {}
    for line in r.headers.get_list("set-cookie"):
        first, *rest = line.split(";")
        name, _, value = first.strip().partition("=")
        attrs = {}
        for a in rest:
            k, _, v = a.strip().partition("=")
            attrs[k.lower()] = v
        out[name] = SetCookie(name, value, attrs)
    return out


def session_cookie(r: httpx.Response) -> str | None:
    """The value the response sets for the "session" cookie (None: it sets none)."""
    c = set_cookies(r).get("session")
    return None if c is None else c.value


def with_cookie(value: str | None) -> dict[str, str]:
    return {} if value is None else {"cookie": f"session={value}"}


def serve_sessions(log: Path, env: dict[str, str] | None = None) -> Iterator[LoggedServer]:
    """A module fixture's body: the sessions app served (its output in ``log``), then
    stopped (it must exit 0)."""
    srv = LoggedServer("sessions_app:app", log, "--threads", "2", env={"SESSION_KEYS": KEYS, **(env or {})})
    yield srv
    code = srv.stop()
    assert code == 0, srv.output()


def client(srv: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=f"http://{srv.host}:{srv.port}", timeout=10)


class RedisServer:
    """A redis-server on a free port, its files in ``directory``, stopped by ``stop``."""

    def __init__(self, directory: Path) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None, "redis-server is not installed (tools/install-deps.sh installs it)"
        self.port = free_port()
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert self.proc.poll() is None, self.proc.stdout.read() if self.proc.stdout else b""
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.02)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()  # the server this object started
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` (a state another process changes: no event to wait on) until true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.01)
