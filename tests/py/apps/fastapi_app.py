"""A FastAPI application for tests/py/test_frameworks.py: path and query parameters,
Pydantic bodies and their 422s, forms and uploads, StreamingResponse, FileResponse,
BackgroundTasks, lifespan state and a startup-created async resource through a
dependency, ``request.is_disconnected()``, middleware."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import BackgroundTasks, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

HERE = Path(__file__).resolve()
BACKGROUND: dict[str, dict[str, Any]] = {}


class Resource:
    """Stands for a connection pool created at startup: bound to the loop it was made on
    (an asyncio.Queue served by a task), so using it from another loop fails."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.calls = 0
        self.task = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            reply, value = await self.queue.get()
            self.calls += 1
            reply.set_result(value * 2)

    async def double(self, value: int) -> int:
        reply = asyncio.get_running_loop().create_future()
        await self.queue.put((reply, value))
        return await asyncio.wait_for(reply, 5)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    resource = Resource()
    app.state.version = "1.2.3"
    yield {"resource": resource, "started": "yes"}
    resource.task.cancel()


app = FastAPI(lifespan=lifespan)


@app.middleware("http")
async def timing_header(request: Request, call_next: Any) -> Any:
    response = await call_next(request)
    response.headers["x-middleware"] = "fastapi"
    return response


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


def get_resource(request: Request) -> Resource:
    return request.state.resource


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10) -> dict[str, Any]:
    return {"item_id": item_id, "q": q, "limit": limit}


@app.get("/sync/{name}")
def sync_route(name: str) -> dict[str, str]:  # FastAPI runs it in its thread pool
    return {"hello": name}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> dict[str, Any]:
    return {"created": item.model_dump(), "total": item.price * 2}


@app.get("/missing")
async def missing() -> None:
    raise HTTPException(status_code=404, detail="nothing here", headers={"x-reason": "test"})


@app.post("/form")
async def form(name: str = Form(...), age: int = Form(...)) -> dict[str, Any]:
    return {"name": name, "age": age}


@app.post("/upload")
async def upload(file: UploadFile = File(...), note: str = Form("")) -> dict[str, Any]:
    content = await file.read()
    return {"filename": file.filename, "size": len(content), "note": note, "content_type": file.content_type}


async def counting() -> AsyncIterator[bytes]:
    for i in range(4):
        yield f"chunk {i};".encode()
        await asyncio.sleep(0)


@app.get("/stream")
async def stream() -> StreamingResponse:
    return StreamingResponse(counting(), media_type="text/plain")


@app.get("/file")
async def file() -> FileResponse:
    return FileResponse(HERE, media_type="text/x-python", filename="fastapi_app.py")


async def _job(token: str) -> None:
    rec = BACKGROUND[token]
    await asyncio.wait_for(rec["release"].wait(), 10)
    rec["done"] = True


@app.post("/background")
async def background(token: str, tasks: BackgroundTasks) -> dict[str, str]:
    BACKGROUND[token] = {"release": asyncio.Event(), "done": False}
    tasks.add_task(_job, token)
    return {"scheduled": token}


@app.get("/background/release")
async def background_release(token: str) -> PlainTextResponse:
    BACKGROUND[token]["release"].set()
    return PlainTextResponse("released")


@app.get("/background/state")
async def background_state(token: str) -> dict[str, bool]:
    return {"done": BACKGROUND[token]["done"]}


@app.get("/state")
async def state(request: Request) -> dict[str, Any]:
    return {"started": request.state.started, "version": request.app.state.version}


@app.get("/resource/{value}")
async def use_resource(value: int, resource: Resource = Depends(get_resource)) -> dict[str, int]:
    return {"doubled": await resource.double(value), "calls": resource.calls}


@app.get("/disconnected")
async def disconnected(request: Request) -> dict[str, Any]:
    return {"disconnected": [await request.is_disconnected() for _ in range(3)]}
