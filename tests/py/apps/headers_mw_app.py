"""Every kind of route behind a Starlette-style middleware that sets headers by name
(tests/py/test_response_headers.py)."""

import os

from ringbolt import App, FileResponse, HTTPError, Response, StreamingResponse

app = App()


@app.middleware
async def by_name(req, call_next):
    resp = await call_next(req)
    resp.headers["x-a"] = "1"
    if "x-handler" in resp.headers:
        resp.headers["X-Handler"] = "replaced"
    if "x-drop" in resp.headers:
        del resp.headers["x-drop"]
    return resp


ROUTES = {
    "/dict": lambda req: {"kind": "dict"},
    "/list": lambda req: [1, 2],
    "/str": lambda req: "text",
    "/bytes": lambda req: b"bytes",
    "/none": lambda req: None,
    "/tuple": lambda req: ("made", 201),
    "/tuple-headers": lambda req: ("th", 200, {"X-Handler": "h", "X-Drop": "d"}),
    "/response-dict": lambda req: Response("rd", headers={"X-Handler": "h", "x-a": "0"}),
    "/response-list": lambda req: Response("rl", headers=[("x-handler", "h1"), ("X-Handler", "h2"), ("X-Drop", "d")]),
    "/stream": lambda req: StreamingResponse(iter([b"one", b"two"]), headers=[("X-Drop", "d"), ("Content-Length", "6")]),
    "/file": lambda req: FileResponse(os.environ["HEADERS_TEST_FILE"], headers={"X-A": "0"}),
}
for path, fn in ROUTES.items():
    app.get(path)(fn)


@app.get("/http-error")
def http_error(req):
    raise HTTPError(404, "nothing here")


@app.get("/async")
async def async_route(req):
    return {"kind": "async"}
