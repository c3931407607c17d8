"""One error format (RFC 9457 application/problem+json) over real sockets: unknown
routes, 405, req.json() errors, validation errors, HTTPError, unhandled exceptions
(no traceback unless debug), exception handlers (most specific wins); and App.run
refusing unknown options by name."""

from __future__ import annotations

import pytest

from conftest import ServerProcess, free_port, get, request
from ringbolt import App, HTTPError, ValidationError

PROBLEM = "application/problem+json"


def post(srv, path, body: bytes, ctype="application/json"):
    return request(srv, f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def assert_problem(r, status, detail=None):
    assert r.status == status, r
    assert r.header("content-type") == PROBLEM, r
    body = r.json()
    assert body["status"] == status and isinstance(body["title"], str) and body["title"]
    assert body["type"] == "about:blank" or body["type"].startswith("https://")
    assert "detail" in body
    if detail is not None:
        assert detail in body["detail"], body
    return body


@pytest.fixture(scope="module", params=["errors_app:app", "errors_plain_app:app"])
def srv(request):
    # errors_app has exception handlers (a Python pipeline); errors_plain_app none
    # (errors answered natively): both speak the same format.
    s = ServerProcess(request.param, "--threads", "1")
    yield s
    s.stop()


def test_unknown_route_and_405(srv):
    body = assert_problem(get(srv, "/no/such/route"), 404)
    assert body == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No route matches this path."}
    r = request(srv, b"DELETE /ok HTTP/1.1\r\nHost: t\r\n\r\n")
    assert_problem(r, 405)
    assert r.header("allow") == "GET, HEAD"
    r = request(srv, b"HEAD /no/such/route HTTP/1.1\r\nHost: t\r\n\r\n", head_request=True)
    assert r.status == 404 and r.header("content-type") == PROBLEM and r.body == b""


@pytest.mark.parametrize("body, detail", [
    (b"{bad json", "Invalid JSON body"),
    (b'{"a": 1,}', "Invalid JSON body"),
    (b"", "the request has no body"),
    (b"[1, 2", "Invalid JSON body"),
    (b"\xff\xfe", "Invalid JSON body"),
])
def test_invalid_json_is_400_naming_the_error(srv, body, detail):
    r = post(srv, "/json", body)
    problem = assert_problem(r, 400, detail)
    assert problem["title"] == "Bad Request"
    assert post(srv, "/json", b'{"a": [1, 2]}').json() == {"got": {"a": [1, 2]}}


def test_http_error(srv):
    r = get(srv, "/http-error")
    body = assert_problem(r, 404, "no such item")
    assert body == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such item"}


@pytest.mark.parametrize("path", ["/crash", "/async-crash"])
def test_unhandled_exception_is_500_without_traceback(srv, path):
    r = get(srv, path)
    body = assert_problem(r, 500)
    text = r.body.decode()
    assert "secret internals" not in text and "Traceback" not in text and "traceback" not in body
    assert get(srv, "/ok").json() == {"ok": True}


@pytest.fixture(scope="module")
def hsrv():
    s = ServerProcess("errors_app:app", "--threads", "1")
    yield s
    s.stop()


def test_http_error_with_type_title_headers_and_extensions(hsrv):
    r = get(hsrv, "/typed-error")
    assert r.status == 409 and r.header("content-type") == PROBLEM
    assert r.json() == {"type": "https://example.com/probs/conflict", "title": "Conflict!", "status": 409,
                        "detail": "version conflict", "current": 3}
    r = get(hsrv, "/http-error")
    assert r.header("x-why") == "gone"


@pytest.mark.parametrize("body, status", [
    (b'{"name": "x"}', 200),
    (b'{"name": 3}', 422),
    (b"[]", 422),
    (b"{}", 422),
])
def test_validation_errors(hsrv, body, status):
    r = post(hsrv, "/validate", body)
    if status == 200:
        assert r.json() == {"name": "x"}
        return
    problem = assert_problem(r, 422, "name is required")
    assert problem["title"] == "Unprocessable Content"
    assert problem["errors"] == [{"loc": ["body", "name"], "msg": "required str"}]


@pytest.mark.parametrize("path, status, body", [
    ("/domain", 422, {"domain": "DomainError", "msg": "rule broken"}),
    ("/missing", 404, {"missing": "item 7", "path": "/missing"}),  # the subclass's handler wins
])
def test_exception_handlers_most_specific_wins(hsrv, path, status, body):
    r = get(hsrv, path)
    assert r.status == status and r.json() == body


def test_failing_exception_handler_is_a_500(hsrv):
    r = get(hsrv, "/keyerror")
    assert_problem(r, 500)
    assert "the exception handler itself fails" not in r.body.decode()


def test_debug_puts_the_traceback_in_the_problem():
    s = ServerProcess("errors_debug_app:app", "--threads", "1")
    try:
        for path, message in (("/crash", "visible in debug"), ("/async-crash", "visible in debug (async)")):
            r = get(s, path)
            body = assert_problem(r, 500)
            assert body["detail"] == f"RuntimeError: {message}"
            assert "Traceback (most recent call last)" in body["traceback"] and message in body["traceback"]
    finally:
        s.stop()
    assert "RuntimeError: visible in debug" in s.output()  # and it is logged


def test_exception_handler_misuse():
    app = App()
    with pytest.raises(TypeError, match="takes an exception class"):
        app.exception_handler("ValueError")
    app.exception_handler(ValueError)(lambda req, exc: {})
    with pytest.raises(ValueError, match="already registered"):
        app.exception_handler(ValueError)(lambda req, exc: {})
    with pytest.raises(TypeError, match="debug must be True or False"):
        App(debug="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("options, message", [
    ({"max_body_sise": 10}, "unknown option 'max_body_sise'; did you mean 'max_body_size'?"),
    ({"keepalive_timeout": 5}, "did you mean 'keep_alive_timeout'?"),
    ({"buffer_count": 8}, "unknown option 'buffer_count'"),  # internal knobs are not options
    ({"output_high_water": 1}, "unknown option 'output_high_water'"),
    ({"zzz": 1}, "unknown option 'zzz' \\(known options: access_log,"),
])
def test_app_run_refuses_unknown_options(options, message):
    app = App()
    app.get("/")(lambda req: {})
    with pytest.raises(TypeError, match=message):
        app.run(port=free_port(), log_level="warning", **options)


def test_app_refuses_unknown_arguments():
    with pytest.raises(TypeError, match="debg"):
        App(debg=True)  # type: ignore[call-arg]


def test_problem_objects():
    assert HTTPError(404).problem() == {"type": "about:blank", "title": "Not Found", "status": 404,
                                        "detail": "Not Found"}
    assert HTTPError(599, "x").problem()["title"] == "Error"
    e = ValidationError(errors=[{"loc": ["q"]}])
    assert e.status == 422 and e.problem()["errors"] == [{"loc": ["q"]}]
    resp = HTTPError(418, "teapot", headers={"x-a": "b"}).response()
    assert resp.status == 418 and resp.content_type == PROBLEM and ("x-a", "b") in resp.headers
