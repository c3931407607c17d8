"""WebSocket under ASGI for tests/py/test_websocket_asgi.py: a raw ASGI 3 app, and the
same endpoints in Starlette and FastAPI (served unchanged)."""

from fastapi import FastAPI, WebSocket as FastAPIWebSocket, WebSocketDisconnect as FastAPIDisconnect
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from plain_lifespan import lifespan

log: list[str] = []


async def app(scope, receive, send):
    """Raw ASGI: /echo echoes; /deny refuses with a custom 401 body; /close403 closes
    before accepting; /scope answers its scope; /boom fails after accepting; /log tells."""
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "http":
        body = "\n".join(log).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
        return
    assert scope["type"] == "websocket"
    path = scope["path"]
    first = await receive()
    assert first == {"type": "websocket.connect"}, first
    if path == "/deny":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"token"})
        return
    if path == "/badorder":
        await send({"type": "websocket.send", "text": "before accept"})  # a protocol error: 500
        return
    if path == "/close403":
        await send({"type": "websocket.close"})
        return
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-asgi", b"yes")]})
    if path == "/scope":
        import json

        view = {k: v for k, v in scope.items() if k not in ("headers", "state", "extensions")}
        view["raw_path"] = view["raw_path"].decode()
        view["query_string"] = view["query_string"].decode()
        view["header_names"] = sorted({k.decode() for k, _ in scope["headers"]})
        view["extensions"] = sorted(scope["extensions"])
        await send({"type": "websocket.send", "text": json.dumps(view)})
    if path == "/boom":
        await receive()
        raise RuntimeError("asgi websocket app failed on purpose")
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            log.append(f"{path} disconnect {message['code']}")
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def starlette_echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text("starlette: " + text)
    except WebSocketDisconnect as exc:
        log.append(f"starlette disconnect {exc.code}")


starlette_app = Starlette(routes=[WebSocketRoute("/ws", starlette_echo)])

fastapi_app = FastAPI()


@fastapi_app.websocket("/items/{item_id}/ws")
async def fastapi_ws(websocket: FastAPIWebSocket, item_id: int, q: str | None = None):
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_json()
            await websocket.send_json({"item_id": item_id, "q": q, "data": data})
    except FastAPIDisconnect as exc:
        log.append(f"fastapi disconnect {exc.code}")


@fastapi_app.get("/log")
def fastapi_log():
    return {"log": log}
