"""An async handler that blocks the event loop, beside sync routes (one of which blocks
the reactor's thread, which with one reactor is also the loop's)."""
import os
import time

from ringbolt import App

app = App()


@app.get("/block")
async def block(req):
    began = os.environ.get("STALL_BEGAN_FILE")  # when the loop began to block, for a test
    if began:
        with open(began + ".tmp", "w") as f:
            f.write(repr(time.monotonic()))
        os.replace(began + ".tmp", began)
    time.sleep(float(req.query.get("s", "3")))  # wrong on purpose: blocks the loop
    return "unblocked"


@app.get("/async")
async def fine(req):
    return "async"


@app.get("/")
def index(req):
    return "ok"


@app.get("/sync")
def sync(req):
    return "sync"


@app.get("/sync-block/{s}")
def sync_block(req):
    time.sleep(float(req.params["s"]))  # wrong on purpose: blocks the reactor (and the loop it hosts)
    return "unblocked"


@app.get("/spin")
async def spin(req):
    # wrong on purpose: keeps the CPU and the GIL (no sleep), so the reactor must get
    # its turn from the scheduler's time slices, not from the loop thread blocking
    end = time.monotonic() + float(req.query.get("s", "2"))
    n = 0
    while time.monotonic() < end:
        n += 1
    return f"spun {n}"
