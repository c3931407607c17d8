"""An app for backpressure and metrics tests."""

from ringbolt import App

app = App()


@app.get("/fast/{n:int}")
def fast(req):
    return {"n": req.params["n"]}


@app.get("/big")
def big(req):
    return b"x" * 65536


@app.get("/const", const=True)
def const(req):
    return "ok"
