"""Which thread runs what (tests/py/test_hosted_loop.py): each route answers with the
native id of the thread it ran on and whether an event loop was running there."""

import asyncio
import threading

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


@app.get("/slow")
async def slow(req):
    await asyncio.sleep(float(req.query.get("s", "1")))
    return "slow done"


@app.get("/loop-wakes")
def loop_wakes(req):
    return app.stats()["loop_wakes"]
