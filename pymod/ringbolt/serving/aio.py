"""The asyncio side of ringbolt: ``async def`` handlers run as Tasks on one event loop
per process (uvloop when installed). With one reactor the loop runs on the reactor's own
thread while serving (``AsyncRunner.host``): a turn stages its async requests and they
start right after it, and answers leave from that thread. With several, reactors stage
each turn's async requests natively and wake the loop's thread once, at the end of the
turn, through the notify eventfd it watches (``_stream.watch_streams``). Each handler runs
in a task whose coroutine is native (``_native.answer``: it awaits the handler and answers
the request); answers go back staged, delivered once per loop iteration.

The loop always runs inside a root task (``AsyncRunner._run_rooted``), as under
``asyncio.run``: libraries tie long-lived helpers to it. anyio (FastAPI's and Starlette's
thread pool for plain ``def`` endpoints and dependencies) keeps its worker threads as long
as the task that ``run_until_complete`` runs; with the loop under ``run_forever`` it fell
back to each request's own task and stopped the worker when the request ended: a thread
started and stopped per request."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from types import CodeType
from typing import Any, Iterable

from .. import _native
from .._tasks import start_batch

logger = logging.getLogger("ringbolt")


def _new_loop(kind: str = "auto") -> asyncio.AbstractEventLoop:
    """``--loop``: "auto" (uvloop when installed), "asyncio" or "uvloop"."""
    if kind == "asyncio":
        return asyncio.new_event_loop()
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # optional: typed when installed
    except ImportError:
        if kind == "uvloop":
            raise RuntimeError("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()  # type: ignore[no-any-return,unused-ignore]


STALL_AFTER = 2.0  # seconds without a loop turn before the watchdog reports it


class AsyncRunner:
    """An event loop in a daemon thread, which takes the async requests the native
    bridge stages for it."""

    def __init__(self, stall_after: float = STALL_AFTER, loop: str = "auto") -> None:
        self.loop = _new_loop(loop)
        self._ready = threading.Event()
        self._lent: threading.Event | None = None  # host(): set when the loop comes back
        self._borrowed = threading.Event()  # host(): the runner's thread has let go of the loop
        self._root_done: asyncio.Future[None] | None = None  # ends the current _run_rooted (loop thread)
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name="ringbolt-asyncio", daemon=True)
        self._thread.start()
        self.thread_ident = self._thread.ident  # the thread the loop runs on (host() moves it)
        self._ready.wait()
        self._watchdog = _Watchdog(self, stall_after)
        self._watchdog.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        from .._stream import watch_streams

        watch_streams(self.loop, self._start_staged)  # and streamed responses' producers wait on it
        self.loop.call_soon(self._ready.set)
        try:
            while True:
                self._run_rooted()
                if self._lent is None:
                    break
                # Lent to a reactor's thread (host): wait until it gives the loop back.
                back = self._lent
                self._lent = None
                self._borrowed.set()
                back.wait()
                self.thread_ident = threading.get_ident()
                if self._stopping:
                    break
        finally:
            try:
                pending = asyncio.all_tasks(self.loop)
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                self.loop.close()

    def host(self, turn: Any, fd: int, step: Any = None) -> None:
        """Run the loop on the calling thread, a reactor's (``_native``'s host_loop calls
        this on it), until the reactor has drained: ``turn()`` runs one of its turns
        whenever ``fd`` is readable, and at least 4 times a second. The loop leaves its
        own thread meanwhile (which waits for it), and async requests cost no hand-off
        between threads: a turn stages them and they start right after it, on this thread.

        ``turn()`` returns 0 once the reactor has drained, 1 to wait for ``fd``, 2 to be
        called again at once, plus 4 when async producers may go on (readiness the turn
        found: woken here, with no eventfd write), plus ``8 | ms << 4`` when a QUIC timer
        falls due in ms milliseconds (--http3: it is called again by then). Sync handlers
        run inside it, as on any reactor, with no running loop on the thread (the bridge
        sets it aside: they may call ``asyncio.run``).

        ``step(start, after)``, the native one's (``_native``'s host_loop gives it), is what
        the loop runs: a turn, then for state 1 the staged requests handed to
        ``start(items)`` when there are any, with no Python frame in the common case;
        other states go to ``after(state)``. Without it, ``after(turn())``."""
        loop = self.loop
        back = threading.Event()
        self._borrowed.clear()
        self._lent = back
        loop.call_soon_threadsafe(self._end_root)
        self._borrowed.wait()
        self.thread_ident = threading.get_ident()
        from .._stream import _wake_waiters

        start_staged = self._start_staged
        ready_here = _native._stream_ready_here
        timer: list[asyncio.Handle] = []
        quic_timer: list[asyncio.TimerHandle | None] = [None]

        def turn_then(_start: Any, then: Any) -> None:
            then(turn())

        run_step = step if step is not None else turn_then

        def start(items: Any) -> None:
            start_batch(loop, items, _answer)

        def on_quic_timer() -> None:
            quic_timer[0] = None
            run_step(start, after)

        def after(state: int) -> None:
            if state > 3:  # (one test in the common case: 0, 1 or 2)
                if state & 4:  # producers the turn made ready (no eventfd was written for them)
                    _wake_waiters(ready_here)
                if state & 8:  # a QUIC timer falls due in (state >> 4) ms: turn again by then
                    due = loop.time() + (state >> 4) / 1000
                    armed = quic_timer[0]
                    if armed is None or due < armed.when():
                        if armed is not None:
                            armed.cancel()
                        quic_timer[0] = loop.call_at(due, on_quic_timer)
                state &= 3
            start_staged()
            if state == 2:
                loop.call_soon(run_step, start, after)
            elif state == 0:
                loop.remove_reader(fd)
                timer[0].cancel()
                if quic_timer[0] is not None:
                    quic_timer[0].cancel()
                self._end_root()

        def tick() -> None:
            timer[0] = loop.call_later(0.25, tick)
            run_step(start, after)

        try:
            loop.add_reader(fd, run_step, start, after)
            timer.append(loop.call_soon(tick))
            self._run_rooted()
        finally:
            loop.remove_reader(fd)
            timer[0].cancel()
            if quic_timer[0] is not None:
                quic_timer[0].cancel()
            back.set()  # the runner's thread takes the loop again

    def _run_rooted(self) -> None:
        """Run the loop on the calling thread until ``_end_root`` (or ``loop.stop()``),
        inside a root task, as ``asyncio.run`` runs an app's code: anyio finds the task
        that ``run_until_complete`` runs (its ``find_root_task``) and keeps the worker
        threads of ``to_thread.run_sync`` for as long as that task lives. Without one it
        takes the calling request's task instead and stops the worker when the request
        ends: FastAPI's ``def`` endpoints then started a thread per request."""
        loop = self.loop
        done: asyncio.Future[None] = loop.create_future()
        self._root_done = done
        try:
            while not done.done():
                task = loop.create_task(_await(done), name="ringbolt-loop-root")
                try:
                    loop.run_until_complete(task)
                except asyncio.CancelledError:
                    continue  # an app cancelled every task, this one too: the loop runs on under a new root
                except RuntimeError:
                    if task.done():
                        raise
                    task.cancel()  # loop.stop() ended the run first: the task ends when the loop next runs
                    return
        finally:
            if self._root_done is done:
                self._root_done = None

    def _end_root(self) -> None:
        """End the current ``_run_rooted`` (on the loop's thread: ``call_soon_threadsafe``
        from another)."""
        done = self._root_done
        if done is not None and not done.done():
            done.set_result(None)

    def _start_staged(self) -> None:
        """The notify eventfd fired (after ``_stream.watch_streams`` read it): start the
        async requests the reactors staged for this loop (``_native._take_async``), a task
        each, started at once (``ringbolt._tasks.start_batch``)."""
        items = _take_async()
        if items:
            start_batch(self.loop, items, _answer)

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop from another thread and return its result (start-up
        and shutdown hooks, ASGI lifespan: what they create belongs to this loop)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def name_handlers(self, names: dict[CodeType, str]) -> None:
        """How the stall warning names the handler whose frame it finds on the loop's
        thread (``handler_names``)."""
        self._watchdog.names = names

    def stop(self) -> None:
        self._stopping = True  # also when the loop is lent: it comes back to close
        self._watchdog.stop()
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._end_root)
            self._thread.join(30)


