"""An ASGI app that reports its scope's scheme (http and websocket), for test_tls.py."""

import json

from plain_lifespan import lifespan


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"scheme": scope["scheme"]})})
        await send({"type": "websocket.close", "code": 1000})
        return
    body = json.dumps({"scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
