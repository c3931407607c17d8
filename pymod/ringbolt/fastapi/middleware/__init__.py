"""FastAPI's (Starlette's) middleware classes, each installed as ringbolt's own feature
when the app is given it (``app.add_middleware(CORSMiddleware, ...)``): CORS and GZip
natively, TrustedHost and HTTPSRedirect as a check before the routes. ASGI middleware of
other kinds cannot wrap a ringbolt app: ``add_middleware`` refuses it, naming the class
and what to use instead."""

from __future__ import annotations

from typing import Any


class Middleware:
    """``Middleware(cls, **options)``, for ``FastAPI(middleware=[...])``."""

    def __init__(self, cls: Any, *args: Any, **kwargs: Any) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Any:
        return iter((self.cls, self.args, self.kwargs))


__all__ = ["Middleware"]
