"""Raw WSGI and ASGI apps for tests/py/test_gunicorn_worker.py, served by gunicorn with
ringbolt's worker class. Every answer names the worker process that made it (its pid),
so a test sees which worker served it; slow and stuck handlers serve the signal and
--timeout tests."""

import asyncio
import ctypes
import json
import os
import time
from urllib.parse import parse_qs

_LIBC = ctypes.PyDLL(None)  # PyDLL: calls keep the GIL (ctypes.CDLL would release it)


def _query(environ_or_scope, name, default):
    raw = environ_or_scope.get("QUERY_STRING", environ_or_scope.get("query_string", b""))
    text = raw.decode() if isinstance(raw, bytes) else raw
    return parse_qs(text).get(name, [default])[0]


def wsgi(environ, start_response):
    path = environ["PATH_INFO"]
    out = {"pid": os.getpid(), "n": _query(environ, "n", None)}
    if path == "/sleep":  # blocks one handler thread, the GIL released
        time.sleep(float(_query(environ, "s", "1")))
    elif path == "/hold-gil":  # blocks the whole Python side: libc sleep() with the GIL held
        _LIBC.sleep(int(_query(environ, "s", "30")))
    elif path == "/environ":
        out.update({k: environ.get(k) for k in ("REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "HTTP_HOST",
                                                 "SERVER_PORT", "wsgi.multiprocess", "wsgi.multithread")})
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope.get("state", {})["booted"] = os.getpid()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    out = {"pid": os.getpid(), "n": _query(scope, "n", None), "booted": (scope.get("state") or {}).get("booted"),
           "client": list(scope["client"] or [])}
    if path == "/block-loop":  # blocks the event loop: a sync sleep inside an async handler
        time.sleep(float(_query(scope, "s", "30")))
    elif path == "/sleep":  # awaits: the loop goes on
        await asyncio.sleep(float(_query(scope, "s", "1")))
    body = json.dumps(out).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def three_arguments(a, b, c):
    """Neither WSGI (two arguments) nor ASGI 3 (a coroutine function)."""
    return None
