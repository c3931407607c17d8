"""A ringbolt App's WebSocket endpoints behave the same under uvicorn (the App is an ASGI
app: ringbolt/serving/asgi_app.py) as under ringbolt's own server: the same client script gets
the same answers from both."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import ServerProcess, UvicornProcess


async def script(port: int) -> list:
    base = f"ws://127.0.0.1:{port}"
    seen: list = []
    async with websockets.connect(base + "/echo") as ws:
        for message in ("text é", b"\x00\x01", "x" * 70_000):
            await ws.send(message)
            seen.append(await ws.recv())
    async with websockets.connect(base + "/room/r1?user=u", subprotocols=["chat.v2"], origin="http://o") as ws:
        info = json.loads(await ws.recv())
        info.pop("url")  # names the port
        seen.append((info, ws.subprotocol, ws.response.headers.get("x-room")))
    try:
        async with websockets.connect(base + "/deny"):
            seen.append("accepted?")
    except InvalidStatus as exc:
        seen.append(("refused", exc.response.status_code))
    async with websockets.connect(base + "/close/4001") as ws:
        try:
            await ws.recv()
        except ConnectionClosed as exc:
            seen.append(("closed", exc.rcvd.code, exc.rcvd.reason))
    async with websockets.connect(base + "/boom") as ws:
        await ws.send("x")
        try:
            await ws.recv()
        except ConnectionClosed as exc:
            seen.append(("closed", exc.rcvd.code))
    return seen


def test_same_answers_under_uvicorn_and_ringbolt():
    ringbolt = ServerProcess("ws_app:app", "--threads", "1")
    uvicorn = UvicornProcess("ws_app:app", "--ws", "websockets")
    try:
        native = asyncio.run(asyncio.wait_for(script(ringbolt.port), 60))
        under_uvicorn = asyncio.run(asyncio.wait_for(script(uvicorn.port), 60))
        assert native == under_uvicorn
        assert native[3][0]["room"] == "r1" and native[4] == ("refused", 403)
        assert native[5] == ("closed", 4001, "bye now") and native[6] == ("closed", 1011)
    finally:
        uvicorn.stop()
        assert ringbolt.stop() == 0, ringbolt.output()
