"""No exception handler, no middleware: errors answered natively (problem+json)."""

from ringbolt import App, HTTPError

app = App()


@app.get("/ok")
def ok(req):
    return {"ok": True}


@app.post("/json")
def json_route(req):
    return {"got": req.json()}


@app.get("/http-error")
def http_error(req):
    raise HTTPError(404, "no such item")


@app.get("/crash")
def crash(req):
    raise RuntimeError("secret internals")


@app.get("/async-crash")
async def async_crash(req):
    raise RuntimeError("secret internals")


@app.get("/bad-return")
def bad_return(req):
    return object()


@app.route("/only-get-put", methods=["GET", "PUT"])
def only(req):
    return {"m": req.method}
