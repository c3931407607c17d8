"""ASGI 3 server mode, the public side: ``asgi_app(app)`` is a ringbolt ``App`` that
serves the ASGI application ``app`` (FastAPI, Starlette, Litestar, Django's ASGI
handler, a raw callable) for every request, and ``is_asgi_app`` is how ``ringbolt
serve`` tells one. The server side (``ASGIHandler``, the cycle, the lifespan) is
``serving/asgi_server.py``; its public names are re-exported here.
"""

from __future__ import annotations

import inspect
from typing import Any

from .serving.asgi_server import (ASGI_VERSION,
                                  ASGIApp,
                                  ASGIHandler,
                                  ASGIProtocolError,
                                  ClientDisconnected,
                                  Lifespan,
                                  LifespanError,
                                  Message,
                                  Scope)
from .app import App

__all__ = [
    "ASGI_VERSION",
    "ASGIApp",
    "ASGIHandler",
    "ASGIProtocolError",
    "ClientDisconnected",
    "Lifespan",
    "LifespanError",
    "Message",
    "Scope",
    "asgi_app",
    "is_asgi_app",
]


def is_asgi_app(app: Any) -> bool:
    """An ASGI 3 callable: ``async def app(scope, receive, send)`` (or an object whose
    ``__call__`` is one)."""
    if inspect.isclass(app):
        return False
    fn = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(app, "__call__", None)
    if fn is None:
        return False
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(app):
        try:
            params = [p for p in inspect.signature(app).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            return True
        return len(params) == 3
    return False


def asgi_app(app: ASGIApp, *, lifespan: str = "auto", root_path: str = "") -> App:
    """A ringbolt ``App`` serving ``app`` (the ASGI application) for every request."""
    server_app = App()
    server_app.mount_asgi(app, lifespan=lifespan, root_path=root_path)
    return server_app