async def _await(done: asyncio.Future[None]) -> None:
    await asyncio.shield(done)  # the root's end is _end_root's to say, not a cancellation's


def _codes(fn: Any) -> Iterable[CodeType]:
    """The code objects a call of handler `fn` runs as its own frames: the function (or
    method, or an object's ``__call__``) and those it wraps (``functools.wraps``)."""
    for _ in range(16):
        if fn is None:
            return
        target = getattr(fn, "__func__", fn)  # a bound method
        code = getattr(target, "__code__", None)
        if code is None:  # an object with __call__
            code = getattr(getattr(type(fn), "__call__", None), "__code__", None)
        if isinstance(code, CodeType):
            yield code
        fn = getattr(fn, "__wrapped__", None)


def handler_names(defs: Iterable[Any]) -> dict[CodeType, str]:
    """The code of each route's handler -> how the stall warning names it: "the sync
    handler of GET /users/{id}", "the async handler of ...", "the WebSocket handler of
    ...". Built once at start: a stall costs a walk of the loop thread's frames, a
    request nothing. (`defs`: the app's ``RouteDef`` list; const routes never run.)"""
    from ..routing import _is_async

    names: dict[CodeType, str] = {}
    for d in defs:
        if d.const:
            continue
        if d.websocket:
            name = f"the WebSocket handler of {d.path}"
        else:
            kind = "async" if _is_async(d.handler) else "sync"
            name = f"the {kind} handler of {'|'.join(d.methods)} {d.path}"
        for code in _codes(d.handler):
            names[code] = f"{names[code]} (or {name})" if code in names and name not in names[code] else name
    return names


