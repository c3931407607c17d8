"""Streaming responses, streamed request bodies and handler-supplied framing headers
(tests/py/test_streaming.py). Written against the API that lands with the connection
core: ``StreamingResponse``, ``Request.stream()``.

Generators record what happened to them in ``STATE[token]`` (bytes produced, whether
``finally`` ran and why they were closed); ``GET /state?token=`` reports it, so a test can
see the server's side of a stream over another connection. ``GET /release?token=`` sets
the gate a gated generator waits on (bounded: 30 s)."""

import asyncio
import hashlib
import threading

from ringbolt import App, Response, StreamingResponse

app = App()

_lock = threading.Lock()
_gates: dict[str, threading.Event] = {}
STATE: dict[str, dict] = {}
GATE_WAIT_S = 30.0


def gate(token: str) -> threading.Event:
    with _lock:
        return _gates.setdefault(token, threading.Event())


def state(token: str) -> dict:
    with _lock:
        return STATE.setdefault(token, {"produced": 0, "received": 0, "finally": False, "exit": None})


def produced(st: dict, n: int) -> None:
    with _lock:
        st["produced"] += n


def pattern(i: int, size: int) -> bytes:
    """Chunk ``i`` of a patterned stream (the tests compute the same bytes)."""
    return bytes([i % 251]) * size


def framing(req) -> dict:
    """StreamingResponse keyword arguments from the query: media_type, Content-Length."""
    kw: dict = {"media_type": req.query.get("media_type")}
    if "length" in req.query:
        kw["headers"] = {"Content-Length": req.query["length"]}
    return kw


@app.get("/json")
def json_route(req):
    return {"ok": True, "n": req.query.get("n")}


@app.get("/state")
def state_route(req):
    st = state(req.query["token"])
    with _lock:
        return dict(st)


@app.get("/release")
def release(req):
    gate(req.query["token"]).set()
    return {"released": req.query["token"]}


# ---- a first chunk, then a wait for /release: proves chunks are sent as produced ----


@app.get("/gated/sync")
def gated_sync(req):
    token = req.query["token"]

    def gen():
        yield b"first-chunk;"
        if not gate(token).wait(GATE_WAIT_S):
            yield b"gate-timeout;"
            return
        yield b"second-chunk;"

    return StreamingResponse(gen(), media_type="text/plain")


@app.get("/gated/async")
async def gated_async(req):
    token = req.query["token"]

    async def gen():
        yield "first-chunk;"
        ev = gate(token)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, ev.wait, GATE_WAIT_S):
            yield "gate-timeout;"
            return
        yield "second-chunk;"

    return StreamingResponse(gen(), media_type="text/plain")


# ---- n patterned chunks (?n=&size=, optional &length= and &media_type=) ----


@app.get("/chunks/sync")
def chunks_sync(req):
    n, size = int(req.query["n"]), int(req.query["size"])
    return StreamingResponse((pattern(i, size) for i in range(n)), **framing(req))


@app.get("/chunks/async")
async def chunks_async(req):
    n, size = int(req.query["n"]), int(req.query["size"])

    async def gen():
        for i in range(n):
            yield pattern(i, size)
            await asyncio.sleep(0)

    return StreamingResponse(gen(), **framing(req))


# ---- str chunks are UTF-8 ----

TEXT = ["héllo ", "wörld ", "✓ ", "日本"]


@app.get("/text/sync")
def text_sync(req):
    return StreamingResponse(iter(TEXT), media_type="text/plain; charset=utf-8")


@app.get("/text/async")
async def text_async(req):
    async def gen():
        for s in TEXT:
            yield s

    return StreamingResponse(gen(), media_type="text/plain; charset=utf-8")


# ---- a large stream that counts what it produced and records how it ended ----


def big_stream(req):
    """/big/*?token=&total=&size=: the token's state, and `total` bytes of the pattern,
    `size` at a time, each chunk counted in that state as produced just before it goes."""
    token, total, size = req.query["token"], int(req.query["total"]), int(req.query["size"])
    st = state(token)

    def chunks():
        done = i = 0
        while done < total:
            chunk = pattern(i, min(size, total - done))
            produced(st, len(chunk))
            yield chunk
            done += len(chunk)
            i += 1

    return st, chunks()


