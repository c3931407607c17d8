"""A turn's requests reach the app in slices (tests/py/test_app_slices.py): /fast/<n>
answers at once; /hold blocks its thread until the file RINGBOLT_TEST_RELEASE names
exists (10 s at most), so the test sees which answers left while it was held. With
RINGBOLT_TEST_ASYNC=1 the app also has an async route, which puts the event loop on the
reactor's thread (a hosted turn) when the server has one reactor."""

import os
import time

from ringbolt import App

app = App()
RELEASE = os.environ["RINGBOLT_TEST_RELEASE"]


@app.get("/fast/{n:int}")
def fast(req):
    return f"fast {req.params['n']}"


@app.get("/hold")
def hold(req):
    deadline = time.monotonic() + 10
    while not os.path.exists(RELEASE):
        if time.monotonic() > deadline:
            return "held until the deadline"
        time.sleep(0.005)
    return "released"


if os.environ.get("RINGBOLT_TEST_ASYNC") == "1":

    @app.get("/async")
    async def on_loop(req):
        return "async"
