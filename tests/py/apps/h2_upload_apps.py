"""Apps for tests/py/test_http2_uploads.py: each reads the request body as it arrives and
answers {"received": N}, one per way an app reads a streamed body: `native` (a
ringbolt.App, an `async def` handler reading req.stream()), `asgi` (receive() until
more_body is false) and `wsgi` (wsgi.input read in pieces). `native` also has /lazy
(sleeps before it reads) and /noted (records what its read raised, read back at /notes)."""

import asyncio
import json

from ringbolt import App

native = App()
notes: list[str] = []


async def _count(req) -> int:
    total = 0
    async for chunk in req.stream():
        total += len(chunk)
    return total


@native.get("/")
def index(req):
    return {"ok": True}


@native.route("/upload", methods=["POST"])
async def upload(req):
    return {"received": await _count(req)}


@native.route("/lazy", methods=["POST"])
async def lazy(req):
    await asyncio.sleep(float(req.query.get("s", "1")))  # reads nothing for a while
    return {"received": await _count(req)}


@native.route("/noted", methods=["POST"])
async def noted(req):
    try:
        return {"received": await _count(req)}
    except Exception as e:  # what the read raised, for /notes
        notes.append(f"{type(e).__name__} {getattr(e, 'status_code', getattr(e, 'status', ''))}")
        raise


@native.get("/notes")
def notes_(req):
    return {"notes": notes}


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"received": total}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def wsgi(environ, start_response):
    total = 0
    stream = environ["wsgi.input"]
    while chunk := stream.read(65536):
        total += len(chunk)
    body = json.dumps({"received": total}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
