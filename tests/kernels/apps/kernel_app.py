"""The app tests/kernels/test_kernel_serving.py serves on each kernel: a GET, a body echoed,
a slow answer (for the drain), a WebSocket echo, static files, and the worker's pid."""

import asyncio
import os
from pathlib import Path

from ringbolt import App

app = App()
STATIC = Path(os.environ.get("KERNEL_STATIC_DIR", "/tmp"))
app.static("/static", STATIC)


@app.get("/hello")
def hello(req):
    return {"hello": req.http_version, "pid": os.getpid()}


@app.post("/echo")
def echo(req):
    return req.body


@app.get("/slow")
async def slow(req):
    print("slow: started", flush=True)  # the drain test signals once it is running
    await asyncio.sleep(float(req.query.get("s", "1")))
    return {"slept": True, "pid": os.getpid()}


@app.websocket("/ws")
async def ws(sock):
    await sock.accept()
    async for message in sock:
        await sock.send_text(str(message).upper())
