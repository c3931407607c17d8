"""A ringbolt ``App`` as an ASGI 3 application, so it runs under uvicorn, Granian or
Hypercorn too (``uvicorn main:app``): nobody is locked in to ringbolt's server.

Under another server the pure-Python path here does what the native runtime does:
routes (static segments before ``{x:int}`` before ``{x}``, HEAD falls back to GET, 404
and 405 with ``Allow``), the same ``Request`` attributes, the same return values and
errors. It is correct rather than fast: ringbolt's own server is the fast path.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import uuid
from typing import Any, Awaitable, Callable, Iterable, Unpack
from urllib.parse import parse_qsl, unquote

from .._error_log import log_failure
from .._native import PROBLEM_INTERNAL_ERROR, _needs_finish, json_dumps, json_loads
from .._reqresp import (_as_response,
                        finish_result,
                        request_background,
                        request_delete_cookie,
                        request_form,
                        request_set_cookie)
from ..cookies import CookieOptions, DeleteCookieOptions, parse_cookie_header
from ..datastructures import Headers, QueryParams
from ..errors import BadRequest, HTTPError, problem
from ..response import FileResponse, Response, StreamingResponse
from ..websocket import WebSocket, WebSocketSettings, run_handler

logger = logging.getLogger("ringbolt")

_SEGMENT = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(?::(int|str|float|uuid|path))?\}$")
_INT = re.compile(r"^-?[0-9]{1,19}$")
_FLOAT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RANK = {"static": 0, "int": 1, "float": 2, "uuid": 3, "str": 4, "path": 5}
_NOT_FOUND = json_dumps(problem(404, "No route matches this path."))
_NOT_ALLOWED = json_dumps(problem(405, "The path does not take this method; the Allow header lists those it takes."))
_INTERNAL = PROBLEM_INTERNAL_ERROR  # the native 500's body (http/problem.hpp)
# A FileResponse whose file is gone or unreadable: the native answers' bodies (http/problem.hpp).
_FILE_NOT_FOUND = json_dumps(problem(404, "The file does not exist."))
_FILE_FORBIDDEN = json_dumps(problem(403, "The file cannot be read."))
_PROBLEM = (b"content-type", b"application/problem+json")


class _Route:
    __slots__ = ("parts", "methods", "handler", "const", "key", "result")

    def __init__(self, pattern: str, methods: list[str], handler: Callable[..., Any], const: bool) -> None:
        parts: list[tuple[str, str]] = []  # ("static", text) | ("int"|"str", name)
        for seg in pattern.split("/")[1:]:
            m = _SEGMENT.match(seg)
            parts.append(((m.group(2) or "str"), m.group(1)) if m else ("static", seg))
        self.parts = parts
        self.methods = methods
        self.handler = handler
        self.const = const
        self.result: Any = None
        # More specific first at each position: static, int, float, uuid, str, path.
        self.key = [_RANK[k] for k, _ in parts]

    def match(self, segments: list[str]) -> dict[str, Any] | None:
        tail = bool(self.parts) and self.parts[-1][0] == "path"
        if len(segments) != len(self.parts) and not (tail and len(segments) >= len(self.parts)):
            return None
        params: dict[str, Any] = {}
        for i, ((kind, text), seg) in enumerate(zip(self.parts, segments)):
            if kind == "static":
                if unquote(seg) != text:
                    return None
            elif kind == "path":
                rest = "/".join(segments[i:])
                if not rest:
                    return None
                params[text] = unquote(rest)
            else:
                value = unquote(seg)
                if kind == "int":
                    if not _INT.match(value) or not -(2**63) <= int(value) < 2**63:
                        return None
                    params[text] = int(value)
                elif kind == "float":
                    if not _FLOAT.match(value):
                        return None
                    params[text] = float(value)
                elif kind == "uuid":
                    if not _UUID.match(value):
                        return None
                    params[text] = uuid.UUID(value)
                else:
                    if not value:
                        return None
                    params[text] = value
        return params


class ASGIRequest:
    """The ``Request`` a handler gets under another ASGI server (same attributes as
    ringbolt's native one)."""

    def __init__(self, scope: dict[str, Any], body: bytes, params: dict[str, Any]) -> None:
        self._scope = scope
        self.method: str = scope["method"]
        self.raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        self.path: str = scope["path"]
        qs = scope.get("query_string", b"")
        self.query_string: str = qs.decode("latin-1")
        self.target: str = self.raw_path.decode("latin-1") + ("?" + self.query_string if self.query_string else "")
        self.params = params
        self.body = body
        client = scope.get("client")
        self.client = tuple(client) if client else None
        self.http_version: str = scope.get("http_version", "1.1")
        self.keep_alive = True
        self.scheme: str = scope.get("scheme", "http")
        self._body_stream = None
        self._rb_after: list[Any] | None = None  # typed routes' clean-ups (ringbolt.typed.depends.exit_later)
        self._headers: Headers | None = None
        self._query: QueryParams | None = None

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._scope["headers"]])
        return self._headers

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None (Request.header)."""
        return self.headers.get(name)

    @property
    def query(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams(parse_qsl(self.query_string, keep_blank_values=True, errors="surrogateescape"))
        return self._query

    @property
    def host(self) -> str:
        return self.headers.get("host", "") or ""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.target}"

    def json(self) -> Any:
        if not self.body:
            raise BadRequest("Invalid JSON body: the request has no body")
        return json_loads(self.body)  # BadRequest naming the problem, as the native Request

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("Request body is not valid UTF-8") from None

    @property
    def cookies(self) -> dict[str, str]:
        return parse_cookie_header(self.headers.getlist("cookie"))

    def cookie(self, name: str) -> str | None:
        """One cookie's value, or None (Request.cookie)."""
        return self.cookies.get(name)

    @property
    def last_event_id(self) -> str | None:
        return self.headers.get("last-event-id")

    @property
    def background(self) -> Any:
        return request_background(self)

    def form(self, **options: Any) -> Any:
        return request_form(self, **options)

    def set_cookie(self, name: str, value: str = "", **options: Unpack[CookieOptions]) -> None:
        request_set_cookie(self, name, value, **options)

    def delete_cookie(self, name: str, **options: Unpack[DeleteCookieOptions]) -> None:
        request_delete_cookie(self, name, **options)

    async def read(self) -> bytes:
        return self.body

    async def stream(self) -> Any:
        if self.body:
            yield self.body

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target[:200]}>"


