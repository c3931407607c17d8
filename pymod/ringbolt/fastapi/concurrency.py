"""``fastapi.concurrency``: run blocking code off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any, AsyncIterator, Callable, ContextManager, Iterable, TypeVar

T = TypeVar("T")


async def run_in_threadpool(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))


async def iterate_in_threadpool(iterator: Iterable[T]) -> AsyncIterator[T]:
    it = iter(iterator)
    done = object()
    while True:
        item = await run_in_threadpool(next, it, done)
        if item is done:
            return
        yield item


@contextlib.asynccontextmanager
async def contextmanager_in_threadpool(cm: ContextManager[T]) -> AsyncIterator[T]:
    value = await run_in_threadpool(cm.__enter__)
    try:
        yield value
    except Exception as exc:
        if not await run_in_threadpool(cm.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await run_in_threadpool(cm.__exit__, None, None, None)


__all__ = ["run_in_threadpool", "iterate_in_threadpool", "contextmanager_in_threadpool"]
