"""The WebSocket object's own logic over a fake native channel, no server: `async for`,
`receive` and `send` on ringbolt's transport (the inlined fast paths) must answer exactly
as the general path over `_receive_raw`/`_send_raw` does. A table of cases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ringbolt import websocket
from ringbolt.websocket import WebSocket, WebSocketDisconnect, WebSocketSettings


class FakeNative:
    """receive(): None once (the waiter is resolved by the loop), then the next scripted
    message; send(): the scripted states in turn (0 queued, 1 over the mark, -1 closed,
    +2 flush)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, messages: list[tuple[Any, ...]],
                 send_states: list[int] = (), closed_after_wait: bool = False, close_code: int | None = None):
        self.loop = loop
        self.messages = list(messages)
        self.send_states = list(send_states)
        self.ready = False
        self.closed = False
        self.closed_after_wait = closed_after_wait
        self.close_code = close_code
        self.sent: list[Any] = []

    def receive(self) -> tuple[Any, ...] | None:
        if not self.ready:
            return None
        self.ready = False
        return self.messages.pop(0) if len(self.messages) > 1 else self.messages[0]

    def set_receive_waiter(self, fut: asyncio.Future) -> None:
        self.ready = True
        self.loop.call_soon(fut.set_result, None)

    def send(self, data: Any) -> int:
        self.sent.append(data)
        return self.send_states.pop(0) if self.send_states else 0

    def set_send_waiter(self, fut: asyncio.Future) -> None:
        self.closed = self.closed_after_wait
        self.loop.call_soon(fut.set_result, None)


async def _open(native_args: dict[str, Any]) -> tuple[WebSocket, FakeNative]:
    loop = asyncio.get_running_loop()
    ws = WebSocket(None, None, loop, WebSocketSettings())
    native = FakeNative(loop, **native_args)
    ws._native = native
    ws._accepted = True
    return ws, native


@pytest.fixture(autouse=True)
def no_flush(monkeypatch):
    monkeypatch.setattr(websocket, "_flush", lambda: None)


@pytest.mark.parametrize("close, outcome", [
    ((8, 1000, ""), "ends"),
    ((8, 1001, "going away"), "ends"),
    ((8, 1005, ""), "ends"),
    ((8, 1006, "lost"), 1006),
    ((8, 4001, "app"), 4001),
])
def test_async_for_yields_messages_then_ends_or_raises(close, outcome):
    async def main():
        ws, _ = await _open({"messages": [(2, b"a", 0), (1, "b", 1), close]})
        got = []
        try:
            async for m in ws:
                got.append(m)
        except WebSocketDisconnect as exc:
            return got, exc.code, ws.close_code
        return got, "ends", ws.close_code

    got, how, code = asyncio.run(main())
    assert got == [b"a", "b"]
    assert how == outcome
    assert code == close[1]


@pytest.mark.parametrize("close", [(8, 1000, "bye"), (8, 1006, "")])
def test_receive_raises_on_close_with_code_and_reason(close):
    async def main():
        ws, _ = await _open({"messages": [(2, b"x", 0), close]})
        first = await ws.receive()
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive()
        return first, info.value.code, info.value.reason, ws.close_code

    assert asyncio.run(main()) == (b"x", close[1], close[2], close[1])


@pytest.mark.parametrize("states, closed_after_wait, close_code, raises", [
    ([0], False, None, None),  # queued
    ([2], False, None, None),  # queued, flush scheduled
    ([3], False, None, None),  # over the mark: waits, then goes on
    ([1], True, 1001, 1001),  # waited, and the WebSocket closed meanwhile
    ([1], True, None, 1006),  # the same without a close code: 1006
    ([-1], False, 1000, 1000),  # closed already
])
def test_send_states(states, closed_after_wait, close_code, raises):
    async def main():
        ws, native = await _open({"messages": [(8, 1000, "")], "send_states": states,
                                  "closed_after_wait": closed_after_wait, "close_code": close_code})
        try:
            await ws.send(b"payload")
        except WebSocketDisconnect as exc:
            return native.sent, exc.code, ws.close_code
        return native.sent, None, ws.close_code

    sent, code, recorded = asyncio.run(main())
    assert sent == [b"payload"]
    assert code == raises and recorded == raises


@pytest.mark.parametrize("call", ["receive", "send", "iterate"])
def test_before_accept_is_an_error(call):
    async def main():
        ws = WebSocket(None, None, asyncio.get_running_loop(), WebSocketSettings())
        if call == "receive":
            await ws.receive()
        elif call == "send":
            await ws.send(b"x")
        else:
            async for _ in ws:
                pass

    with pytest.raises(RuntimeError, match="accept"):
        asyncio.run(main())


def test_send_rejects_other_types():
    async def main():
        ws, native = await _open({"messages": [(8, 1000, "")]})
        with pytest.raises(TypeError, match="int"):
            await ws.send(12345)
        return native.sent

    assert asyncio.run(main()) == []
