"""Producers of streamed responses. The native side calls ``start_stream(handle,
content)`` when a handler returns a StreamingResponse: a sync iterable runs on a
streaming thread (it may block), an async iterable runs as a Task on the event loop.
Each chunk goes to ``handle`` (ringbolt._native.ResponseStream), which applies the
connection's backpressure and says when the client is gone."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable

from . import _native
from ._error_log import log_failure

if TYPE_CHECKING:
    import asyncio

logger = logging.getLogger("ringbolt")

# The event loop holds tasks weakly: a request's task suspended on I/O whose future is
# referenced only from the C side (uvloop) can be garbage-collected mid-request
# ("Task was destroyed but it is pending!", GeneratorExit in the handler). Running tasks
# are kept here until they finish.
_running: set[Any] = set()


def _keep(task: Any) -> Any:
    if not task.done():
        _running.add(task)
        task.add_done_callback(_running.discard)
    return task


def _first_running_loop() -> asyncio.AbstractEventLoop:
    """``asyncio.get_running_loop``, put in ``running_loop``'s place by its first call: the
    code that calls it runs on a loop, so asyncio is imported by then, and an app that
    never runs one (sync routes only) never imports asyncio, nor ``ssl`` with it
    (docs/deployment.md, "Memory"). Callers read ``_stream.running_loop`` at each call."""
    global running_loop
    from asyncio import get_running_loop

    running_loop = get_running_loop
    return get_running_loop()


running_loop: Callable[[], asyncio.AbstractEventLoop] = _first_running_loop


def _cancelled_error() -> type[BaseException]:
    """asyncio's CancelledError, for an ``except`` clause on a loop (asyncio is imported)."""
    return sys.modules["asyncio"].CancelledError  # type: ignore[no-any-return]

# Threads for sync iterators: created on demand, each busy for one stream's life.
MAX_STREAM_THREADS = 256
_executor: ThreadPoolExecutor | None = None
_runner: Any = None
_make_runner: Callable[[], Any] | None = None
_lock = threading.Lock()
# An ASGI app's response body (``serving.asgi_server._Body``) and how it starts: handed
# down by that module as it is imported (an app that mounts no ASGI app never imports it)
_AsgiBody: type | None = None
_start_asgi_body: Callable[[Any, Any], None] = lambda content, handle: None


def set_runner(runner: Any, make: Callable[[], Any]) -> None:
    """The app's asyncio runner (async producers and background tasks run on its loop),
    or None, and how to make one on demand (a sync-only app whose response streams from
    an async iterable): ``App`` passes ``_aio.AsyncRunner``, so this module does not
    import the runner that imports it."""
    global _runner, _make_runner
    with _lock:
        _runner = runner
        _make_runner = make


def set_asgi_body(body: type, start: Callable[[Any, Any], None]) -> None:
    """``serving.asgi_server`` gives its body type and starter, once, as it is imported."""
    global _AsgiBody, _start_asgi_body
    _AsgiBody, _start_asgi_body = body, start


def _get_runner() -> Any:
    global _runner
    with _lock:
        if _runner is None:
            if _make_runner is None:
                raise RuntimeError("no event loop: App._serve sets one before anything streams")
            _runner = _make_runner()
        return _runner


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(MAX_STREAM_THREADS, thread_name_prefix="ringbolt-stream")
        return _executor


def start_stream(handle: Any, content: Any) -> None:
    if type(content) is _AsgiBody:
        _start_asgi_body(content, handle)  # an ASGI app's send() writes to the handle
    elif hasattr(content, "__aiter__"):
        runner = _get_runner()
        runner.loop.call_soon_threadsafe(_start_task, runner.loop, handle, content)
    else:
        _get_executor().submit(_pump_sync, handle, content)


def _log_failure(exc: BaseException) -> None:
    log_failure(exc, "Exception while streaming a response (the response is cut short)")


@contextlib.contextmanager
def _logged() -> Iterator[None]:
    """A failure inside is logged, not raised: closing a producer that already ended
    the response (or cut it short) has no one else to tell."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        _log_failure(exc)


def _close(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        with _logged():
            close()  # GeneratorExit in the generator: its finally blocks run


async def _aclose(iterator: Any) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with _logged():
            await aclose()


def _pump_sync(handle: Any, content: Any) -> None:
    iterator = None
    try:
        iterator = iter(content)
        for chunk in iterator:
            if not handle.send(chunk):
                break  # the client is gone
        else:
            handle.end()
    except BaseException as exc:  # noqa: BLE001 - reported, and the response is cut short
        _log_failure(exc)
        handle.abort()
    finally:
        _close(iterator)


def _start_task(loop: asyncio.AbstractEventLoop, handle: Any, content: Any) -> None:
    _keep(loop.create_task(_pump_async(loop, handle, content)))  # kept until done (the loop holds tasks weakly)


async def _pump_async(loop: asyncio.AbstractEventLoop, handle: Any, content: Any) -> None:
    iterator = None
    try:
        iterator = content.__aiter__()
        async for chunk in iterator:
            state = handle.send_nowait(chunk)
            if state < 0:
                break  # the client is gone
            if state > 0:
                waiter = loop.create_future()
                handle.set_waiter(waiter)
                await waiter
                if handle.closed:
                    break
        else:
            handle.end()
    except _cancelled_error():
        handle.abort()
        raise
    except BaseException as exc:  # noqa: BLE001 - reported, and the response is cut short
        _log_failure(exc)
        handle.abort()
    finally:
        await _aclose(iterator)


def watch_streams(loop: asyncio.AbstractEventLoop, then: Callable[[], None]) -> None:
    """On ``loop``'s thread: resolve async producers' waiters when the native side says
    they may go on (one eventfd, read when it fires), then call ``then`` (the runner
    takes the async requests staged for it: the eventfd is read before, so a staging
    after that read wakes the loop again)."""

    def woken() -> None:
        _wake_waiters()
        then()

    loop.add_reader(_native._stream_notify_fd(), woken)


def _wake_waiters(ready: Callable[[], list[Any]] = _native._stream_ready) -> None:
    for fut in ready():
        if not fut.done():
            fut.set_result(None)
