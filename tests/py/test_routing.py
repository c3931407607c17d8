"""Path converters (str, int, float, uuid, path) and Routers (prefixes, nesting,
include, conflicts), over real sockets; the App-as-ASGI router agrees."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import pytest

from conftest import Reader, ServerProcess, free_port, get, request
from ringbolt import App, Depends, HTTPException, Request, Router
from ringbolt.testing import TestClient

U = "123e4567-e89b-12d3-a456-426614174000"


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("routing_app:app", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


CASES = [
    # int before float before str at one position
    ("/n/5", {"route": "int", "v": ["int", "5"]}),
    ("/n/-5", {"route": "int", "v": ["int", "-5"]}),
    ("/n/5.25", {"route": "float", "v": ["float", "5.25"]}),
    ("/n/-0.5", {"route": "float", "v": ["float", "-0.5"]}),
    ("/n/99999999999999999999", {"route": "float", "v": ["float", "1e+20"]}),
    ("/n/5.", {"route": "str", "v": ["str", "5."]}),
    ("/n/1e3", {"route": "str", "v": ["str", "1e3"]}),
    ("/n/nan", {"route": "str", "v": ["str", "nan"]}),
    ("/n/caf%C3%A9", {"route": "str", "v": ["str", "caf\u00e9"]}),
    ("/f/7", {"route": "float-only", "v": ["float", "7.0"]}),
    ("/f/%31.5", {"route": "float-only", "v": ["float", "1.5"]}),
    ("/u/" + U, {"route": "uuid", "is_uuid": True, "id": ["UUID", U]}),
    ("/u/" + U.upper(), {"route": "uuid", "is_uuid": True, "id": ["UUID", U]}),
    (f"/u/{U}/items/3", {"route": "uuid-items", "id": ["UUID", U], "n": ["int", "3"]}),
    ("/files/a.txt", {"route": "path", "rest": ["str", "a.txt"]}),
    ("/files/css/site/main.css", {"route": "path", "rest": ["str", "css/site/main.css"]}),
    ("/files/dir/", {"route": "path", "rest": ["str", "dir/"]}),
    ("/files/a%2Fb%20c", {"route": "path", "rest": ["str", "a/b c"]}),
    ("/files/index", {"route": "static"}),
    ("/files/index/deeper", {"route": "path", "rest": ["str", "index/deeper"]}),
    ("/s/x", {"route": "str-explicit", "name": ["str", "x"]}),
]


@pytest.mark.parametrize("path, expected", CASES)
def test_converters(srv, path, expected):
    r = get(srv, path)
    assert r.status == 200, r
    assert r.json() == expected


NOT_MATCHING = [
    "/i/abc", "/i/1.5", "/i/99999999999999999999", "/i/", "/i/+1", "/i/1%20",
    "/f/abc", "/f/1.5.5", "/f/1e5", "/f/-", "/f/inf", "/f/.5", "/f/" + "9" * 400,
    "/u/" + U[:-1], "/u/" + U + "0/items/1", "/u/" + U.replace("-", "") + "/items/1", f"/u/{U}/items/x",
    "/files/", "/files", "/files/a/%zz", "/files/%", "/s/",
]


@pytest.mark.parametrize("path", NOT_MATCHING)
def test_values_that_do_not_convert_are_404_problems(srv, path):
    r = get(srv, path)
    assert r.status == 404, r
    assert r.header("content-type") == "application/problem+json"
    body = r.json()
    assert body["status"] == 404 and body["title"] == "Not Found" and body["type"] == "about:blank"
    assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize("path, expected", [
    ("/api/health", {"ok": True}),
    ("/api/v1/things/4", {"thing": 4}),
    ("/api/v1", {"v1": "GET"}),
    ("/a/ping", {"pong": "/a/ping"}),
    ("/b/ping", {"pong": "/b/ping"}),
])
def test_router_prefixes_and_nesting(srv, path, expected):
    r = get(srv, path)
    assert r.status == 200, r
    assert r.json() == expected


def test_router_route_methods_and_405(srv):
    r = request(srv, b"POST /api/v1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert r.status == 200 and r.json() == {"v1": "POST"}
    r = request(srv, b"DELETE /api/v1/things/4 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 405 and r.header("allow") == "GET, HEAD"
    assert r.header("content-type") == "application/problem+json" and r.json()["status"] == 405
    for path in ("/api/things/4", "/v1/things/4", "/api/v1/things/x", "/ping", "/api/v1/"):
        assert get(srv, path).status == 404, path


def test_router_websocket_endpoint_is_registered(srv):
    # A plain request to a WebSocket endpoint: 426 (the endpoint exists under the prefix).
    assert get(srv, "/api/ws").status == 426
    assert get(srv, "/ws").status == 404


async def _ws_handler(ws):  # pragma: no cover - never run
    raise AssertionError


@pytest.mark.parametrize("register, message", [
    (lambda app: (app.get("/x")(lambda r: 1), app.get("/x")(lambda r: 2)), "route GET /x conflicts with GET /x"),
    (lambda app: (app.get("/u/{id}")(lambda r: 1), app.get("/u/{name:str}")(lambda r: 2)),
     "route GET /u/{name:str} conflicts with GET /u/{id}, which matches the same paths"),
    (lambda app: (app.get("/u/{a:int}")(lambda r: 1), app.route("/u/{b:int}", ["POST", "GET"])(lambda r: 2)),
     "route GET /u/{b:int} conflicts"),
    (lambda app: (app.get("/ws")(lambda r: 1), app.websocket("/ws")(_ws_handler)), "route GET /ws conflicts"),
])
def test_conflicting_routes_are_refused_at_registration(register, message):
    app = App()
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        register(app)


def test_conflicts_through_include_are_refused_and_nothing_is_added():
    app = App()
    app.get("/api/items/{id:int}")(lambda r: 1)
    items = Router(prefix="/items")
    items.get("/")(lambda r: 2)
    items.get("/{item_id:int}")(lambda r: 3)
    api = Router(prefix="/api")
    api.include(items)
    with pytest.raises(ValueError, match=r"route GET /api/items/\{item_id:int\} \(from the router with prefix '/api'\)"
                                         r" conflicts with GET /api/items/\{id:int\}"):
        app.include(api)
    assert [d.path for d in app._defs] == ["/api/items/{id:int}"]  # all or nothing
    # Different methods or converters do not conflict.
    app.post("/api/items/{id:int}")(lambda r: 4)
    app.get("/api/items/{id:float}")(lambda r: 5)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Router(prefix="api"), ValueError, "prefix must start with '/'"),
    (lambda: Router(prefix="/api/"), ValueError, "not end with one"),
    (lambda: Router(prefix="/{x}"), ValueError, "cannot hold path parameters"),
    (lambda: Router(prefix=3), TypeError, "prefix must be a str, not int"),
    (lambda: App().include(object()), TypeError, "include\\(\\) takes a ringbolt.Router"),
    (lambda: Router().get("relative"), ValueError, "must start with '/'"),
    (lambda: Router().get("")(lambda r: 1), ValueError, "must start with '/'"),  # no prefix: "" is not a path
    (lambda: Router().middleware(3), TypeError, "middleware must be callable"),
])
def test_router_misuse(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_router_cannot_include_itself():
    r = Router(prefix="/r")
    with pytest.raises(ValueError, match="cannot include itself"):
        r.include(r)


@pytest.mark.parametrize("pattern, message", [
    ("/a/{x:double}", 'unknown parameter type "double"'),
    ("/a/{p:path}/b", "must be the last segment"),
    ("/a/{x:Int}", 'unknown parameter type "Int"'),
])
def test_bad_converters_fail_at_start(pattern, message):
    app = App()
    app.get(pattern)(lambda r: {})
    with pytest.raises(ValueError, match=message):
        app.run(port=free_port(), log_level="warning")


def _asgi_get(app: App, path: str) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [], "http_version": "1.1", "scheme": "http"}
    asyncio.run(app(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture(scope="module")
def routing_module():
    import importlib.util

    from conftest import APPS

    spec = importlib.util.spec_from_file_location("routing_app_asgi", APPS / "routing_app.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path, expected", CASES)
def test_asgi_converters(routing_module, path, expected):
    status, _, body = _asgi_get(routing_module.app, path.split("?")[0])
    assert status == 200, body
    assert json.loads(body) == expected


@pytest.mark.parametrize("path", ["/i/abc", "/f/1e5", "/u/" + U[:-1], "/files/", "/nope"])
def test_asgi_not_matching_is_a_404_problem(routing_module, path):
    status, headers, body = _asgi_get(routing_module.app, path)
    assert status == 404 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 404


def _doc_blocks() -> list[str]:
    from conftest import REPO

    text = (REPO / "docs" / "routing.md").read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


@pytest.mark.parametrize("index", range(len(_doc_blocks())))
def test_docs_examples_register_and_build(index):
    """Every Python example of docs/routing.md runs and its pipelines build."""
    namespace: dict = {"__name__": f"routing_doc_{index}"}
    exec(compile(_doc_blocks()[index], f"docs/routing.md[{index}]", "exec"), namespace)
    app = namespace["app"]
    assert isinstance(app, App) and app._resolved_routes()


def test_params_of_earlier_requests_do_not_carry_over(srv):
    # Pipelined writes put many requests in one batch, and batches reuse the same entries:
    # each request sees exactly its own route parameters (two, one, none, and back), never
    # a previous request's, in any order and over many rounds.
    shapes = [
        (f"/u/{U}/items/7", {"route": "uuid-items", "id": ["UUID", U], "n": ["int", "7"]}),
        ("/files/index", {"route": "static"}),
        ("/n/-3", {"route": "int", "v": ["int", "-3"]}),
        ("/files/x/y", {"route": "path", "rest": ["str", "x/y"]}),
        ("/api/v1", {"v1": "GET"}),
        ("/s/abc", {"route": "str-explicit", "name": ["str", "abc"]}),
    ]
    with srv.connect() as s:
        reader = Reader(s)
        for round_ in range(12):
            order = shapes[round_ % len(shapes):] + shapes[: round_ % len(shapes)]
            if round_ % 2:
                order.reverse()
            order = order * 3
            s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: test\r\n\r\n".encode() for p, _ in order))
            for path, expected in order:
                r = reader.read()
                assert r.status == 200, (path, r)
                assert r.json() == expected, (round_, path, r.body)


# ---- dependencies of routers, nested (issue 63 item 2) ----

def _trail() -> list[str]:
    return []  # one per request (use_cache): each guard adds its name, the handler returns it


def _guard(name: str) -> Any:
    """A dependency that needs ``x-pass-<name>: 1`` (else 401) and notes its name."""
    def check(req: Request, trail: Annotated[list[str], Depends(_trail)]) -> None:
        trail.append(name)
        if req.header(f"x-pass-{name}") != "1":
            raise HTTPException(401, detail=f"{name} refused")
    check.__name__ = f"guard_{name}"
    return Depends(check)


def _nested_app() -> App:
    app = App()

    def leaf(prefix: str, **router: Any) -> Router:
        r = Router(prefix=prefix, **router)

        @r.get("/typed")
        def typed(trail: Annotated[list[str], Depends(_trail)]) -> dict[str, list[str]]:
            return {"trail": trail}

        @r.get("/own", dependencies=[_guard("own")])
        def own(trail: Annotated[list[str], Depends(_trail)]) -> dict[str, list[str]]:
            return {"trail": trail}

        @r.get("/plain")
        def plain(req: Request) -> dict[str, bool]:
            return {"plain": True}
        return r

    # outer guarded, inner not: what the issue found (routes registered on inner first)
    outer = Router(prefix="/a", dependencies=[_guard("outer")])
    outer.include(leaf("/inner"))
    app.include(outer)
    # both guarded, the route's own after them: outermost first
    outer = Router(prefix="/b", dependencies=[_guard("outer")])
    outer.include(leaf("/inner", dependencies=[_guard("inner")]))
    app.include(outer)
    # three levels, the middle one without dependencies, and an include prefix
    top = Router(prefix="/c", dependencies=[_guard("top")])
    middle = Router(prefix="/m")
    middle.include(leaf("/inner", dependencies=[_guard("inner")]), prefix="/v2")
    top.include(middle)
    app.include(top)
    # one router included under a guarded router and, as it is, under an open one
    shared = leaf("/shared")
    guarded = Router(prefix="/d", dependencies=[_guard("outer")])
    guarded.include(shared)
    app.include(guarded)
    app.include(shared)
    return app


NESTED = [
    # (path, headers passed, status, trail on 200 / detail on 401)
    ("/a/inner/typed", [], 401, "outer refused"),
    ("/a/inner/plain", [], 401, "outer refused"),
    ("/a/inner/own", ["own"], 401, "outer refused"),
    ("/a/inner/typed", ["outer"], 200, ["outer"]),
    ("/a/inner/plain", ["outer"], 200, None),
    ("/a/inner/own", ["outer", "own"], 200, ["outer", "own"]),
    ("/b/inner/typed", ["inner"], 401, "outer refused"),
    ("/b/inner/typed", ["outer"], 401, "inner refused"),
    ("/b/inner/typed", ["outer", "inner"], 200, ["outer", "inner"]),
    ("/b/inner/own", ["outer", "inner"], 401, "own refused"),
    ("/b/inner/own", ["outer", "inner", "own"], 200, ["outer", "inner", "own"]),
    ("/c/m/v2/inner/typed", ["inner"], 401, "top refused"),
    ("/c/m/v2/inner/plain", ["inner"], 401, "top refused"),
    ("/c/m/v2/inner/typed", ["top", "inner"], 200, ["top", "inner"]),
    ("/d/shared/typed", [], 401, "outer refused"),
    ("/d/shared/typed", ["outer"], 200, ["outer"]),
    ("/shared/typed", [], 200, []),  # the same router included where nothing guards it
    ("/shared/plain", [], 200, None),
]


@pytest.fixture(scope="module")
def nested():
    with TestClient(_nested_app()) as client:
        yield client


@pytest.mark.parametrize("path, passed, status, expected", NESTED)
def test_router_dependencies_guard_every_router_included_into_it(nested, path, passed, status, expected):
    r = nested.get(path, headers={f"x-pass-{name}": "1" for name in passed})
    assert r.status_code == status, r.text
    if status == 401:
        assert r.json()["detail"] == expected
    elif expected is not None:
        assert r.json() == {"trail": expected}


def test_the_order_is_fastapis():
    """The same nesting under FastAPI calls the dependencies in the order ringbolt does."""
    import fastapi
    from fastapi.testclient import TestClient as FastAPIClient

    calls: list[str] = []

    def mark(name: str) -> Any:
        def dep() -> None:
            calls.append(name)
        return fastapi.Depends(dep)

    app = fastapi.FastAPI()
    outer = fastapi.APIRouter(dependencies=[mark("outer")])
    inner = fastapi.APIRouter(dependencies=[mark("inner")])
    inner.add_api_route("/x", lambda: {}, dependencies=[mark("own")])
    outer.include_router(inner)
    app.include_router(outer)
    assert FastAPIClient(app).get("/x").status_code == 200
    assert calls == ["outer", "inner", "own"] == NESTED[10][3]


@pytest.mark.parametrize("register, message", [
    (lambda r: r.get("/c", const=True)(lambda req: 1), "a const route is answered natively"),
    (lambda r: r.websocket("/ws")(_ws_handler), "a WebSocket endpoint does not run dependencies"),
])
def test_a_route_that_cannot_run_router_dependencies_is_refused(register, message):
    with pytest.raises(ValueError, match=message):
        register(Router(prefix="/g", dependencies=[_guard("g")]))
    # registered on an open router, then included into a guarded one: refused there,
    # and nothing of that router is added
    inner = Router(prefix="/inner")
    inner.get("/fine")(lambda req: 1)
    register(inner)
    outer = Router(prefix="/g", dependencies=[_guard("g")])
    with pytest.raises(ValueError, match=message):
        outer.include(inner)
    assert outer._defs == []


def test_a_const_route_with_dependencies_is_refused():
    with pytest.raises(ValueError, match="a const route is answered natively, without dependencies="):
        App().get("/c", const=True, dependencies=[_guard("g")])(lambda req: 1)
