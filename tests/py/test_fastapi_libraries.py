"""What libraries built on FastAPI (strawberry's ``GraphQLRouter``: an APIRouter subclass
with routes of its own) need of ringbolt.fastapi, each over a real socket and compared
with FastAPI itself (the reference: it must be installed): a dependency whose signature
was set by hand (its values go by name), a parameter annotated ``HTTPConnection``, a
dependency whose return annotation names what only a type checker sees,
``response.headers.raw``, ``fastapi.utils.generate_unique_id``, ``fastapi._compat``'s
Pydantic version, a router's ``""`` route under an include prefix; and the one thing
ringbolt refuses, said when it is registered: a WebSocket endpoint and an HTTP GET route
at one path (which GraphQLRouter makes)."""

import inspect
from typing import TYPE_CHECKING, Any

import pytest

import ringbolt.fastapi as rbf

pytest.importorskip("fastapi", reason="FastAPI itself is the reference these answers are compared with")

if TYPE_CHECKING:
    from collections.abc import Sequence as OnlyTyped  # noqa: F401 - a name a type checker sees, never at run time


def make(fastapi: Any, requests: Any, responses: Any) -> Any:
    app = fastapi.FastAPI()
    router = fastapi.APIRouter()

    def getter() -> dict[str, str]:
        return {"who": "getter"}

    # its return annotation names what only a type checker sees
    async def context(custom: Any, connection: Any, tasks: Any) -> "OnlyTyped":  # type: ignore[name-defined]
        return {"custom": custom, "kind": type(connection).__name__, "path": connection.url.path,
                "tasks": type(tasks).__name__}

    sig = inspect.signature(context)  # FastAPI's way of giving a dependency its own parameters
    sig = sig.replace(parameters=[
        sig.parameters["connection"].replace(annotation=requests.HTTPConnection),
        sig.parameters["tasks"].replace(annotation=fastapi.BackgroundTasks),
        sig.parameters["custom"].replace(default=fastapi.Depends(getter)),
    ])
    context.__signature__ = sig  # type: ignore[attr-defined]

    @router.post("")
    async def handle(response: responses.Response, ctx: Any = fastapi.Depends(context)) -> responses.Response:
        response.headers["x-from"] = "temporal"
        out = responses.JSONResponse(ctx)
        out.headers.raw.extend(response.headers.raw)
        out.headers.raw.append((b"x-raw", b"yes"))
        return out

    app.include_router(router, prefix="/graphql")
    return app


@pytest.fixture(scope="module")
def clients() -> Any:
    import fastapi
    import fastapi.requests
    import fastapi.responses
    from fastapi.testclient import TestClient as ReferenceClient

    import ringbolt.fastapi
    import ringbolt.fastapi.requests
    import ringbolt.fastapi.responses
    from ringbolt.fastapi.testclient import TestClient

    ours = make(ringbolt.fastapi, ringbolt.fastapi.requests, ringbolt.fastapi.responses)
    with TestClient(ours) as client:
        yield client, ReferenceClient(make(fastapi, fastapi.requests, fastapi.responses))


def test_a_library_router_route_answers_as_fastapis(clients: Any) -> None:
    ours, reference = clients
    want, got = reference.post("/graphql"), ours.post("/graphql")
    assert got.status_code == want.status_code == 200
    assert got.json() == want.json() == {"custom": {"who": "getter"}, "kind": "Request", "path": "/graphql",
                                         "tasks": "BackgroundTasks"}
    for name in ("x-from", "x-raw"):
        assert got.headers[name] == want.headers[name]
    assert ours.get("/openapi.json").json() == reference.get("/openapi.json").json()


