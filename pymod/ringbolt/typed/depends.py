"""Dependencies of the typed API at run time: the clean-up of generator dependencies
once the response has been handed to the server (the handler's exception thrown in at
the ``yield``), or under FastAPI's conventions, for a failed request, before its answer,
which the clean-up decides (``unwind``); the values of ``scope="app"`` dependencies made
once per app, and the app's ``dependency_overrides``.

What a request runs is planned in ``ringbolt.typed.plan``: each dependency is a local
variable of the route's runner, so "called once per request" costs nothing per request."""

from __future__ import annotations

import inspect
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from .._error_log import log_failure
from .. import _stream
from .._stream import _get_runner, _keep

logger = logging.getLogger("ringbolt")

if TYPE_CHECKING:
    import asyncio


def kind_of(call: Any) -> str:
    """How a dependency (or handler) is called: "sync", "async", "gen" or "asyncgen"."""
    target = call
    if not (inspect.isfunction(call) or inspect.ismethod(call) or inspect.isclass(call)):
        target = getattr(call, "__call__", call)  # noqa: B004 - a callable object
    while hasattr(target, "__wrapped__") and not inspect.isclass(target):
        target = target.__wrapped__
    if inspect.isasyncgenfunction(target):
        return "asyncgen"
    if inspect.isgeneratorfunction(target):
        return "gen"
    if inspect.iscoroutinefunction(target):
        return "async"
    return "sync"


# ---- the clean-up of generator dependencies ----

def _closed(gen: Any, exc: BaseException | None, raised: BaseException | None) -> None:
    """How a generator dependency's clean-up ended: ``raised`` is what resuming it raised
    (None: it yielded again). Its end (StopIteration) or the exception thrown into it is
    quiet; anything else is logged (the response is out)."""
    if raised is None:
        log_failure(RuntimeError("the dependency yielded twice"), "dependency %s yielded more than once",
                    gen.__qualname__)
    elif raised is not exc and not isinstance(raised, (StopIteration, StopAsyncIteration)):
        log_failure(raised, "clean-up of dependency %s failed", gen.__qualname__)


def _close_sync(gen: Any, exc: BaseException | None) -> None:
    try:
        if exc is None:
            next(gen)
        else:
            gen.throw(exc)
    except BaseException as raised:  # noqa: BLE001 - logged: the response is out
        _closed(gen, exc, raised)
        return
    _closed(gen, exc, None)


async def _close_async(gen: Any, exc: BaseException | None) -> None:
    try:
        if exc is None:
            await gen.__anext__()
        else:
            await gen.athrow(exc)
    except BaseException as raised:  # noqa: BLE001 - logged: the response is out
        _closed(gen, exc, raised)
        return
    _closed(gen, exc, None)


async def close_all(stack: list[Any], exc: BaseException | None) -> None:
    """Finish every generator of ``stack``, the last entered first; a sync one on a
    thread so it never blocks the loop."""
    loop = _stream.running_loop()
    for gen in reversed(stack):
        if hasattr(gen, "athrow"):
            await _close_async(gen, exc)
        else:
            await loop.run_in_executor(None, _close_sync, gen, exc)


def _finish_sync(gen: Any, exc: BaseException | None) -> None:
    try:
        next(gen) if exc is None else gen.throw(exc)
    except StopIteration:
        return
    except BaseException as raised:
        if raised is exc:  # thrown in, come back out: the handler's own failure goes on
            return
        raise
    raise RuntimeError(f"the dependency {gen.__qualname__} yielded more than once")


def close_now(stack: list[Any], exc: BaseException | None) -> None:
    """Finish the ``scope="function"`` generators of ``stack``, the last entered first,
    emptying it: at once, before the response is written. The exception thrown in coming
    back out is quiet; any other failure raises (a 500)."""
    while stack:
        _finish_sync(stack.pop(), exc)


async def close_now_async(stack: list[Any], exc: BaseException | None) -> None:
    """``close_now`` for an async route: its async generators awaited."""
    while stack:
        gen = stack.pop()
        if not hasattr(gen, "athrow"):
            _finish_sync(gen, exc)
            continue
        try:
            await (gen.__anext__() if exc is None else gen.athrow(exc))
        except StopAsyncIteration:
            continue
        except BaseException as raised:
            if raised is exc:
                continue
            raise
        raise RuntimeError(f"the dependency {gen.__qualname__} yielded more than once")


# ---- FastAPI's conventions: a failed request's generators finished before its answer ----

SWALLOWED = ("the request ended raising an exception and a dependency with yield caught it without raising it "
             "again (a bare except, or except Exception, after its yield), so there is no response: raise it "
             "again, or raise the exception to answer with (an HTTPException)")


def _exit_sync(gen: Any, current: BaseException | None) -> BaseException | None:
    """Resume ``gen`` as a context manager's exit with ``current`` in flight: what is in
    flight after it (None: it ended, or caught ``current`` and did not raise)."""
    try:
        if current is None:
            next(gen)
        else:
            gen.throw(current)
    except StopIteration:
        return None
    except BaseException as raised:  # noqa: BLE001 - what the request ends with
        return raised
    return RuntimeError(f"the dependency {gen.__qualname__} yielded more than once")


async def _exit_async(gen: Any, current: BaseException | None) -> BaseException | None:
    if not hasattr(gen, "athrow"):  # a sync generator: on a thread, so it never blocks the loop
        return await _stream.running_loop().run_in_executor(None, _exit_sync, gen, current)
    try:
        if current is None:
            await gen.__anext__()
        else:
            await gen.athrow(current)
    except StopAsyncIteration:
        return None
    except BaseException as raised:  # noqa: BLE001 - what the request ends with
        return raised
    return RuntimeError(f"the dependency {gen.__qualname__} yielded more than once")


