"""What a route of ``ringbolt.fastapi`` answers, by FastAPI's rules (each expectation is
what FastAPI 0.165 answers to the same app: this file runs unchanged on FastAPI with
``ringbolt.fastapi`` read as ``fastapi``): ``response_class`` and the app's and a router's
``default_response_class``, the ``response_model_*`` options, the return annotation as the
response model, the temporal ``response: Response`` parameter, generator routes streamed
as JSON lines, as Server-Sent Events or as the class's content, and background tasks that
have run when the TestClient's request returns. Real requests over real sockets."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from ringbolt.fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Response
from ringbolt.fastapi.background import BackgroundTask
from ringbolt.fastapi.exceptions import FastAPIError
from ringbolt.fastapi.responses import (FileResponse, HTMLResponse, JSONResponse, ORJSONResponse, PlainTextResponse,
                                        RedirectResponse, StreamingResponse)
from ringbolt.fastapi.sse import EventSourceResponse, ServerSentEvent
from ringbolt.fastapi.testclient import TestClient


class Item(BaseModel):
    name: str
    price: float = 1.0
    tax: float | None = None
    tags: list[str] = []


class Aliased(BaseModel):
    full_name: str = Field(alias="fullName")


class Indented(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return repr(content).encode()


def make_app(tmp: Path) -> FastAPI:
    app = FastAPI()
    video = tmp / "clip.mp4"
    video.write_bytes(b"fake video")

    @app.get("/html", response_class=HTMLResponse)
    def html() -> str:
        return "<b>hi</b>"

    @app.get("/text", response_class=PlainTextResponse)
    def text():
        return "hello é"

    @app.get("/redirect", response_class=RedirectResponse)
    def redirect():
        return "https://example.com/a b?x=1"

    @app.get("/redirect302", response_class=RedirectResponse, status_code=302)
    def redirect302():
        return "/elsewhere"

    @app.get("/orjson", response_class=ORJSONResponse)
    def orjson_():
        return {"a": [1, 2.5], "when": Item(name="x")}

    @app.get("/custom", response_class=Indented)
    def custom():
        return {"a": 1}

    @app.get("/file", response_class=FileResponse)
    def file():
        return str(video)

    @app.get("/file-missing", response_class=FileResponse)
    def file_missing():
        return str(video) + ".gone"

    @app.get("/file-dir")
    def file_dir():
        return FileResponse(str(tmp))

    @app.get("/model-html", response_model=Item, response_class=HTMLResponse)
    def model_html():
        return {"name": "n"}

    @app.get("/created-html", response_class=HTMLResponse, status_code=201)
    def created_html():
        return "made"

    # response models
    @app.get("/model", response_model=Item)
    def model():
        return {"name": "n", "price": 2, "secret": "dropped"}

    @app.get("/unset", response_model=Item, response_model_exclude_unset=True)
    def unset():
        return Item(name="x", tax=None)

    @app.get("/unset-dict", response_model=Item, response_model_exclude_unset=True)
    def unset_dict():
        return {"name": "x", "price": 3}

    @app.get("/defaults", response_model=Item, response_model_exclude_defaults=True)
    def defaults():
        return {"name": "x", "price": 1.0, "tags": ["a"]}

    @app.get("/none", response_model=Item, response_model_exclude_none=True)
    def none():
        return {"name": "x"}

    @app.get("/include", response_model=Item, response_model_include={"name", "tax"})
    def include():
        return {"name": "x", "price": 3}

    @app.get("/exclude-list", response_model=Item, response_model_exclude=["tax", "tags"])
    def exclude_list():
        return {"name": "x", "price": 3}

    @app.get("/alias", response_model=Aliased)
    def alias():
        return {"fullName": "Ann Lee"}

    @app.get("/no-alias", response_model=Aliased, response_model_by_alias=False)
    def no_alias():
        return {"fullName": "Ann Lee"}

    @app.get("/annotated")
    def annotated() -> Item:
        return Item(name="a")

    @app.get("/annotated-dict")
    def annotated_dict() -> dict[str, int]:
        return {"a": 1, "b": "2"}  # type: ignore[dict-item]  # validated into an int

    @app.get("/annotated-bad")
    def annotated_bad() -> dict[str, int]:
        return {"a": "not a number"}  # type: ignore[dict-item]

    @app.get("/model-or-404", response_model=Item)
    def model_or_404():
        return JSONResponse({"message": "Item not found"}, status_code=404)

    # the temporal response
    def tag(response: Response) -> None:
        response.headers["x-dependency"] = "yes"

    @app.get("/temporal", dependencies=[Depends(tag)])
    def temporal(response: Response):
        response.headers["x-handler"] = "yes"
        response.set_cookie("flavour", "lemon")
        response.status_code = 202
        return {"ok": True}

    @app.get("/temporal-returned")
    def temporal_returned(response: Response):
        response.headers["x-handler"] = "yes"
        return PlainTextResponse("own answer")

    @app.get("/temporal-model", response_model=Item, status_code=201)
    def temporal_model(response: Response):
        response.headers["x-handler"] = "yes"
        return {"name": "n"}
    return app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with TestClient(make_app(tmp_path_factory.mktemp("files"))) as c:
        yield c


# (path, status, the headers (None: absent), body)
ANSWERS = [
    ("/html", 200, {"content-type": "text/html; charset=utf-8"}, b"<b>hi</b>"),
    ("/text", 200, {"content-type": "text/plain; charset=utf-8"}, "hello é".encode()),
    ("/redirect", 307, {"location": "https://example.com/a%20b?x=1", "content-type": None}, b""),
    ("/redirect302", 302, {"location": "/elsewhere"}, b""),
    ("/orjson", 200, {"content-type": "application/json"},
     b'{"a":[1,2.5],"when":{"name":"x","price":1.0,"tax":null,"tags":[]}}'),
    ("/custom", 200, {"content-type": "application/json"}, b"{'a': 1}"),
    ("/file", 200, {"content-type": "video/mp4"}, b"fake video"),
    ("/created-html", 201, {"content-type": "text/html; charset=utf-8"}, b"made"),
    ("/model", 200, {"content-type": "application/json"}, b'{"name":"n","price":2.0,"tax":null,"tags":[]}'),
    ("/unset", 200, {}, b'{"name":"x","tax":null}'),
    ("/unset-dict", 200, {}, b'{"name":"x","price":3.0}'),
    ("/defaults", 200, {}, b'{"name":"x","tags":["a"]}'),
    ("/none", 200, {}, b'{"name":"x","price":1.0,"tags":[]}'),
    ("/include", 200, {}, b'{"name":"x","tax":null}'),
    ("/exclude-list", 200, {}, b'{"name":"x","price":3.0}'),
    ("/alias", 200, {}, b'{"fullName":"Ann Lee"}'),
    ("/no-alias", 200, {}, b'{"full_name":"Ann Lee"}'),
    ("/annotated", 200, {}, b'{"name":"a","price":1.0,"tax":null,"tags":[]}'),
    ("/annotated-dict", 200, {}, b'{"a":1,"b":2}'),
    ("/model-or-404", 404, {"content-type": "application/json"}, b'{"message":"Item not found"}'),
    ("/temporal", 202, {"x-handler": "yes", "x-dependency": "yes", "set-cookie": "flavour=lemon; Path=/; SameSite=lax"},
     b'{"ok":true}'),
    ("/temporal-returned", 200, {"x-handler": None, "content-type": "text/plain; charset=utf-8"}, b"own answer"),
    ("/temporal-model", 201, {"x-handler": "yes"}, b'{"name":"n","price":1.0,"tax":null,"tags":[]}'),
]


@pytest.mark.parametrize(("path", "status", "headers", "body"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_answers(client: Any, path: str, status: int, headers: dict[str, str | None], body: bytes) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == status, r.text
    for name, value in headers.items():
        assert r.headers.get(name) == value, name
    assert r.content == body


@pytest.mark.parametrize("path", ["/model-html", "/annotated-bad", "/file-missing", "/file-dir"])
def test_a_result_its_writer_refuses_is_a_500(tmp_path: Path, path: str) -> None:
    """A dict made into an HTMLResponse, a value the return annotation refuses, a
    FileResponse of a path that does not exist or is a folder (Starlette's RuntimeError):
    the service's bug, a 500."""
    with TestClient(make_app(tmp_path), raise_server_exceptions=False) as c:
        r = c.get(path)
        assert (r.status_code, r.text) == (500, "Internal Server Error")


def test_starlettes_cookies_and_file_headers(tmp_path: Path) -> None:
    import hashlib
    import os
    import re

    report = tmp_path / "report.txt"
    report.write_text("hello file")
    os.utime(report, (1700000000, 1700000000))
    app = FastAPI()

    @app.get("/cookies")
    def cookies():
        r = JSONResponse({"a": 1})
        r.set_cookie("s", "v", max_age=60, httponly=True, secure=True, samesite="strict", domain="example.com",
                     path="/x")
        r.set_cookie("spaced", "a b;c")
        r.delete_cookie("old")
        return r

    @app.get("/file/{name}")
    def file(name: str, inline: bool = False):
        return FileResponse(report, filename=name, content_disposition_type="inline" if inline else "attachment")

    with TestClient(app) as c:
        lines = c.get("/cookies").headers.get_list("set-cookie")
        assert lines[:2] == ["s=v; Domain=example.com; HttpOnly; Max-Age=60; Path=/x; SameSite=strict; Secure",
                             'spaced="a b\\073c"; Path=/; SameSite=lax']
        assert re.fullmatch(r'old=""; expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; Max-Age=0; Path=/; '
                            r"SameSite=lax", lines[2]), lines[2]
        etag = '"' + hashlib.md5(f"{os.stat(report).st_mtime}-10".encode()).hexdigest() + '"'
        for target, disposition in [("/file/résumé.txt", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt"),
                                    ("/file/a.txt?inline=true", 'inline; filename="a.txt"')]:
            r = c.get(target)
            assert r.content == b"hello file"
            assert r.headers["content-disposition"] == disposition
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
            assert r.headers["etag"] == etag
            assert r.headers["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_default_response_class_of_the_app_and_a_router() -> None:
    app = FastAPI(default_response_class=HTMLResponse)
    router = APIRouter(default_response_class=PlainTextResponse)

    @app.get("/app")
    def on_app():
        return "<p>app</p>"

    @app.get("/json", response_class=JSONResponse)
    def json_route():
        return "<p>json</p>"

    @router.get("/router")
    def on_router():
        return "router"

    plain = APIRouter()

    @plain.get("/plain")
    def on_plain():
        return "<p>plain</p>"

    @plain.get("/plain-json", response_class=JSONResponse)
    def on_plain_json():
        return "plain-json"

    given = APIRouter()

    @given.get("/given")
    def on_given():
        return "given"

    app.include_router(router)
    app.include_router(plain)  # its routes take the app's default
    app.include_router(given, prefix="/x", default_response_class=PlainTextResponse)
    with TestClient(app) as c:
        for path, ctype, text in [("/plain", "text/html; charset=utf-8", "<p>plain</p>"),
                                  ("/plain-json", "application/json", '"plain-json"'),
                                  ("/x/given", "text/plain; charset=utf-8", "given")]:
            r = c.get(path)
            assert (r.headers["content-type"], r.text) == (ctype, text), path
        r = c.get("/app")
        assert (r.headers["content-type"], r.text) == ("text/html; charset=utf-8", "<p>app</p>")
        r = c.get("/json")
        assert (r.headers["content-type"], r.text) == ("application/json", '"<p>json</p>"')
        r = c.get("/router")
        assert (r.headers["content-type"], r.text) == ("text/plain; charset=utf-8", "router")


@pytest.mark.parametrize("annotation", ["Response | dict", "Response | Item"])
def test_a_return_annotation_pydantic_cannot_write_is_refused_at_registration(annotation: str) -> None:
    app = FastAPI()
    ns: dict[str, Any] = {"Response": Response, "Item": Item}
    exec(f"def portal() -> {annotation}:\n    return {{}}\n", ns)  # noqa: S102 - the annotation under test
    with pytest.raises(FastAPIError):
        app.get("/portal")(ns["portal"])


# ---- generator routes ----

def make_stream_app() -> FastAPI:
    app = FastAPI()

    @app.get("/lines")
    def lines():
        yield {"a": 1, "é": float("nan"), "l": [1, 2]}
        yield "x"
        yield Item(name="n")

    @app.get("/lines-typed", status_code=201)
    async def lines_typed() -> AsyncIterable[Item]:
        yield {"name": "a", "price": 2}  # type: ignore[misc]  # validated into an Item
        yield Item(name="b", tags=["t"])

    @app.get("/raw", response_class=StreamingResponse)
    def raw() -> Iterable[str]:
        yield "a"
        yield "b"

    class PNGStream(StreamingResponse):
        media_type = "image/png"

    @app.get("/png", response_class=PNGStream)
    async def png() -> AsyncIterable[bytes]:
        yield b"\x89PNG"
        yield b"rest"

    @app.get("/events", response_class=EventSourceResponse)
    async def events() -> AsyncIterable[ServerSentEvent]:
        yield ServerSentEvent(comment="two lines\nof comment")
        yield ServerSentEvent(data=Item(name="p"), event="update", id="1", retry=5000)
        yield ServerSentEvent(data="quoted")
        yield ServerSentEvent(raw_data="as it is", event="raw")

    @app.get("/events-items", response_class=EventSourceResponse)
    def events_items() -> Iterable[Item]:
        yield {"name": "a"}  # type: ignore[misc]  # validated into an Item
        yield Item(name="b")

    @app.post("/events-echo", response_class=EventSourceResponse)
    async def events_echo(last_event_id: Annotated[int | None, Header()] = None):
        for i in range((last_event_id or 0) + 1, 3):
            yield {"i": i}
    return app


@pytest.fixture(scope="module")
def streams() -> Any:
    with TestClient(make_stream_app()) as c:
        yield c


STREAMS = [
    ("GET", "/lines", {}, 200, "application/jsonl",
     b'{"a": 1, "\\u00e9": null, "l": [1, 2]}\n"x"\n{"name": "n", "price": 1.0, "tax": null, "tags": []}\n'),
    ("GET", "/lines-typed", {}, 201, "application/jsonl",
     b'{"name":"a","price":2.0,"tax":null,"tags":[]}\n{"name":"b","price":1.0,"tax":null,"tags":["t"]}\n'),
    ("GET", "/raw", {}, 200, None, b"ab"),
    ("GET", "/png", {}, 200, "image/png", b"\x89PNGrest"),
    ("GET", "/events", {}, 200, "text/event-stream; charset=utf-8",
     b': two lines\n: of comment\n\nevent: update\ndata: {"name":"p","price":1.0,"tax":null,"tags":[]}\nid: 1\n'
     b'retry: 5000\n\ndata: "quoted"\n\nevent: raw\ndata: as it is\n\n'),
    ("GET", "/events-items", {}, 200, "text/event-stream; charset=utf-8",
     b'data: {"name":"a","price":1.0,"tax":null,"tags":[]}\n\ndata: {"name":"b","price":1.0,"tax":null,"tags":[]}\n\n'),
    ("POST", "/events-echo", {"last-event-id": "1"}, 200, "text/event-stream; charset=utf-8", b'data: {"i": 2}\n\n'),
]


@pytest.mark.parametrize(("method", "path", "headers", "status", "ctype", "body"), STREAMS, ids=[s[1] for s in STREAMS])
def test_generator_routes_stream(streams: Any, method: str, path: str, headers: dict[str, str], status: int,
                                 ctype: str | None, body: bytes) -> None:
    r = streams.request(method, path, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers.get("content-type") == ctype
    assert r.content == body
    if ctype and ctype.startswith("text/event-stream"):
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"


@pytest.mark.parametrize(("fields", "cause"), [
    ({"event": "two\nlines"}, "single line"),
    ({"id": "a\rb"}, "single line"),
    ({"id": "nul\0"}, "null"),
    ({"retry": -1}, "greater than or equal to 0"),
    ({"data": 1, "raw_data": "1"}, "both"),
])
def test_server_sent_event_refuses(fields: dict[str, Any], cause: str) -> None:
    with pytest.raises(ValidationError, match=cause):
        ServerSentEvent(**fields)


# ---- background tasks ----

def test_background_tasks_have_run_when_the_request_returns() -> None:
    """FastAPI's TestClient returns once the tasks have run (Starlette runs them before
    the response completes); ringbolt's server runs them after the response is sent,
    and the client waits for them: the slow tasks below have run when ``get`` returns."""
    app = FastAPI()
    done: list[str] = []
    ran_on: list[str] = []

    def slow_sync(name: str) -> None:
        time.sleep(0.3)  # the app's own slowness: the test waits for nothing but the client
        ran_on.append(threading.current_thread().name)
        done.append(name)

    async def slow_async(name: str) -> None:
        await asyncio.sleep(0.3)
        done.append(name)

    @app.post("/send/{name}")
    def send(name: str, tasks: BackgroundTasks):
        tasks.add_task(slow_sync, f"{name}-sync")
        tasks.add_task(slow_async, f"{name}-async")
        return {"queued": name}

    @app.get("/response-task")
    async def response_task():
        return JSONResponse({"ok": True}, background=BackgroundTask(done.append, "own"))

    with TestClient(app) as c:
        assert c.post("/send/ann").json() == {"queued": "ann"}
        assert done == ["ann-sync", "ann-async"]
        assert c.get("/response-task").json() == {"ok": True}
        assert done[-1] == "own"


# ---- ringbolt's own App: the model options are its decorators' too ----

def test_ringbolt_app_takes_the_model_options() -> None:
    """ringbolt's App keeps its writer (no alias unless asked, no response class), and
    its decorators take the ``response_model_*`` options."""
    from ringbolt import App
    from ringbolt.testing import TestClient as RingboltClient

    app = App()

    @app.get("/public", response_model=Item, response_model_exclude={"tax"}, response_model_exclude_unset=True)
    def public() -> dict[str, Any]:
        return {"name": "x", "tax": 3.0}

    @app.get("/alias", response_model=Aliased, response_model_by_alias=True)
    def alias() -> dict[str, Any]:
        return {"fullName": "Ann"}

    @app.get("/plain", response_model=Aliased)
    def plain() -> dict[str, Any]:
        return {"fullName": "Ann"}

    with RingboltClient(app) as c:
        assert c.get("/public").json() == {"name": "x"}
        assert c.get("/alias").json() == {"fullName": "Ann"}
        assert c.get("/plain").json() == {"full_name": "Ann"}


@pytest.mark.parametrize(("options", "cause"), [
    ({"response_model_exclude": {"tax"}}, "need a response model"),
    ({"response_class": "text/html"}, "must be a class"),
])
def test_bad_response_options_are_refused_at_registration(options: dict[str, Any], cause: str) -> None:
    from ringbolt import App
    from ringbolt.typed.plan import PlanError

    app = App()
    with pytest.raises(PlanError, match=cause):
        app.get("/x", **options)(lambda: {"a": 1})


# ---- what an exception handler gets for a refused request ----

def make_invalid_app() -> FastAPI:
    from ringbolt.fastapi import Request
    from ringbolt.fastapi.exceptions import RequestValidationError

    app = FastAPI()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        return JSONResponse({"locs": [repr(e["loc"]) for e in errors], "body": exc.body}, status_code=400)

    @app.post("/items/{item_id}")
    async def create(item_id: int, item: Item, q: int = 0):
        return item

    @app.get("/plain/{item_id}")
    async def plain(item_id: int):
        return item_id
    return app


@pytest.mark.parametrize(("target", "body", "locs", "seen"), [
    ("/items/1", b'{"name": "x", "price": "cheap"}', ["('body', 'price')"], {"name": "x", "price": "cheap"}),
    ("/items/one?q=two", b'{"name": "x"}', ["('path', 'item_id')", "('query', 'q')"], {"name": "x"}),
    ("/items/1", b'{"price": 1}', ["('body', 'name')"], {"price": 1}),
    ("/plain/x", None, ["('path', 'item_id')"], None),
])
def test_exception_handler_gets_fastapis_errors_and_body(target: str, body: bytes | None, locs: list[str],
                                                         seen: Any) -> None:
    with TestClient(make_invalid_app()) as c:
        r = c.post(target, content=body, headers={"content-type": "application/json"}) if body is not None \
            else c.get(target)
    assert r.status_code == 400
    assert r.json() == {"locs": locs, "body": seen}


def test_routes_are_described_as_api_routes() -> None:
    from ringbolt.fastapi.routing import APIRoute

    app = FastAPI()

    @app.post("/items/", response_model=Item, status_code=201, tags=["items"])
    def create_item(item: Item):
        return item

    @app.get("/items/{item_id}", name="read")
    def read_item(item_id: int) -> Item:
        return Item(name=str(item_id))

    routes = [(r.path, r.name, r.methods, r.response_model, r.status_code, r.tags)
              for r in app.routes if isinstance(r, APIRoute)]
    assert routes == [("/items/", "create_item", {"POST"}, Item, 201, ["items"]),
                      ("/items/{item_id}", "read", {"GET"}, Item, None, [])]
