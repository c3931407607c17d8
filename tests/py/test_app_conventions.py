"""App(conventions=...): the answers the router gives itself (404, 405, the trailing
slash redirect) in ringbolt's conventions (RFC 9457 problems, no redirect) or FastAPI's
(Starlette's ``{"detail": ...}`` bodies, 307 to the path's twin with its trailing slash
toggled), natively, over HTTP/1.1 and HTTP/2 (h2c prior knowledge)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ringbolt import App
from ringbolt.testing import TestClient


def make_app(conventions: str, redirect_slashes: bool | None = None) -> App:
    app = App(conventions=conventions)
    if redirect_slashes is not None:
        app.redirect_slashes = redirect_slashes

    @app.get("/items/")
    def items(req: Any) -> Any:
        return {"items": [], "query": req.query_string}

    @app.get("/users")
    def users(req: Any) -> Any:
        return {"users": []}

    @app.route("/users/{uid}/", ["PUT"])
    def put_user(req: Any) -> Any:
        return {"put": req.params["uid"]}

    @app.get("/")
    def root(req: Any) -> Any:
        return {"root": True}

    return app


PROTOCOLS = {"h1": {"http1": True, "http2": False}, "h2c": {"http1": False, "http2": True}}


@pytest.fixture(params=list(PROTOCOLS))
def protocol(request: pytest.FixtureRequest) -> dict[str, bool]:
    return PROTOCOLS[request.param]


def get(app: App, protocol: dict[str, bool], method: str, target: str) -> httpx.Response:
    with TestClient(app) as tc:
        with httpx.Client(base_url=f"http://127.0.0.1:{tc.port}", follow_redirects=False, timeout=10,
                          **protocol) as c:
            return c.request(method, target)


@pytest.mark.parametrize(("method", "target", "status", "body", "allow"), [
    ("GET", "/nothing", 404, {"detail": "Not Found"}, None),
    ("POST", "/users", 405, {"detail": "Method Not Allowed"}, "GET, HEAD"),
    ("DELETE", "/items/", 405, {"detail": "Method Not Allowed"}, "GET, HEAD"),
])
def test_fastapi_error_bodies(protocol: dict[str, bool], method: str, target: str, status: int, body: Any,
                              allow: str | None) -> None:
    r = get(make_app("fastapi"), protocol, method, target)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert r.json() == body
    assert r.headers.get("allow") == allow


def test_ringbolt_error_bodies_unchanged(protocol: dict[str, bool]) -> None:
    r = get(make_app("ringbolt"), protocol, "GET", "/nothing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "No route matches this path."
    r = get(make_app("ringbolt"), protocol, "GET", "/items")
    assert r.status_code == 404  # no redirect in ringbolt's conventions


@pytest.mark.parametrize(("method", "target", "location"), [
    ("GET", "/items", "/items/"),  # the route ends in a slash, the request does not
    ("GET", "/items?x=1&y=2", "/items/?x=1&y=2"),  # the query goes with it
    ("GET", "/users/", "/users"),  # the other way round
    ("POST", "/items", "/items/"),  # any method: the twin's route then answers 405
    ("PUT", "/users/7", "/users/7/"),  # a path parameter's segment
])
def test_fastapi_redirects_to_the_slash_twin(protocol: dict[str, bool], method: str, target: str,
                                             location: str) -> None:
    app = make_app("fastapi")
    with TestClient(app) as tc:
        with httpx.Client(base_url=f"http://127.0.0.1:{tc.port}", follow_redirects=False, timeout=10,
                          **protocol) as c:
            r = c.request(method, target)
            assert r.status_code == 307
            assert r.headers["location"] == f"http://127.0.0.1:{tc.port}{location}"
            assert r.content == b""
            followed = c.request(method, r.headers["location"])
            assert followed.status_code == (405 if method == "POST" else 200)


# Behind a trusted proxy the redirect names the origin the client used, as the app's own
# URLs do (req.url, an ASGI app's scheme and Host): a TLS-terminating proxy's client is
# sent to https, not to the proxy's http hop. An untrusted peer's headers change nothing.
@pytest.mark.parametrize(("allow", "forwarded", "origin"), [
    ("127.0.0.1", {"x-forwarded-proto": "https"}, "https://{host}"),
    ("127.0.0.1", {"x-forwarded-proto": "https", "x-forwarded-host": "shop.example"}, "https://shop.example"),
    ("127.0.0.1", {"forwarded": "proto=https;host=shop.example"}, "https://shop.example"),
    ("127.0.0.1", {"x-forwarded-proto": "http"}, "http://{host}"),
    ("10.0.0.1", {"x-forwarded-proto": "https", "x-forwarded-host": "shop.example"}, "http://{host}"),
])
def test_the_slash_redirect_behind_a_proxy(protocol: dict[str, bool], allow: str, forwarded: dict[str, str],
                                           origin: str) -> None:
    with TestClient(make_app("fastapi"), proxy_headers=True, forwarded_allow_ips=allow) as tc:
        port = tc.port
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False, timeout=10,
                          **protocol) as c:
            r = c.get("/items?x=1", headers=forwarded)
    assert r.status_code == 307
    assert r.headers["location"] == origin.format(host=f"127.0.0.1:{port}") + "/items/?x=1"


@pytest.mark.parametrize("target", ["/nothing", "/nothing/", "/items/extra"])
def test_no_twin_no_redirect(protocol: dict[str, bool], target: str) -> None:
    r = get(make_app("fastapi"), protocol, "GET", target)
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_redirect_slashes_off(protocol: dict[str, bool]) -> None:
    r = get(make_app("fastapi", redirect_slashes=False), protocol, "GET", "/items")
    assert r.status_code == 404


def test_redirect_on_in_ringbolt_conventions(protocol: dict[str, bool]) -> None:
    r = get(make_app("ringbolt", redirect_slashes=True), protocol, "GET", "/items")
    assert r.status_code == 307


def test_unknown_conventions_refused() -> None:
    with pytest.raises(ValueError, match="conventions must be 'ringbolt' or 'fastapi'"):
        App(conventions="django")


def errors_app(conventions: str) -> App:
    from ringbolt import HTTPException

    app = App(conventions=conventions)

    @app.get("/missing/{n}")
    def missing(n: int) -> Any:
        raise HTTPException(404, detail={"item": n}, headers={"X-Why": "gone"})

    @app.get("/empty")
    def empty() -> Any:
        raise HTTPException(204)

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("a bug")

    return app


@pytest.mark.parametrize(("target", "status", "ctype", "body"), [
    ("/missing/7", 404, "application/json", b'{"detail":{"item":7}}'),
    ("/missing/x", 422, "application/json", None),  # FastAPI's {"detail": [...]}
    ("/empty", 204, None, b""),
    ("/boom", 500, "text/plain; charset=utf-8", b"Internal Server Error"),
])
def test_fastapi_error_answers(protocol: dict[str, bool], target: str, status: int, ctype: str | None,
                               body: bytes | None) -> None:
    r = get(errors_app("fastapi"), protocol, "GET", target)
    assert r.status_code == status
    assert r.headers.get("content-type") == ctype
    if body is not None:
        assert r.content == body
    else:
        assert r.json() == {"detail": [{"type": "int_parsing", "loc": ["path", "n"],
                                        "msg": "Input should be a valid integer, unable to parse string as an integer",
                                        "input": "x"}]}
    if target == "/missing/7":
        assert r.headers["x-why"] == "gone"


def test_ringbolt_error_answers_stay_problems(protocol: dict[str, bool]) -> None:
    app = errors_app("ringbolt")
    r = get(app, protocol, "GET", "/missing/7")
    assert (r.status_code, r.headers["content-type"]) == (404, "application/problem+json")
    assert r.json()["detail"] == {"item": 7}
    r = get(app, protocol, "GET", "/missing/x")
    assert (r.status_code, r.headers["content-type"]) == (422, "application/problem+json")
    r = get(app, protocol, "GET", "/boom")
    assert (r.status_code, r.headers["content-type"]) == (500, "application/problem+json")


def returns_app(conventions: str) -> App:
    import dataclasses
    import datetime

    import pydantic

    class Item(pydantic.BaseModel):
        name: str
        price: float = 1.5

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    app = App(conventions=conventions)
    values: dict[str, Any] = {
        "str": "hello", "none": None, "int": 5, "model_in_dict": {"item": Item(name="a")},
        "models": [Item(name="b", price=2)], "timedelta": datetime.timedelta(minutes=1),
        "set": {3}, "dataclass": Point(1, 2), "bytes_in_list": [b"raw"],
    }
    for name, value in values.items():
        app.get(f"/{name}")(_returning(value))
    return app


def _returning(value: Any) -> Any:
    def handler() -> Any:
        return value
    return handler


@pytest.mark.parametrize(("name", "body"), [
    ("str", '"hello"'), ("none", "null"), ("int", "5"), ("model_in_dict", '{"item":{"name":"a","price":1.5}}'),
    ("models", '[{"name":"b","price":2.0}]'), ("timedelta", "60.0"), ("set", "[3]"), ("dataclass", '{"x":1,"y":2}'),
    ("bytes_in_list", '["raw"]'),
])
def test_fastapi_encodes_every_return_as_json(name: str, body: str) -> None:
    r = get(returns_app("fastapi"), PROTOCOLS["h1"], "GET", f"/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.text == body


@pytest.mark.parametrize(("name", "status", "ctype"), [("str", 200, "text/plain; charset=utf-8"), ("none", 204, None)])
def test_ringbolt_return_rules_unchanged(name: str, status: int, ctype: str | None) -> None:
    r = get(returns_app("ringbolt"), PROTOCOLS["h1"], "GET", f"/{name}")
    assert r.status_code == status
    assert r.headers.get("content-type") == ctype


def test_fastapi_plans_a_lone_unannotated_parameter() -> None:
    """FastAPI has no plain ``def h(req)`` handler: a lone unannotated parameter is a path
    or query value (ringbolt's own App keeps calling such a handler with the request)."""
    from ringbolt.fastapi import APIRouter, FastAPI

    app = FastAPI()
    router = APIRouter()

    @app.get("/items/{item_id}")
    def read_item(item_id):  # type: ignore[no-untyped-def]
        return {"item_id": item_id}

    @router.get("/search")
    def search(q):  # type: ignore[no-untyped-def]
        return {"q": q}

    app.include_router(router)
    with TestClient(app) as tc:
        with httpx.Client(base_url=f"http://127.0.0.1:{tc.port}", timeout=10) as c:
            assert c.get("/items/foo").json() == {"item_id": "foo"}
            assert c.get("/search?q=x").json() == {"q": "x"}
            r = c.get("/search")
            assert r.status_code == 422
            assert r.json()["detail"][0]["loc"] == ["query", "q"]
