"""The app of tests/py/test_tracing.py: tracing on, exported over OTLP/HTTP to the
receiver the test starts (OTEL_EXPORTER_OTLP_ENDPOINT); sync, async and typed routes
that make spans of their own, failures of each kind, a route whose router's middleware
turns an exception into an answer, a request held until the test's gate file exists
(TRACING_TEST_GATE), and a const route (never traced)."""

from __future__ import annotations

import asyncio
import os

from opentelemetry import trace

from ringbolt import App, HTTPError, Response, Router, StreamingResponse

app = App()
app.enable_tracing(service_name="tracing-test")
tracer = trace.get_tracer("tracing_app")


@app.get("/items/{item_id:int}")
def item(req):
    with tracer.start_as_current_span("load item") as span:
        span.set_attribute("item.id", req.params["item_id"])
    return {"id": req.params["item_id"]}


@app.get("/async/{name}")
async def async_item(req):
    with tracer.start_as_current_span("async child"):
        await asyncio.sleep(0.01)  # suspended: other tasks run meanwhile, the span stays this task's
    return {"name": req.params["name"]}


@app.get("/typed/{n:int}")
def typed(n: int, q: str = "none") -> dict[str, object]:
    with tracer.start_as_current_span("typed child"):
        return {"n": n, "q": q}


@app.get("/async-typed/{n:int}")
async def async_typed(n: int) -> dict[str, object]:
    with tracer.start_as_current_span("async typed child"):
        await asyncio.sleep(0)
        return {"n": n}


@app.get("/boom")
def boom(req):
    raise RuntimeError("kaboom")


@app.get("/async-boom")
async def async_boom(req):
    await asyncio.sleep(0)
    raise ValueError("async kaboom")


@app.get("/missing")
def missing(req):
    raise HTTPError(404, "no such thing")


@app.get("/busy")
def busy(req):
    return Response("busy", 503)


@app.route("/created", ["POST", "PURGE"])
def created(req):
    return {"ok": True}, 201


@app.get("/in-flight")
async def in_flight(req):
    """Says it started (a file), then answers once the test's gate file exists."""
    gate = os.environ["TRACING_TEST_GATE"]
    open(gate + ".started", "w").close()
    while not os.path.exists(gate):
        await asyncio.sleep(0.01)
    return {"done": True}


@app.get("/stream")
async def stream(req):
    async def pieces():
        for i in range(3):
            yield f"piece {i}\n"

    return StreamingResponse(pieces(), 206, media_type="text/plain")


@app.get("/const", const=True)
def const(req):
    return {"const": True}


guarded = Router(prefix="/guarded")


@guarded.middleware
def conflicts(req, call_next):
    try:
        return call_next(req)
    except LookupError as exc:
        return Response({"conflict": str(exc)}, 409)


@guarded.get("/{key}")
def guarded_item(req):
    raise KeyError(req.params["key"])


app.include(guarded)

async_guarded = Router(prefix="/async-guarded")


@async_guarded.middleware
async def async_conflicts(req, call_next):
    try:
        return await call_next(req)
    except LookupError as exc:
        return Response({"conflict": str(exc)}, 409)


class AsyncLookup:
    """A handler that is an object with an async __call__."""

    async def __call__(self, req):
        await asyncio.sleep(0)
        raise KeyError(req.params["key"])


async_guarded.get("/{key}")(AsyncLookup())
app.include(async_guarded)
