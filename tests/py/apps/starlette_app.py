"""A Starlette application for tests/py/test_frameworks.py and the differential test
against uvicorn: routing, params, JSON, forms, streams, files, background tasks,
lifespan state, middleware, a WebSocket route. Everything it answers is deterministic
(no addresses, ports or times in bodies), so two servers can be compared byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import (FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response,
                                 StreamingResponse)
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

HERE = Path(__file__).resolve()
# Background tasks by token: an Event the task waits for, and what it did.
BACKGROUND: dict[str, dict[str, Any]] = {}


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    queue: asyncio.Queue = asyncio.Queue()
    served = {"n": 0}

    async def worker() -> None:  # a task started at startup, fed by requests
        while True:
            reply = await queue.get()
            served["n"] += 1
            reply.set_result(served["n"])

    task = asyncio.get_running_loop().create_task(worker())
    app.state.greeting = "set on app.state at startup"
    yield {"started": "yes", "queue": queue, "lock": asyncio.Lock()}
    task.cancel()


async def home(request: Request) -> Response:
    return PlainTextResponse("hello from starlette")


async def item(request: Request) -> Response:
    return JSONResponse({"item_id": request.path_params["item_id"], "type": type(request.path_params["item_id"]).__name__})


async def query(request: Request) -> Response:
    qp = request.query_params
    return JSONResponse({"a": qp.getlist("a"), "b": qp.get("b"), "keys": sorted(qp.keys())})


async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type=request.headers.get("content-type", "application/octet-stream"))


async def echo_length(request: Request) -> Response:
    n, chunks = 0, 0
    async for chunk in request.stream():
        n += len(chunk)
        chunks += 1 if chunk else 0
    return JSONResponse({"bytes": n, "several_chunks": chunks > 1})


async def validate(request: Request) -> Response:
    n = request.query_params.get("n", "")
    if not n.isdigit():
        return JSONResponse({"detail": [{"loc": ["query", "n"], "msg": "not a number", "input": n}]}, status_code=422)
    return JSONResponse({"n": int(n)})


async def json_post(request: Request) -> Response:
    data = await request.json()
    return JSONResponse({"received": data, "keys": sorted(data) if isinstance(data, dict) else None}, status_code=201)


async def form(request: Request) -> Response:
    async with request.form() as f:
        out = {}
        for key, value in f.multi_items():
            if hasattr(value, "read"):
                content = await value.read()
                out[key] = {"filename": value.filename, "size": len(content), "head": content[:10].decode()}
            else:
                out[key] = value
    return JSONResponse(out)


async def numbers() -> AsyncIterator[bytes]:
    for i in range(5):
        yield f"line {i}\n".encode()
        await asyncio.sleep(0)


async def stream(request: Request) -> Response:
    return StreamingResponse(numbers(), media_type="text/plain")


ENDLESS: dict[str, dict[str, Any]] = {}


async def endless(request: Request) -> Response:
    """An endless stream; its record counts what was produced and how it ended."""
    rec = ENDLESS[request.query_params["token"]] = {"produced": 0, "closed": None}

    async def gen() -> AsyncIterator[bytes]:
        try:
            while True:
                rec["produced"] += 65536
                yield b"e" * 65536
        except BaseException as exc:
            rec["closed"] = type(exc).__name__
            raise

    return StreamingResponse(gen(), media_type="application/octet-stream")


async def endless_state(request: Request) -> Response:
    return JSONResponse(ENDLESS[request.query_params["token"]])


async def file(request: Request) -> Response:
    return FileResponse(HERE, media_type="text/x-python")


async def redirect(request: Request) -> Response:
    return RedirectResponse("/json-get", status_code=int(request.query_params.get("status", "307")))


async def json_get(request: Request) -> Response:
    return JSONResponse({"ok": True, "unicode": "héllo ✓"})


async def unicode_path(request: Request) -> Response:
    return JSONResponse({"name": request.path_params["name"]})


async def state(request: Request) -> Response:
    return JSONResponse({"started": request.state.started, "greeting": request.app.state.greeting})


async def resource(request: Request) -> Response:
    async with request.state.lock:
        reply = asyncio.get_running_loop().create_future()
        await request.state.queue.put(reply)
        n = await asyncio.wait_for(reply, 5)
    return JSONResponse({"served": n})


async def disconnected(request: Request) -> Response:
    checks = [await request.is_disconnected() for _ in range(3)]
    return JSONResponse({"disconnected": checks})


async def _background_job(token: str) -> None:
    rec = BACKGROUND[token]
    await asyncio.wait_for(rec["release"].wait(), 10)
    rec["done"] = True


async def background(request: Request) -> Response:
    token = request.query_params["token"]
    BACKGROUND[token] = {"release": asyncio.Event(), "done": False}
    return JSONResponse({"scheduled": token}, background=BackgroundTask(_background_job, token))


async def background_release(request: Request) -> Response:
    BACKGROUND[request.query_params["token"]]["release"].set()
    return PlainTextResponse("released")


async def background_state(request: Request) -> Response:
    return JSONResponse({"done": BACKGROUND[request.query_params["token"]]["done"]})


async def error(request: Request) -> Response:
    raise RuntimeError("a handler error on purpose")


async def cookies(request: Request) -> Response:
    response = PlainTextResponse("cookies")
    response.set_cookie("a", "1")
    response.set_cookie("b", "two words", httponly=True, path="/x")
    return response


async def empty(request: Request) -> Response:
    return Response(status_code=204)


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


async def last_messages(request: Request) -> Response:
    return JSONResponse(SENT.get(request.query_params["path"], []))


# The message types the app sent for the latest request to each path (pathsend or body?),
# repeats folded, and what send() raised.
SENT: dict[str, list[str]] = {}


class RecordSends:
    """A pure ASGI middleware: records the types of the messages the app sends."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/last-messages":
            await self.app(scope, receive, send)
            return
        kinds = SENT[scope["path"]] = []

        async def recording_send(message: Any) -> None:
            if not kinds or kinds[-1] != message["type"]:
                kinds.append(message["type"])
            try:
                await send(message)
            except BaseException as exc:
                kinds.append(f"raised {type(exc).__name__}, an OSError: {isinstance(exc, OSError)}")
                raise

        await self.app(scope, receive, recording_send)


