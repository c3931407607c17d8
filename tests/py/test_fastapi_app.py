"""ringbolt.fastapi's FastAPI class as a whole, against what FastAPI 0.165 does with the
same app (each answer below is FastAPI's): its deprecation warnings, exception handlers
by status code, routes/url_path_for, mounts (a FastAPI sub-app, static files, a WSGI app,
an ASGI app), typed WebSocket endpoints, the route_class contract, and the handler
signatures FastAPI plans that ringbolt once took as "the request". Real requests over
real sockets (the TestClient serves the app with ringbolt's server)."""

from __future__ import annotations

import gzip
import json
import time
import warnings
from pathlib import Path
from typing import Annotated, Any, Callable

import pytest

from ringbolt import App
from ringbolt.fastapi import (Body, Depends, FastAPI, File, Header, HTTPException, Query, Request, UploadFile,
                              WebSocket, WebSocketDisconnect, WebSocketException, status)
from ringbolt.fastapi.exceptions import FastAPIDeprecationWarning, RequestValidationError
from ringbolt.fastapi.middleware.wsgi import WSGIMiddleware
from ringbolt.fastapi.responses import JSONResponse, PlainTextResponse
from ringbolt.fastapi.routing import APIRoute, APIRouter
from ringbolt.fastapi.staticfiles import StaticFiles
from ringbolt.fastapi.testclient import TestClient
from ringbolt.testing import TestClient as RingboltClient


# ---- warnings FastAPI gives ----

def test_on_event_warns_as_fastapi_does_and_still_runs() -> None:
    app = FastAPI()
    ran: list[str] = []
    with pytest.warns(DeprecationWarning, match="on_event is deprecated"):
        @app.on_event("startup")
        def start() -> None:
            ran.append("startup")
    with TestClient(app):
        assert ran == ["startup"]


