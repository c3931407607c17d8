"""The app the end-to-end tests run against: one route per API point."""

from ringbolt import App, HTTPError, Response

app = App()
kept = []


@app.get("/")
def index(req):
    return {"message": "Hello, World!"}


@app.get("/users/{uid:int}")
def user(req):
    return {"id": req.params["uid"], "type": type(req.params["uid"]).__name__}


@app.get("/files/{name}/v/{ver:int}")
def files(req):
    return {"name": req.params["name"], "ver": req.params["ver"]}


@app.route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def echo(req):
    return Response(req.body, status=200, headers={"x-method": req.method}, content_type="application/octet-stream")


@app.route("/inspect", methods=["GET", "POST"])
def inspect_(req):
    return {
        "method": req.method,
        "path": req.path,
        "raw_path": req.raw_path.decode("latin-1"),
        "query_string": req.query_string,
        "query": dict(req.query),
        "query_all": {k: req.query.getlist(k) for k in req.query},
        "headers": req.headers.items(),
        "x_test": req.headers.get("X-TEST"),
        "x_multi": req.headers.getlist("x-multi"),
        "has_host": "HOST" in req.headers,
        "client": list(req.client),
        "http_version": req.http_version,
        "body_len": len(req.body),
    }


@app.route("/caf\u00e9/{name}", methods=["GET"])
def cafe(req):
    return {"path": req.path, "name": req.params["name"]}


@app.post("/json")
def json_echo(req):
    return {"received": req.json()}


@app.get("/text")
def text(req):
    return "h\u00e9llo"


class Text(str):
    pass


class Blob(bytes):
    pass


@app.get("/text-subclass")
def text_subclass(req):
    return Text("sub\u00e9")


@app.get("/bytes-subclass")
def bytes_subclass(req):
    return Blob(b"\x00sub")


@app.get("/bytes")
def raw_bytes(req):
    return b"\x00\x01binary"


@app.get("/list")
def a_list(req):
    return [1, 2.5, "three", None, True, {"nested": [False]}]


@app.get("/none")
def nothing(req):
    return None


@app.get("/tuple")
def a_tuple(req):
    return {"created": True}, 201, {"location": "/things/1"}


@app.get("/response-json")
def response_json(req):
    return Response.json({"ok": True}, status=202, headers={"x-custom": "yes"})


@app.get("/response-status")
def response_status(req):
    return Response("teapot", status=418)


@app.get("/boom")
def boom(req):
    raise RuntimeError("handler exploded on purpose")


@app.get("/http-error")
def http_error(req):
    raise HTTPError(409, "already exists", headers={"x-reason": "dup"})


@app.get("/bad-header")
def bad_header(req):
    return Response("x", headers={"x-evil": "a\r\nInjected: yes"})


@app.get("/bad-header-raw")
def bad_header_raw(req):
    # A tuple bypasses Response's validation; the native side must still refuse it.
    return "x", 200, [("x-evil", "a\r\nInjected: yes")]


@app.get("/unserializable")
def unserializable(req):
    return {"when": object()}


@app.get("/nan")
def nan(req):
    return {"x": float("nan")}


@app.get("/bad-return")
def bad_return(req):
    return 12345


@app.get("/keep")
def keep(req):
    kept.append(req)  # the request outlives the handler: must stay valid
    old = kept[0]
    return {"first_path": old.path, "first_query": dict(old.query), "count": len(kept)}


@app.get("/const", const=True)
def const(req):
    assert req is None
    return {"const": True}


@app.get("/async")
async def async_handler(req):
    return {"async": True, "path": req.path}


@app.get("/big")
def big(req):
    return b"x" * (1 << 20)


@app.get("/big-json/{n:int}")
def big_json(req, n):
    return {"n": n, "items": [f"item-{i}" for i in range(n)]}
