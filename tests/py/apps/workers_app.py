"""An app for the worker/supervisor tests: which process answered, startup hooks
recorded in a file (one line per worker), an optional failing startup hook, and one
that fails while a file exists (a worker that crash-loops at start-up on demand)."""

import os

from ringbolt import App

app = App()

HOOK_LOG = os.environ.get("RINGBOLT_TEST_HOOK_LOG")


@app.on_startup
def started():
    if os.environ.get("RINGBOLT_TEST_FAIL_STARTUP"):
        raise RuntimeError("startup-hook-failure-marker")
    fail_while = os.environ.get("RINGBOLT_TEST_FAIL_WHILE_EXISTS")
    if fail_while and os.path.exists(fail_while):
        with open(fail_while, "a") as f:
            f.write(f"{os.getpid()}\n")  # the test counts the failed starts
        raise RuntimeError("startup-hook-fails-while-the-file-exists")
    if HOOK_LOG:
        with open(HOOK_LOG, "a") as f:
            f.write(f"{os.getpid()}\n")


@app.get("/pid")
def pid(req):
    return {"pid": os.getpid()}


@app.get("/health", const=True)
def health(req):
    return "ok"
