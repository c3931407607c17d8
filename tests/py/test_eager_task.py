"""_native.eager_task (pymod/native/bridge/eager_task.cpp): asyncio.Task(coro, loop=loop) whose
first step has run when the call returns (Python 3.12's eager_start, for 3.11, where
ringbolt._tasks.new_task uses it). In process, on asyncio's loop and on uvloop: the
task is a real Task, current in its first step and the same one after a suspension;
exceptions and cancellation end it as they would end a lazily started one; anything
else that calls loop.call_soon meanwhile is scheduled as usual; a task factory is
honoured."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import sys
import weakref
from typing import Any, Callable

import pytest

from ringbolt import _native

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def _loops() -> list[Any]:
    loops: list[Any] = [pytest.param(asyncio.new_event_loop, id="asyncio")]
    try:
        import uvloop

        loops.append(pytest.param(uvloop.new_event_loop, id="uvloop"))
    except ImportError:
        pass
    return loops


@pytest.fixture(params=_loops())
def loop(request):
    lp = request.param()
    yield lp
    lp.close()


def run_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> Any:
    """fn() called from a loop callback (as ringbolt's runner calls new_task), then the
    loop runs until every task it made is done; returns what fn returned."""
    out: dict[str, Any] = {}

    def start() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - raised in the test, below
            out["value"] = exc

    async def main() -> None:
        loop.call_soon(start)
        while "value" not in out:
            await asyncio.sleep(0)
        pending = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
        await asyncio.gather(*pending, return_exceptions=True)

    loop.run_until_complete(main())
    if isinstance(out["value"], BaseException):
        raise out["value"]
    return out["value"]


def test_a_coroutine_that_does_not_suspend_is_done_when_the_call_returns(loop):
    seen: dict[str, Any] = {}

    async def quick() -> str:
        seen["task"] = asyncio.current_task()
        return "result"

    def start() -> Any:
        task = _native.eager_task(asyncio.Task, loop, quick(), None)
        seen["done_at_once"] = task.done()
        return task

    task = run_in_loop(loop, start)
    assert isinstance(task, asyncio.Task)
    assert seen == {"task": task, "done_at_once": True}
    assert task.result() == "result"


def test_each_task_is_named_ringbolt_request_n_from_its_first_step(loop):
    # eager_task names each Task itself ("ringbolt-request-<n>") rather than letting 3.11's
    # Task.__init__ format "Task-<n>" (3% of a raw ASGI request): names are distinct,
    # increasing, and already the task's name while its first step runs.
    seen: list[str] = []

    async def named() -> None:
        seen.append(asyncio.current_task().get_name())

    def start() -> Any:
        return [_native.eager_task(asyncio.Task, loop, named(), None) for _ in range(3)]

    tasks = run_in_loop(loop, start)
    assert seen == [t.get_name() for t in tasks]
    numbers = [int(name.removeprefix("ringbolt-request-")) for name in seen]
    assert all(name.startswith("ringbolt-request-") for name in seen)
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_a_coroutine_that_suspends_goes_on_in_the_same_task(loop):
    seen: list[Any] = []

    async def slow() -> str:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0.01)
        seen.append(asyncio.current_task())
        return "later"

    def start() -> Any:
        task = _native.eager_task(asyncio.Task, loop, slow(), None)
        seen.append(("done_at_once", task.done(), len(seen)))
        return task

    task = run_in_loop(loop, start)
    assert seen[0] is task and seen[1] == ("done_at_once", False, 1) and seen[2] is task
    assert task.result() == "later"


@pytest.mark.parametrize("suspend", [False, True])
def test_an_exception_ends_the_task(loop, suspend):
    async def boom() -> None:
        if suspend:
            await asyncio.sleep(0)
        raise ValueError("boom")

    task = run_in_loop(loop, lambda: _native.eager_task(asyncio.Task, loop, boom(), None))
    assert isinstance(task.exception(), ValueError)


@pytest.mark.parametrize("then", ["await", "return"])
def test_a_task_that_cancels_itself_in_its_first_step_ends_cancelled(loop, then):
    reached: list[str] = []

    async def self_cancel() -> str:
        asyncio.current_task().cancel()
        if then == "await":
            await asyncio.sleep(0)
            reached.append("after the await")
        return "returned"

    task = run_in_loop(loop, lambda: _native.eager_task(asyncio.Task, loop, self_cancel(), None))
    assert task.cancelled() and reached == []


def test_the_first_step_runs_in_a_copy_of_the_callers_context(loop):
    async def reads_and_sets() -> str:
        before = VAR.get()
        VAR.set("set by the task")
        await asyncio.sleep(0)
        return f"{before} / {VAR.get()}"

    def start() -> Any:
        VAR.set("set by the caller")
        task = _native.eager_task(asyncio.Task, loop, reads_and_sets(), None)
        return task, VAR.get()

    task, caller_sees = run_in_loop(loop, lambda: contextvars.copy_context().run(start))
    assert task.result() == "set by the caller / set by the task"
    assert caller_sees == "set by the caller"


def test_other_call_soon_calls_while_the_task_is_made_are_scheduled(loop):
    """A Task subclass that schedules something of its own in __init__ (as a finalizer
    run by the collector could): it gets a real Handle and runs in a later iteration."""
    ran: list[str] = []

    class Noisy(asyncio.Task):  # type: ignore[type-arg]
        # The keywords asyncio's own create_task passes too (3.11: loop, name, context).
        def __init__(self, coro: Any, *, loop: Any, name: Any, context: Any) -> None:
            handle = loop.call_soon(ran.append, "scheduled")
            assert callable(handle.cancel)  # a Handle (uvloop has its own type)
            super().__init__(coro, loop=loop, name=name, context=context)

    async def quick() -> str:
        ran.append("first step")
        return "ok"

    def start() -> Any:
        task = _native.eager_task(Noisy, loop, quick(), None)
        ran.append("returned")
        return task

    task = run_in_loop(loop, start)
    assert task.result() == "ok" and ran == ["first step", "returned", "scheduled"]


def test_a_task_made_while_another_is_made_starts_lazily(loop):
    inner_tasks: list[Any] = []

    async def inner() -> str:
        return "inner"

    class Nesting(asyncio.Task):  # type: ignore[type-arg]
        def __init__(self, coro: Any, *, loop: Any, name: Any, context: Any) -> None:
            inner_tasks.append(_native.eager_task(asyncio.Task, loop, inner(), None))
            inner_tasks.append(inner_tasks[0].done())
            super().__init__(coro, loop=loop, name=name, context=context)

    async def outer() -> str:
        return "outer"

    def start() -> Any:
        task = _native.eager_task(Nesting, loop, outer(), None)
        return task, task.done()

    task, done_at_once = run_in_loop(loop, start)
    assert task.result() == "outer" and done_at_once
    assert inner_tasks[1] is False and inner_tasks[0].result() == "inner"


def test_a_task_factory_makes_the_task(loop):
    made: list[Any] = []

    def factory(lp: Any, coro: Any, **kwargs: Any) -> Any:
        task = asyncio.Task(coro, loop=lp, **kwargs)
        made.append(task)
        return task

    async def quick() -> str:
        return "ok"

    loop.set_task_factory(factory)

    def start() -> Any:
        task = _native.eager_task(asyncio.Task, loop, quick(), None)
        return task, task.done()

    task, done_at_once = run_in_loop(loop, start)
    assert task in made and not done_at_once and task.result() == "ok"


def test_the_loops_call_soon_is_its_own_afterwards(loop):
    async def quick() -> None:
        pass

    run_in_loop(loop, lambda: _native.eager_task(asyncio.Task, loop, quick(), None))
    assert loop.call_soon == type(loop).call_soon.__get__(loop)
    handle = loop.call_soon(lambda: None)
    assert callable(handle.cancel)
    handle.cancel()


def test_only_a_task_that_suspended_is_kept_and_until_it_is_done(loop):
    keep: set[Any] = set()
    seen: dict[str, Any] = {}

    async def quick() -> None:
        pass

    async def slow() -> None:
        await asyncio.sleep(0.01)

    def start() -> Any:
        done_task = _native.eager_task(asyncio.Task, loop, quick(), keep)
        slow_task = _native.eager_task(asyncio.Task, loop, slow(), keep)
        seen["kept"] = set(keep)
        return done_task, slow_task

    done_task, slow_task = run_in_loop(loop, start)
    assert seen["kept"] == {slow_task} and done_task not in seen["kept"]
    assert keep == set()  # discarded once done
    assert done_task._callbacks in (None, [])  # no done callback was added to it


def test_a_call_soon_patched_on_the_class_later_is_the_one_used():
    """eager_task keeps the loop's own call_soon in the loop's __dict__; patching the
    class afterwards (a tracing tool) must still take effect, for the loop's users and
    for what eager_task forwards."""

    class Loop(asyncio.SelectorEventLoop):
        pass

    loop = Loop()
    try:
        async def quick() -> str:
            return "ok"

        assert run_in_loop(loop, lambda: _native.eager_task(asyncio.Task, loop, quick(), None)).result() == "ok"
        calls: list[Any] = []
        original = asyncio.SelectorEventLoop.call_soon

        def traced(self: Any, callback: Any, *args: Any, context: Any = None) -> Any:
            calls.append(callback)
            return original(self, callback, *args, context=context)

        Loop.call_soon = traced  # type: ignore[method-assign]
        assert run_in_loop(loop, lambda: _native.eager_task(asyncio.Task, loop, quick(), None)).result() == "ok"
        marker = lambda: None  # noqa: E731
        loop.call_soon(marker).cancel()
        assert marker in calls
    finally:
        loop.close()


def test_a_call_soon_set_on_the_loop_itself_is_kept():
    loop = asyncio.new_event_loop()
    try:
        calls: list[Any] = []
        original = loop.call_soon

        def traced(callback: Any, *args: Any, context: Any = None) -> Any:
            calls.append(callback)
            return original(callback, *args, context=context)

        loop.call_soon = traced  # type: ignore[method-assign]

        async def quick() -> str:
            return "ok"

        task = run_in_loop(loop, lambda: _native.eager_task(asyncio.Task, loop, quick(), None))
        assert task.result() == "ok" and loop.call_soon is traced and calls  # the loop's own calls went through it
    finally:
        loop.close()


# ---- asyncio's registry of tasks (Python 3.11: eager_task registers natively) ----

NATIVE_REGISTRY = sys.version_info < (3, 12)  # 3.12+ register eager tasks cheaply themselves


def _registry() -> Any:
    """asyncio's WeakSet of tasks (3.11: _all_tasks; 3.12+: _scheduled_tasks, where an
    eager task goes only once it suspends)."""
    if NATIVE_REGISTRY:
        return asyncio.tasks._all_tasks  # type: ignore[attr-defined,unused-ignore]
    return asyncio.tasks._scheduled_tasks  # type: ignore[attr-defined,unused-ignore]


# 3.14 keeps its C tasks in per-thread lists that only asyncio.all_tasks() reads (pending
# ones): the WeakSet above no longer holds them.
TASKS_IN_C_LISTS = sys.version_info >= (3, 14)


def _registered(task: Any) -> bool:
    if TASKS_IN_C_LISTS:
        return task in asyncio.all_tasks(task.get_loop())
    return task in _registry()


def test_a_task_is_in_all_tasks_during_its_first_step_and_leaves_the_registry_when_done(loop):
    seen: dict[str, Any] = {}

    async def quick() -> str:
        me = asyncio.current_task()
        seen["in_all_tasks"] = me in asyncio.all_tasks(loop)
        return "ok"

    def start() -> Any:
        task = _native.eager_task(asyncio.Task, loop, quick(), None)
        seen["registered_after"] = _registered(task)  # the task is still alive here
        return task

    task = run_in_loop(loop, start)
    assert task.result() == "ok" and seen["in_all_tasks"] is True
    # On 3.11 Task.__init__'s own registration (a weak reference) would still hold the
    # live task; eager_task's registration of a finished task is gone (as 3.12's
    # eager_start leaves it; on 3.12+ eager_task is not on ringbolt's path and Task.__init__
    # registers as usual).
    if not TASKS_IN_C_LISTS:  # 3.14 has no registry of finished tasks to look in: all_tasks above is the check
        assert seen["registered_after"] is not NATIVE_REGISTRY
        assert _registered(task) is not NATIVE_REGISTRY


def test_a_task_that_suspends_stays_registered_until_it_is_freed(loop):
    seen: dict[str, Any] = {}

    async def slow() -> str:
        await asyncio.sleep(0.01)
        seen["in_all_tasks_later"] = asyncio.current_task() in asyncio.all_tasks(loop)
        return "later"

    def start() -> Any:
        task = _native.eager_task(asyncio.Task, loop, slow(), None)
        seen["registered"] = _registered(task)
        seen["in_all_tasks"] = task in asyncio.all_tasks(loop)
        return task

    task = run_in_loop(loop, start)
    assert task.result() == "later"
    assert seen == {"registered": True, "in_all_tasks": True, "in_all_tasks_later": True}
    ref = weakref.ref(task)
    del task
    gc.collect()
    assert ref() is None
    assert all(r() is not None for r in _registry().data)  # its weak reference left with it


@pytest.mark.skipif(not NATIVE_REGISTRY, reason="Python 3.12+ registers eager tasks itself: no native path to check")
def test_the_registry_is_left_with_its_own_add_and_other_tasks_made_meanwhile_are_registered(loop):
    """While eager_task makes a Task, _all_tasks.add is ringbolt's; a Task made meanwhile
    by someone else (here a Task subclass's __init__, as a finalizer could) is registered
    by the set's own add."""
    registry = _registry()
    made: list[Any] = []

    async def other() -> None:
        await asyncio.sleep(0)

    class Making(asyncio.Task):  # type: ignore[type-arg]
        def __init__(self, coro: Any, *, loop: Any, name: Any, context: Any) -> None:
            made.append(asyncio.Task(other(), loop=loop))
            super().__init__(coro, loop=loop, name=name, context=context)

    async def quick() -> str:
        return "ok"

    def start() -> Any:
        task = _native.eager_task(Making, loop, quick(), None)
        made.append(_registered(made[0]))
        return task

    assert run_in_loop(loop, start).result() == "ok"
    assert made[1] is True
    assert registry.add == type(registry).add.__get__(registry)  # its own add again
