"""Handlers that hold on a test's gate (tests/py/gate.py) until it releases them:
``/hold`` blocks its thread, ``/ahold`` suspends on asyncio; ``wsgi`` is the same as a
WSGI callable. The query names the gate's port and the request."""

import asyncio
import socket
from urllib.parse import parse_qs

from ringbolt import App

app = App()


def _hold(port: int, name: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(name.encode() + b"\n")
        s.recv(16)  # blocks until the gate opens (or closes)


async def _ahold(port: int, name: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(name.encode() + b"\n")
    await writer.drain()
    await reader.read(16)
    writer.close()


@app.get("/hold")
def hold(req):
    _hold(int(req.query["port"]), req.query["name"])
    return {"released": req.query["name"]}


@app.get("/ahold")
async def ahold(req):
    await _ahold(int(req.query["port"]), req.query["name"])
    return {"released": req.query["name"]}


@app.get("/fast/{n:int}")
def fast(req):
    return {"n": req.params["n"]}


@app.get("/const", const=True)
def const(req):
    return "ok"


def wsgi(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    if environ["PATH_INFO"] == "/hold":
        _hold(int(q["port"]), q["name"])
        body = b"released:" + q["name"].encode()
    else:
        body = b"fast"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