def _router(app: Any) -> list[_Route]:
    routes = [_Route(path, methods, fn, const) for path, methods, fn, const, _, ws in app._resolved_routes() if not ws]
    routes += [_Route(path, methods, fn, True)  # /openapi.json, /docs, /redoc and the pages' assets
               for path, methods, fn, *_ in [*app._openapi_routes(), *app._openapi_asset_routes()]]
    routes.sort(key=lambda r: r.key)  # stable: registration order among equals
    return routes


def _find(routes: list[_Route], method: str, path: str) -> tuple[_Route | None, dict[str, Any], list[str]]:
    segments = path.split("/")[1:]
    allowed: list[str] = []
    for route in routes:
        params = route.match(segments)
        if params is None:
            continue
        if method in route.methods or (method == "HEAD" and "GET" in route.methods and "HEAD" not in route.methods):
            return route, params, []
        allowed.extend(m for m in route.methods if m not in allowed)
        if "GET" in route.methods and "HEAD" not in allowed:
            allowed.append("HEAD")  # HEAD is served by the GET route (as natively)
    return None, {}, allowed


def _body_and_type(body: Any) -> tuple[bytes, str | None]:
    if body is None:
        return b"", None
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    if isinstance(body, (dict, list)):
        return json_dumps(body), "application/json"
    raise TypeError("a handler must return dict, list, str, bytes, None, Response or (body, status[, headers]); "
                    f"got {type(body).__name__}")


def _encode_headers(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[bytes, bytes]]:
    out = []
    for name, value in pairs:
        n = name if isinstance(name, bytes) else str(name).encode()
        v = value if isinstance(value, bytes) else str(value).encode()
        out.append((n.lower(), v))
    return out


