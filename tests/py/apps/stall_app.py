"""An async handler that blocks the event loop, beside a sync route."""
import time

from ringbolt import App

app = App()


@app.get("/block")
async def block(req):
    time.sleep(float(req.query.get("s", "3")))  # wrong on purpose: blocks the loop
    return "unblocked"


@app.get("/async")
async def fine(req):
    return "async"


@app.get("/sync")
def sync(req):
    return "sync"
