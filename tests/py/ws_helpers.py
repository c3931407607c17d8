"""What the WebSocket tests of the ringbolt API and of ASGI apps share: a server path's
URL, a coroutine run with a deadline, a refused handshake's answer, and the check that a
failing handler closes its socket with 1011 while the others go on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import ServerProcess


def url(s: ServerProcess, path: str) -> str:
    return f"ws://127.0.0.1:{s.port}{path}"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def refused(u: str) -> Any:
    """The HTTP response to a handshake the server does not accept (no 101)."""
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(u):
            pass
    return info.value.response


async def fails_1011_then_echoes(s: ServerProcess, trigger: str) -> None:
    """`trigger` sent to /boom makes its handler fail: that socket closes with 1011, and
    /echo on a new socket still answers."""
    async with websockets.connect(url(s, "/boom")) as ws:
        await ws.send(trigger)
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd.code == 1011
    async with websockets.connect(url(s, "/echo")) as ws:
        await ws.send("still here")
        assert await ws.recv() == "still here"
