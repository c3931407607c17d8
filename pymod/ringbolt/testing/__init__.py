"""Testing ringbolt apps against the real server.

    from ringbolt.testing import TestClient

    def test_index():
        with TestClient(app) as client:        # startup hooks run here
            r = client.get("/items", params={"q": "x"})
            assert r.status_code == 200
            assert r.json() == {"items": []}
                                               # shutdown hooks run on leaving the block

``TestClient(app)`` serves ``app`` with ringbolt's own server (C++ reactor, real
socket) on an ephemeral 127.0.0.1 port, in a background thread of the test's process:
the test sees the app's objects, and monkeypatching them affects the server. Requests
go over the socket with ``http.client``; WebSockets with a small RFC 6455 client.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import threading
import weakref
from typing import Any, Callable, Iterator, Mapping, TypeVar, Union
from urllib.parse import urlsplit

from .. import _native
from ..app import App
from ..websocket import WebSocketDisconnect
from ._http import (
    CookieTypes,
    Cookies,
    Headers,
    HeaderTypes,
    ParamTypes,
    TestResponse,
    header_pairs,
    query_string,
)
from ._server import ServerThread
from ._websocket import (
    WebSocketDenied,
    WebSocketProtocolError,
    WebSocketTestSession,
    accept_key,
    read_response_head,
)

__all__ = [
    "TestClient",
    "TestResponse",
    "Headers",
    "Cookies",
    "WebSocketTestSession",
    "WebSocketDisconnect",
    "WebSocketDenied",
    "WebSocketProtocolError",
    "client_fixture",
]

_UNSET: Any = object()
DataTypes = Union[Mapping[str, Any], bytes, str]
_ClientT = TypeVar("_ClientT", bound="TestClient")


def _stop_quietly(server: ServerThread, timeout: float) -> None:
    try:
        server.stop(timeout)
    except Exception:  # noqa: BLE001 - a client dropped without close(): nothing to report to
        pass


class TestClient:
    """A client for ``app`` served on a real loopback socket.

    ``with TestClient(app) as client:`` starts the server (startup hooks run, a failing
    one raises here) and stops it on exit (drain, shutdown hooks; a failing one raises
    there). Without ``with``, the first request starts it and ``close()`` stops it.

    ``headers``/``cookies``: sent with every request (the cookie jar, ``client.cookies``,
    also takes every Set-Cookie the app answers). ``timeout``: seconds for starting,
    stopping and each request or WebSocket wait. ``threads``: the server's reactor
    threads (1). ``server_options``: passed to the server as ``App.run``'s options
    (``max_body_size=...``, ``handler_threads=...``).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: App,
        *,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        timeout: float = 30.0,
        threads: int = 1,
        **server_options: Any,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.app = app
        self.timeout = timeout
        self.headers: list[tuple[str, str]] = header_pairs(headers)
        self.cookies = Cookies(cookies)
        self._server = ServerThread(app, threads=threads, options=server_options)
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[[ServerThread, float], TestClient] | None = None

    # ---- the server ----
    @property
    def port(self) -> int:
        """The server's port (it is started if it is not running)."""
        self._ensure_started()
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving (startup hooks run); ``with`` does it for you."""
        with self._lock:
            if self._server.running:
                raise RuntimeError("this TestClient is already running")
            self._server.start(self.timeout)
            self._finalizer = weakref.finalize(self, _stop_quietly, self._server, self.timeout)

    def _ensure_started(self) -> None:
        if not self._server.running:
            with self._lock:
                if not self._server.running:
                    self._server.start(self.timeout)
                    self._finalizer = weakref.finalize(self, _stop_quietly, self._server, self.timeout)

    def close(self) -> None:
        """Stop serving: drain, then the shutdown hooks (their failure raises here)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
            self._server.stop(self.timeout)

    def __enter__(self: _ClientT) -> _ClientT:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- HTTP ----
    def _target(self, url: str, params: ParamTypes | None) -> tuple[str, str | None]:
        """(request target, Host from an absolute URL or None)."""
        host = None
        if url.startswith(("http://", "https://")):
            parts = urlsplit(url)
            host = parts.netloc
            url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        elif not url.startswith("/"):
            url = "/" + url
        if params is not None:
            query = query_string(params)
            if query:
                url += ("&" if "?" in url else "?") + query
        return url, host

    def request(
        self,
        method: str,
        url: str,
        *,
        params: ParamTypes | None = None,
        headers: HeaderTypes | None = None,
        json: Any = _UNSET,
        data: DataTypes | None = None,
        content: bytes | str | None = None,
        cookies: CookieTypes | None = None,
        timeout: float | None = None,
    ) -> TestResponse:
        """Send one request and read the whole answer. A 4xx/5xx is returned, never
        raised (``response.raise_for_status()`` asserts success).

        Body: ``json`` (written by ringbolt's JSON writer, ``application/json``), ``data``
        (a mapping: form-urlencoded; bytes/str: sent as they are) or ``content``
        (bytes/str). ``cookies``: added for this request only."""
        self._ensure_started()
        target, host = self._target(url, params)
        pairs = list(self.headers) + header_pairs(headers)
        names = {name.lower() for name, _ in pairs}
        body, ctype = _body(json, data, content)
        if ctype is not None and "content-type" not in names:
            pairs.append(("Content-Type", ctype))
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            pairs.append(("Content-Length", str(len(body))))
        elif body is None and method.upper() in ("POST", "PUT", "PATCH") and "content-length" not in names:
            pairs.append(("Content-Length", "0"))
        if "cookie" not in names:
            cookie = self.cookies.header_for(target, cookies)
            if cookie is not None:
                pairs.append(("Cookie", cookie))
        if host is not None and "host" not in names:
            pairs.append(("Host", host))
            names.add("host")
        conn = http.client.HTTPConnection("127.0.0.1", self._server.port, timeout=timeout or self.timeout)
        try:
            conn.putrequest(method, target, skip_host="host" in names, skip_accept_encoding=True)
            for name, value in pairs:
                conn.putheader(name, value)
            conn.endheaders(body)
            raw = conn.getresponse()
            payload = raw.read()
            version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(raw.version, f"HTTP/{raw.version / 10:.1f}")
            response = TestResponse(method, target, raw.status, raw.reason, version, Headers(raw.getheaders()),
                                    payload)
        finally:
            conn.close()
        self.cookies.update_from(response, target)
        return response

    def get(self, url: str, *, params: ParamTypes | None = None, headers: HeaderTypes | None = None,
            cookies: CookieTypes | None = None, timeout: float | None = None) -> TestResponse:
        return self.request("GET", url, params=params, headers=headers, cookies=cookies, timeout=timeout)

    def head(self, url: str, *, params: ParamTypes | None = None, headers: HeaderTypes | None = None,
             cookies: CookieTypes | None = None, timeout: float | None = None) -> TestResponse:
        return self.request("HEAD", url, params=params, headers=headers, cookies=cookies, timeout=timeout)

    def options(self, url: str, *, params: ParamTypes | None = None, headers: HeaderTypes | None = None,
                cookies: CookieTypes | None = None, timeout: float | None = None) -> TestResponse:
        return self.request("OPTIONS", url, params=params, headers=headers, cookies=cookies, timeout=timeout)

    def delete(self, url: str, *, params: ParamTypes | None = None, headers: HeaderTypes | None = None,
               cookies: CookieTypes | None = None, timeout: float | None = None) -> TestResponse:
        return self.request("DELETE", url, params=params, headers=headers, cookies=cookies, timeout=timeout)

    def post(self, url: str, *, params: ParamTypes | None = None, headers: HeaderTypes | None = None,
             json: Any = _UNSET, data: DataTypes | None = None, content: bytes | str | None = None,
             cookies: CookieTypes | None = None, timeout: float | None = None) -> TestResponse:
        return self.request("POST", url, params=params, headers=headers, json=json, data=data, content=content,
                            cookies=cookies, timeout=timeout)

    def put(self, url: str, *, params: ParamTypes | None = None, headers: HeaderTypes | None = None,
            json: Any = _UNSET, data: DataTypes | None = None, content: bytes | str | None = None,
            cookies: CookieTypes | None = None, timeout: float | None = None) -> TestResponse:
        return self.request("PUT", url, params=params, headers=headers, json=json, data=data, content=content,
                            cookies=cookies, timeout=timeout)

    def patch(self, url: str, *, params: ParamTypes | None = None, headers: HeaderTypes | None = None,
              json: Any = _UNSET, data: DataTypes | None = None, content: bytes | str | None = None,
              cookies: CookieTypes | None = None, timeout: float | None = None) -> TestResponse:
        return self.request("PATCH", url, params=params, headers=headers, json=json, data=data, content=content,
                            cookies=cookies, timeout=timeout)

    # ---- WebSocket ----
    def websocket_connect(
        self,
        path: str,
        *,
        subprotocols: list[str] | None = None,
        headers: HeaderTypes | None = None,
        params: ParamTypes | None = None,
        cookies: CookieTypes | None = None,
        timeout: float | None = None,
    ) -> WebSocketTestSession:
        """Open a WebSocket to ``path`` (``ws://`` URLs work too). Returns the open
        session; raises ``WebSocketDenied`` (with the HTTP answer) when the app refuses the
        handshake. Use it as a context manager to close it at the end."""
        self._ensure_started()
        if path.startswith(("ws://", "wss://")):
            path = "http" + path[2:]
        target, host = self._target(path, params)
        key = base64.b64encode(os.urandom(16)).decode()
        pairs = [("Host", host or f"127.0.0.1:{self._server.port}"), ("Upgrade", "websocket"),
                 ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
        if subprotocols:
            pairs.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
        user = list(self.headers) + header_pairs(headers)
        names = {name.lower() for name, _ in user}
        pairs = [(n, v) for n, v in pairs if n.lower() not in names] + user
        if "cookie" not in names:
            cookie = self.cookies.header_for(target, cookies)
            if cookie is not None:
                pairs.append(("Cookie", cookie))
        head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in pairs) + "\r\n"
        sock = socket.create_connection(("127.0.0.1", self._server.port), timeout=timeout or self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(head.encode("latin-1"))
            status, reason, version, raw_headers, rest = read_response_head(sock)
            response_headers = Headers(raw_headers)
            if status != 101:
                length = int(response_headers.get("content-length", "0") or 0)
                while len(rest) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                denied = TestResponse("GET", target, status, reason, version, response_headers, rest[:length])
                sock.close()
                raise WebSocketDenied(denied)
            if response_headers.get("sec-websocket-accept") != accept_key(key):
                raise WebSocketProtocolError("the 101 answer's Sec-WebSocket-Accept does not match the key")
            chosen = response_headers.get("sec-websocket-protocol")
            if chosen is not None and chosen not in (subprotocols or []):
                raise WebSocketProtocolError(f"the server chose the subprotocol {chosen!r}, which was not offered")
            response = TestResponse("GET", target, status, reason, version, response_headers, b"")
        except BaseException:
            sock.close()
            raise
        self.cookies.update_from(response, target)
        return WebSocketTestSession(sock, rest, response)


def _body(json: Any, data: DataTypes | None, content: bytes | str | None) -> tuple[bytes | None, str | None]:
    given = [name for name, value in (("json", json is not _UNSET), ("data", data is not None),
                                      ("content", content is not None)) if value]
    if len(given) > 1:
        raise TypeError(f"pass one body, not {' and '.join(given)}")
    if json is not _UNSET:
        return _native.json_dumps(json), "application/json"
    if isinstance(data, Mapping):
        return query_string(data).encode(), "application/x-www-form-urlencoded"
    raw = data if data is not None else content
    if raw is None:
        return None, None
    if isinstance(raw, str):
        return raw.encode(), None
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return bytes(raw), None
    raise TypeError(f"a request body is bytes or str (or a mapping for data=), not {type(raw).__name__}")


def client_fixture(
    app: App | Callable[[], App],
    *,
    scope: str = "function",
    **options: Any,
) -> Any:
    """A pytest fixture serving ``app`` (or the App a factory returns) with a TestClient,
    startup and shutdown hooks included. In a conftest.py or test module::

        client = client_fixture(app)

        def test_index(client):
            assert client.get("/").status_code == 200
    """
    import pytest  # optional: only this fixture needs pytest, which the package does not require

    def fixture() -> Iterator[TestClient]:
        target = app if isinstance(app, App) else app()
        with TestClient(target, **options) as client:
            yield client

    return pytest.fixture(scope=scope)(fixture)  # type: ignore[call-overload]
