"""Middleware: order, short-circuit, response changes, sync and async, per router,
failures; for tests/py/test_middleware.py."""

import time

from ringbolt import App, HTTPError, Response, Router

app = App()
order = []


@app.middleware
def outer(req, call_next):
    if req.headers.get("x-short") == "outer":
        return Response({"short": "outer"}, status=403)
    if req.path == "/raise-in-mw":
        raise HTTPError(409, "refused by middleware")
    if req.path == "/bug-in-mw":
        raise RuntimeError("middleware bug")
    if req.path == "/wrong-type":
        return {"not": "a Response"}
    start = time.perf_counter()
    resp = call_next(req)
    resp.headers.append(("x-outer", "1"))
    resp.headers.append(("x-time-ms", f"{(time.perf_counter() - start) * 1000:.3f}"))
    resp.headers.append(("x-trace", "outer>" + dict(resp.headers).get("x-trace", "")))
    return resp


@app.middleware
def inner(req, call_next):
    if req.headers.get("x-short") == "inner":
        return Response("short by inner", status=401)
    resp = call_next(req)
    resp.headers.append(("x-trace", "inner"))
    if req.path == "/status":
        resp.status = 201
    return resp


@app.get("/hello")
def hello(req):
    return {"hello": "world"}


@app.get("/status")
def status(req):
    return "created"


@app.get("/tuple")
def tup(req):
    return ("tuple body", 202, {"x-handler": "yes"})


@app.get("/none")
def none(req):
    return None


@app.get("/http-error")
def http_error(req):
    raise HTTPError(404, "no such thing")


@app.get("/crash")
def crash(req):
    raise ValueError("handler bug")


for path in ("/raise-in-mw", "/bug-in-mw", "/wrong-type"):
    app.get(path)(lambda req: {"reached": True})


@app.get("/const", const=True)
def const(req):
    return {"const": True}


# A router with its own (sync) middleware.
api = Router(prefix="/api")


@api.middleware
def api_key(req, call_next):
    if req.headers.get("x-api-key") != "k":
        return Response({"error": "no key"}, status=401)
    resp = call_next(req)
    resp.headers.append(("x-api", "checked"))
    return resp


@api.get("/data")
def data(req):
    return {"data": 1}


app.include(api)
