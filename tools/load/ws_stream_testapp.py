"""Owns: the ringbolt app test_ringbolt_ws_load_streams.py loads over HTTP/2 and HTTP/3
streams (RFC 8441, RFC 9220): WebSocket routes that echo, corrupt one echo in N, close
after N echoes, or echo late (so the server's pings come first), and counters of what
arrived, read and reset over HTTP.
"""
from __future__ import annotations

import asyncio

from ringbolt import App

app = App()
counts = {"messages": 0, "accepted": 0}


@app.get("/__stats")
def stats(req):
    return counts


@app.get("/__reset")
def reset(req):
    counts.update(messages=0, accepted=0)
    return counts


async def opened(ws) -> None:
    await ws.accept()
    counts["accepted"] += 1


@app.websocket("/echo")
async def echo(ws):
    await opened(ws)
    async for message in ws:
        counts["messages"] += 1
        await ws.send(message)


@app.websocket("/corrupt/{n}")
async def corrupt(ws):
    """Every n-th echo has its last byte changed (same length, same type)."""
    await opened(ws)
    n = int(ws.params["n"])
    async for message in ws:
        counts["messages"] += 1
        if counts["messages"] % n == 0:
            last = message[-1:]
            if isinstance(message, str):
                message = message[:-1] + ("b" if last == "a" else "a")
            else:
                message = message[:-1] + (b"\x00" if last == b"\x01" else b"\x01")
        await ws.send(message)


@app.websocket("/close-after/{n}")
async def close_after(ws):
    """Closes with 1000 after n echoes: the generator opens a new stream in its place."""
    await opened(ws)
    n = int(ws.params["n"])
    echoed = 0
    async for message in ws:
        counts["messages"] += 1
        await ws.send(message)
        echoed += 1
        if echoed == n:
            await ws.close(1000)
            return


@app.websocket("/late")
async def late(ws):
    """Echoes after 2.5 s: with --ws-ping-interval 1 the server pings first (its clock
    counts whole seconds)."""
    await opened(ws)
    async for message in ws:
        counts["messages"] += 1
        await asyncio.sleep(2.5)
        await ws.send(message)
