"""app.enable_request_id over real sockets: a valid client id is kept, anything else
replaced by 32 new hex digits; echoed in the response (also on native answers) and
available as req.request_id."""

from __future__ import annotations

import re

import pytest

from conftest import ServerProcess
from feature_client import exchange

APP = "features_app:"
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP + "request_id", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture(scope="module")
def srv_custom():
    s = ServerProcess(APP + "request_id_custom", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("sent", ["abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "a.b_c:d+e/f=g@h", "x" * 128])
def test_valid_ids_are_kept(srv, sent):
    resp = exchange(srv, "GET", "/rid", {"X-Request-ID": sent})
    assert resp.header("x-request-id") == sent
    assert resp.json() == {"request_id": sent}


@pytest.mark.parametrize("sent", ["", "a b", "<script>", 'x"y', "a,b", "x" * 129, "caf\u00e9", "a;b", "a\tb"])
def test_invalid_ids_are_replaced(srv, sent):
    resp = exchange(srv, "GET", "/rid", {"X-Request-ID": sent})
    rid = resp.header("x-request-id")
    assert rid is not None and HEX32.match(rid), rid
    assert resp.json() == {"request_id": rid}


def test_generated_when_absent_and_unique(srv):
    ids = set()
    for _ in range(20):
        resp = exchange(srv, "GET", "/rid")
        rid = resp.header("x-request-id")
        assert rid is not None and HEX32.match(rid)
        assert resp.json() == {"request_id": rid}
        ids.add(rid)
    assert len(ids) == 20


def test_native_answers_echo_it(srv):
    resp = exchange(srv, "GET", "/no/such/path", {"X-Request-ID": "trace-42"})
    assert resp.status == 404
    assert resp.header("x-request-id") == "trace-42"
    resp = exchange(srv, "GET", "/const", {"X-Request-ID": "trace-43"})
    assert resp.header("x-request-id") == "trace-43"


def test_async_and_streamed_responses(srv):
    resp = exchange(srv, "GET", "/async-json/2", {"X-Request-ID": "r-async"})
    assert resp.header("x-request-id") == "r-async"
    resp = exchange(srv, "GET", "/stream-async", {"X-Request-ID": "r-stream"})
    assert resp.header("x-request-id") == "r-stream"


def test_custom_header(srv_custom):
    resp = exchange(srv_custom, "GET", "/rid", {"X-Correlation-ID": "corr-1", "X-Request-ID": "ignored"})
    assert resp.header("x-correlation-id") == "corr-1"
    assert resp.header("x-request-id") is None
    assert resp.json() == {"request_id": "corr-1"}


def test_off_by_default():
    from ringbolt import App

    app = App()
    assert app._features.request_id is None


def test_bad_header_name():
    from ringbolt import App

    app = App()
    with pytest.raises(ValueError):
        app.enable_request_id("")
    app.enable_request_id("Bad Header")
    with pytest.raises(ValueError, match="not a header name"):
        app._build({"port": 0})


def test_access_log_shows_the_request_id():
    """%(i)s: the id of app answers (sync, async), native answers, and '-' when the
    feature is off."""
    s = ServerProcess(APP + "request_id", "--threads", "1", "--access-log", "--access-log-format", "%(U)s|%(s)s|%(i)s")
    try:
        exchange(s, "GET", "/rid", {"X-Request-ID": "log-sync"})
        exchange(s, "GET", "/async-json/1", {"X-Request-ID": "log-async"})
        exchange(s, "GET", "/no/such/path", {"X-Request-ID": "log-404"})
        generated = exchange(s, "GET", "/rid").header("x-request-id")
    finally:
        assert s.stop() == 0
    out = s.output()
    for line in ["/rid|200|log-sync", "/async-json/1|200|log-async", "/no/such/path|404|log-404",
                 f"/rid|200|{generated}"]:
        assert line in out, out
    off = ServerProcess(APP + "security", "--threads", "1", "--access-log", "--access-log-format", "%(U)s|%(i)s")
    try:
        exchange(off, "GET", "/items")
    finally:
        assert off.stop() == 0
    assert "/items|-" in off.output(), off.output()
