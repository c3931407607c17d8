"""ringbolt app for the middleware cost (benchmarks/journal/2026-11-22b.md, "Framework:
middleware cost (issue 10)"): the same sync JSON route with no middleware (/json), behind one pass-through
Python middleware (/mw/json) and behind one that adds a header (/mwh/json).

    python benchmarks/load/profile_server.py --app benchmarks.load.apps.ringbolt_middleware:app --path /mw/json
"""
from ringbolt import App, Router

app = App()
passthrough = Router(prefix="/mw")
header = Router(prefix="/mwh")


@app.get("/json")
def json_(req):
    return {"message": "Hello, World!"}


@passthrough.middleware
def pass_through(req, call_next):
    return call_next(req)


@header.middleware
def add_header(req, call_next):
    resp = call_next(req)
    resp.headers.append(("x-mw", "1"))
    return resp


passthrough.get("/json")(json_)
header.get("/json")(json_)
app.include(passthrough)
app.include(header)
