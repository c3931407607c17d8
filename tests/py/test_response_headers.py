"""Response.headers (ringbolt.ResponseHeaders): a case-insensitive multi-map that keeps
order and repeats, as a table of operations; then over real sockets, a Starlette-style
middleware that sets a header by name on every kind of route answers with it."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from conftest import ServerProcess, get
from ringbolt import FileResponse, Response, ResponseHeaders, StreamingResponse

BASE = [("Content-Language", "en"), ("Set-Cookie", "a=1"), ("X-Kind", "k"), ("set-cookie", "b=2")]


def _set(h: ResponseHeaders, name: str, value: str) -> None:
    h[name] = value


def _del(h: ResponseHeaders, name: str) -> None:
    del h[name]


# (operation, what it returns, the pairs after it)
OPERATIONS: list[tuple[str, Callable[[ResponseHeaders], Any], Any, list[tuple[str, str]]]] = [
    ("get first by any case", lambda h: h["SET-cookie"], "a=1", BASE),
    ("get a missing name", lambda h: h["x-missing"], KeyError, BASE),
    ("get() missing", lambda h: h.get("x-missing"), None, BASE),
    ("get() missing, default", lambda h: h.get("x-missing", "d"), "d", BASE),
    ("get() present", lambda h: h.get("x-kind"), "k", BASE),
    ("getlist keeps repeats", lambda h: h.getlist("Set-Cookie"), ["a=1", "b=2"], BASE),
    ("getlist missing", lambda h: h.getlist("x-missing"), [], BASE),
    ("in, any case", lambda h: "CONTENT-LANGUAGE" in h, True, BASE),
    ("in, missing", lambda h: "x-missing" in h, False, BASE),
    ("in, a pair", lambda h: ("X-Kind", "k") in h, True, BASE),
    ("len counts pairs", len, 4, BASE),
    ("iteration is pairs", list, BASE, BASE),
    ("items()", lambda h: h.items(), BASE, BASE),
    ("index like a list", lambda h: h[1], ("Set-Cookie", "a=1"), BASE),
    ("equal to its pairs", lambda h: h == BASE, True, BASE),
    ("set replaces every value, first keeps its place",
     lambda h: _set(h, "set-COOKIE", "c=3"), None,
     [("Content-Language", "en"), ("set-COOKIE", "c=3"), ("X-Kind", "k")]),
    ("set a new name appends", lambda h: _set(h, "X-New", "v"), None, BASE + [("X-New", "v")]),
    ("append keeps the others", lambda h: h.append("Set-Cookie", "d=4"), None, BASE + [("Set-Cookie", "d=4")]),
    ("append a pair, as on a list", lambda h: h.append(("X-Pair", "p")), None, BASE + [("X-Pair", "p")]),
    ("extend", lambda h: h.extend([("A", "1"), ("a", "2")]), None, BASE + [("A", "1"), ("a", "2")]),
    ("del removes every value", lambda h: _del(h, "SET-COOKIE"), None,
     [("Content-Language", "en"), ("X-Kind", "k")]),
    ("del a missing name", lambda h: _del(h, "x-missing"), KeyError, BASE),
    ("setdefault present", lambda h: h.setdefault("x-kind", "other"), "k", BASE),
    ("setdefault missing", lambda h: h.setdefault("X-D", "v"), "v", BASE + [("X-D", "v")]),
    ("update sets each", lambda h: h.update({"x-kind": "K", "X-U": "u"}), None,
     [("Content-Language", "en"), ("Set-Cookie", "a=1"), ("x-kind", "K"), ("set-cookie", "b=2"), ("X-U", "u")]),
    ("set a value with CR LF", lambda h: _set(h, "X-Bad", "a\r\nInjected: 1"), ValueError, BASE),
    ("append a name that is not a token", lambda h: h.append("Bad Name", "v"), ValueError, BASE),
    ("set a value that is not str", lambda h: _set(h, "X-Int", 5), TypeError, BASE),  # type: ignore[arg-type]
    ("append a bad pair", lambda h: h.append(("X-Bad", "\0")), ValueError, BASE),
    ("extend with a bad pair", lambda h: h.extend([("ok", "1"), ("X-Bad", "\n")]), ValueError,
     BASE + [("ok", "1")]),
]


@pytest.mark.parametrize("op, returns, after", [(o[1], o[2], o[3]) for o in OPERATIONS],
                         ids=[o[0] for o in OPERATIONS])
def test_operation(op, returns, after):
    h = ResponseHeaders(BASE)
    if isinstance(returns, type) and issubclass(returns, Exception):
        with pytest.raises(returns):
            op(h)
    else:
        assert op(h) == returns
    assert list(h) == after


@pytest.mark.parametrize("given", [list, tuple, ResponseHeaders, iter])
@pytest.mark.parametrize("make", [
    lambda h: Response(b"", headers=h),
    lambda h: StreamingResponse(iter(()), headers=h),
    lambda h: FileResponse("/dev/null", headers=h),
], ids=["Response", "StreamingResponse", "FileResponse"])
def test_responses_take_pairs_and_keep_them_as_a_multimap(make, given):
    resp = make(given([("X-A", "1"), ("x-a", "2")]))
    assert isinstance(resp.headers, ResponseHeaders) and resp.headers.getlist("X-A") == ["1", "2"]


def test_responses_take_a_mapping():
    resp = Response(b"", headers={"X-A": "1"})
    resp.headers["x-a"] = "2"
    assert resp.headers == [("x-a", "2")]


@pytest.mark.parametrize("headers, error", [
    ([("X-A", "a\r\nb")], ValueError),
    ({"bad name": "v"}, ValueError),
    ([("X-A", 1)], TypeError),
])
def test_a_bad_header_is_refused_where_the_response_is_built(headers, error):
    with pytest.raises(error):
        Response(b"", headers=headers)


# ---- over sockets ----

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("headers")
    (root / "f.txt").write_bytes(b"file body")
    s = ServerProcess("headers_mw_app:app", "--threads", "1", env={"HEADERS_TEST_FILE": str(root / "f.txt")})
    yield s
    s.stop()


@pytest.mark.parametrize("path, status, body", [
    ("/dict", 200, b'{"kind":"dict"}'),
    ("/list", 200, b'[1,2]'),
    ("/str", 200, b"text"),
    ("/bytes", 200, b"bytes"),
    ("/none", 204, b""),
    ("/tuple", 201, b"made"),
    ("/tuple-headers", 200, b"th"),
    ("/response-dict", 200, b"rd"),
    ("/response-list", 200, b"rl"),
    ("/stream", 200, b"onetwo"),
    ("/file", 200, b"file body"),
    ("/http-error", 404, None),
    ("/async", 200, b'{"kind":"async"}'),
])
def test_middleware_sets_a_header_by_name_on_every_route(srv, path, status, body):
    r = get(srv, path)
    assert r.status == status, r
    if body is not None:
        assert r.body == body, r
    assert [v for n, v in r.headers if n.lower() == "x-a"] == ["1"], r  # set by name: one field
    # the handler's own X-Handler (sent by some routes) was replaced, not repeated
    assert [v for n, v in r.headers if n.lower() == "x-handler"] in ([], ["replaced"]), r
    assert "x-drop" not in {n.lower() for n, _ in r.headers}, r  # deleted by the middleware
