"""FastAPI's ``TestClient`` (Starlette's, an ``httpx.Client``) for ringbolt apps: the same
calls and defaults (``base_url="http://testserver"``, redirects followed, the
``user-agent: testclient`` header, ``with`` runs start-up and shut-down), but every
request goes over a real socket to the app served by ringbolt's own server on a loopback
port, in a thread of the test's process. An exception the app did not handle is raised
in the test (``raise_server_exceptions=True``), as Starlette's client does."""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

import httpx

from ..app import App
from ..testing._server import ServerThread

_lock = threading.Lock()


class _Live:
    """One app served for every TestClient of it: started at the first use, stopped when
    the last client that started it closes (or is dropped)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.server: ServerThread | None = None
        self.users = 0
        self.routes = -1

    def port(self) -> int:
        with _lock:
            if self.server is not None and (not self.server.running or self.routes != len(self.app._defs)):
                self._stop()  # the app got routes after it started: serve them too
            if self.server is None:
                self.server = ServerThread(self.app, threads=1, options={})
                self.server.start(30.0)
                self.routes = len(self.app._defs)
            return self.server.port

    def _stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop(30.0)

    def stop(self) -> None:
        with _lock:
            self._stop()


_live: "weakref.WeakKeyDictionary[App, _Live]" = weakref.WeakKeyDictionary()


def _live_for(app: App) -> _Live:
    with _lock:
        live = _live.get(app)
        if live is None:
            live = _live[app] = _Live(app)
        return live


@atexit.register
def _stop_all() -> None:
    """Stop every app still served when the process exits (a client never closed, as
    Starlette's clients often are not): its reactor threads end before the interpreter."""
    for live in list(_live.values()):
        live.stop()


class _Transport(httpx.BaseTransport):
    """Each request on a connection of its own, closed once the answer is read: a client
    a test never closes leaves no socket behind (FastAPI's tests turn ResourceWarning into
    an error)."""

    def __init__(self, live: _Live) -> None:
        self.live = live

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = self.live.port()
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=port)
        with httpx.HTTPTransport() as http:
            response = http.handle_request(request)
            content = response.read()
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              extensions=response.extensions, request=request)


class TestClient(httpx.Client):
    __test__ = False

    def __init__(self, app: Any, base_url: str = "http://testserver", raise_server_exceptions: bool = True,
                 root_path: str = "", backend: str = "asyncio", backend_options: Any = None,
                 cookies: Any = None, headers: dict[str, str] | None = None, follow_redirects: bool = True,
                 client: tuple[str, int] = ("testclient", 50000)) -> None:
        if not isinstance(app, App):
            raise TypeError(f"ringbolt.fastapi's TestClient serves a ringbolt app, not {type(app).__name__}")
        self.app = app
        self._live = _live_for(app)
        self.raise_server_exceptions = raise_server_exceptions
        all_headers = {"user-agent": "testclient", **(headers or {})}
        super().__init__(base_url=base_url, headers=all_headers, transport=_Transport(self._live),
                         follow_redirects=follow_redirects, cookies=cookies)

    def __enter__(self) -> "TestClient":
        self._live.port()
        return self

    def __exit__(self, *args: Any) -> None:
        self._live.stop()
        self.close()
