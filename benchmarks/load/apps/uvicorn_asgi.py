"""Raw ASGI app (no framework) for the load comparisons in benchmarks/load/.

Serves every scenario; used by uvicorn and by Granian's ASGI mode:

    uvicorn uvicorn_asgi:app --http httptools --loop uvloop --no-access-log --log-level warning
    granian --interface asgi uvicorn_asgi:app
"""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

PLAINTEXT = b"Hello, World!"
BODY_10K = b"x" * 10240

TEXT_HEADERS = [(b"content-type", b"text/plain")]
JSON_HEADERS = [(b"content-type", b"application/json")]
BYTES_HEADERS = [(b"content-type", b"application/octet-stream")]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _respond(send: Send, status: int, headers: list, body: bytes) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": headers + [(b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    method: str = scope["method"]
    if method == "GET":
        if path == "/plaintext":
            return await _respond(send, 200, TEXT_HEADERS, PLAINTEXT)
        if path == "/json":
            body = json.dumps({"message": "Hello, World!"}).encode()
            return await _respond(send, 200, JSON_HEADERS, body)
        if path == "/body10k":
            return await _respond(send, 200, BYTES_HEADERS, BODY_10K)
        if path.startswith("/users/"):
            try:
                user_id = int(path[len("/users/"):])
            except ValueError:
                return await _respond(send, 404, TEXT_HEADERS, b"Not Found")
            return await _respond(send, 200, JSON_HEADERS, json.dumps({"id": user_id}).encode())
    elif method == "POST" and path == "/echo":
        data = json.loads(await _read_body(receive))
        return await _respond(send, 200, JSON_HEADERS, json.dumps(data).encode())
    await _respond(send, 404, TEXT_HEADERS, b"Not Found")
