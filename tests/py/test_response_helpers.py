"""Response.text, Response.html and Response.redirect over a real socket (issue 10:
"Response.json/text/html/redirect"; the routes were in apps/reqresp_app.py but no test
asked them): content types and bodies, the redirect's status and Location (non-ASCII
percent-encoded, no Content-Type on its empty body), and bad input: a status that is no
redirect, and a Location carrying CR/LF (a header injection attempt) are 500 problems
naming nothing to the client, and no injected field reaches the wire."""

from __future__ import annotations

import pytest

from conftest import ServerProcess, assert_problem, get
from reqresp_helpers import APP

from ringbolt import Response


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP, "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


def test_text_and_html(srv):
    r = get(srv, "/text")
    assert r.status == 201
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert r.body == "héllo".encode()
    r = get(srv, "/html")
    assert r.status == 200
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.body == b"<h1>hi</h1>"


@pytest.mark.parametrize("query, status, location", [
    ("", 307, "/plain"),
    ("?to=/elsewhere%3Fa%3D1&status=302", 302, "/elsewhere?a=1"),
    ("?to=https://example.com/x&status=301", 301, "https://example.com/x"),
    ("?to=/caf%C3%A9%20menu&status=303", 303, "/caf%C3%A9%20menu"),  # non-ASCII and space percent-encoded
    ("?to=/p&status=308", 308, "/p"),
])
def test_redirect(srv, query, status, location):
    r = get(srv, "/redirect" + query)
    assert r.status == status, r
    assert r.header("location") == location
    assert r.header("content-type") is None
    assert r.header("content-length") == "0" and r.body == b""


@pytest.mark.parametrize("query", [
    "?status=200",  # not a redirect status
    "?status=304",
    "?to=/x%0D%0ASet-Cookie:%20evil=1",  # CR LF: a header injection attempt
    "?to=/x%0ASet-Cookie:%20evil=1",
    "?to=/x%00y",
    "?to=",
])
def test_bad_redirects_are_500_and_inject_nothing(srv, query):
    r = get(srv, "/redirect" + query)
    assert_problem(r, 500)
    assert r.header("set-cookie") is None and r.header("location") is None
    assert get(srv, "/plain").status == 200  # the server goes on


def test_redirect_refusals_name_the_cause():
    with pytest.raises(ValueError, match="300-303, 307 or 308, not 200"):
        Response.redirect("/x", status=200)
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Response.redirect("/x\r\nSet-Cookie: a=b")
    with pytest.raises(ValueError, match="non-empty URL"):
        Response.redirect("")
