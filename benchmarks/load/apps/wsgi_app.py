"""Raw WSGI app (PEP 3333, no framework) for the load comparisons in benchmarks/load/.

The WSGI twin of uvicorn_asgi.py: same scenarios, same answers. Served by ringbolt's
WSGI mode, Granian (`--interface wsgi`) and fastpysgi:

    python -m ringbolt serve benchmarks.load.apps.wsgi_app:app --wsgi-threads 1
    granian --interface wsgi wsgi_app:app
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable

PLAINTEXT = b"Hello, World!"
BODY_10K = b"x" * 10240

TEXT = "text/plain"
JSON = "application/json"
BYTES = "application/octet-stream"

StartResponse = Callable[..., Any]


def _respond(start_response: StartResponse, status: str, content_type: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    return stream.read(length) if length > 0 else stream.read()


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path: str = environ["PATH_INFO"]
    method: str = environ["REQUEST_METHOD"]
    if method == "GET":
        if path == "/plaintext":
            return _respond(start_response, "200 OK", TEXT, PLAINTEXT)
        if path == "/json":
            return _respond(start_response, "200 OK", JSON, json.dumps({"message": "Hello, World!"}).encode())
        if path == "/body10k":
            return _respond(start_response, "200 OK", BYTES, BODY_10K)
        if path.startswith("/users/"):
            try:
                user_id = int(path[len("/users/"):])
            except ValueError:
                return _respond(start_response, "404 Not Found", TEXT, b"Not Found")
            return _respond(start_response, "200 OK", JSON, json.dumps({"id": user_id}).encode())
    elif method == "POST" and path == "/echo":
        data = json.loads(_read_body(environ))
        return _respond(start_response, "200 OK", JSON, json.dumps(data).encode())
    return _respond(start_response, "404 Not Found", TEXT, b"Not Found")
