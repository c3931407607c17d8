"""Tasks and answers on the worker's event loop, shared by the ASGI adapter, async
ringbolt handlers and WebSockets (kept apart from asgi.py so that those modules import
each other's pieces without a cycle)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from . import _native
from ._stream import _keep as _keep  # (kept tasks live in _stream, which sync apps import without asyncio)
from ._stream import _running

_native_complete = _native._complete
_flush = _native._flush_completions


def complete(loop: asyncio.AbstractEventLoop, pending: Any, result: Any, exc: BaseException | None) -> None:
    """Answer a request from the loop thread. Answers are staged and delivered once per
    loop iteration: the reactor is woken once for all that this iteration finished."""
    if _native_complete(pending, result, exc):
        loop.call_soon(_flush)


if sys.version_info >= (3, 12):

    def new_task(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
        # Runs the coroutine at once until it first suspends: a response that needs no
        # I/O is answered without a loop round-trip (and is never kept: it is done).
        return _keep(asyncio.Task(coro, loop=loop, eager_start=True))

    def start_batch(loop: asyncio.AbstractEventLoop, items: list[tuple[Any, Any, Any]], answer: Any) -> None:
        """A reactor's batch of async requests, each (handler, request, pending): a task
        each (a handler with ``_ringbolt_takes_pending``, an ASGI app or a WebSocket
        route, answers itself: ``handler.run(request, pending, loop)``; any other is
        ``answer(loop, handler, request, pending)``). Each task runs its first step as it
        is made; what those steps answer is delivered when the batch is started, in this
        loop iteration (one wake-up per reactor), rather than by a flush scheduled for
        the next."""
        _native._begin_batch()
        try:
            for handler, request, pending in items:
                if getattr(handler, "_ringbolt_takes_pending", False):
                    new_task(loop, handler.run(request, pending, loop))
                else:
                    new_task(loop, answer(loop, handler, request, pending))
        finally:
            _native._end_batch()
else:
    _eager_task = _native.eager_task

    def new_task(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
        # Python 3.11 has no eager_start: _native.eager_task starts the task the same way
        # (a real Task, current_task() in its first step, which runs before this returns;
        # see pymod/native/bridge/eager_task.cpp), and keeps it as _keep does.
        return _eager_task(asyncio.Task, loop, coro, _running)

    _native_start_batch = _native.start_batch

    def start_batch(loop: asyncio.AbstractEventLoop, items: list[tuple[Any, Any, Any]], answer: Any) -> None:
        """As start_batch above (3.12+), in one native call (_native.start_batch: each task
        as eager_task starts it)."""
        _native_start_batch(asyncio.Task, loop, items, answer, _running)
