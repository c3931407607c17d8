"""FastAPI's (Starlette's) ``Request`` over ringbolt's native request: ``url`` and
``base_url`` as ``URL``, ``query_params``, ``path_params``, ``headers``, ``cookies``,
``client`` as ``Address``, ``state``, ``app``, ``scope``, and the async ``body()``,
``json()``, ``form()`` and ``stream()``. A route that declares ``request: Request`` gets
one, made from the native request when its plan says so (one per request, kept on the
native request so that middleware and the handler share its ``state``); a route that
does not pays nothing."""

from __future__ import annotations

import json as _json
from typing import Any, AsyncIterator, Mapping

from .._native import Request as NativeRequest
from .datastructures import URL, Address, Headers, QueryParams, State

_KEY = "_rb_starlette"
_NATIVE = "ringbolt.request"  # the scope's key of the native request a Request views


class HTTPConnection(Mapping[str, Any]):
    """What a request and a WebSocket share: the connection's facts."""

    _state: State | None
    _scope: dict[str, Any] | None

    def __init__(self, scope: Any, receive: Any = None, send: Any = None) -> None:
        """Starlette's ``Request(request.scope, request.receive)``: another view of the same
        request (a subclass's, ``GzipRequest(...)``), sharing its ``state``."""
        if not isinstance(scope, dict) or _NATIVE not in scope:
            raise TypeError("ringbolt.fastapi's Request is made from a request's own scope (request.scope): "
                            "ringbolt serves no other ASGI scope to it")
        self._native = scope[_NATIVE]
        self._app = scope.get("app")
        self._state = State._over(scope["state"])
        self._scope = scope

    @staticmethod
    def _rb_from_request(native: Any, app: Any) -> Any:
        """A parameter annotated ``HTTPConnection``: the Request of an HTTP route, the
        WebSocket of a WebSocket endpoint (FastAPI's)."""
        from ..websocket import WebSocket
        return native if isinstance(native, WebSocket) else request_of(native, app)

    @classmethod
    def _of_native(cls, native: Any, app: Any) -> Any:
        self = cls.__new__(cls)
        self._native = native
        self._app = app
        self._state = None
        self._scope = None
        return self

    # the scope as a mapping (request["path"], request.scope)
    @property
    def scope(self) -> dict[str, Any]:
        if self._scope is None:
            n = self._native
            self._scope = {
                "type": "http", "http_version": getattr(n, "http_version", "1.1"), "method": n.method,
                "scheme": n.scheme, "path": self._prefix() + n.path,
                "raw_path": (self._prefix() + n.path).encode() if self._prefix() else n.raw_path,
                "root_path": self.root_path, "query_string": n.query_string.encode("latin-1"),
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in n.headers.items()],
                "client": self._client(), "server": None, "path_params": n.params, "app": self._app,
                "state": self.state._state, _NATIVE: n,
            }
        return self._scope

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Any:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def app(self) -> Any:
        return self._app

    def _top(self) -> Any:
        """The app the server serves (this request's app, or the one it is mounted on)."""
        app = self._app
        while app is not None and app.__dict__.get("_mount_parent") is not None:
            app = app.__dict__["_mount_parent"]
        return app

    def _server_root(self) -> str:
        """The served app's ``root_path``, else the server's (a test client's ``root_path``)."""
        own: str = getattr(self._top(), "root_path", "") or ""
        return own or self._native.__dict__.get("_rb_root_path", "")

    @property
    def root_path(self) -> str:
        """The server's root path, then the paths the app is mounted under (the ASGI
        scope's ``root_path`` as Starlette's ``Mount`` makes it)."""
        mounted = ""
        app = self._app
        while app is not None and app.__dict__.get("_mount_parent") is not None:
            mounted = app.__dict__.get("_mount_prefix", "") + mounted
            app = app.__dict__["_mount_parent"]
        return self._server_root() + mounted

    def _prefix(self) -> str:
        # the root path a test client took off the path it sent (Starlette's client sends
        # the whole path and routes what follows the root path)
        return self._native.__dict__.get("_rb_path_prefix", "")  # type: ignore[no-any-return]

    def _client(self) -> tuple[str, int] | None:
        # the address a test client has the app see (Starlette's "testclient"), else the peer's
        return self._native.__dict__.get("_rb_client") or self._native.client  # type: ignore[no-any-return]

    @property
    def url(self) -> URL:
        n = self._native
        return URL(f"{n.scheme}://{n.host}{self._prefix()}{n.target}")

    @property
    def base_url(self) -> URL:
        n = self._native
        return URL(f"{n.scheme}://{n.host}{self._server_root()}/")

    @property
    def headers(self) -> Headers:
        return self._native.headers  # type: ignore[no-any-return]

    @property
    def query_params(self) -> QueryParams:
        return self._native.query  # type: ignore[no-any-return]

    @property
    def path_params(self) -> dict[str, Any]:
        return self._native.params  # type: ignore[no-any-return]

    @property
    def cookies(self) -> dict[str, str]:
        return self._native.cookies  # type: ignore[no-any-return]

    @property
    def client(self) -> Address | None:
        client = self._client()
        return Address(*client) if client else None

    @property
    def state(self) -> State:
        """This request's state: what the app's lifespan yielded (a copy), then what
        middleware and dependencies set on it."""
        if self._state is None:
            self._state = State(getattr(self._top(), "_lifespan_state", None))
        return self._state

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        app = self._top()
        if app is None:
            raise RuntimeError("url_for needs the app")
        return self.base_url.replace(path=self._server_root() + str(app.url_path_for(name, **path_params)))


class Request(HTTPConnection):
    """A request as FastAPI's handlers see it (see the module's docstring)."""

    @property
    def method(self) -> str:
        return self._native.method  # type: ignore[no-any-return]

    @property
    def receive(self) -> Any:
        """An ASGI ``receive`` giving the body in one message (for ``Request(scope, receive)``)."""
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": await self.body(), "more_body": False}
        return receive

    async def body(self) -> bytes:
        n = self._native
        if getattr(n, "_body_stream", None) is not None:
            return bytes(await n.read())
        return n.body  # type: ignore[no-any-return]

    async def json(self) -> Any:
        return _json.loads(await self.body())

    async def form(self, **options: Any) -> Any:
        form = self._native.form(**options)
        return await form if hasattr(form, "__await__") else form

    async def stream(self) -> AsyncIterator[bytes]:
        n = self._native
        if getattr(n, "_body_stream", None) is not None:
            async for piece in n.stream():
                yield piece
        else:
            if n.body:
                yield n.body
        yield b""

    async def is_disconnected(self) -> bool:
        return False

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"

    @staticmethod
    def _rb_from_request(native: Any, app: Any) -> "Request":
        return request_of(native, app)


def request_of(native: Any, app: Any = None) -> Request:
    """The ``Request`` of a native request (made once per request, then kept on it)."""
    own = native.__dict__
    found = own.get(_KEY)
    if found is None:
        found = own[_KEY] = Request._of_native(native, app)
    return found  # type: ignore[no-any-return]


__all__ = ["Request", "HTTPConnection", "request_of", "NativeRequest"]
