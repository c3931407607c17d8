"""A handler that takes a while (the connection keeps receiving meanwhile)."""

import time

from ringbolt import App

app = App()


@app.route("/slow", methods=["GET", "POST"])
def slow(req):
    time.sleep(0.05)
    return {"slow": True, "body": req.body.decode("latin-1")}


@app.route("/fast", methods=["GET", "POST"])
def fast(req):
    return {"fast": True, "body": req.body.decode("latin-1")}