@app.get("/big/sync")
def big_sync(req):
    st, chunks = big_stream(req)

    def gen():
        try:
            yield from chunks
        except GeneratorExit:
            st["exit"] = "GeneratorExit"
            raise
        finally:
            st["finally"] = True

    return StreamingResponse(gen(), media_type="application/octet-stream")


@app.get("/big/async")
async def big_async(req):
    st, chunks = big_stream(req)

    async def gen():
        try:
            for chunk in chunks:
                yield chunk
        except (GeneratorExit, asyncio.CancelledError) as exc:
            st["exit"] = type(exc).__name__
            raise
        finally:
            st["finally"] = True

    return StreamingResponse(gen(), media_type="application/octet-stream")


# ---- an exception after 4 MiB (more than any send buffer: the head is on the wire) ----

BOOM_CHUNKS = 64
BOOM_SIZE = 65536


def boom_chunks():
    return (pattern(i, BOOM_SIZE) for i in range(BOOM_CHUNKS))


@app.get("/boom/sync")
def boom_sync(req):
    def gen():
        yield from boom_chunks()
        raise RuntimeError("stream-boom-marker-sync")

    return StreamingResponse(gen())


@app.get("/boom/async")
async def boom_async(req):
    async def gen():
        for chunk in boom_chunks():
            yield chunk
        raise RuntimeError("stream-boom-marker-async")

    return StreamingResponse(gen())


# ---- request bodies streamed into async handlers ----


@app.post("/upload/sha")
async def upload_sha(req):
    h = hashlib.sha256()
    n = chunks = largest = 0
    types = set()
    async for chunk in req.stream():
        types.add(type(chunk).__name__)
        h.update(chunk)
        n += len(chunk)
        chunks += 1
        largest = max(largest, len(chunk))
    return {"sha256": h.hexdigest(), "bytes": n, "chunks": chunks, "types": sorted(types), "largest": largest}


@app.post("/upload/progress")
async def upload_progress(req):
    """Like /upload/sha, and counts the bytes received so far in STATE[token]["received"]."""
    st = state(req.query["token"])
    h = hashlib.sha256()
    async for chunk in req.stream():
        h.update(chunk)
        with _lock:
            st["received"] += len(chunk)
    return {"sha256": h.hexdigest(), "bytes": st["received"]}


@app.post("/upload/late")
async def upload_late(req):
    """Reads nothing for `delay` seconds (a handler busy elsewhere), then the whole body."""
    await asyncio.sleep(float(req.query["delay"]))
    h = hashlib.sha256()
    n = 0
    async for chunk in req.stream():
        h.update(chunk)
        n += len(chunk)
    return {"sha256": h.hexdigest(), "bytes": n}


@app.post("/upload/body-then-stream")
async def upload_body_then_stream(req):
    """req.body first, then req.stream(): the stream gives that same bytes object, once."""
    body = req.body
    chunks = [chunk async for chunk in req.stream()]
    return {"same": len(chunks) == 1 and chunks[0] is body, "bytes": sum(len(c) for c in chunks)}


@app.post("/upload/whole")
def upload_whole(req):
    """A sync handler (the body read whole, up to 1 MiB and more): what it saw of the request."""
    body = req.body
    items = len(req.json()["items"]) if req.headers.get("content-type") == "application/json" else None
    return {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "tag": req.headers.get("x-tag"),
            "path": req.path, "query": req.query_string, "items": items}


@app.post("/upload/ignore")
async def upload_ignore(req):
    """Answers without reading the body."""
    return {"ignored": True}


# ---- handler-supplied framing headers ----


@app.get("/framing/cl-mismatch")
def framing_cl_mismatch(req):
    return Response(b"hello", headers={"Content-Length": "100"})


@app.get("/framing/te")
def framing_te(req):
    return Response(b"hello", headers={"Transfer-Encoding": "chunked"})


@app.get("/framing/connection")
def framing_connection(req):
    return Response(b"x", headers={"Connection": "keep-alive"})


@app.get("/framing/status/{code:int}")
def framing_status(req):
    return Response(b"", status=req.params["code"])
