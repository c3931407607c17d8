"""A tiny service to show ringbolt.testing (docs/testing.md): test_todo_app.py tests it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ringbolt import App, HTTPError, Request, Response
from ringbolt.websocket import WebSocket

app = App()
todos: dict[str, dict[str, Any]] = {}  # the app's state: the test can look at it


@app.on_startup
def load() -> None:
    todos.clear()


@app.post("/todos")
def create(req: Request) -> Any:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("title"), str):
        raise HTTPError(422, "title (a string) is required")
    todo = {"id": uuid.uuid4(), "title": body["title"], "created": dt.datetime.now(dt.timezone.utc)}
    todos[str(todo["id"])] = todo
    return Response(todo, status=201)  # UUID and datetime are written natively


@app.get("/todos/{tid}")
def read(req: Request) -> Any:
    todo = todos.get(req.params["tid"])
    if todo is None:
        raise HTTPError(404, "no such todo")
    return todo


@app.get("/login")
def login(req: Request) -> Any:
    return Response({"ok": True}, headers=[("Set-Cookie", "session=s3cr3t; Path=/; HttpOnly")])


@app.get("/whoami")
def whoami(req: Request) -> Any:
    return {"session": req.headers.get("cookie")}


@app.websocket("/ws")
async def feed(ws: WebSocket) -> None:
    await ws.accept()
    async for message in ws:
        if message == "bye":
            await ws.close(4000, "bye")
            return
        await ws.send_json({"echo": message, "todos": len(todos)})
