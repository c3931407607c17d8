"""An app for the worker/supervisor tests: which process answered, startup hooks
recorded in a file (one line per worker), an optional failing startup hook."""

import os

from ringbolt import App

app = App()

HOOK_LOG = os.environ.get("RINGBOLT_TEST_HOOK_LOG")


@app.on_startup
def started():
    if os.environ.get("RINGBOLT_TEST_FAIL_STARTUP"):
        raise RuntimeError("startup-hook-failure-marker")
    if HOOK_LOG:
        with open(HOOK_LOG, "a") as f:
            f.write(f"{os.getpid()}\n")


@app.get("/pid")
def pid(req):
    return {"pid": os.getpid()}


@app.get("/health", const=True)
def health(req):
    return "ok"
