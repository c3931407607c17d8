"""ringbolt app for benchmarks/load/stream_bench.py: large streamed responses, a file
and a streamed upload. Sizes come from the path, so one server serves every case.

    python -m ringbolt serve benchmarks.load.apps.ringbolt_stream:app --port PORT --threads 1 \
        --max-body-size 2147483648
    GET  /stream-sync/{n}   n bytes from a sync generator of 64 KiB bytes chunks
    GET  /stream-async/{n}  the same from an async generator
    GET  /file              FileResponse($STREAM_BENCH_FILE)
    POST /upload            async handler: async for chunk in req.stream(): n += len(chunk)
"""
import os

from ringbolt import App, FileResponse, StreamingResponse

CHUNK = b"x" * 65536  # one object yielded again and again: no producer cost but the yield

app = App()


def _sync_chunks(n):
    full, rest = divmod(n, len(CHUNK))
    for _ in range(full):
        yield CHUNK
    if rest:
        yield CHUNK[:rest]


async def _async_chunks(n):
    full, rest = divmod(n, len(CHUNK))
    for _ in range(full):
        yield CHUNK
    if rest:
        yield CHUNK[:rest]


@app.get("/stream-sync/{n:int}")
def stream_sync(req):
    return StreamingResponse(_sync_chunks(req.params["n"]), media_type="application/octet-stream")


@app.get("/stream-async/{n:int}")
async def stream_async(req):
    return StreamingResponse(_async_chunks(req.params["n"]), media_type="application/octet-stream")


@app.get("/file")
def file(req):
    return FileResponse(os.environ["STREAM_BENCH_FILE"], media_type="application/octet-stream")


@app.post("/upload")
async def upload(req):
    n = 0
    chunks = 0  # how many pieces the handler was woken for (not part of the measured work)
    async for chunk in req.stream():
        n += len(chunk)
        chunks += 1
    return {"received": n, "chunks": chunks}
