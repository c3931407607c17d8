"""An app for the drain / timeout / memory fault reproducers (tests/py/test_drain_faults.py):
a handler that sleeps, a fast one that names its process, a body sink and a 1 MiB body."""

import os
import time

from ringbolt import App

app = App()

MIB = b"m" * (1 << 20)  # built once: the handler returns the same object every time


@app.get("/sleep")
def sleep(req):
    s = float(req.query.get("s", "0.5"))
    time.sleep(s)
    return {"slept": s, "pid": os.getpid()}


@app.get("/ping")
def ping(req):
    return {"pid": os.getpid(), "n": req.query.get("n")}


@app.post("/upload")
def upload(req):
    return {"received": len(req.body)}


@app.get("/mib")
def mib(req):
    return MIB