class AddHeader(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-middleware"] = "ran"
        return response


routes = [
    Route("/", home),
    Route("/items/{item_id:int}", item),
    Route("/query", query),
    Route("/echo", echo, methods=["POST", "PUT"]),
    Route("/echo-length", echo_length, methods=["POST"]),
    Route("/json", json_post, methods=["POST"]),
    Route("/json-get", json_get),
    Route("/validate", validate),
    Route("/form", form, methods=["POST"]),
    Route("/stream", stream),
    Route("/file", file),
    Route("/endless", endless),
    Route("/endless/state", endless_state),
    Route("/redirect", redirect),
    Route("/unicode/{name}", unicode_path),
    Route("/state", state),
    Route("/resource", resource),
    Route("/disconnected", disconnected),
    Route("/background", background, methods=["POST"]),
    Route("/background/release", background_release),
    Route("/background/state", background_state),
    Route("/error", error),
    Route("/empty", empty),
    Route("/cookies", cookies),
    Route("/last-messages", last_messages),
    WebSocketRoute("/ws", ws),
]

app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(RecordSends), Middleware(AddHeader)])

# Without BaseHTTPMiddleware, which runs the endpoint in a task of its own that never
# learns of a disconnect (a stream's generator then waits forever, under any server).
plain = Starlette(routes=[Route("/endless", endless), Route("/endless/state", endless_state),
                          Route("/last-messages", last_messages), Route("/error", error)],
                  middleware=[Middleware(RecordSends)])
