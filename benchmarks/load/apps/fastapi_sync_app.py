"""The FastAPI app of fastapi_app.py with plain ``def`` endpoints: FastAPI runs each on
its thread pool (Starlette's ``run_in_threadpool``, anyio's worker threads), as most
FastAPI apps that use a sync database driver do. For benchmarks/load/fastapi_bench.py:

    uvicorn fastapi_sync_app:app --http httptools --loop uvloop --no-access-log --log-level warning
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/{id}")
def user(id: int) -> dict[str, int]:
    return {"id": id}
