"""The memory budget's app (test_memory_budget.py): a JSON hello, and a route that holds
its reactor while a burst of requests waits in the sockets (with an async route the
event loop is hosted on the reactor's thread, and sync handlers run in its batches)."""
import time

from ringbolt import App

app = App()


@app.get("/")
def index(req):
    return {"message": "Hello, World!"}


@app.get("/hold")
def hold(req):
    time.sleep(1.0)
    return "held"


@app.get("/async")
async def hosted(req):
    return "async"
