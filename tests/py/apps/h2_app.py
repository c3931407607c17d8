"""Routes for tests/py/test_http2*.py: the same app answers HTTP/1.1 and HTTP/2 (with
the routes it shares with tls_app.py, in transfer_routes.py)."""

import asyncio
import time

from in_flight import InFlight
from ringbolt import App, Response, StreamingResponse
from transfer_routes import add_transfer_routes, stream_piece

app = App()
add_transfer_routes(app)


@app.get("/const", const=True)
def const(req):
    return "constant"


@app.route("/inspect", methods=["GET", "POST", "HEAD"])
def inspect_(req):
    return {
        "method": req.method,
        "path": req.path,
        "query": dict(req.query),
        "headers": req.headers.items(),
        "http_version": req.http_version,
        "scheme": req.scheme,
        "body_len": len(req.body),
    }


@app.get("/slow")
def slow(req):
    time.sleep(float(req.query.get("s", "1")))
    return {"slept": True}


@app.get("/aslow")
async def aslow(req):
    await asyncio.sleep(float(req.query.get("s", "1")))
    return {"slept": True}


_in_flight = InFlight()


@app.get("/inflight")
async def inflight(req):
    """Sleeps s seconds; answers how many of these were in the app at once, this one included."""
    with _in_flight:
        await asyncio.sleep(float(req.query.get("s", "0.3")))
        return {"peak": _in_flight.peak}


@app.get("/astream/{n:int}")
async def astream(req):
    n = req.params["n"]

    async def gen():
        for i in range(n):
            yield stream_piece(i)
            await asyncio.sleep(0)

    return StreamingResponse(gen(), media_type="application/octet-stream")


@app.get("/status/{code:int}")
def status(req):
    return Response(b"", status=req.params["code"])


@app.get("/boom")
def boom(req):
    raise ValueError("boom")


@app.route("/lazy-upload", methods=["POST"])
async def lazy_upload(req):
    await asyncio.sleep(float(req.query.get("s", "1.5")))  # reads nothing for a while
    total = 0
    async for chunk in req.stream():
        total += len(chunk)
    return {"received": total}
