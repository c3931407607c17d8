"""Apps for the abuse and fault tests (tests/py/test_http3_trust.py, test_stream_policy.py):
what each handler was told when its client went away, and how many ran at once.

`native` (a ringbolt.App): /work?s= (an async handler that sleeps, counted while it runs:
/peak says the most at once, ?reset=1 starts over), /ws (a WebSocket held open until its
client goes, counted with them), /block?s= (a sync handler that holds
the reactor's thread), /upload (reads req.stream(), records what the read raised),
/notes, /big/{n}; `asgi`: records when http.disconnect came (/events); `wsgi`: reads
wsgi.input in pieces and records what the read raised (/notes)."""

import asyncio
import json
import time

from in_flight import InFlight
from ringbolt import App, Response

native = App()
notes: list[str] = []
running = InFlight()


@native.get("/")
def index(req):
    return {"ok": True}


@native.get("/work")
async def work(req):
    with running:
        await asyncio.sleep(float(req.query.get("s", "0.5")))
    return {"ok": True}


@native.websocket("/ws")
async def held(ws):
    await ws.accept()
    with running:
        async for _ in ws:  # until the client closes, resets or goes
            pass


@native.get("/peak")
def peak(req):
    out = {"now": running.now, "peak": running.peak, "done": running.done}
    if req.query.get("reset"):
        running.peak = running.now
    return out


@native.get("/block")
def block(req):
    time.sleep(float(req.query.get("s", "4")))  # wrong on purpose: holds the reactor's thread
    return "unblocked"


@native.route("/upload", methods=["POST"])
async def upload(req):
    total = 0
    try:
        async for chunk in req.stream():
            total += len(chunk)
    except Exception as e:  # what the read raised, for /notes
        notes.append(f"native {type(e).__name__} {getattr(e, 'status_code', getattr(e, 'status', ''))}")
        raise
    return {"received": total}


@native.get("/notes")
def notes_(req):
    return {"notes": notes}


@native.get("/big/{n:int}")
def big(req):
    return Response(b"x" * req.params["n"], content_type="application/octet-stream")


asgi_events: list = []


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/events":
        body = json.dumps(asgi_events).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    started = time.monotonic()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            asgi_events.append([scope["path"], round(time.monotonic() - started, 2)])
            return
        if not message.get("more_body"):
            break
    message = await receive()  # only the client leaving ends this wait
    asgi_events.append([scope["path"], round(time.monotonic() - started, 2) if message["type"] == "http.disconnect"
                        else message["type"]])


wsgi_notes: list[str] = []


def wsgi(environ, start_response):
    if environ["PATH_INFO"] == "/notes":
        body = json.dumps({"notes": wsgi_notes}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    total = 0
    stream = environ["wsgi.input"]
    try:
        while chunk := stream.read(65536):
            total += len(chunk)
    except Exception as e:
        wsgi_notes.append(f"wsgi {type(e).__name__}")
        raise
    body = json.dumps({"received": total}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
