"""An ASGI app for tests/py/test_http2.py: answers its scope's http_version and echoes
the request body, streamed back in pieces (more_body)."""
import json

from asgi_body import read_body


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    head = json.dumps({"http_version": scope["http_version"], "path": scope["path"],
                       "body_len": len(body)}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    await send({"type": "http.response.body", "body": head + b"\n", "more_body": True})
    for i in range(0, len(body), 10000):
        await send({"type": "http.response.body", "body": body[i:i + 10000], "more_body": True})
    await send({"type": "http.response.body", "body": b""})