def test_root_path_in_the_constructor_warns_as_fastapi_does() -> None:
    with pytest.warns(FastAPIDeprecationWarning, match="fastapi run --root-path"):
        app = FastAPI(root_path="/api/v1")

    @app.get("/app")
    def read_main(request: Request) -> dict[str, Any]:
        return {"root_path": request.scope.get("root_path")}

    assert TestClient(app).get("/app").json() == {"root_path": "/api/v1"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FastAPI()  # no root_path: no warning


# ---- exception handlers ----

def handlers_app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(404)
    async def not_found(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"missing": request.url.path, "said": exc.detail}, status_code=404)

    @app.exception_handler(Exception)
    async def anything(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(f"caught {type(exc).__name__}", status_code=500)

    @app.get("/gone")
    def gone() -> None:
        raise HTTPException(404, detail="no such thing")

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(418, detail="short")

    @app.get("/limit")
    def limit(n: Annotated[int, Query(le=3)]) -> int:
        return n

    @app.get("/bug")
    def bug() -> None:
        raise KeyError("x")

    return app


@pytest.mark.parametrize("path, status_code, body", [
    ("/gone", 404, {"missing": "/gone", "said": "no such thing"}),  # by its status code
    ("/teapot", 418, {"detail": "short"}),  # no handler for 418: FastAPI's own, not Exception's
    ("/limit?n=9", 422, None),  # a validation error is not an Exception handler's either
])
def test_exception_handlers_by_status_code_and_class(path: str, status_code: int, body: Any) -> None:
    r = TestClient(handlers_app()).get(path)
    assert r.status_code == status_code, r.text
    if body is not None:
        assert r.json() == body
    else:
        assert r.json()["detail"][0]["type"] == "less_than_equal"


def test_an_exception_handler_takes_what_else_was_raised() -> None:
    r = TestClient(handlers_app(), raise_server_exceptions=False).get("/bug")
    assert (r.status_code, r.text) == (500, "caught KeyError")


@pytest.mark.parametrize("method, path, status_code, body, allow", [
    ("GET", "/nowhere", 404, {"missing": "/nowhere", "said": "Not Found"}, None),  # no route: the 404 handler
    ("POST", "/gone", 405, {"detail": "Method Not Allowed"}, "GET, HEAD"),  # FastAPI's 405, Allow listed
])
def test_a_status_handler_takes_the_routers_own_404(method: str, path: str, status_code: int, body: Any,
                                                     allow: str | None) -> None:
    r = TestClient(handlers_app()).request(method, path)
    assert (r.status_code, r.json(), r.headers.get("allow")) == (status_code, body, allow)


@pytest.mark.parametrize("key", ["404", 99, 3.5, object, True])
def test_an_exception_handler_key_that_is_neither_is_refused(key: Any) -> None:
    with pytest.raises(TypeError, match="exception class or an HTTP status code"):
        FastAPI().add_exception_handler(key, lambda request, exc: None)


# ---- routes, router, url_path_for ----

def test_routes_router_and_url_path_for() -> None:
    app = FastAPI()

    @app.get("/items/{item_id}", tags=["items"])
    def read_item(item_id: int) -> int:
        return item_id

    def listing() -> list[int]:
        return [1]

    app.add_api_route("/items", listing, methods=["GET"], name="all_items")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()

    assert app.router is app
    api = [r for r in app.routes if isinstance(r, APIRoute)]
    assert [(r.path, r.name, r.methods) for r in api] == [("/items/{item_id}", "read_item", {"GET"}),
                                                       ("/items", "all_items", {"GET"})]
    assert api[0].tags == ["items"] and api[0].endpoint is read_item
    assert {r.path for r in app.routes} >= {"/ws", "/openapi.json", "/docs"}
    assert app.url_path_for("read_item", item_id=7) == "/items/7"
    assert app.url_path_for("all_items") == "/items"
    from ringbolt.fastapi.applications import NoMatchFound
    for name, params in (("nope", {}), ("read_item", {}), ("read_item", {"item_id": 1, "x": 2})):
        with pytest.raises(NoMatchFound):
            app.url_path_for(name, **params)
    assert TestClient(app).get("/items").json() == [1]


def check_token(x_token: Annotated[str, Header()]) -> None:
    if x_token != "secret":
        raise HTTPException(400, detail="X-Token header invalid")


def test_include_router_options_apply_to_its_routes() -> None:
    router = APIRouter(prefix="/admin")

    @router.get("/", tags=["own"])
    def admin() -> str:
        return "admin"

    app = FastAPI()
    app.include_router(router, prefix="/v1", tags=["admin"], dependencies=[Depends(check_token)],
                       responses={418: {"description": "I'm a teapot"}})
    client = TestClient(app)
    assert client.get("/v1/admin/", headers={"x-token": "secret"}).json() == "admin"
    r = client.get("/v1/admin/", headers={"x-token": "nope"})
    assert (r.status_code, r.json()) == (400, {"detail": "X-Token header invalid"})
    route = next(r for r in app.routes if isinstance(r, APIRoute))
    assert (route.path, route.tags, route.responses) == ("/v1/admin/", ["admin", "own"],
                                                         {418: {"description": "I'm a teapot"}})
    assert [r.path for r in router.routes if isinstance(r, APIRoute)] == ["/admin/"]  # the router is unchanged


# ---- mounts ----

def test_a_mounted_fastapi_app_answers_under_its_path_as_itself(tmp_path: Path) -> None:
    (tmp_path / "style.css").write_text("p { color: green; }")
    sub = FastAPI()
    sub.mount("/static", StaticFiles(directory=tmp_path), name="static")

    @sub.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"sub handled": str(exc)}, status_code=400)

    @sub.get("/items/{item_id}")
    def item(request: Request, item_id: str) -> dict[str, Any]:
        return {"item": item_id, "root": request.scope["root_path"], "app_is_sub": request.app is sub,
                "self": str(request.url_for("item", item_id=item_id)),
                "css": str(request.url_for("static", path="/style.css"))}

    @sub.get("/bad")
    def bad() -> None:
        raise ValueError("nope")

    main = FastAPI()

    @main.get("/bad")
    def main_bad() -> None:
        raise ValueError("main's")

    main.mount("/sub", sub)
    client = TestClient(main, raise_server_exceptions=False)
    assert client.get("/sub/items/3").json() == {
        "item": "3", "root": "/sub", "app_is_sub": True,
        "self": "http://testserver/sub/items/3", "css": "http://testserver/sub/static/style.css"}
    assert client.get("/sub/static/style.css").text == "p { color: green; }"
    assert (client.get("/sub/bad").status_code, client.get("/sub/bad").json()) == (400, {"sub handled": "nope"})
    assert client.get("/bad").status_code == 500  # the sub-app's handler is its own
    assert client.get("/sub/nothing").json() == {"detail": "Not Found"}
    assert main.url_path_for("item", item_id=1) == "/sub/items/1"


