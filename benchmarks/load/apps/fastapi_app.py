"""FastAPI app for the load comparisons in benchmarks/load/, run under uvicorn:

    uvicorn fastapi_app:app --http httptools --loop uvloop --no-access-log --log-level warning
"""
from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI
from fastapi.responses import PlainTextResponse, Response

BODY_10K = b"x" * 10240

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/{id}")
async def user(id: int) -> dict[str, int]:
    return {"id": id}


@app.post("/echo")
async def echo(payload: Any = Body(...)) -> Any:
    return payload


@app.get("/body10k")
async def body10k() -> Response:
    return Response(content=BODY_10K, media_type="application/octet-stream")
