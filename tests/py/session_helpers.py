"""What the session and CSRF tests share: the server of tests/py/apps/sessions_app.py and
Set-Cookie parsing (the tests send cookies by hand: httpx keeps Secure cookies off
plain HTTP, and the tests look at every attribute)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from conftest import LoggedServer, ServerProcess

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


def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` (a state another process changes: no event to wait on) until true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.01)


# The fixtures of test_sessions.py and test_csrf.py (imported there by name): the
# sessions app served once per module, and an httpx client of it per test.
@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    yield from serve_sessions(tmp_path_factory.mktemp("sessions") / "server.log")


@pytest.fixture
def http(srv: ServerProcess) -> Iterator[httpx.Client]:
    with client(srv) as c:
        yield c
