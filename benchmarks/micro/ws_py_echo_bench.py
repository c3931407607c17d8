"""The Python side of one @app.websocket echo (`async for message in ws: await
ws.send(message)`) over a fake native channel: receive() answers None, then the message
once the loop has resolved the waiter (as the reactor's notify does); send() answers 2
(flush scheduled) for the first message of a loop turn, else 0, like the real one. No
sockets, so it can be counted exactly under callgrind; the slope between two N is the
cost of one echo:

    for n in 2000 6000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        $(python3 -c 'import sys; print(sys.executable)') benchmarks/micro/ws_py_echo_bench.py \
        pymod/ringbolt/websocket.py $n 2>&1 | grep Collected; done

usage: ws_py_echo_bench.py WEBSOCKET_PY N (the module file under test, e.g. an old
revision's `git show REV:pymod/ringbolt/websocket.py`)."""
import asyncio
import importlib.util
import sys
import time

import uvloop

spec = importlib.util.spec_from_file_location("ringbolt.websocket_under_test", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mod
spec.loader.exec_module(mod)
mod._flush = lambda: None
N = int(sys.argv[2])


class FakeNative:
    def __init__(self, loop, n):
        self.loop = loop
        self.left = n
        self.ready = False
        self.closed = False
        self.close_code = None
        self.staged = False

    def receive(self):
        if self.left == 0:
            return (8, 1000, "")
        if not self.ready:
            return None
        self.ready = False
        self.left -= 1
        return (2, b"x" * 32, 0)

    def set_receive_waiter(self, fut):
        self.ready = True
        self.loop.call_soon(fut.set_result, None)

    def send(self, data):
        first = not self.staged
        self.staged = True
        if first:
            self.loop.call_soon(self._flushed)
        return 2 if first else 0

    def _flushed(self):
        self.staged = False


async def handler(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    loop = asyncio.get_running_loop()
    ws = mod.WebSocket(None, None, loop, mod.WebSocketSettings())
    ws._native = FakeNative(loop, N)
    ws._accepted = True
    t = time.perf_counter()
    await handler(ws)
    return time.perf_counter() - t


dt = uvloop.run(main())
print(f"{sys.argv[1]} N={N}: {dt / max(N, 1) * 1e9:.0f} ns per echo (wall clock)")
