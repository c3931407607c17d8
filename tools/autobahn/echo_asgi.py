"""Owns: the WebSocket echo app that Autobahn|Testsuite, the WebSocket load generator and
the benchmark peers talk to. Plain ASGI 3 with no dependencies, so every ASGI server
(uvicorn, Granian, ringbolt) runs the very same app:

    uvicorn tools.autobahn.echo_asgi:app --ws websockets --port 9001
    ringbolt serve tools.autobahn.echo_asgi:app

WebSocket: accept, then send every message back as it came (text as text, bytes as
bytes) until the client disconnects. HTTP: 200 "ok" on any path (a readiness probe).
"""
from __future__ import annotations


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "websocket":
        await _echo(receive, send)
    elif kind == "http":
        await _ok(receive, send)
    elif kind == "lifespan":
        await _lifespan(receive, send)


async def _echo(receive, send):
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return  # the server has already completed the closing handshake
        if event["type"] != "websocket.receive":
            continue
        # ASGI: exactly one of "text" and "bytes" is set (the other absent or None)
        text = event.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})


async def _ok(receive, send):
    while True:  # drain the request body, if any
        event = await receive()
        if event["type"] != "http.request" or not event.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _lifespan(receive, send):
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
