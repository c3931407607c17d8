"""A chat server on ringbolt's WebSocket API: rooms, a join message, broadcast.

    python examples/chat.py
    # then, in two terminals:
    python -m websockets ws://127.0.0.1:8000/chat/lobby?name=ann
    python -m websockets ws://127.0.0.1:8000/chat/lobby?name=bob
"""

import asyncio
from typing import Any

from ringbolt import App, Request
from ringbolt.websocket import WebSocket, WebSocketDisconnect

app = App()
rooms: dict[str, set[WebSocket]] = {}


async def broadcast(room: str, message: dict[str, Any]) -> None:
    members = list(rooms.get(room, ()))
    # One slow member must not hold up the others: each send waits on its own client.
    results = await asyncio.gather(*(ws.send_json(message) for ws in members), return_exceptions=True)
    for ws, result in zip(members, results):
        if isinstance(result, WebSocketDisconnect):
            rooms.get(room, set()).discard(ws)


@app.get("/")
def index(req: Request) -> dict[str, Any]:
    return {"rooms": {name: len(members) for name, members in rooms.items()}}


@app.websocket("/chat/{room}")
async def chat(ws: WebSocket) -> None:
    room = ws.params["room"]
    name = ws.query.get("name") or "anonymous"
    await ws.accept()
    rooms.setdefault(room, set()).add(ws)
    await broadcast(room, {"event": "join", "name": name})
    try:
        async for text in ws:
            await broadcast(room, {"event": "message", "name": name, "text": text})
    finally:
        rooms[room].discard(ws)
        await broadcast(room, {"event": "leave", "name": name})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