def test_a_mounted_wsgi_app_runs_on_the_wsgi_server() -> None:
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}|{environ.get('QUERY_STRING', '')}".encode()]

    app = FastAPI()

    @app.get("/v2")
    def v2() -> str:
        return "ringbolt"

    app.mount("/v1", WSGIMiddleware(wsgi))
    client = TestClient(app)
    assert client.get("/v1/hello?x=1").text == "/v1|/hello|x=1"
    assert client.get("/v2").json() == "ringbolt"
    r = client.get("/elsewhere")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})


def test_a_mounted_asgi_app_gets_starlettes_mount_scope() -> None:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = json.dumps({"path": scope["path"], "root_path": scope["root_path"]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    app = FastAPI()
    app.mount("/other", asgi)
    client = TestClient(app)
    assert client.get("/other/x/y").json() == {"path": "/other/x/y", "root_path": "/other"}
    assert client.get("/else").status_code == 404
    with pytest.raises(ValueError, match="one kind of mounted app"):
        app.mount("/w", WSGIMiddleware(lambda environ, start_response: []))


# ---- typed WebSocket endpoints ----

def get_token(websocket: WebSocket, token: Annotated[str | None, Query()] = None) -> str:
    if token is None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    return token


def ws_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/items/{item_id}/ws")
    async def endpoint(*, websocket: WebSocket, item_id: str, q: int | None = None,
                       token: Annotated[str, Depends(get_token)]) -> None:
        await websocket.accept()
        await websocket.send_json({"item": item_id, "q": q, "token": token})
        await websocket.close()

    return app


@pytest.mark.parametrize("url, code", [
    ("/items/foo/ws", 1008),  # the dependency's WebSocketException: its code
    ("/items/foo/ws?token=t&q=bar", 1008),  # q is no int: refused with 1008, as FastAPI
])
def test_a_typed_websocket_refused_before_accept(url: str, code: int) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        with TestClient(ws_app()).websocket_connect(url):
            pytest.fail("accepted")  # pragma: no cover
    assert refused.value.code == code


def test_a_typed_websocket_reads_its_parameters_and_dependencies() -> None:
    with TestClient(ws_app()).websocket_connect("/items/foo/ws?token=t&q=3") as ws:
        assert ws.receive_json() == {"item": "foo", "q": 3, "token": "t"}


def test_a_typed_websocket_takes_the_apps_dependency_overrides() -> None:
    app = ws_app()
    app.dependency_overrides[get_token] = lambda: "overridden"
    with TestClient(app).websocket_connect("/items/foo/ws") as ws:
        assert ws.receive_json()["token"] == "overridden"


# ---- the route_class contract ----

class GzipRequest(Request):
    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            body = await super().body()
            if "gzip" in self.headers.getlist("Content-Encoding"):
                body = gzip.decompress(body)
            self._body = body
        return self._body


class GzipRoute(APIRoute):
    def get_route_handler(self) -> Callable[..., Any]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Any:
            return await original(GzipRequest(request.scope, request.receive))
        return handler


class TimedRoute(APIRoute):
    def get_route_handler(self) -> Callable[..., Any]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Any:
            before = time.perf_counter()
            try:
                response = await original(request)
            except RequestValidationError as exc:
                raise HTTPException(422, detail={"errors": len(exc.errors()), "body": (await request.body()).decode()})
            response.headers["X-Response-Time"] = str(time.perf_counter() - before)
            return response
        return handler


def route_class_app() -> FastAPI:
    app = FastAPI()
    app.router.route_class = GzipRoute

    @app.post("/sum")
    async def total(numbers: Annotated[list[int], Body()], request: Request) -> dict[str, Any]:
        return {"sum": sum(numbers), "request": type(request).__name__}

    timed = APIRouter(route_class=TimedRoute)

    @timed.post("/timed")
    def timed_sum(numbers: Annotated[list[int], Body()]) -> int:
        return sum(numbers)

    app.include_router(timed)

    @app.get("/plain")  # registered on the app: GzipRoute, as the app's route_class is now
    def plain() -> str:
        return "plain"

    return app


@pytest.mark.parametrize("compress", [True, False])
def test_a_route_class_handler_serves_its_routes(compress: bool) -> None:
    data = json.dumps([1] * 100).encode()
    headers = {"content-type": "application/json"}
    if compress:
        data, headers["content-encoding"] = gzip.compress(data), "gzip"
    r = TestClient(route_class_app()).post("/sum", content=data, headers=headers)
    assert r.json() == {"sum": 100, "request": "GzipRequest"}


def test_a_route_class_keeps_its_routes_through_include_and_sees_their_errors() -> None:
    client = TestClient(route_class_app())
    r = client.post("/timed", json=[1, 2])
    assert r.json() == 3 and float(r.headers["x-response-time"]) >= 0
    r = client.post("/timed", json={"numbers": [1]})
    assert (r.status_code, r.json()) == (422, {"detail": {"errors": 1, "body": '{"numbers":[1]}'}})
    assert "x-response-time" not in client.get("/plain").headers


def test_a_route_class_overriding_what_ringbolt_plans_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match="overrides APIRoute.matches"):
        class Matching(APIRoute):
            def matches(self, scope: Any) -> Any:  # pragma: no cover
                return None
    with pytest.raises(TypeError, match="subclass of fastapi.routing.APIRoute"):
        FastAPI().router.route_class = dict  # type: ignore[assignment]


# ---- what FastAPI plans and ringbolt once took as the request ----

def test_a_lone_path_parameter_and_a_lone_request_are_planned() -> None:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id):  # type: ignore[no-untyped-def]
        return {"item_id": item_id}

    @app.get("/who")
    def who(request: Request) -> str:
        return type(request).__module__

    client = TestClient(app)
    assert client.get("/items/alice").json() == {"item_id": "alice"}
    assert client.get("/who").json() == "ringbolt.fastapi.requests"