def test_headers_raw_is_starlettes_view() -> None:
    from ringbolt.fastapi.responses import Response

    r = Response(b"", headers={"X-One": "1"})
    assert list(r.headers.raw) == [(b"x-one", b"1")] and len(r.headers.raw) == 1
    r.headers.raw.extend([(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")])
    assert r.headers.getlist("set-cookie") == ["a=1", "b=2"]
    with pytest.raises(ValueError):
        r.headers.raw.append((b"x-bad", b"a\r\nb"))  # checked as any field is


def test_generate_unique_id_and_compat_are_fastapis() -> None:
    import fastapi
    import pydantic
    from fastapi._compat import PYDANTIC_VERSION_MINOR_TUPLE as theirs
    from fastapi.utils import generate_unique_id as reference

    import ringbolt.fastapi
    from ringbolt.fastapi._compat import PYDANTIC_VERSION_MINOR_TUPLE as ours
    from ringbolt.fastapi.utils import generate_unique_id

    assert ours == theirs == tuple(int(x) for x in pydantic.VERSION.split(".")[:2])
    for module, make_id in ((fastapi, reference), (ringbolt.fastapi, generate_unique_id)):
        app = module.FastAPI()

        @app.put("/items/{item_id}")
        def update_item(item_id: int) -> None:
            return None
        route = next(r for r in app.routes if getattr(r, "path", "") == "/items/{item_id}")
        assert make_id(route) == "update_item_items__item_id__put"


@pytest.mark.parametrize("websocket_first", [True, False])
def test_a_websocket_and_a_get_route_at_one_path_are_both_served(websocket_first: bool) -> None:
    """Starlette routes a path's handshakes and plain requests by the scope's type (strawberry's
    GraphQLRouter puts its endpoint and its page at one path): one native target takes the
    path's GETs, a handshake to the endpoint and a plain request to the route, over HTTP/1.1
    and HTTP/2 (h2c)."""
    import httpx

    from ringbolt.fastapi.testclient import TestClient

    app = rbf.FastAPI()
    router = rbf.APIRouter()

    async def ws(websocket: rbf.WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello " + await websocket.receive_text())
        await websocket.close()

    def page(q: str = "") -> dict[str, str]:
        return {"page": q}

    def post() -> dict[str, str]:
        return {"posted": "yes"}
    if websocket_first:
        router.websocket("")(ws)
        router.get("")(page)
    else:
        router.get("")(page)
        router.websocket("")(ws)
    router.post("")(post)
    app.include_router(router, prefix="/graphql")
    with TestClient(app) as client:
        assert client.get("/graphql?q=a").json() == {"page": "a"}
        assert client.post("/graphql").json() == {"posted": "yes"}
        with client.websocket_connect("/graphql") as session:
            session.send_text("you")
            assert session.receive_text() == "hello you"
    from ringbolt.testing import TestClient as Served  # the app on a plain listener, for an h2c client

    with Served(app) as served:
        with httpx.Client(base_url=f"http://127.0.0.1:{served.port}", http1=False, http2=True) as h2:
            r = h2.get("/graphql?q=b")
            assert (r.http_version, r.json()) == ("HTTP/2", {"page": "b"})


def test_paths_alike_but_for_their_names_are_refused_when_registered() -> None:
    app = rbf.FastAPI()

    async def ws(websocket: rbf.WebSocket, room: str) -> None:
        await websocket.accept()

    def page(name: str) -> dict[str, str]:
        return {}
    app.get("/rooms/{name}")(page)
    with pytest.raises(ValueError, match="WebSocket endpoint /rooms/{room} matches the paths of the HTTP GET "
                                         "route /rooms/{name} with other parameter names"):
        app.websocket("/rooms/{room}")(ws)


STRAWBERRY = """
import sys
sys.path.insert(0, sys.argv[1])
import fastapi_swap  # strawberry.fastapi's imports of fastapi and starlette made ringbolt's
import strawberry
from fastapi import FastAPI
from fastapi.testclient import TestClient
from strawberry.fastapi import GraphQLRouter

@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

app = FastAPI()
app.include_router(GraphQLRouter(strawberry.Schema(query=Query)), prefix="/graphql")
with TestClient(app) as client:
    print(client.post("/graphql", json={"query": "{ hello }"}).json())
    page = client.get("/graphql", headers={"Accept": "text/html"})
    print(page.status_code, "graphiql" in page.text.lower())
"""


def test_strawberry_graphql_router_is_served() -> None:
    """Its WebSocket endpoint and its GraphiQL page share the path (in a process of its
    own: the swap changes what ``fastapi`` imports): queries answered, the page served."""
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("strawberry", reason="strawberry-graphql is tools/install-deps.sh's")
    swap = Path(__file__).resolve().parents[1] / "fastapi_tutorial"
    done = subprocess.run([sys.executable, "-c", STRAWBERRY, str(swap)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[:2] == ["{'data': {'hello': 'world'}}", "200 True"], done.stdout


class _PureASGI:
    """An ASGI middleware class (no ``_rb_install``): what ringbolt.fastapi cannot put
    around its planned routes."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.mark.parametrize("attempt,error,match", [
    (lambda: rbf.FastAPI().host("api.example.com", rbf.FastAPI()), TypeError, "routes by path only"),
    (lambda: rbf.FastAPI().add_middleware(_PureASGI), TypeError, "cannot run the ASGI middleware"),
    (lambda: __import__("ringbolt.fastapi.dependencies.utils"), ModuleNotFoundError, "plans each route's dependencies"),
    (lambda: __import__("ringbolt.fastapi.middleware.sessions"), ModuleNotFoundError, "ringbolt's sessions"),
])
def test_what_is_left_is_refused_naming_what_to_do(attempt: Any, error: type[Exception], match: str) -> None:
    """docs/from-fastapi.md, what is left: each refused when it is written, saying why."""
    with pytest.raises(error, match=match):
        attempt()


def test_what_is_left_the_routers_own_404_skips_http_middleware() -> None:
    """docs/from-fastapi.md, what is left: a path no route takes is answered by the
    router natively (FastAPI's 404 body), without the app's ``@app.middleware("http")``,
    which Starlette runs for it too."""
    import fastapi
    from fastapi.testclient import TestClient as Reference

    from ringbolt.fastapi.testclient import TestClient

    def make_app(module: Any) -> Any:
        app = module.FastAPI()

        @app.middleware("http")
        async def mark(request: Any, call_next: Any) -> Any:
            response = await call_next(request)
            response.headers["x-seen"] = "yes"
            return response

        @app.get("/here")
        def here() -> dict[str, str]:
            return {}
        return app

    want = Reference(make_app(fastapi)).get("/nope")
    with TestClient(make_app(rbf)) as client:
        got = client.get("/nope")
        assert client.get("/here").headers["x-seen"] == "yes"
    assert (got.status_code, got.json()) == (want.status_code, want.json()) == (404, {"detail": "Not Found"})
    assert want.headers["x-seen"] == "yes" and "x-seen" not in got.headers


def make_events(module: Any, events: list[str]) -> Any:
    import contextlib

    @contextlib.asynccontextmanager
    async def app_lifespan(app: Any) -> Any:
        events.append("app up")
        yield {"a": "app", "shared": "app"}
        events.append("app down")

    async def router_lifespan(app: Any) -> Any:  # a bare async generator, as FastAPI takes it
        events.append("router up")
        yield {"b": "router", "shared": "router"}
        events.append("router down")

    def inner_lifespan(app: Any) -> Any:  # a sync generator: entered on a thread
        events.append("inner up")
        yield {"c": "inner"}
        events.append("inner down")

    app = module.FastAPI(lifespan=app_lifespan)
    router = module.APIRouter(prefix="/r", lifespan=router_lifespan, on_startup=[lambda: events.append("start")],
                              on_shutdown=[lambda: events.append("stop")])
    inner = module.APIRouter(prefix="/i", lifespan=inner_lifespan)

    @inner.get("/state")
    def state(request: module.Request) -> dict[str, Any]:
        return {k: getattr(request.state, k, None) for k in ("a", "b", "c", "shared")}

    router.include_router(inner)
    app.include_router(router)
    return app


def test_a_routers_lifespan_and_events_run_as_fastapis() -> None:
    """An included router's lifespan (an async or sync generator too) runs nested in the
    app's, its state under the app's, and its on_startup/on_shutdown handlers with the
    app's; the same order of events as FastAPI's."""
    import fastapi
    from fastapi.testclient import TestClient as Reference

    from ringbolt.fastapi.testclient import TestClient

    seen: dict[str, Any] = {}
    for name, module, client_cls in (("fastapi", fastapi, Reference), ("ringbolt", rbf, TestClient)):
        events: list[str] = []
        with client_cls(make_events(module, events)) as client:
            answer = client.get("/r/i/state").json()
        seen[name] = (answer, events)
    assert seen["ringbolt"] == seen["fastapi"]
    assert seen["fastapi"][0] == {"a": "app", "b": "router", "c": "inner", "shared": "app"}


def test_router_routes_argument_is_refused() -> None:
    with pytest.raises(TypeError, match="APIRouter\\(routes=...\\) is not taken"):
        rbf.APIRouter(routes=[rbf.routing.APIRoute("/x", lambda: {})])


@pytest.mark.parametrize("with_lifespan", [True, False])
def test_event_handlers_run_only_without_a_lifespan(with_lifespan: bool) -> None:
    """FastAPI runs the app's lifespan or its event handlers (on_startup=, on_event,
    add_event_handler, an included router's), never both; and an included router's
    lifespan, its handlers when it has none, nested in the app's either way (so without an
    app lifespan FastAPI runs a router's startup handler twice: "d" below). The same here."""
    import contextlib
    import warnings

    import fastapi
    from fastapi.testclient import TestClient as Reference

    from ringbolt.fastapi.testclient import TestClient

    def make(module: Any, events: list[str]) -> Any:
        @contextlib.asynccontextmanager
        async def lifespan(app: Any) -> Any:
            events.append("lifespan up")
            yield
            events.append("lifespan down")

        app = module.FastAPI(lifespan=lifespan if with_lifespan else None, on_startup=[lambda: events.append("a")])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            app.on_event("shutdown")(lambda: events.append("b"))
        app.router.add_event_handler("startup", lambda: events.append("c"))
        app.include_router(module.APIRouter(on_startup=[lambda: events.append("d")]))

        @app.get("/")
        def root() -> dict[str, str]:
            return {}
        return app

    seen = []
    for module, client_cls in ((fastapi, Reference), (rbf, TestClient)):
        events: list[str] = []
        with client_cls(make(module, events)):
            pass
        seen.append(events)
    assert seen[1] == seen[0]
    assert seen[0] == (["lifespan up", "d", "lifespan down"] if with_lifespan else ["a", "c", "d", "d", "b"])
