"""A FastAPI app whose plain ``def`` endpoints run on FastAPI's thread pool (Starlette's
``run_in_threadpool``, anyio's worker threads), for tests/py/test_fastapi_threadpool.py:
each answer says which thread ran the endpoint and which thread runs the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

from fastapi import FastAPI

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/sync/{n}")
def sync_(n: int) -> dict[str, object]:
    t = threading.current_thread()
    return {"n": n, "tid": threading.get_native_id(), "thread": t.name}


@app.get("/slow/{ms}")
def slow(ms: int) -> dict[str, int]:
    time.sleep(ms / 1000)  # blocks its worker thread, not the loop
    return {"slept": ms}


@app.get("/loop")
async def loop_() -> dict[str, object]:
    asyncio.get_running_loop()
    return {"tid": threading.get_native_id()}


@app.post("/cancel-every-other-task")
async def cancel_every_other_task() -> dict[str, int]:
    # What some shutdown code does; the loop's root task is among them.
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me]
    for t in others:
        t.cancel()
    return {"cancelled": len(others)}