def test_ringbolts_own_app_keeps_def_h_req() -> None:
    app = App()

    @app.get("/r")
    def handler(req):  # type: ignore[no-untyped-def]
        return {"path": req.path}

    with RingboltClient(app) as client:
        assert client.get("/r").json() == {"path": "/r"}


# ---- the app as FastAPI assembles it ----

def test_a_repeated_route_is_kept_and_the_first_answers() -> None:
    app = FastAPI()

    @app.get("/users")
    def first() -> list[str]:
        return ["Rick"]

    @app.get("/users")
    def second() -> list[str]:  # FastAPI registers it; its router never reaches it
        return ["Bean"]

    assert [r.name for r in app.routes if isinstance(r, APIRoute)] == ["first", "second"]
    assert TestClient(app).get("/users").json() == ["Rick"]
    with pytest.raises(ValueError, match="conflicts with"):  # ringbolt's own App still refuses it
        ringbolt_app = App()
        ringbolt_app.get("/users")(first)
        ringbolt_app.get("/users")(second)


def test_middleware_runs_last_added_outermost_and_for_the_document_too() -> None:
    from ringbolt.fastapi.middleware.base import BaseHTTPMiddleware

    app = FastAPI()  # no routes: FastAPI still serves its document
    order: list[str] = []

    @app.middleware("http")
    async def inner(request: Request, call_next: Any) -> Any:
        order.append("inner")
        response = await call_next(request)
        response.headers["x-inner"] = "1"
        return response

    class Outer(BaseHTTPMiddleware):
        def __init__(self, app: Any, label: str) -> None:
            super().__init__(app)
            self.label = label

        async def dispatch(self, request: Request, call_next: Any) -> Any:
            order.append(self.label)
            return await call_next(request)

    app.add_middleware(Outer, label="outer")
    r = TestClient(app).get("/openapi.json")
    assert r.status_code == 200 and r.json()["paths"] == {}
    assert r.headers["x-inner"] == "1" and order == ["outer", "inner"]


