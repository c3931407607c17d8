"""An app with a slow handler, for drain tests."""

import time

from ringbolt import App

app = App()


@app.get("/")
def index(req):
    return "ok"


@app.get("/slow")
def slow(req):
    time.sleep(float(req.query.get("s", "1")))
    return {"slept": True}


@app.get("/boom")
def boom(req):
    raise ValueError("kaboom-marker")
