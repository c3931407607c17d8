"""FastAPI serving files with Starlette's StaticFiles behind GZipMiddleware and a
BaseHTTPMiddleware, as HttpArena's FastAPI app does (tests/py/test_fastapi_static.py):
each file is read on anyio's worker threads, whose results come back to the event loop
through call_soon_threadsafe."""

import os

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from starlette.middleware.base import BaseHTTPMiddleware
from fastapi.staticfiles import StaticFiles

app = FastAPI()
app.add_middleware(GZipMiddleware, minimum_size=1, compresslevel=5)


class ServerHeader(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["Server"] = "FastAPI"
        return response


app.add_middleware(ServerHeader)
app.mount("/static", StaticFiles(directory=os.environ["RINGBOLT_TEST_STATIC"]), name="static")
