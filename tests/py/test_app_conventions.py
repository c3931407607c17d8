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
