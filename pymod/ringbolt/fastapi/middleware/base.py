"""``BaseHTTPMiddleware``: Starlette's class-based HTTP middleware. A subclass's
``dispatch(request, call_next)`` (or ``dispatch=`` given) runs as ``@app.middleware("http")``
does: ``app.add_middleware(MyMiddleware, **options)`` makes one instance with the options
and puts its ``dispatch`` outermost."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

RequestResponseEndpoint = Callable[[Any], Awaitable[Any]]
DispatchFunction = Callable[[Any, RequestResponseEndpoint], Awaitable[Any]]


class BaseHTTPMiddleware:
    def __init__(self, app: Any = None, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def dispatch(self, request: Any, call_next: RequestResponseEndpoint) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define dispatch(request, call_next)")

    @classmethod
    def _rb_install(cls, app: Any, *args: Any, **kwargs: Any) -> None:
        app._rb_http_middleware(cls(None, *args, **kwargs).dispatch_func)


__all__ = ["BaseHTTPMiddleware", "RequestResponseEndpoint", "DispatchFunction"]