def unwind(fstack: list[Any], stack: list[Any], exc: BaseException, swallowed: type[BaseException]
           ) -> BaseException:
    """FastAPI's exit of a failed request's generator dependencies, at once: the
    ``scope="function"`` ones, then the others, the last entered first, each seeing what
    the one before left in flight (a dependency may turn the handler's exception into an
    ``HTTPException``, the answer). Returns the exception the request ends with; one that
    a generator caught and did not raise leaves no answer: ``swallowed(SWALLOWED)``."""
    current: BaseException | None = exc
    for held in (fstack, stack):
        while held:
            current = _exit_sync(held.pop(), current)
    return swallowed(SWALLOWED) if current is None else current


async def unwind_async(fstack: list[Any], stack: list[Any], exc: BaseException, swallowed: type[BaseException]
                       ) -> BaseException:
    """``unwind`` for an async route: its async generators awaited."""
    current: BaseException | None = exc
    for held in (fstack, stack):
        while held:
            current = await _exit_async(held.pop(), current)
    return swallowed(SWALLOWED) if current is None else current


def exit_later(req: Any, stack: list[Any], exc: BaseException | None) -> None:
    """Run the clean-up of ``stack`` once the response has been handed to the server:
    under ringbolt's server, on the worker's event loop after the answers staged so far
    are flushed (as background tasks are); under another ASGI server, after the
    response is sent (``serve_http`` awaits what the request's ``_rb_after`` holds)."""
    after = getattr(req, "_rb_after", None)
    if after is not None:
        after.append(lambda: close_all(stack, exc))
        return
    # a test client that waits for the request's after-work (ringbolt.fastapi's, as
    # Starlette's client returns once the clean-up ran) is told when it is over
    own = getattr(req, "__dict__", None)
    notify = own.get("_rb_cleanup_notify") if own else None
    done = notify() if notify is not None else None
    loop = _get_runner().loop
    # Two hops, as _reqresp._After: the first runs in the loop iteration that flushes
    # the answers staged so far, the second after it.
    loop.call_soon_threadsafe(loop.call_soon, _start, loop, stack, exc, done)


def _start(loop: asyncio.AbstractEventLoop, stack: list[Any], exc: BaseException | None,
           done: Callable[[], None] | None = None) -> None:
    _keep(loop.create_task(_close_then(stack, exc, done)))


async def _close_then(stack: list[Any], exc: BaseException | None, done: Callable[[], None] | None) -> None:
    try:
        await close_all(stack, exc)
    finally:
        if done is not None:
            done()


# ---- scope="app" ----

class AppValue:
    """The value of one ``scope="app"`` dependency for one app: made at start-up (or at
    its first use), kept for every request, its generator finished at shutdown."""

    __slots__ = ("call", "args", "ready", "value", "gen", "lock")

    def __init__(self, call: Callable[..., Any], args: list["AppValue"]) -> None:
        self.call = call
        self.args = args  # the app-scoped dependencies it takes, in its parameters' order
        self.ready = False
        self.value: Any = None
        self.gen: Any = None
        self.lock = threading.Lock()

    def get(self) -> Any:
        """The value, made now in a sync context (an async dependency needs the app's
        start-up, ``App.run``/``TestClient``/lifespan, to have made it)."""
        with self.lock:
            if not self.ready:
                values = [a.get() for a in self.args]
                kind = kind_of(self.call)
                if kind in ("async", "asyncgen"):
                    raise RuntimeError(f"the app-scoped dependency {self.call!r} is async: it is made when the app "
                                       "starts, and the app has not started")
                result = self.call(*values)
                if kind == "gen":
                    self.gen = result
                    result = next(result)
                self.value = result
                self.ready = True
            return self.value

    async def get_async(self) -> Any:
        if self.ready:
            return self.value
        values = [await a.get_async() for a in self.args]
        kind = kind_of(self.call)
        if kind == "async":
            result = await self.call(*values)
        elif kind == "asyncgen":
            self.gen = self.call(*values)
            result = await self.gen.__anext__()
        elif kind == "gen":
            self.gen = self.call(*values)
            result = next(self.gen)
        else:
            result = self.call(*values)
        if not self.ready:
            self.value = result
            self.ready = True
        return self.value

    async def close(self) -> None:
        gen, self.gen = self.gen, None
        self.ready = False
        self.value = None
        if gen is None:
            return
        if hasattr(gen, "athrow"):
            await _close_async(gen, None)
        else:
            _close_sync(gen, None)


class AppDependencies:
    """An app's ``dependency_overrides`` and its ``scope="app"`` values."""

    def __init__(self) -> None:
        self.overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.values: dict[Callable[..., Any], AppValue] = {}

    def value_of(self, call: Callable[..., Any], args: list[AppValue]) -> AppValue:
        held = self.values.get(call)
        if held is None:
            held = self.values[call] = AppValue(call, args)
        return held

    def needs_loop(self) -> bool:
        return any(kind_of(v.call) in ("async", "asyncgen") for v in self.values.values())

    async def start(self) -> None:
        for held in list(self.values.values()):
            await held.get_async()

    async def stop(self) -> None:
        for held in reversed(list(self.values.values())):
            try:
                await held.close()
            except Exception as exc:  # noqa: BLE001 - the other clean-ups still run
                log_failure(exc, "clean-up of app dependency %r failed", held.call)
