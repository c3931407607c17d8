"""Python middleware over real sockets: registration order, short-circuits, changed
responses, sync and async, per-router scope, failures (a middleware that raises, or
returns something that is not a Response), and misuse refused at start-up."""

from __future__ import annotations

import pytest

from conftest import ServerProcess, free_port, get, request
from ringbolt import App, Response, Router


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("middleware_app:app", "--threads", "1")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def asrv():
    s = ServerProcess("middleware_async_app:app", "--threads", "1")
    yield s
    s.stop()


def headers(r, name):
    return [v for k, v in r.headers if k.lower() == name]


def test_order_first_registered_is_outermost(srv):
    r = get(srv, "/hello")
    assert r.status == 200 and r.json() == {"hello": "world"}
    assert r.header("content-type") == "application/json"
    # inner appended its trace first; outer saw it in call_next's response
    assert headers(r, "x-trace") == ["inner", "outer>inner"]
    assert r.header("x-outer") == "1"
    assert float(r.header("x-time-ms")) >= 0


@pytest.mark.parametrize("path, status, body, ctype", [
    ("/status", 201, b"created", "text/plain; charset=utf-8"),  # inner changed the status
    ("/tuple", 202, b"tuple body", "text/plain; charset=utf-8"),
    ("/none", 204, b"", None),
])
def test_handler_return_values_become_responses(srv, path, status, body, ctype):
    r = get(srv, path)
    assert r.status == status and r.body == body
    assert r.header("content-type") == ctype
    assert r.header("x-outer") == "1"
    if path == "/tuple":
        assert r.header("x-handler") == "yes"


@pytest.mark.parametrize("who, status, body", [
    ("outer", 403, {"short": "outer"}),
    ("inner", 401, "short by inner"),
])
def test_short_circuit(srv, who, status, body):
    r = get(srv, "/hello", f"X-Short: {who}\r\n")
    assert r.status == status
    assert (r.json() if isinstance(body, dict) else r.body.decode()) == body
    if who == "inner":
        assert r.header("x-outer") == "1"  # outer still wraps inner's answer
    else:
        assert r.header("x-outer") is None


def test_http_error_in_handler_is_a_problem_middleware_sees(srv):
    r = get(srv, "/http-error")
    assert r.status == 404 and r.header("content-type") == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such thing"}
    assert r.header("x-outer") == "1"


def test_http_error_in_middleware(srv):
    r = get(srv, "/raise-in-mw")
    assert r.status == 409 and r.json()["detail"] == "refused by middleware"
    assert r.header("content-type") == "application/problem+json"


@pytest.mark.parametrize("path", ["/crash", "/bug-in-mw", "/wrong-type"])
def test_failures_are_500_problems_and_logged(srv, path):
    r = get(srv, path)
    assert r.status == 500 and r.header("content-type") == "application/problem+json"
    body = r.json()
    assert body["status"] == 500 and "bug" not in r.body.decode() and "Traceback" not in r.body.decode()
    assert get(srv, "/hello").status == 200  # the server goes on


def test_wrong_type_is_named_in_the_log(srv):
    assert get(srv, "/wrong-type").status == 500
    srv.stop()
    out = srv.output()
    assert "middleware outer returned dict, not a Response" in out
    assert "RuntimeError: middleware bug" in out
    assert "ValueError: handler bug" in out


def test_const_routes_bypass_middleware():
    s = ServerProcess("middleware_app:app", "--threads", "1")
    try:
        r = get(s, "/const")
        assert r.status == 200 and r.json() == {"const": True} and r.header("x-outer") is None
    finally:
        s.stop()


def test_router_middleware_applies_only_to_its_routes():
    s = ServerProcess("middleware_app:app", "--threads", "1")
    try:
        r = get(s, "/api/data")
        assert r.status == 401 and r.json() == {"error": "no key"}
        assert r.header("x-outer") == "1"  # app middleware wraps the router's
        r = get(s, "/api/data", "X-Api-Key: k\r\n")
        assert r.status == 200 and r.json() == {"data": 1} and r.header("x-api") == "checked"
        assert headers(r, "x-trace") == ["inner", "outer>inner"]
        r = get(s, "/hello", "X-Api-Key: k\r\n")
        assert r.header("x-api") is None
    finally:
        s.stop()


