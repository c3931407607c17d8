"""The asyncio side of ringbolt: ``async def`` handlers run as Tasks on one event loop
thread per process (uvloop when installed). Reactors hand each loop turn's async
requests over in one ``call_soon_threadsafe``; every answer goes back to its reactor
through ``_native._complete`` (one wake-up per batch of answers at most)."""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any

from ._native import _complete


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # type: ignore[import-not-found]

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


class AsyncRunner:
    """An event loop in a daemon thread; ``submit`` is called by the native bridge."""

    def __init__(self) -> None:
        self.loop = _new_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="ringbolt-asyncio", daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        from ._stream import watch_streams

        watch_streams(self.loop)  # streamed responses' producers wait on this loop
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(self.loop)
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                self.loop.close()

    def submit(self, items: list[tuple[Any, Any, Any]]) -> None:
        """(handler, request, pending) triples from one reactor turn (any thread)."""
        self.loop.call_soon_threadsafe(self._start, items)

    def _start(self, items: list[tuple[Any, Any, Any]]) -> None:
        for handler, request, pending in items:
            try:
                task = self.loop.create_task(handler(request))
            except BaseException as exc:  # the call itself raised (not a coroutine function after all)
                _complete(pending, None, exc)
                continue
            task.add_done_callback(functools.partial(_done, pending))

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)


def _done(pending: Any, task: asyncio.Task) -> None:
    if task.cancelled():
        _complete(pending, None, asyncio.CancelledError("the async handler was cancelled"))
        return
    exc = task.exception()
    if exc is not None:
        _complete(pending, None, exc)
    else:
        _complete(pending, task.result(), None)
