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


class HTTPConnection(Mapping[str, Any]):
    """What a request and a WebSocket share: the connection's facts."""

    def __init__(self, native: Any, app: Any = None) -> None:
        self._native = native
        self._app = app
        self._state: State | None = None
        self._scope: dict[str, Any] | None = None

    # the scope as a mapping (request["path"], request.scope)
    @property
    def scope(self) -> dict[str, Any]:
        if self._scope is None:
            n = self._native
            self._scope = {
                "type": "http", "http_version": getattr(n, "http_version", "1.1"), "method": n.method,
                "scheme": n.scheme, "path": n.path, "raw_path": getattr(n, "raw_path", n.path.encode()),
                "root_path": "", "query_string": n.query_string.encode("latin-1"),
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in n.headers.items()],
                "client": n.client, "server": None, "path_params": n.params, "app": self._app,
                "state": self.state._state,
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

    @property
    def url(self) -> URL:
        n = self._native
        return URL(f"{n.scheme}://{n.host}{n.target}")

    @property
    def base_url(self) -> URL:
        n = self._native
        return URL(f"{n.scheme}://{n.host}/")

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
        client = self._native.client
        return Address(*client) if client else None

    @property
    def state(self) -> State:
        if self._state is None:
            self._state = State()
        return self._state

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        app = self._app
        if app is None:
            raise RuntimeError("url_for needs the app")
        return self.base_url.replace(path=app.url_path_for(name, **path_params))


class Request(HTTPConnection):
    """A request as FastAPI's handlers see it (see the module's docstring)."""

    @property
    def method(self) -> str:
        return self._native.method  # type: ignore[no-any-return]

    @property
    def receive(self) -> Any:
        raise RuntimeError("ringbolt's Request has no ASGI receive channel: read the body with await request.body()")

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
        found = own[_KEY] = Request(native, app)
    return found  # type: ignore[no-any-return]


__all__ = ["Request", "HTTPConnection", "request_of", "NativeRequest"]
