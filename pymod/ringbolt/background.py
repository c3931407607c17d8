"""Work after the response: ``req.background.add(fn, *args)`` or
``Response(..., background=fn)``. Tasks run in order on the worker's event loop once the
response has been handed to the server (after a streamed body's end); a sync callable
runs on a thread so it never blocks the loop. An exception is logged and the next task
runs: nothing a task does can change the response."""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable

from . import _stream
from ._error_log import log_failure

logger = logging.getLogger("ringbolt")


class BackgroundTasks:
    """An ordered list of ``fn(*args, **kwargs)`` calls, sync or async."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def add(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"a background task must be callable, not {type(fn).__name__}")
        self._tasks.append((fn, args, kwargs))

    add_task = add  # the Starlette/FastAPI name

    def __len__(self) -> int:
        return len(self._tasks)

    def extend(self, other: "BackgroundTasks") -> None:
        self._tasks.extend(other._tasks)

    async def run(self) -> None:
        loop = _stream.running_loop()
        for fn, args, kwargs in self._tasks:
            name = getattr(fn, "__qualname__", repr(fn))
            try:
                if inspect.iscoroutinefunction(fn):
                    await fn(*args, **kwargs)
                else:
                    result = await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
                    if inspect.isawaitable(result):
                        await result
            except Exception as exc:  # noqa: BLE001 - logged; the response is long gone
                log_failure(exc, "background task %s failed", name)


def as_tasks(background: Any) -> BackgroundTasks:
    """``Response(background=...)``: a BackgroundTasks, or one callable."""
    if isinstance(background, BackgroundTasks):
        return background
    if callable(background):
        tasks = BackgroundTasks()
        tasks.add(background)
        return tasks
    raise TypeError(f"background must be a callable or BackgroundTasks, not {type(background).__name__}")
