"""Routes for tests/py/test_tls.py: served over TLS (and plain for the comparisons)."""

import os

from ringbolt import App, FileResponse, Response, StreamingResponse

app = App()
FILE = os.environ.get("TLS_TEST_FILE", "")


@app.get("/")
def index(req):
    return {"message": "Hello, World!"}


@app.get("/scheme")
def scheme(req):
    return {"scheme": req.scheme, "url": req.url}


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


@app.get("/file")
def file(req):
    return FileResponse(FILE)


@app.route("/echo", methods=["POST"])
def echo(req):
    return Response(req.body, content_type="application/octet-stream")


@app.route("/upload", methods=["POST"])
async def upload(req):
    total = 0
    async for chunk in req.stream():
        total += len(chunk)
    return {"received": total}


@app.websocket("/ws")
async def ws_echo(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(message)


@app.websocket("/ws-url")
async def ws_url(ws):
    await ws.accept()
    await ws.send_json({"url": ws.url})
    await ws.close()
