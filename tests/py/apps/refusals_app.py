"""Routes whose responses or request bodies are wrong on purpose (test_refusals.py)."""

import asyncio

from ringbolt import App, ClientDisconnect, FileResponse, Response, StreamingResponse

app = App()
SEEN: dict[str, str] = {}


@app.get("/cl/not-a-number")
def cl_nan(req):
    return Response(b"hello", headers={"Content-Length": "abc"})


@app.get("/cl/two-different")
def cl_two(req):
    return Response(b"hello", headers=[("Content-Length", "5"), ("Content-Length", "6")])


@app.get("/cl/two-same")
def cl_same(req):
    return Response(b"hello", headers=[("Content-Length", "5"), ("Content-Length", "5")])


@app.get("/stream/bytes-body")
def stream_bytes(req):
    return StreamingResponse(b"not an iterable of chunks")


@app.get("/stream/int-first")
def stream_int_first(req):
    def gen():
        yield 42

    return StreamingResponse(gen())


@app.get("/stream/int-later")
def stream_int_later(req):
    def gen():
        yield b"first "
        yield 42

    return StreamingResponse(gen())


@app.get("/file/nul")
def file_nul(req):
    return FileResponse("/tmp/a\0b")


@app.post("/body")
async def body(req):
    n = 0
    try:
        async for chunk in req.stream():
            n += len(chunk)
    except ClientDisconnect:
        SEEN["body"] = "disconnect"
        raise
    return {"n": n}


@app.get("/seen")
async def seen(req):
    await asyncio.sleep(0)
    return dict(SEEN)
