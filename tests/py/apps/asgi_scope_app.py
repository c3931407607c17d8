"""Answers its scope as JSON (headers as [name, value] text pairs)."""
import json


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await receive()
    body = json.dumps({
        "client": list(scope["client"]) if scope["client"] else None,
        "scheme": scope["scheme"],
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "path": scope["path"],
    }).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