async def _send_whole(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool) -> None:
    if not any(k == b"content-length" for k, _ in headers) and status not in (204, 304) and status >= 200:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _answer(result: Any, send: Any, head: bool, scope: dict[str, Any]) -> None:
    if isinstance(result, StreamingResponse):
        headers = _encode_headers(result.headers)
        if result.content_type:
            headers.append((b"content-type", result.content_type.encode()))
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        if not head:
            content = result.content
            if hasattr(content, "__aiter__"):
                async for chunk in content:
                    await send({"type": "http.response.body", "body": chunk.encode() if isinstance(chunk, str)
                                else bytes(chunk), "more_body": True})
            else:
                loop = asyncio.get_running_loop()
                iterator = iter(content)
                done = object()
                try:
                    while True:
                        chunk = await loop.run_in_executor(None, next, iterator, done)
                        if chunk is done:
                            break
                        await send({"type": "http.response.body", "body": chunk.encode() if isinstance(chunk, str)
                                    else bytes(chunk), "more_body": True})
                finally:
                    close = getattr(iterator, "close", None)
                    if close is not None:
                        close()
        await send({"type": "http.response.body", "body": b""})
        return
    if isinstance(result, FileResponse):
        try:
            st = os.stat(result.path)
            if not os.path.isfile(result.path):
                raise FileNotFoundError(result.path)
        except FileNotFoundError:
            await _send_whole(send, 404, [_PROBLEM], _FILE_NOT_FOUND, head)
            return
        except PermissionError:
            await _send_whole(send, 403, [_PROBLEM], _FILE_FORBIDDEN, head)
            return
        headers = _encode_headers(result.headers)
        if result.content_type is not None:  # None only in FileResponses the ASGI/WSGI adapters build
            headers.append((b"content-type", result.content_type.encode()))
        if result.last_modified and not any(name == b"last-modified" for name, _ in headers):
            from email.utils import formatdate  # here: not every worker carries email's modules
            headers.append((b"last-modified", formatdate(st.st_mtime, usegmt=True).encode()))
        headers.append((b"content-length", str(st.st_size).encode()))
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
        elif "http.response.pathsend" in scope.get("extensions", {}) or {}:
            await send({"type": "http.response.pathsend", "path": os.path.abspath(result.path)})
        else:
            with open(result.path, "rb") as f:
                while True:
                    chunk = f.read(256 * 1024)
                    await send({"type": "http.response.body", "body": chunk, "more_body": bool(chunk)})
                    if not chunk:
                        break
        return
    if isinstance(result, tuple) and len(result) not in (2, 3):
        raise TypeError("a tuple return value must be (body, status) or (body, status, headers)")
    # A tuple, None or a bare body as a Response: the rules finish_result applies too.
    response = _as_response(result)
    assert isinstance(response, Response)  # streamed and file answers were sent above
    status = response.status
    data, ctype = _body_and_type(response.body)
    if response.content_type is not None:
        ctype = response.content_type or None
    headers = _encode_headers(response.headers)
    if ctype and status not in (204, 304) and not any(k == b"content-type" for k, _ in headers):
        headers.insert(0, (b"content-type", ctype.encode()))
    await _send_whole(send, status, headers, data, head)


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def serve_http(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    routes = app.__dict__.get("_asgi_routes")
    if routes is None:
        routes = app._asgi_routes = _router(app)
    method = scope["method"]
    route, params, allowed = _find(routes, method, scope["path"])
    head = method == "HEAD"
    if route is None and app._asgi is not None:
        await app._asgi.app(scope, receive, send)  # a mounted ASGI app takes the rest
        return
    if route is None:
        if allowed:
            await _send_whole(send, 405, [_PROBLEM, (b"allow", ", ".join(allowed).encode())], _NOT_ALLOWED, head)
        else:
            await _send_whole(send, 404, [_PROBLEM], _NOT_FOUND, head)
        return
    after: list[Any] = []
    try:
        if route.const:
            if route.result is None:
                result = route.handler(None)
                route.result = await result if inspect.iscoroutine(result) else result
            result = route.result
        else:
            req = ASGIRequest(scope, await _read_body(receive), params)
            req._rb_after = after  # typed routes' dependency clean-ups, run once the response is sent
            if inspect.iscoroutinefunction(route.handler):
                result = await route.handler(req)
            else:
                result = await asyncio.get_running_loop().run_in_executor(None, route.handler, req)
            if _needs_finish(req.__dict__, result):  # the bridge's rule: a session that changed included
                result = finish_result(req, result, after)
        await _answer(result, send, head, scope)
    except HTTPError as exc:
        headers = [_PROBLEM] + _encode_headers((exc.headers or {}).items())
        await _send_whole(send, exc.status, headers, json_dumps(exc.problem()), head)
    except Exception as exc:  # noqa: BLE001 - a bug in the handler: 500, traceback to the log
        log_failure(exc, "Exception in handler for %s %s", method, scope["path"])
        await _send_whole(send, 500, [_PROBLEM], _INTERNAL, head)
    for run in after:
        await run()  # background tasks, form and dependency clean-ups, once the response is sent


async def _run_hooks(hooks: list[Callable[[], Any]]) -> str | None:
    """Run start-up or shutdown hooks; the first failure as a message, else None."""
    try:
        for fn in hooks:
            result = fn()
            if inspect.iscoroutine(result):
                await result
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


async def serve_lifespan(app: Any, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            failed = await _run_hooks(app._startup)
            if failed is None and app._dependencies.values is not None:
                if app.__dict__.get("_asgi_routes") is None:
                    app._asgi_routes = _router(app)  # planned now: the scope="app" dependencies are known
                failed = await _run_hooks([app._dependencies.start])
            if failed is not None:
                await send({"type": "lifespan.startup.failed", "message": failed})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            failed = await _run_hooks([*app._shutdown, app._dependencies.stop])
            if app._tracing is not None:
                app._tracing.flush()  # (under another server: at its lifespan shutdown)
            await send({"type": "lifespan.shutdown.failed", "message": failed} if failed is not None
                       else {"type": "lifespan.shutdown.complete"})
            return


# ---- WebSocket under another ASGI server ----


class _ASGIWebSocket:
    """The transport of a ringbolt ``WebSocket`` over ASGI ``receive``/``send`` (mixed
    into ``ringbolt.websocket.WebSocket`` by ``serve_websocket``)."""

    _receive: Any
    _send: Any
    _connected: bool
    _closed: bool

    async def _await_connect(self) -> None:
        if not self._connected:
            message = await self._receive()
            if message["type"] != "websocket.connect":
                raise RuntimeError(f"expected websocket.connect, got {message['type']!r}")
            self._connected = True

    async def _accept_raw(self, subprotocol: str | None, headers: list[tuple[Any, Any]]) -> None:
        await self._await_connect()
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol,
                          "headers": _encode_headers(headers)})

    async def _receive_raw(self) -> tuple[Any, ...]:
        if self._closed:
            return (8, 1006, "")
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            if message.get("text") is not None:
                return (1, message["text"], 0)
            return (2, message.get("bytes") or b"", 0)
        self._closed = True
        return (8, message.get("code", 1005), message.get("reason") or "")

    async def _send_raw(self, data: Any) -> int | None:
        if self._closed:
            return 1006
        message = {"type": "websocket.send", "text": data} if isinstance(data, str) else \
            {"type": "websocket.send", "bytes": bytes(data)}
        try:
            await self._send(message)
        except OSError:  # the server's "connection is closed" (ASGI spec: an IOError subclass)
            self._closed = True
            return 1006
        return None

    async def _close_raw(self, code: int, reason: str) -> None:
        if not self._closed:
            self._closed = True
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    def _closed_raw(self) -> bool:
        return self._closed

    async def _deny_raw(self, status: int) -> None:
        await self._await_connect()
        # Closing before accepting refuses the handshake (the server answers 403).
        await self._send({"type": "websocket.close", "code": 1000})


