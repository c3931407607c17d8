"""Which thread runs what (tests/py/test_hosted_loop.py): each route answers with the
native id of the thread it ran on and whether an event loop was running there."""

import asyncio
import threading
import time

from ringbolt import App
from ws_echo import add_ws_echo

app = App()
add_ws_echo(app, "/echo")


def running_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


@app.get("/async")
async def on_loop(req):
    await asyncio.sleep(0)  # a step after a suspension, too
    return {"tid": threading.get_native_id(), "loop": running_loop(),
            "loop_module": type(asyncio.get_running_loop()).__module__.split(".")[0]}


@app.get("/sync")
def inline(req):
    return {"tid": threading.get_native_id(), "loop": running_loop()}


async def _sum(n: int) -> int:
    await asyncio.sleep(0)
    return sum(range(n))


@app.get("/sync-runs-asyncio")
def sync_runs_asyncio(req):
    # A sync handler may run its own event loop (as asgiref's async_to_sync or a client
    # library's sync wrapper does): none is running on its thread.
    return {"sum": asyncio.run(_sum(10))}


@app.get("/sync-loop-state")
def sync_loop_state(req):
    # What a sync handler sees of asyncio on the loop's thread: no running loop by any of
    # the ways a library asks (the private getter is what asyncio's own code calls).
    return {"loop": running_loop(), "private": asyncio._get_running_loop() is None,
            "events": asyncio.events._get_running_loop() is None}


@app.get("/slow")
async def slow(req):
    await asyncio.sleep(float(req.query.get("s", "1")))
    return "slow done"


@app.get("/loop-wakes")
def loop_wakes(req):
    return app.stats()["loop_wakes"]


# What the loop must still do promptly while it turns for the reactor
# (test_hosted_loop.py: callbacks a sync handler schedules, timers under load, a thread's
# call_soon_threadsafe).
LOOP: list[asyncio.AbstractEventLoop] = []
MARKS: dict[str, float] = {}


@app.on_startup
async def keep_loop() -> None:
    LOOP.append(asyncio.get_running_loop())


def _mark(name: str) -> None:
    MARKS[name] = time.monotonic()


@app.get("/sync-schedules")
def sync_schedules(req):
    # The loop is this thread's (hosted), though none runs here for the handler: it may
    # still be given callbacks, as any code on the loop's thread may.
    MARKS.clear()
    MARKS["at"] = time.monotonic()
    LOOP[0].call_soon(_mark, "soon")
    LOOP[0].call_later(0.05, _mark, "later")
    return {"tid": threading.get_native_id()}


@app.get("/marks")
def marks(req):
    at = MARKS.get("at", 0.0)
    return {k: v - at for k, v in MARKS.items() if k != "at"}


@app.get("/sleep-timed")
async def sleep_timed(req):
    t0 = time.monotonic()
    await asyncio.sleep(float(req.query.get("s", "0.05")))
    return {"slept": time.monotonic() - t0}


@app.get("/thread-wakes")
async def thread_wakes(req):
    # A thread completes the future in 50 ms: its call_soon_threadsafe must wake the loop
    # (and so the reactor's thread it runs on) rather than wait for the next tick.
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    t0 = time.monotonic()
    threading.Timer(0.05, loop.call_soon_threadsafe, args=(fut.set_result, None)).start()
    await fut
    return {"waited": time.monotonic() - t0}


@app.get("/busy-thread")
def busy_thread(req):
    # A thread that wants the GIL all the time (pure Python, no I/O): whoever takes the
    # GIL after it waits up to the switch interval.
    def spin() -> None:
        while True:
            sum(range(1000))

    threading.Thread(target=spin, daemon=True).start()
    return "spinning"
