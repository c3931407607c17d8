"""Routes for tests/py/test_http2*.py: the same app answers HTTP/1.1 and HTTP/2."""

import asyncio
import time

from ringbolt import App, Response, StreamingResponse

app = App()


@app.get("/")
def index(req):
    return {"message": "Hello, World!"}


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


@app.route("/echo", methods=["POST", "PUT"])
def echo(req):
    return Response(req.body, content_type="application/octet-stream")


@app.route("/upload", methods=["POST"])
async def upload(req):
    total = 0
    async for chunk in req.stream():
        total += len(chunk)
    return {"received": total}


@app.get("/slow")
def slow(req):
    time.sleep(float(req.query.get("s", "1")))
    return {"slept": True}


@app.get("/aslow")
async def aslow(req):
    await asyncio.sleep(float(req.query.get("s", "1")))
    return {"slept": True}


@app.get("/big/{n:int}")
def big(req):
    n = req.params["n"]
    return Response(bytes(i % 251 for i in range(n)), content_type="application/octet-stream")


@app.get("/stream/{n:int}")
def stream(req):
    n = req.params["n"]

    def gen():
        for i in range(n):
            yield (b"%06d" % i) * 1000

    return StreamingResponse(gen(), media_type="application/octet-stream")


@app.get("/astream/{n:int}")
async def astream(req):
    n = req.params["n"]

    async def gen():
        for i in range(n):
            yield (b"%06d" % i) * 1000
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