_socket_class: Any = None


async def serve_websocket(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    routes = app.__dict__.get("_asgi_ws_routes")
    if routes is None:
        routes = app._asgi_ws_routes = sorted((_Route(p, ["GET"], fn, False)
                                               for p, _, fn, _, _, ws in app._resolved_routes() if ws),
                                              key=lambda r: r.key)
    route, params, _ = _find(routes, "GET", scope["path"])
    if route is None:
        if app._asgi is not None:
            await app._asgi.app(scope, receive, send)  # a mounted ASGI app takes the rest
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": 1000})  # no such endpoint: 403
        return
    global _socket_class
    if _socket_class is None:
        _socket_class = type("WebSocket", (_ASGIWebSocket, WebSocket), {})
    req = ASGIRequest({**scope, "method": "GET"}, b"", params)
    ws = _socket_class(req, None, asyncio.get_running_loop(), WebSocketSettings())
    ws._receive, ws._send, ws._connected, ws._closed = receive, send, False, False
    await run_handler(ws, route.handler, scope["path"])  # a failure before accept propagates: the server's 500


def serve_scope(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
    """``App.__call__``: the coroutine that serves one ASGI scope of the app (no frame of
    its own: the one of the scope's kind is returned to be awaited)."""
    kind = scope["type"]
    if kind == "http":
        return serve_http(app, scope, receive, send)
    if kind == "websocket":
        return serve_websocket(app, scope, receive, send)
    if kind == "lifespan":
        return serve_lifespan(app, receive, send)
    raise RuntimeError(f"a ringbolt App does not serve {kind!r} scopes yet")
