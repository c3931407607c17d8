"""app.enable_cors over real sockets: preflights answered natively (even where the
route has no OPTIONS handler), refusals as 403 problem+json naming the reason, actual
requests with the CORS headers, credentials never with "*", wildcard subdomains."""

from __future__ import annotations

import json

import pytest

from conftest import Reader, ServerProcess
from feature_client import exchange

APP = "features_app:"
ORIGIN = "https://app.example.com"


def start(name: str):
    s = ServerProcess(APP + name, "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture(scope="module")
def srv():
    yield from start("cors")


@pytest.fixture(scope="module")
def srv_any():
    yield from start("cors_any")


@pytest.fixture(scope="module")
def srv_creds():
    yield from start("cors_credentials")


def preflight(srv, origin: str, method: str, headers: str | None = None, path: str = "/items"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return exchange(srv, "OPTIONS", path, h)


def test_preflight_allowed(srv):
    resp = preflight(srv, ORIGIN, "PUT", "x-token, content-type")
    assert resp.status == 204
    assert resp.header("access-control-allow-origin") == ORIGIN
    assert resp.header("access-control-allow-methods") == "PUT"
    assert resp.header("access-control-allow-headers") == "x-token, content-type"
    assert resp.header("access-control-max-age") == "600"
    assert resp.header("access-control-allow-credentials") is None
    vary = [v for k, v in resp.headers if k.lower() == "vary"]
    assert "Origin" in vary


def test_preflight_on_a_route_without_options_handler_and_an_unknown_path(srv):
    # Without CORS an OPTIONS here is a 405; the preflight is answered before routing.
    for path in ["/items", "/json/3", "/no/such/path"]:
        resp = preflight(srv, ORIGIN, "GET", path=path)
        assert resp.status == 204, path


def test_plain_options_is_still_routed(srv):
    resp = exchange(srv, "OPTIONS", "/items", {"Origin": ORIGIN})  # no Access-Control-Request-Method
    assert resp.status == 405


@pytest.mark.parametrize("origin, method, headers, reason", [
    ("https://evil.example", "PUT", None, 'origin "https://evil.example" is not allowed'),
    ("http://app.example.com", "PUT", None, "is not allowed"),  # another scheme
    ("https://app.example.com:8443", "PUT", None, "is not allowed"),  # another port
    ("https://app.example.com.evil.test", "GET", None, "is not allowed"),
    ("null", "GET", None, 'origin "null" is not allowed'),
    (ORIGIN, "DELETE", None, "method 'DELETE' is not allowed"),
    (ORIGIN, "PUT", "x-token, x-secret", "request header 'x-secret' is not allowed"),
    (ORIGIN, "PUT", "x token", "not a list of header names"),
    ("https://example.org", "GET", None, "is not allowed"),  # the wildcard needs a subdomain
])
def test_preflight_refused(srv, origin, method, headers, reason):
    resp = preflight(srv, origin, method, headers)
    assert resp.status == 403
    assert resp.header("content-type") == "application/problem+json"
    problem = json.loads(resp.body)
    assert problem["status"] == 403 and problem["title"] == "Forbidden"
    assert reason in problem["detail"]
    assert resp.header("access-control-allow-origin") is None
    # the server keeps serving
    assert exchange(srv, "GET", "/items").status == 200


def test_wildcard_subdomains(srv):
    for origin, ok in [("https://a.example.org", True), ("https://a.b.example.org", True),
                       ("http://a.example.org", False), ("https://a.example.org.evil", False)]:
        resp = exchange(srv, "GET", "/items", {"Origin": origin})
        assert resp.status == 200
        assert (resp.header("access-control-allow-origin") == origin) == ok, origin
        assert resp.header("vary") == "Origin"


def test_actual_request_headers(srv):
    resp = exchange(srv, "GET", "/items", {"Origin": ORIGIN})
    assert resp.status == 200
    assert resp.header("access-control-allow-origin") == ORIGIN
    assert resp.header("access-control-expose-headers") == "X-Total"
    assert resp.header("vary") == "Origin"
    assert resp.json() == {"method": "GET"}


def test_disallowed_origin_gets_no_cors_headers(srv):
    resp = exchange(srv, "GET", "/items", {"Origin": "https://evil.example"})
    assert resp.status == 200
    assert resp.header("access-control-allow-origin") is None
    assert resp.header("vary") == "Origin"


def test_no_origin_no_cors_headers(srv):
    resp = exchange(srv, "GET", "/items")
    assert all(not k.lower().startswith("access-control") for k, _ in resp.headers)


def test_native_answers_carry_cors_headers(srv):
    resp = exchange(srv, "GET", "/no/such/path", {"Origin": ORIGIN})
    assert resp.status == 404
    assert resp.header("access-control-allow-origin") == ORIGIN


def test_any_origin_without_credentials_is_star(srv_any):
    resp = exchange(srv_any, "GET", "/items", {"Origin": "https://whoever.test"})
    assert resp.header("access-control-allow-origin") == "*"
    assert resp.header("vary") is None
    resp = preflight(srv_any, "https://whoever.test", "PATCH", "x-anything, x-else")
    assert resp.status == 204
    assert resp.header("access-control-allow-origin") == "*"
    assert resp.header("access-control-allow-methods") == "PATCH"
    assert resp.header("access-control-allow-headers") == "x-anything, x-else"


def test_credentials_never_star(srv_creds):
    origin = "https://whoever.test"
    resp = exchange(srv_creds, "GET", "/items", {"Origin": origin})
    assert resp.header("access-control-allow-origin") == origin
    assert resp.header("access-control-allow-credentials") == "true"
    assert resp.header("vary") == "Origin"
    resp = preflight(srv_creds, origin, "PUT")
    assert resp.status == 204
    assert resp.header("access-control-allow-origin") == origin
    assert resp.header("access-control-allow-credentials") == "true"
    assert preflight(srv_creds, origin, "DELETE").status == 403


def test_preflight_with_a_body_is_answered(srv):
    with srv.connect() as s:
        s.sendall(b"OPTIONS /items HTTP/1.1\r\nHost: t\r\nOrigin: " + ORIGIN.encode() +
                  b"\r\nAccess-Control-Request-Method: PUT\r\nContent-Length: 5\r\n\r\nhello"
                  b"GET /items HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        assert reader.read().status == 204
        assert reader.read().json() == {"method": "GET"}  # the body was not taken for a request


@pytest.mark.parametrize("kwargs", [
    {"allow_origins": []},
    {"allow_origins": ["example.com"]},
    {"allow_origins": ["https://example.com/"]},
    {"allow_origins": ["https://*.*.example.com"]},
    {"allow_origins": ["*"], "allow_methods": ["GE T"]},
    {"allow_origins": ["*"], "allow_headers": ["bad header"]},
    {"allow_origins": ["*"], "max_age": -5},
])
def test_bad_options_name_the_cause(kwargs):
    from ringbolt import App

    app = App()
    with pytest.raises(ValueError):
        app.enable_cors(**kwargs)
        app._build({"port": 0})
