"""The typed app served every other way (docs/typed.md): ringbolt's server over HTTP/2
(h2c by prior knowledge, and h2 over TLS) and HTTP/3, and the App as an ASGI app under uvicorn:
the same answers as TestClient and HTTP/1.1 give (tests/py/test_typed_params.py and the
files beside it), generator clean-ups after the answer included."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from h2_tls_helpers import certs, running, tls_args  # noqa: F401 - certs is a fixture
from typed_helpers import H2, H3, Transport, transport_fixture

served = transport_fixture("h2c", "uvicorn")

GOOD = {"name": "a", "price": 1, "tags": [{"name": "t"}], "extra": "dropped"}

# (method, path, headers, body, status, expected: the JSON, or the 422's (type, loc) pairs)
CASES: list[tuple[str, str, list[tuple[str, str]], Any, int, Any]] = [
    ("GET", "/conv/int?v=5", [], None, 200, {"v": 5, "t": "int"}),
    ("GET", "/conv/listint?v=1&v=x", [], None, 422, [("int_parsing", ("query", "v", 1))]),
    ("GET", "/constrained?n=0&s=A", [], None, 422,
     [("greater_than_equal", ("query", "n")), ("string_too_short", ("query", "s"))]),
    ("GET", "/markers/3?item-query=z", [("x-token", "t"), ("cookie", "session=s")], None, 200,
     {"pid": 3, "q": "z", "x_token": "t", "ua": None, "multi": [], "raw_name": None, "session": "s", "dflt": [1, 2]}),
    ("GET", "/markers/0", [], None, 422, [("greater_than_equal", ("path", "pid")),
                                          ("missing", ("query", "item-query")), ("missing", ("header", "x-token"))]),
    ("POST", "/p/items", [], GOOD, 201, {"name": "a", "price": 1.0}),
    ("POST", "/m/items", [], GOOD, 201, {"name": "a", "price": 1.0}),
    ("POST", "/p/items?limit=0", [], {"name": "a", "price": 1, "tags": [{}]}, 422,
     [("greater_than_equal", ("query", "limit")), ("missing", ("body", "tags", 0, "name"))]),
    ("POST", "/m/items", [], {"name": "a", "price": 1, "tags": [{"name": "x"}, {}]}, 422,
     [("missing", ("body", "tags", 1, "name"))]),
    ("POST", "/p/embed", [], {"item": {"name": "a", "price": 1}, "user": {"id": 2}, "importance": 3}, 200,
     {"item": "a", "user": 2, "importance": 3}),
    ("GET", "/resp/list", [], None, 200, [{"name": "a", "price": 1.0}, {"name": "b", "price": 2.0}]),
    ("GET", "/resp/status", [], None, 202, {"accepted": True}),
    ("GET", "/sec/items", [("authorization", "Bearer good")], None, 200, {"scopes": ["items", "me"]}),
    ("GET", "/deps/params?limit=7&q=z", [("x-key", "k")], None, 200,
     {"page": {"limit": 7, "key": "k"}, "q": "z", "skip": 0}),
    ("GET", "/async/q?a=1&tags=x", [], None, 200, {"a": 1, "d": 6, "tags": ["x"]}),
    ("POST", "/async/items", [], {"name": "a", "price": 2}, 200, {"name": "a", "price": 2.0}),
    ("GET", "/mixed/4?q=r", [], None, 200, {"path": "/mixed/4", "x": 4, "q": "r", "method": "GET"}),
    ("GET", "/app-dep", [], None, 200, None),
]


def _check(t: Transport, method: str, path: str, headers: list[tuple[str, str]], body: Any, status: int,
           expected: Any) -> None:
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        headers = [*headers, ("content-type", "application/json")]
    r = t.call(method, path, headers, raw)
    assert r.status == status, (t.name, r.body)
    if status == 422:
        assert r.detail() == expected
    elif expected is not None:
        assert r.json() == expected


@pytest.mark.parametrize("method,path,headers,body,status,expected", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_same_answers(served: Transport, method: str, path: str, headers: list[tuple[str, str]], body: Any,
                      status: int, expected: Any) -> None:
    _check(served, method, path, headers, body, status, expected)


def test_malformed_json_is_400(served: Transport) -> None:
    r = served.call("POST", "/p/items", [("content-type", "application/json")], b"{bad")
    assert (r.status, r.content_type) == (400, "application/problem+json")


@pytest.mark.parametrize("path,entry", [("/deps/held", "held-close"), ("/deps/aheld", "aheld-close"),
                                        ("/deps/held-fail", "held-close")])
def test_cleanup_after_the_answer(served: Transport, path: str, entry: str) -> None:
    assert served.call("POST", "/log/clear").status == 200
    r = served.get(path)
    assert r.status in (200, 409)
    assert not any("close" in e for e in served.get("/log").json()["log"])
    served.call("POST", "/release")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        entries = served.get("/log").json()["log"]
        if any(e.startswith(entry) for e in entries):
            break
        time.sleep(0.05)
    assert f"{entry}:released=True" in entries, entries


@pytest.fixture(scope="module")
def h2_tls(certs: Path) -> Iterator[Transport]:  # noqa: F811 - the fixture imported above
    with running("typed_app:app", *tls_args(certs)) as srv:
        yield H2(srv, tls=True)


@pytest.mark.parametrize("method,path,headers,body,status,expected", CASES[:10], ids=[f"{c[0]}-{c[1]}" for c in CASES[:10]])
def test_over_h2_tls(h2_tls: Transport, method: str, path: str, headers: list[tuple[str, str]], body: Any,
                     status: int, expected: Any) -> None:
    _check(h2_tls, method, path, headers, body, status, expected)


@pytest.fixture(scope="module")
def h3(certs: Path) -> Iterator[Transport]:  # noqa: F811 - the fixture imported above
    with running("typed_app:app", *tls_args(certs), "--http3", "--threads", "1") as srv:
        yield H3(srv)


@pytest.mark.parametrize("method,path,headers,body,status,expected", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_over_http3(h3: Transport, method: str, path: str, headers: list[tuple[str, str]], body: Any,
                    status: int, expected: Any) -> None:
    _check(h3, method, path, headers, body, status, expected)