@pytest.mark.parametrize("module, says", [
    ("ringbolt.fastapi.dependencies.utils", "plans each route's dependencies once"),
    ("ringbolt.fastapi.middleware.sessions", "ringbolt.sessions"),
    ("ringbolt.fastapi.endpoints", "as functions"),
    ("ringbolt.fastapi.cli", "ringbolt serve"),
])
def test_a_fastapi_module_with_no_sense_here_says_what_to_use(module: str, says: str) -> None:
    import importlib
    with pytest.raises(ModuleNotFoundError, match=says):
        importlib.import_module(module)
    with pytest.raises(ImportError, match="use ringbolt.fastapi.FastAPI"):
        from ringbolt.fastapi.applications import Starlette  # noqa: F401


def test_templates_have_starlettes_url_for(tmp_path: Path) -> None:
    from ringbolt.fastapi.templating import Jinja2Templates

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("b {}")
    (tmp_path / "item.html").write_text("{{ url_for('read_item', id=id) }} {{ url_for('static', path='/app.css').path }}")
    templates = Jinja2Templates(directory=str(tmp_path))
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=tmp_path / "static"), name="static")

    @app.get("/items/{id}")
    def read_item(request: Request, id: str) -> Any:
        return templates.TemplateResponse(request=request, name="item.html", context={"id": id})

    client = TestClient(app, root_path="/api")
    assert client.get("/api/items/7").text == "http://testserver/api/items/7 /api/static/app.css"
    assert client.get("/api/static/app.css").text == "b {}"


def test_ringbolt_serve_root_path_is_the_fastapi_apps() -> None:
    from conftest import ServerProcess
    import http.client

    srv = ServerProcess("fastapi_root_app:app", "--root-path", "/api/v1", "--threads", "1")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/items/7", headers={"Host": "example.com"})  # (the proxy took /api/v1 off)
        body = json.loads(conn.getresponse().read())
        conn.close()
        assert body == {"root_path": "/api/v1", "url_for": "http://example.com/api/v1/items/7"}
    finally:
        assert srv.stop() == 0, srv.output()


def test_fastapis_upload_file_is_released_without_an_unawaited_close() -> None:
    """FastAPI's UploadFile has an async ``close``: the server's clean-up after the answer
    releases the part (its temp file) without calling it, so no coroutine is left
    unawaited (FastAPI's tests turn that warning into an error)."""
    app = FastAPI()
    seen: list[Any] = []

    @app.post("/upload")
    async def upload(file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        seen.append(file)
        return {"name": file.filename, "size": len(await file.read())}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with TestClient(app) as client:
            r = client.post("/upload", files={"file": ("a.txt", b"x" * 10, "text/plain")})
            assert r.json() == {"name": "a.txt", "size": 10}
        import gc
        gc.collect()
    assert seen[0]._closed