class _Watchdog(threading.Thread):
    """Reports a stalled event loop: an ``async def`` handler (or an ASGI app) that
    blocks, say in ``time.sleep`` or a CPU loop, holds up every other async request of
    the worker; so does a sync handler that blocks when, with one reactor, the loop runs
    on the reactor's thread (``AsyncRunner.host``). This makes the stall visible: one
    warning naming the route whose handler it finds on the loop thread's stack, with that
    stack, while it lasts; one line when it ends."""

    def __init__(self, runner: "AsyncRunner", stall_after: float) -> None:
        super().__init__(name="ringbolt-loop-watchdog", daemon=True)
        self._runner = runner
        self._stall_after = stall_after
        self._beat = time.monotonic()
        self._done = threading.Event()
        self.names: dict[CodeType, str] = {}  # AsyncRunner.name_handlers

    def _blame(self, frame: Any) -> str:
        """What blocks the loop: the innermost handler frame on its thread's stack."""
        while frame is not None:
            name = self.names.get(frame.f_code)
            if name is not None:
                if name.startswith("the sync handler"):
                    return (f"{name} blocks it (with one reactor the event loop runs on the reactor's thread, "
                            "where sync handlers run: every request of this worker waits; give handlers that "
                            "block --handler-threads)")
                return f"{name} blocks it (every async request of this worker waits; use await, or a sync handler)"
            frame = frame.f_back
        return ("a task or callback on it blocks it (an async handler, middleware, a hook or the ASGI app: every "
                "async request of this worker waits; use await, or a sync handler)")

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        if not self._done.is_set():
            self._runner.loop.call_later(self._stall_after / 4, self._heartbeat)

    def run(self) -> None:
        self._runner.loop.call_soon_threadsafe(self._heartbeat)
        reported = False
        while not self._done.wait(self._stall_after / 4):
            stalled = time.monotonic() - self._beat
            if stalled >= self._stall_after and not reported:
                reported = True
                ident = self._runner.thread_ident
                frame = sys._current_frames().get(ident) if ident is not None else None
                where = "".join(traceback.format_stack(frame)[-6:]) if frame is not None else "(no stack)\n"
                logger.warning("the event loop has not run for %.1f s: %s. It is at:\n%s", stalled,
                               self._blame(frame), where.rstrip())
            elif reported and stalled < self._stall_after:
                reported = False
                logger.warning("the event loop runs again")

    def stop(self) -> None:
        self._done.set()


def _report_exit(request: Any, exc: BaseException) -> None:
    """An async handler raised SystemExit or KeyboardInterrupt: answered 500 (by
    ``_native.answer``, the coroutine of each async handler's task), and said here. Every
    exception, BaseException included, is its request's answer: one that escaped into the
    loop would stop it and leave every later async request unanswered."""
    logger.error("async handler for %s %s raised %s: answered 500; the server keeps serving "
                 "(stop it with SIGTERM)", request.method, request.target, type(exc).__name__)


_native._set_answer_hooks(asyncio.CancelledError, _report_exit)
_answer = _native.answer
_take_async = _native._take_async
