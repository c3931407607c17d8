"""WSGI server mode, the public side: ``wsgi_app(app)`` is a ringbolt ``App`` that
serves the WSGI (PEP 3333) application ``app`` (Flask, Django's WSGI handler, a raw
callable) for every request, and ``is_wsgi_app`` is how ``ringbolt serve`` tells one.
The server side (``WSGIHandler``, ``wsgi.input``, the file wrapper) is
``serving/wsgi_server.py``; its public names are re-exported here.
"""

from __future__ import annotations

import inspect
from typing import Any

from .serving.wsgi_server import (GATHER_LIMIT,
                                  BodyInput,
                                  FileWrapper,
                                  WSGIApp,
                                  WSGIHandler,
                                  WSGIStatusError,
                                  default_threads)
from .app import App

__all__ = [
    "GATHER_LIMIT",
    "BodyInput",
    "FileWrapper",
    "WSGIApp",
    "WSGIHandler",
    "WSGIStatusError",
    "default_threads",
    "is_wsgi_app",
    "wsgi_app",
]


def is_wsgi_app(app: Any) -> bool:
    """A WSGI callable: ``app(environ, start_response)`` (a plain function, a bound
    method, an object whose ``__call__`` takes two arguments, or a class whose
    constructor does (PEP 3333's "AppClass"); not a coroutine function)."""
    if not callable(app):
        return False
    if not inspect.isclass(app):
        fn = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(app, "__call__", None)
        if fn is None or inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(app):
            return False
    try:
        params = list(inspect.signature(app).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return len(required) <= 2
    return len(required) <= 2 <= len(positional)


def wsgi_app(app: WSGIApp, *, threads: int | None = None, root_path: str = "") -> App:
    """A ringbolt ``App`` serving ``app`` (the WSGI application) for every request."""
    server_app = App()
    server_app.mount_wsgi(app, threads=threads, root_path=root_path)
    return server_app
