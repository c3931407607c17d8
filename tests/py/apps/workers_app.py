"""An app for the worker/supervisor tests: which process answered, startup hooks
recorded in a file (one line per worker), an optional failing startup hook, and one
that fails while a file exists (a worker that crash-loops at start-up on demand), and
one that holds every worker but the first back a while."""

import os
import time

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
    slow_after_first = os.environ.get("RINGBOLT_TEST_SLOW_AFTER_FIRST")  # "path:seconds"
    if slow_after_first:
        # The first worker to start takes the file and starts at once; every other waits,
        # so for a while only one worker serves (a test of the start-up order).
        path, seconds = slow_after_first.rsplit(":", 1)
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            time.sleep(float(seconds))
    if HOOK_LOG:
        with open(HOOK_LOG, "a") as f:
            f.write(f"{os.getpid()}\n")


@app.get("/pid")
def pid(req):
    return {"pid": os.getpid()}


@app.get("/health", const=True)
def health(req):
    return "ok"
