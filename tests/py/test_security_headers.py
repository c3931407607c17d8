"""app.enable_security_headers over real sockets: the defaults, every option, a
handler's own value winning, native answers covered, bad options refused."""

from __future__ import annotations

import pytest

from conftest import ServerProcess
from feature_client import exchange

APP = "features_app:"


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP + "security", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture(scope="module")
def srv_full():
    s = ServerProcess(APP + "security_full", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("path, status", [("/items", 200), ("/no/such/path", 404), ("/const", 200),
                                          ("/stream-async", 200), ("/async-json/1", 200)])
def test_defaults_on_every_response(srv, path, status):
    resp = exchange(srv, "GET", path)
    assert resp.status == status
    assert resp.header("x-content-type-options") == "nosniff"
    assert resp.header("x-frame-options") == "DENY"
    assert resp.header("referrer-policy") == "strict-origin-when-cross-origin"
    assert resp.header("strict-transport-security") is None  # only when asked
    assert resp.header("content-security-policy") is None


def test_handler_value_wins(srv):
    resp = exchange(srv, "GET", "/own-headers")
    assert [v for k, v in resp.headers if k.lower() == "x-frame-options"] == ["SAMEORIGIN"]
    assert resp.header("x-content-type-options") == "nosniff"


def test_every_option(srv_full):
    resp = exchange(srv_full, "GET", "/items")
    assert resp.header("x-frame-options") == "SAMEORIGIN"
    assert resp.header("referrer-policy") == "no-referrer"
    assert resp.header("strict-transport-security") == "max-age=31536000; includeSubDomains"
    assert resp.header("content-security-policy") == "default-src 'self'"
    assert resp.header("cross-origin-opener-policy") == "same-origin"
    assert resp.header("permissions-policy") == "camera=()"


def test_everything_together():
    s = ServerProcess(APP + "everything", "--threads", "1")
    try:
        resp = exchange(s, "GET", "/json/200", {"Origin": "https://app.example.com", "Accept-Encoding": "gzip",
                                               "X-Request-ID": "all-1"})
        assert resp.header("content-encoding") == "gzip"
        assert resp.header("access-control-allow-origin") == "https://app.example.com"
        assert resp.header("access-control-allow-credentials") == "true"
        assert resp.header("x-request-id") == "all-1"
        assert resp.header("x-frame-options") == "DENY"
        varies = sorted(v for k, v in resp.headers if k.lower() == "vary")
        assert varies == ["Accept-Encoding", "Origin"]
    finally:
        assert s.stop() == 0, s.output()


@pytest.mark.parametrize("kwargs, error", [
    ({"frame_options": "ALLOW-FROM x"}, ValueError),
    ({"hsts": -1}, ValueError),
    ({"content_security_policy": "a\r\nb"}, ValueError),
    ({"extra": {"Bad Name": "x"}}, ValueError),
    ({"extra": {"X-Frame-Options": "DENY"}}, ValueError),  # set twice
])
def test_bad_options_name_the_cause(kwargs, error):
    from ringbolt import App

    app = App()
    with pytest.raises(error):
        app.enable_security_headers(**kwargs)
        app._build({"port": 0})
