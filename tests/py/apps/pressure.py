"""An app for backpressure and metrics tests."""

import time

from ringbolt import App

app = App()


@app.get("/slow")
def slow(req):
    time.sleep(float(req.query.get("s", "0.5")))
    return {"slept": True}


@app.get("/fast/{n:int}")
def fast(req):
    return {"n": req.params["n"]}


@app.get("/big")
def big(req):
    return b"x" * 65536


@app.get("/const", const=True)
def const(req):
    return "ok"
