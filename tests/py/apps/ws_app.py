"""WebSocket endpoints of the ringbolt API for tests/py/test_websocket.py."""

import asyncio
import os
import threading

from ringbolt import App
from ringbolt.websocket import WebSocketDisconnect
from ws_echo import add_ws_echo

app = App()
add_ws_echo(app, "/echo")
events: list[str] = []  # what handlers saw, read back through /events


@app.get("/")
def index(req):
    return {"ok": True}


@app.get("/events")
def get_events(req):
    return {"events": events}


@app.websocket("/room/{name}")
async def room(ws):
    offered = ws.subprotocols
    await ws.accept(subprotocol="chat.v2" if "chat.v2" in offered else None, headers=[("x-room", ws.params["name"])])
    await ws.send_json({
        "room": ws.params["name"],
        "query": ws.query.get("user"),
        "origin": ws.origin,
        "subprotocol": ws.subprotocol,
        "cookie": ws.cookies.get("session"),
        "url": ws.url,
    })
    try:
        while True:
            await ws.receive()
    except WebSocketDisconnect as exc:
        events.append(f"room {ws.params['name']} closed {exc.code} {exc.reason}")


@app.websocket("/deny")
async def deny(ws):
    return  # never accepted: 403


@app.websocket("/close/{code:int}")
async def close(ws):
    await ws.accept()
    await ws.close(ws.params["code"], "bye now")


@app.websocket("/boom")
async def boom(ws):
    await ws.accept()
    await ws.receive()
    raise RuntimeError("handler failed on purpose")


lazy_wake = threading.Event()  # set by GET /lazy-wake (any reactor's thread)


@app.get("/lazy-wake")
def wake_lazy(req):
    lazy_wake.set()
    return {"woken": True}


@app.websocket("/lazy")
async def lazy(ws):
    # Accepts and then does not receive for a while (`sleep` seconds, or until GET
    # /lazy-wake with sleep=until-woken): the client's messages pile up until the read
    # window is full and the server stops reading the socket.
    await ws.accept()
    if ws.query.get("sleep") == "until-woken":
        while not lazy_wake.is_set():
            await asyncio.sleep(0.02)
        lazy_wake.clear()
    else:
        await asyncio.sleep(float(ws.query.get("sleep") or "2"))
    total = 0
    try:
        while True:
            total += len(await ws.receive())
    except WebSocketDisconnect as exc:
        events.append(f"lazy got {total} closed {exc.code}")


@app.websocket("/flood")
async def flood(ws):
    # Sends as fast as send() lets it: a client that does not read makes send() wait.
    await ws.accept()
    chunk = b"x" * 65536
    sent = 0
    try:
        for _ in range(int(ws.query.get("n") or "2000")):
            await ws.send(chunk)
            sent += 1
    except WebSocketDisconnect as exc:
        events.append(f"flood sent {sent} then closed {exc.code}")
        return
    events.append(f"flood sent {sent}")


@app.websocket("/hold")
async def hold(ws):
    await ws.accept()
    try:
        await ws.receive()
    except WebSocketDisconnect as exc:
        events.append(f"hold closed {exc.code}")


@app.get("/rss")
def rss(req):
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return {"rss_kib": int(line.split()[1])}
    return {"rss_kib": -1}


@app.websocket("/misuse")
async def misuse(ws):
    # Each wrong call is a clear Python exception naming the cause; the WebSocket goes on.
    for attempt in (lambda: ws.accept(subprotocol="not-offered"),
                    lambda: ws.accept(headers=[("x-bad", "a\r\nb")]),
                    lambda: ws.accept(headers=[("Sec-WebSocket-Accept", "mine")])):
        try:
            await attempt()
        except ValueError as exc:
            events.append(f"misuse accept: {exc}")
    await ws.accept()
    for code, reason in ((1005, ""), (999, ""), (1000, "r" * 124)):
        try:
            await ws.close(code, reason)
        except ValueError as exc:
            events.append(f"misuse close: {exc}")
    try:
        await ws.send(12345)
    except TypeError as exc:
        events.append(f"misuse send: {exc}")
    await ws.close(4000, "done")