def test_async_router_middleware_inside_async_app_middleware(asrv):
    r = get(asrv, "/admin/stats")
    assert r.status == 401 and r.json() == {"error": "unauthorized"}
    assert r.header("x-async-mw") == "1"
    r = get(asrv, "/admin/stats", "Authorization: Bearer secret\r\n")
    assert r.status == 200 and r.json() == {"stats": 1} and r.header("x-admin") == "checked"
    r = get(asrv, "/admin/sync", "Authorization: Bearer secret\r\n")
    assert r.status == 200 and r.json() == {"sync": "under async middleware"}
    r = get(asrv, "/sync", "Authorization: Bearer secret\r\n")
    assert r.header("x-admin") is None


def test_middleware_app_over_sync_and_async_routes(asrv):
    for path, kind in (("/sync", "sync"), ("/async", "async")):
        r = get(asrv, path)
        assert r.status == 200 and r.json() == {"kind": kind} and r.header("x-async-mw") == "1"
    r = get(asrv, "/short")
    assert r.status == 418 and r.body == b"short"
    r = get(asrv, "/wrong")
    assert r.status == 500 and r.header("content-type") == "application/problem+json"
    # pipelined requests keep their order through the async pipeline
    with asrv.connect() as sock:
        sock.sendall(b"GET /async HTTP/1.1\r\nHost: t\r\n\r\nGET /sync HTTP/1.1\r\nHost: t\r\n\r\n")
        from conftest import Reader

        rd = Reader(sock)
        assert rd.read().json() == {"kind": "async"}
        assert rd.read().json() == {"kind": "sync"}


def test_no_middleware_for_404_and_405(asrv):
    r = get(asrv, "/nope")
    assert r.status == 404 and r.header("x-async-mw") is None
    r = request(asrv, b"DELETE /sync HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 405 and r.header("x-async-mw") is None


def test_sync_middleware_around_an_async_route_is_refused_at_start():
    app = App()

    @app.middleware
    def sync_mw(req, call_next):
        return call_next(req)

    @app.get("/a")
    async def a(req):
        return {}

    with pytest.raises(TypeError, match="middleware .*sync_mw is a plain def, but route /a runs on the event loop"):
        app.run(port=free_port(), log_level="warning")


def test_async_exception_handler_with_sync_route_is_refused_at_start():
    app = App()

    @app.exception_handler(ValueError)
    async def handler(req, exc):
        return {}

    app.get("/s")(lambda req: {})
    with pytest.raises(TypeError, match="exception handler .*handler is an async def, but route /s is sync"):
        app.run(port=free_port(), log_level="warning")


def test_router_middleware_added_after_include_still_applies():
    from ringbolt.routing import ErrorPolicy, build_pipeline

    app = App()
    r = Router(prefix="/r")
    r.get("/x")(lambda req: {"x": 1})
    app.include(r)
    seen = []

    @r.middleware
    def late(req, call_next):
        seen.append(req)
        return call_next(req)

    (path, _, fn, _, is_async, _), = app._resolved_routes()
    assert path == "/r/x" and not is_async
    resp = fn("REQ")
    assert seen == ["REQ"] and isinstance(resp, Response) and resp.body == {"x": 1}
    # With nothing registered the handler is registered as it is (no cost per request).
    plain = App()
    handler = plain.get("/p")(lambda req: {})
    assert plain._resolved_routes()[0][2] is handler
    assert build_pipeline("/p", handler, [], ErrorPolicy({}, False)) == (handler, False)


def test_a_const_route_behind_router_middleware_is_refused_at_start():
    """A const route is answered natively and never runs middleware: behind a router's
    middleware (a guard such as csrf.middleware or an auth check) it would skip it, so the
    app refuses to start, naming the middleware (issue 63: a shortcut may skip work, never a
    check). Outside the router the same const route is served."""
    from ringbolt import App, Router
    from ringbolt.testing import TestClient

    def guard(req, call_next):
        return Response({"refused": True}, 401)

    app = App()
    api = Router(prefix="/api")
    api.middleware(guard)

    @api.get("/const", const=True)
    def const(req):
        return {"const": True}

    app.include(api)
    with pytest.raises(RuntimeError) as info:
        with TestClient(app):
            pass
    assert "would skip its router's middleware" in str(info.value.__cause__) and "guard" in str(info.value.__cause__)

    app2 = App()
    app2.middleware(guard)  # app-level middleware: a const route bypasses it, as documented

    @app2.get("/const", const=True)
    def const2(req):
        return {"const": True}

    with TestClient(app2) as client:
        assert client.get("/const").json() == {"const": True}
