"""Apps for tests/py/test_health.py: health probes with a startup hook that waits for a
file the test creates (RINGBOLT_TEST_GATE) or fails (RINGBOLT_TEST_FAIL_STARTUP), a sync
check that passes while a file exists (RINGBOLT_TEST_DB), an async and a sync check that
hang while files exist (RINGBOLT_TEST_HANG, RINGBOLT_TEST_SLOW), a slow route for
in-flight requests and a GIL-holding one."""

import asyncio
import os
import re
import time

import drain_app
from ringbolt import App

GATE = os.environ.get("RINGBOLT_TEST_GATE", "")
DB = os.environ.get("RINGBOLT_TEST_DB", "")
HANG = os.environ.get("RINGBOLT_TEST_HANG", "")
SLOW = os.environ.get("RINGBOLT_TEST_SLOW", "")
FAIL_STARTUP = os.environ.get("RINGBOLT_TEST_FAIL_STARTUP") == "1"
DRAIN_DELAY = float(os.environ.get("RINGBOLT_TEST_DRAIN_DELAY", "0"))


def ping_db() -> bool:
    return os.path.exists(DB)


def ping_cache() -> None:
    while os.path.exists(SLOW):  # a sync check that hangs: it cannot be cancelled, only outwaited
        time.sleep(0.05)


async def ping_queue() -> None:
    while os.path.exists(HANG):  # hangs (the probe's timeout counts it failed) while the file is there
        await asyncio.sleep(0.05)


def make_app(**paths):
    app = App()
    app.health(checks={"db": ping_db, "queue": ping_queue, "cache": ping_cache}, interval=0.2, timeout=0.3, drain_delay=DRAIN_DELAY,
               **paths)

    @app.on_startup
    def wait_for_gate() -> None:
        if FAIL_STARTUP:
            raise RuntimeError("the database is not there")
        deadline = time.monotonic() + 30
        while GATE and not os.path.exists(GATE) and time.monotonic() < deadline:
            time.sleep(0.02)

    app.get("/sleep")(drain_app.sleep)  # (a handler that sleeps ?s= seconds, names its process)

    @app.get("/hold")
    def hold(req):
        # Catastrophic backtracking: seconds in the regex engine, which keeps the GIL.
        n = int(req.query.get("n", "24"))
        return {"matched": re.match(r"(a+)+$", "a" * n + "b") is not None}

    @app.get("/pid")
    def pid(req):
        return {"pid": os.getpid()}

    return app


app = make_app()
renamed = make_app(live="/livez", ready="/readyz", startup=None)
