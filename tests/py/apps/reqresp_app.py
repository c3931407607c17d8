"""Forms, cookies, responses, SSE and background tasks (tests/py/test_forms.py,
test_multipart.py, test_cookies.py, test_sse.py, test_background.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from typing import Any

from ringbolt import App, BackgroundTasks, Response, SSEEvent, UploadFile

app = App()

# ---- request attributes ----


@app.get("/info")
def info(req: Any) -> dict[str, Any]:
    return {"url": req.url, "scheme": req.scheme, "host": req.host, "last_event_id": req.last_event_id}


@app.get("/header")
def header(req: Any) -> dict[str, Any]:
    """req.header(name): the first value, any case of the name, None when absent; the
    same as req.headers.get."""
    names = ["x-twice", "X-TWICE", "x-latin", "x-missing", "host"]
    return {"header": [req.header(n) for n in names], "headers": [req.headers.get(n) for n in names]}


@app.get("/cookies")
def cookies(req: Any) -> dict[str, Any]:
    return dict(req.cookies)


@app.get("/cookie-each")
def cookie_each(req: Any) -> dict[str, Any]:
    """req.cookie(name) for every name sent and one not sent: from the bytes first, then
    from the dict once req.cookies has made it (names as repr: one may hold surrogates)."""
    names = [*{n: None for n in req.query.get("names", "").split(",") if n}, "missing"]
    if req.query.get("surrogate"):
        names.append("\udcff")  # the name a byte 0xFF decodes to (surrogateescape)
    before = {repr(n): req.cookie(n) for n in names}
    req.cookies  # noqa: B018 - made now
    after = {repr(n): req.cookie(n) for n in names}
    return {"before": before, "after": after, "cookies": {repr(k): v for k, v in req.cookies.items()}}


@app.get("/cookie-bad-name")
def cookie_bad_name(req: Any) -> dict[str, Any]:
    try:
        req.cookie(1)
    except TypeError as exc:
        return {"error": str(exc)}
    return {"error": None}


@app.get("/plain")
def plain(req: Any) -> dict[str, Any]:
    return {"ok": True}


# ---- forms ----

SEEN_PATHS: list[str] = []


def summary(form: Any) -> list[Any]:
    out: list[Any] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = value.read()
            if value._path is not None:
                SEEN_PATHS.append(value._path)
            out.append([name, {"filename": value.filename, "content_type": value.content_type, "size": value.size,
                               "sha256": hashlib.sha256(data).hexdigest(), "in_memory": value.in_memory,
                               "len": len(data)}])
        else:
            out.append([name, value])
    return out


def options(req: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for key in ("max_parts", "max_part_size", "max_field_size", "max_field_name_length", "spool_threshold"):
        if key in req.query:
            opts[key] = int(req.query[key])
    return opts


@app.post("/form")
def form_sync(req: Any) -> Any:
    return {"fields": summary(req.form(**options(req)))}


@app.post("/aform")
async def form_async(req: Any) -> Any:
    form = await req.form(**options(req))
    return {"fields": summary(form), "streamed": req._body_stream is not None}


LATE_OUTCOME: dict[str, str] = {}


@app.post("/aform-late")
async def form_late(req: Any) -> Any:
    """Reads the form only after a delay (the body piles up to the window meanwhile) and
    records how the read ended, for GET /aform-late."""
    await asyncio.sleep(float(req.query.get("delay", "1")))
    try:
        form = await req.form(**options(req))
    except BaseException as exc:
        LATE_OUTCOME[req.query["tag"]] = f"{type(exc).__name__}: {exc}"
        raise
    LATE_OUTCOME[req.query["tag"]] = "ok"
    return {"fields": summary(form)}


@app.get("/aform-late")
def form_late_outcome(req: Any) -> dict[str, Any]:
    return {"outcome": LATE_OUTCOME.get(req.query["tag"])}


@app.get("/exists")
def exists(req: Any) -> dict[str, Any]:
    return {"paths": {p: os.path.exists(p) for p in SEEN_PATHS}}


@app.post("/move")
def move(req: Any) -> dict[str, Any]:
    form = req.form(spool_threshold=16)
    up = form["file"]
    dest = req.query["dest"]
    up.move(dest)
    return {"moved": os.path.exists(dest), "size": os.path.getsize(dest)}


# ---- responses and cookies ----


@app.get("/set-cookie")
def set_cookie(req: Any) -> Response:
    resp = Response.json({"ok": True})
    resp.set_cookie("sid", "abc123")
    resp.set_cookie("pref", "dark", max_age=3600, httponly=False, samesite="strict", path="/app")
    resp.set_cookie("cross", "1", secure=True, samesite="none", partitioned=True)
    resp.delete_cookie("old")
    return resp


CONSTANT = Response.text("constant")


@app.get("/req-cookie")
def req_cookie(req: Any) -> dict[str, Any]:
    req.set_cookie("a", "1")
    req.delete_cookie("gone", path="/x")
    return {"dict": True}


@app.get("/req-cookie-constant")
def req_cookie_constant(req: Any) -> Response:
    req.set_cookie("c", "2")
    return CONSTANT


@app.get("/req-cookie-tuple")
def req_cookie_tuple(req: Any) -> Any:
    req.set_cookie("t", "3")
    return ("created", 201, {"X-Extra": "yes"})


@app.get("/constant")
def constant(req: Any) -> Response:
    return CONSTANT


@app.get("/async-cookie")
async def async_cookie(req: Any) -> dict[str, Any]:
    req.set_cookie("as", "ync")
    return {"async": True}


BAD_COOKIES: dict[str, dict[str, Any]] = {
    "semicolon": {"name": "a", "value": "x; Domain=evil.example"},
    "crlf": {"name": "a", "value": "x\r\nSet-Cookie: evil=1"},
    "lf": {"name": "a", "value": "x\nX: y"},
    "space": {"name": "a", "value": "two words"},
    "comma": {"name": "a", "value": "a,b"},
    "name_eq": {"name": "a=b", "value": "x"},
    "name_space": {"name": "a b", "value": "x"},
    "name_semicolon": {"name": "a;b", "value": "x"},
    "name_empty": {"name": "", "value": "x"},
    "name_crlf": {"name": "a\r\nX", "value": "x"},
    "path_semicolon": {"name": "a", "value": "x", "path": "/; Secure"},
    "path_crlf": {"name": "a", "value": "x", "path": "/\r\nX: y"},
    "domain_semicolon": {"name": "a", "value": "x", "domain": "a.com; Path=/"},
    "samesite_none_insecure": {"name": "a", "value": "x", "samesite": "none"},
    "samesite_bogus": {"name": "a", "value": "x", "samesite": "sometimes"},
    "host_prefix_domain": {"name": "__Host-a", "value": "x", "domain": "a.com"},
    "secure_prefix_insecure": {"name": "__Secure-a", "value": "x", "secure": False},
    "expires_crlf": {"name": "a", "value": "x", "expires": "Thu\r\nX: y"},
}


@app.get("/bad-cookie/{kind}")
def bad_cookie(req: Any) -> Any:
    spec = dict(BAD_COOKIES[req.params["kind"]])
    resp = Response.json({"set": True})
    try:
        resp.set_cookie(spec.pop("name"), spec.pop("value"), **spec)
    except (ValueError, TypeError) as exc:
        return {"error": str(exc), "type": type(exc).__name__}, 400
    return resp


@app.get("/cookie-option/{how}")
def cookie_option(req: Any) -> Any:
    """req.set_cookie / req.delete_cookie with an option that is not one: a TypeError naming it."""
    how = req.params["how"]
    try:
        if how == "set-typo":
            req.set_cookie("a", "1", max_agee=5)
        elif how == "set-unknown":
            req.set_cookie("a", "1", colour="red")
        elif how == "delete-max-age":
            req.delete_cookie("a", max_age=5)
        else:
            req.set_cookie("a", "1", max_age=5, path="/p", samesite="strict")  # all valid
    except TypeError as exc:
        return {"error": str(exc)}, 400
    return {"ok": True}


@app.get("/text")
def text(req: Any) -> Response:
    return Response.text("héllo", status=201)


@app.get("/html")
def html(req: Any) -> Response:
    return Response.html("<h1>hi</h1>")


@app.get("/redirect")
def redirect(req: Any) -> Response:
    return Response.redirect(req.query.get("to", "/plain"), status=int(req.query.get("status", "307")))


# ---- background tasks ----

BG: dict[str, str] = {}
BG_GATES: dict[str, threading.Event] = {}
BG_LOCK = threading.Lock()


def gate(key: str) -> threading.Event:
    with BG_LOCK:
        return BG_GATES.setdefault(key, threading.Event())


def blocking_task(key: str) -> None:
    BG[key] = "started"
    if gate(key).wait(30):
        BG[key] = "done"
    else:
        BG[key] = "timed out"


async def async_task(key: str, value: str) -> None:
    await asyncio.sleep(0)
    BG[key] = value


def failing_task(key: str) -> None:
    BG[key] = "raised"
    raise RuntimeError("background boom " + key)


@app.get("/bg/{key}")
def bg(req: Any) -> dict[str, Any]:
    key = req.params["key"]
    BG[key] = "queued"
    req.background.add(blocking_task, key)
    return {"queued": key}


@app.get("/abg/{key}")
async def abg(req: Any) -> Response:
    key = req.params["key"]
    BG[key] = "queued"
    tasks = BackgroundTasks()
    tasks.add(blocking_task, key)
    return Response.json({"queued": key}, background=tasks)


@app.get("/bg-async/{key}")
def bg_async(req: Any) -> Response:
    return Response.text("ok", background=lambda: async_task(req.params["key"], "async ran"))


@app.get("/bg-order/{key}")
def bg_order(req: Any) -> Response:
    key = req.params["key"]
    req.background.add(failing_task, key + "-1")
    req.background.add(async_task, key + "-2", "after the failure")
    return Response.text("fine")


@app.get("/bg-stream/{key}")
def bg_stream(req: Any) -> Any:
    from ringbolt import StreamingResponse

    key = req.params["key"]

    def gen() -> Any:
        BG[key] = "streaming"
        yield b"a" * 1000
        yield b"b" * 1000

    return StreamingResponse(gen(), background=lambda: BG.__setitem__(key, "after stream"))


@app.get("/bg-release/{key}")
def bg_release(req: Any) -> dict[str, Any]:
    gate(req.params["key"]).set()
    return {"released": True}


@app.get("/bg-state/{key}")
def bg_state(req: Any) -> dict[str, Any]:
    return {"state": BG.get(req.params["key"])}


# ---- server-sent events ----

SSE_STATE: dict[str, str] = {}


@app.get("/sse")
def sse(req: Any) -> Any:
    async def events() -> Any:
        yield "hello"
        yield {"n": 1, "list": [1, 2]}
        yield SSEEvent("multi\nline\r\ndata\rend", event="update", id="7", retry=1500)
        yield SSEEvent(comment="just a comment")
        yield "last"

    return Response.sse(events())


@app.get("/sse-sync")
def sse_sync(req: Any) -> Any:
    def events() -> Any:
        yield "one"
        time.sleep(0.6)  # idle: pings go out meanwhile
        yield SSEEvent("two", id="2")

    return Response.sse(events(), ping=0.1)


@app.get("/sse-resume")
async def sse_resume(req: Any) -> Any:
    start = int(req.last_event_id or "0")

    async def events() -> Any:
        for i in range(start + 1, start + 4):
            yield SSEEvent(f"event {i}", id=str(i))

    return Response.sse(events())


@app.get("/sse-idle/{key}")
async def sse_idle(req: Any) -> Any:
    key = req.params["key"]

    async def events() -> Any:
        SSE_STATE[key] = "running"
        try:
            yield "first"
            while True:
                await asyncio.sleep(3600)
                yield "never"
        except asyncio.CancelledError:
            SSE_STATE[key] = "cancelled"
            raise
        finally:
            if SSE_STATE[key] == "running":
                SSE_STATE[key] = "closed"

    return Response.sse(events(), ping=0.2)


@app.get("/sse-busy/{key}")
def sse_busy(req: Any) -> Any:
    key = req.params["key"]

    def events() -> Any:
        SSE_STATE[key] = "running"
        try:
            i = 0
            while True:
                i += 1
                yield f"tick {i}"
                time.sleep(0.05)
        finally:
            SSE_STATE[key] = "closed"

    return Response.sse(events(), ping=None)


@app.get("/sse-state/{key}")
def sse_state(req: Any) -> dict[str, Any]:
    return {"state": SSE_STATE.get(req.params["key"])}


@app.get("/file-cookie")
def file_cookie(req: Any) -> Any:
    from ringbolt import FileResponse

    req.set_cookie("f", "1")
    return FileResponse(__file__, media_type="text/plain")


@app.post("/form-then-fail")
def form_then_fail(req: Any) -> Any:
    req.form(spool_threshold=16)
    raise RuntimeError("handler failed after reading the form")


@app.post("/aform-then-fail")
async def aform_then_fail(req: Any) -> Any:
    await req.form(spool_threshold=16)
    raise RuntimeError("handler failed after reading the form")
