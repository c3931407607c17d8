"""Typed bodies and responses (docs/typed.md): pydantic models and TypeAdapters, msgspec
Structs, dataclasses and TypedDicts validated from the request's bytes; the loc of
every failure (nested, in lists, embedded bodies); malformed JSON 400, too large 413,
nesting depth and number size refused (never a 500, never a hang); response models
filtering what the handler returned; status codes; HTTPException."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import sys
import textwrap
import time
from typing import Annotated, Any, Iterator, Optional

import pytest

from ringbolt import Body

from typed_helpers import Answer, Transport, transport, transport_fixture

served = transport_fixture("testclient", "http1")

GOOD = {"name": "a", "price": 1, "tags": [{"name": "t"}], "extra": "dropped"}

# (body, pydantic's failures, msgspec's failures); both bodies' routes answer 201 with
# {"name", "price"} when valid
BODY_ERRORS = [
    ({"price": 1}, [("missing", ("body", "name"))], [("missing", ("body", "name"))]),
    ({"name": "a", "price": "x"}, [("float_parsing", ("body", "price"))], [("float_type", ("body", "price"))]),
    ({"name": "a", "price": -1}, [("greater_than_equal", ("body", "price"))],
     [("greater_than_equal", ("body", "price"))]),
    ({"name": "a", "price": 1, "tags": [{"name": "x"}, {"name": "y"}, {}]},
     [("missing", ("body", "tags", 2, "name"))], [("missing", ("body", "tags", 2, "name"))]),
    ({"name": "a", "price": 1, "tags": [{"name": 1}]},
     [("string_type", ("body", "tags", 0, "name"))], [("string_type", ("body", "tags", 0, "name"))]),
    ([1, 2], [("model_type", ("body",))], [("dict_type", ("body",))]),
    # pydantic lists every failure; msgspec stops at its first
    ({"name": 5, "price": "x"}, [("string_type", ("body", "name")), ("float_parsing", ("body", "price"))],
     [("string_type", ("body", "name"))]),
]


@pytest.mark.parametrize("lib", ["p", "m"])
def test_valid_body_is_filtered_by_the_response_model(served: Transport, lib: str) -> None:
    r = served.post_json(f"/{lib}/items", GOOD)
    assert (r.status, r.json(), r.content_type) == (201, {"name": "a", "price": 1.0}, "application/json")


@pytest.mark.parametrize("body,pydantic_errors,msgspec_errors", BODY_ERRORS)
def test_body_failures_and_their_loc(served: Transport, body: Any, pydantic_errors: Any, msgspec_errors: Any) -> None:
    assert served.post_json("/p/items", body).detail() == pydantic_errors
    assert served.post_json("/m/items", body).detail() == msgspec_errors


def test_query_and_body_failures_in_one_answer(served: Transport) -> None:
    r = served.post_json("/p/items?limit=0", {"name": "", "price": 1})
    assert r.detail() == [("greater_than_equal", ("query", "limit")), ("string_too_short", ("body", "name"))]


@pytest.mark.parametrize("lib", ["p", "m"])
@pytest.mark.parametrize("raw", [b"", b"{bad", b'{"name": "a",', b"\xff\xfe", b"nul"])
def test_malformed_or_missing_body(served: Transport, lib: str, raw: bytes) -> None:
    r = served.call("POST", f"/{lib}/items", [("content-type", "application/json")], raw)
    if raw == b"":
        assert r.detail() == [("missing", ("body",))]
        return
    assert r.status == 400, r.body
    assert r.content_type == "application/problem+json"
    assert r.json()["detail"].startswith("Invalid JSON body")


DEEP = 100_000

# (route, body, status): the limits of docs/typed.md, "Limits"
LIMITS = [
    ("/p/any", b'{"data":' + b"[" * 150 + b"]" * 150 + b"}", 200),
    ("/m/any", b'{"data":' + b"[" * 150 + b"]" * 150 + b"}", 200),
    ("/p/any", b'{"data":' + b"[" * DEEP + b"]" * DEEP + b"}", 400),  # pydantic-core: 200 levels
    ("/m/any", b'{"data":' + b"[" * DEEP + b"]" * DEEP + b"}", 400),  # msgspec: the C recursion limit
    ("/p/any", b'{"data":' + b"{\"a\":" * DEEP + b"1" + b"}" * DEEP + b"}", 400),
    ("/m/any", b'{"data":' + b"{\"a\":" * DEEP + b"1" + b"}" * DEEP + b"}", 400),
    ("/p/int", b'{"n":' + b"9" * 30 + b"}", 200),
    ("/m/int", b'{"n":' + b"9" * 30 + b"}", 200),
    ("/p/int", b'{"n":' + b"9" * 5000 + b"}", 400),  # past 4300 digits
    ("/m/int", b'{"n":' + b"9" * 5000 + b"}", 422),  # msgspec: "Integer value out of range"
    ("/p/any", b'{"data":' + b"9" * 100_000 + b"}", 400),
    ("/m/any", b'{"data":' + b"9" * 100_000 + b"}", 422),
    ("/m/any", b'{"data":1e999}', 422),  # msgspec: "Number out of range"
]


@pytest.mark.parametrize("path,body,status", LIMITS, ids=[f"{p}-{len(b)}-{s}" for p, b, s in LIMITS])
def test_depth_and_number_limits(served: Transport, path: str, body: bytes, status: int) -> None:
    start = time.monotonic()
    r = served.call("POST", path, [("content-type", "application/json")], body)
    assert r.status == status, r.body[:300]
    assert time.monotonic() - start < 5  # refused at once, no quadratic work
    if status != 200:
        assert r.content_type == "application/problem+json"


def test_body_over_the_server_limit_is_413() -> None:
    t = transport("http1", "typed_app:app", "--max-body-size", "4096")
    try:
        body = json.dumps({"name": "a" * 8000, "price": 1}).encode()
        r = t.call("POST", "/p/items", [("content-type", "application/json")], body)
        assert r.status == 413, r.body
        small = t.post_json("/p/items", {"name": "a", "price": 1})
        assert small.status == 201
    finally:
        t.close()


EMBEDDED = [
    ("/p/embed", {"item": {"name": "a", "price": 1}, "user": {"id": 2}, "importance": 3}, 200,
     {"item": "a", "user": 2, "importance": 3}),
    ("/p/embed", {"item": {"name": "a", "price": 1}, "user": {}, "importance": 0}, 422,
     [("missing", ("body", "user", "id")), ("greater_than", ("body", "importance"))]),
    ("/p/embed", {"item": {"name": "a", "price": 1}}, 422,
     [("missing", ("body", "user")), ("missing", ("body", "importance"))]),
    ("/p/embed1", {"item": {"name": "a", "price": 1}}, 200, {"item": "a"}),
    ("/p/embed1", {"name": "a", "price": 1}, 422, [("missing", ("body", "item"))]),
    ("/m/embed", {"item": {"name": "a", "price": 1}, "tag": {"name": "t"}}, 200, {"item": "a", "tag": "t"}),
    ("/m/embed", {"item": {"name": "a", "price": 1}}, 422, [("missing", ("body", "tag"))]),
    ("/p/scalar", 5, 200, {"n": 5}),
    ("/p/scalar", "x", 422, [("int_parsing", ("body",))]),
    ("/p/adapter", [{"name": "x"}, {"name": "y"}], 200, {"names": ["x", "y"]}),
    ("/p/adapter", [{"name": "x"}, {"name": 2}], 422, [("string_type", ("body", 1, "name"))]),
    ("/dc", {"x": 2}, 200, {"x": 4, "y": 0}),
    ("/dc", {"y": 2}, 422, [("missing", ("body", "x"))]),
    ("/td", {"a": 1, "b": "x"}, 200, {"a": 1, "b": "x"}),
    # typing.TypedDict: msgspec before Python 3.12 (pydantic refuses it there), pydantic after
    ("/td", {"a": "x", "b": "x"}, 422, [("int_type" if sys.version_info < (3, 12) else "int_parsing", ("body", "a"))]),
]


@pytest.mark.parametrize("path,body,status,expected", EMBEDDED, ids=[f"{c[0]}-{c[2]}" for c in EMBEDDED])
def test_body_shapes(served: Transport, path: str, body: Any, status: int, expected: Any) -> None:
    r = served.post_json(path, body)
    assert r.status == status, r.body
    assert (r.json() if status == 200 else r.detail()) == expected


def test_optional_body(served: Transport) -> None:
    assert served.call("POST", "/p/optional").json() == {"item": None}
    assert served.post_json("/p/optional", {"name": "a", "price": 1}).json() == {"item": "a"}


RESPONSES = [
    ("/resp/filter", 200, "application/json", {"name": "a", "price": 1.0}),  # "secret" dropped
    ("/resp/list", 200, "application/json", [{"name": "a", "price": 1.0}, {"name": "b", "price": 2.0}]),
    ("/resp/model", 200, "application/json", {"name": "m", "price": 3.0}),  # a model, no response_model
    ("/resp/struct", 200, "application/json", {"name": "s", "price": 4.0}),
    ("/resp/dataclass", 200, "application/json", {"x": 1, "y": 2}),
    ("/resp/status", 202, "application/json", {"accepted": True}),
    ("/resp/none", 200, "application/json", {"name": "unfiltered", "extra": 1}),  # response_model=None
    ("/resp/raise", 404, "application/problem+json",
     {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "nope"}),
    ("/resp/bad", 500, "application/problem+json", None),  # breaks its response model: a bug, a 500
]


@pytest.mark.parametrize("path,status,ctype,expected", RESPONSES, ids=[c[0] for c in RESPONSES])
def test_responses(served: Transport, path: str, status: int, ctype: str, expected: Any) -> None:
    r = served.get(path)
    assert (r.status, r.content_type) == (status, ctype), r.body
    if expected is not None:
        assert r.json() == expected


def test_response_passes_through_and_exception_headers(served: Transport) -> None:
    r = served.get("/resp/response")
    assert (r.status, r.body, r.content_type) == (203, b"raw", "text/plain")
    assert served.get("/resp/raise").headers["x-e"] == "1"


# A plain dataclass's own instances are written by msgspec (an int in a float field as
# it is: "age":2), anything else by pydantic ("age":2.0): the bytes show which one wrote.
OWNERS = (b'[{"name":"a","pets":[{"name":"p","age":2,"color":"red"}],"extra":{"k":[{"x":"y"}]},"level":2},'
          b'{"name":"b","pets":[],"extra":{},"level":null}')
DATACLASS_WRITERS = [
    ("/resp/owners", OWNERS + b"]"),
    ("/resp/owners-and-a-dict", OWNERS.replace(b'"age":2,', b'"age":2.0,')
     + b',{"name":"c","pets":[{"name":"q","age":3.0,"color":"red"}],"extra":{},"level":null}]'),
    ("/resp/stamped", b'{"at":"2026-01-02T03:04:05","age":2.0}'),
]


@pytest.mark.parametrize("path,expected", DATACLASS_WRITERS, ids=[c[0] for c in DATACLASS_WRITERS])
def test_dataclass_answers_by_msgspec_or_pydantic(served: Transport, path: str, expected: bytes) -> None:
    r = served.get(path)
    assert (r.status, r.content_type, r.body) == (200, "application/json", expected)


@dataclasses.dataclass
class Node:
    name: str
    children: list[Node]
    parent: Optional[Node] = None


@dataclasses.dataclass
class WithAny:
    v: Any


@dataclasses.dataclass
class WithAnnotated:
    v: Annotated[int, "meta"]  # pydantic may read metadata (an alias, a serializer)


@dataclasses.dataclass
class WithDate:
    v: datetime.date


@dataclasses.dataclass
class WithIntKeys:
    v: dict[int, str]


def test_which_dataclasses_msgspec_writes() -> None:
    from ringbolt.typed import models as _models
    fast = _models._dataclass_passthrough
    node = Node("a", [])
    one, many = fast(Node), fast(list[Node])
    assert one is not None and many is not None
    assert one[0](node) and not one[0]([node]) and not one[0]({"name": "a", "children": []})
    assert many[0]([node, node]) and many[0]([]) and not many[0]([node, {"name": "b"}]) and not many[0](node)
    for tp in (WithAny, WithAnnotated, WithDate, WithIntKeys, list[WithDate], set[Node], dict):
        assert fast(tp) is None, tp


def _answer_json(r: Answer) -> Any:
    return r.json()


def test_validation_error_costs_no_more_work_than_success(served: Transport) -> None:
    """Not a timing: the failing request never reaches the handler (nothing it did ran)."""
    r = served.post_json("/p/items", {"name": "", "price": -1})
    assert r.status == 422
    assert len(_answer_json(r)["detail"]) == 2


def test_optional_libraries_stay_optional() -> None:
    """ringbolt imports and plans scalar routes without pydantic or msgspec; a model
    route then says which extra to install."""
    code = textwrap.dedent('''
        import dataclasses, sys
        sys.modules["pydantic"] = None
        sys.modules["msgspec"] = None
        from ringbolt import App, Query
        app = App()
        @app.get("/")
        def f(n: int = Query(1, ge=0)):
            return {"n": n}
        @dataclasses.dataclass
        class P:
            x: int
        try:
            @app.post("/p")
            def g(p: P):
                return {}
        except ImportError as exc:
            print("refused:", exc)
        print("loaded:", sorted(m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in ("pydantic", "msgspec")))
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "refused: validating 'P' needs pydantic or msgspec: pip install 'ringbolt[pydantic]'" in out.stdout
    assert "loaded: []" in out.stdout


NASTY: list[tuple[str, str, list[tuple[str, str]], bytes | None]] = [
    ("GET", "/constrained?n=%00", [], None),
    ("GET", "/constrained?n=%FF%FE", [], None),
    ("GET", "/constrained?n=1&" + "&".join(f"tags={i}" for i in range(2000)), [], None),
    ("GET", "/constrained?n=1&s=" + "a" * 50_000, [], None),
    ("GET", "/conv/float?v=1e400", [], None),
    ("GET", "/conv/float?v=-nan", [], None),
    ("GET", "/conv/decimal?v=1e999999999", [], None),
    ("GET", "/conv/datetime?v=" + "9" * 19, [], None),
    ("GET", "/conv/uuid?v=" + "f" * 5000, [], None),
    ("GET", "/markers/1?item-query=z", [("x-token", "\u00e9t\u00e9".encode().decode("latin-1"))], None),
    ("GET", "/markers/" + "9" * 5000 + "?item-query=z", [("x-token", "t")], None),
    ("POST", "/p/items", [("content-type", "application/json")], b'{"name":"a","price":1,"tags":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("POST", "/m/items", [("content-type", "application/json")], b'{"name":"a","price":1,"tags":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("POST", "/p/items", [("content-type", "application/json")], b'{"name":"\\ud800","price":1}'),
    ("POST", "/m/items", [("content-type", "application/json")], b'{"name":"\\ud800","price":1}'),
    ("POST", "/p/embed", [("content-type", "application/json")], b'{"item": null, "user": [], "importance": "9e9999"}'),
    ("POST", "/m/embed", [("content-type", "application/json")], b'{"item": {"name": "a", "price": 1e400}, "tag": 5}'),
    ("POST", "/form", [("content-type", "multipart/form-data; boundary=x")], b"--x\r\nbroken"),
    ("POST", "/file", [("content-type", "multipart/form-data")], b"no boundary"),
    ("POST", "/td", [("content-type", "application/json")], b'{"a": 1, "b": "x", "c": ' + b"[" * 3000 + b"]" * 3000 + b"}"),
    ("POST", "/p/adapter", [("content-type", "application/json")], b"[" + b'{"name":"x"},' * 20000 + b'{"name":1}]'),
]


@pytest.mark.parametrize("method,path,headers,body", NASTY, ids=[f"{i}" for i in range(len(NASTY))])
def test_nasty_input_is_refused_precisely(served: Transport, method: str, path: str, headers: list[tuple[str, str]],
                                          body: bytes | None) -> None:
    start = time.monotonic()
    r = served.call(method, path, headers, body)
    assert 200 <= r.status < 500, (r.status, r.body[:300])
    assert time.monotonic() - start < 10
    if r.status >= 400:
        assert r.content_type == "application/problem+json", r.body[:200]


checked = transport_fixture("testclient", "http1", app="typed_checks_app:app")


# ---- the body's Content-Type (tests/py/apps/typed_checks_app.py, against FastAPI) ----

@pytest.fixture(scope="module")
def fastapi_app() -> Iterator[Any]:
    from fastapi.testclient import TestClient
    import typed_checks_app
    with TestClient(typed_checks_app.build(fastapi=True), raise_server_exceptions=False) as client:
        yield client


MODEL = b'{"name":"a","price":1}'

# (route, Content-Type or None for none, body, status on both). Only a JSON type
# (application/json, application/*+json, any case, any parameters) is read as JSON;
# with another, or none (FastAPI's strict_content_type, its default: a cross-site form
# can send text/plain, or no type, without a preflight), the bytes are validated as they
# are: a model refuses them (422 model_attributes_type, the input the body's text), a
# scalar may take them, an embedded body finds none of its members.
CONTENT_TYPES: list[tuple[str, str | None, bytes, int]] = [
    ("/ct/model", None, MODEL, 422),
    ("/ct/model", "", MODEL, 422),
    ("/ct/model", "text/plain", MODEL, 422),
    ("/ct/model", "text/plain; charset=utf-8", MODEL, 422),
    ("/ct/model", "application/x-www-form-urlencoded", MODEL, 422),
    ("/ct/model", "multipart/form-data; boundary=x", MODEL, 422),
    ("/ct/model", "text/json", MODEL, 422),
    ("/ct/model", "application/jsonx", MODEL, 422),
    ("/ct/model", "application/json/x", MODEL, 422),
    ("/ct/model", "application/json", MODEL, 201),
    ("/ct/model", "application/json; charset=utf-8", MODEL, 201),
    ("/ct/model", "APPLICATION/JSON", MODEL, 201),
    ("/ct/model", " application/json ; charset=utf-8", MODEL, 201),
    ("/ct/model", "application/merge-patch+json", MODEL, 201),
    ("/ct/model", "application/vnd.api+json", MODEL, 201),
    ("/ct/model", "text/plain", b"", 422),  # no body: missing, whatever the type
    ("/ct/optional", "text/plain", MODEL, 422),
    ("/ct/optional", "text/plain", b"", 201),
    ("/ct/optional", None, MODEL, 422),
    ("/ct/int", "text/plain", b"5", 201),  # FastAPI validates the bytes: an int takes "5"
    ("/ct/int", "text/plain", b"x", 422),
    ("/ct/str", "text/plain", b"hello", 201),
    ("/ct/list", "text/plain", b"[1,2]", 422),
    ("/ct/list", "application/json", b"[1,2]", 201),
    ("/ct/dataclass", "text/plain", b'{"x":1}', 422),
    ("/ct/dataclass", "application/json", b'{"x":1}', 201),
    ("/ct/embed", "text/plain", b'{"a":1,"b":2}', 422),
    ("/ct/embed", None, b'{"a":1,"b":2}', 422),
    ("/ct/embed", "application/json", b'{"a":1,"b":2}', 201),
    ("/ct/embed-defaults", "text/plain", b'{"a":5}', 201),  # every member its default
    ("/ct/embed-defaults", "application/json", b'{"a":5}', 201),
]


@pytest.mark.parametrize("path,ctype,body,status", CONTENT_TYPES,
                         ids=[f"{c[0]}-{c[1]}-{c[2][:8].decode()}" for c in CONTENT_TYPES])
def test_body_content_type_as_fastapi(checked: Transport, fastapi_app: Any, path: str, ctype: str | None,
                                      body: bytes, status: int) -> None:
    headers = [] if ctype is None else [("content-type", ctype)]
    ours = checked.call("POST", path, headers, body)
    theirs = fastapi_app.post(path, headers=dict(headers), content=body)
    assert ours.status == theirs.status_code == status, (ours.body, theirs.text)
    if status == 422:
        assert ours.content_type == "application/problem+json"
        assert ours.json()["detail"] == theirs.json()["detail"]
    else:
        assert ours.json() == theirs.json()


def test_body_content_type_refusal_in_full(checked: Transport) -> None:
    r = checked.call("POST", "/ct/model", [("content-type", "text/plain")], MODEL)
    assert r.json()["detail"] == [{"type": "model_attributes_type", "loc": ["body"], "input": MODEL.decode(),
                                   "msg": "Input should be a valid dictionary or object to extract fields from"}]


# ringbolt's alone: msgspec bodies, and bytes FastAPI cannot write back (a 500 there)
CONTENT_TYPES_OWN: list[tuple[str, str | None, bytes, int, Any]] = [
    ("/m/items", "text/plain", json.dumps(GOOD).encode(), 422, [("dict_type", ("body",))]),
    ("/m/items", None, json.dumps(GOOD).encode(), 422, [("dict_type", ("body",))]),
    ("/m/items", "application/vnd.api+json", json.dumps(GOOD).encode(), 201, {"name": "a", "price": 1.0}),
    ("/m/embed", "text/plain", b'{"item":{"name":"a","price":1},"tag":{"name":"t"}}', 422,
     [("missing", ("body", "item")), ("missing", ("body", "tag"))]),
    ("/p/adapter", "text/plain", b'[{"name":"x"}]', 422, [("list_type", ("body",))]),
    ("/td", "text/plain", b'{"a":1,"b":"x"}', 422, None),
]


@pytest.mark.parametrize("path,ctype,body,status,expected", CONTENT_TYPES_OWN,
                         ids=[f"{c[0]}-{c[1]}" for c in CONTENT_TYPES_OWN])
def test_body_content_type_msgspec_and_others(served: Transport, path: str, ctype: str | None, body: bytes,
                                              status: int, expected: Any) -> None:
    r = served.call("POST", path, [] if ctype is None else [("content-type", ctype)], body)
    assert r.status == status, r.body
    if expected is not None:
        assert (r.detail() if status == 422 else r.json()) == expected


def test_body_not_json_keeps_undecodable_bytes_as_text(checked: Transport) -> None:
    r = checked.call("POST", "/ct/str", [("content-type", "text/plain")], b"caf\xe9")
    assert r.status == 422, r.body
    (e,) = r.json()["detail"]
    assert (e["type"], e["loc"], e["input"]) == ("string_unicode", ["body"], "caf\ufffd")


# ---- NaN and Infinity in a JSON body (tests/py/apps/typed_checks_app.py) ----


def _price(value: bytes) -> bytes:
    return b'{"name":"a","price":' + value + b"}"


# (route, body, status, [(type, loc, input)] of a 422, or the 201's JSON). pydantic reads
# NaN, Infinity and -Infinity (and 1e400 as Infinity) in JSON; a float field takes them,
# as in FastAPI. Where a field refuses one, FastAPI answers 500 (its JSON writer cannot
# write the error's input); ringbolt answers the 422, the input written as the string
# "NaN", "Infinity" or "-Infinity". msgspec refuses them as it reads the JSON.
NON_FINITE: list[tuple[str, bytes, int, Any]] = [
    ("/p/items", _price(b"NaN"), 422, [("greater_than_equal", ("body", "price"), "NaN")]),
    ("/p/items", _price(b"-Infinity"), 422, [("greater_than_equal", ("body", "price"), "-Infinity")]),
    ("/p/items", _price(b"Infinity"), 201, {"name": "a", "price": None}),  # the response model's writer
    ("/p/items", b'{"name":"a","price":1,"tags":[{"name":NaN}]}', 422,
     [("string_type", ("body", "tags", 0, "name"), "NaN")]),
    ("/p/items", b"[NaN,1e400]", 422, [("model_type", ("body",), ["NaN", "Infinity"])]),
    ("/p/items", b'{"price":NaN}', 422, [("missing", ("body", "name"), {"price": "NaN"}),
                                         ("greater_than_equal", ("body", "price"), "NaN")]),
    ("/p/embed", b'{"item":{"name":"a","price":1},"user":{"id":1},"importance":NaN}', 422,
     [("finite_number", ("body", "importance"), "NaN")]),
    ("/m/items", _price(b"NaN"), 400, None),
]

# the same, on the routes of typed_checks_app (which FastAPI answers 500 or 201)
NON_FINITE_CHECKS: list[tuple[str, bytes, int, Any]] = [
    ("/nan/constrained", _price(b"NaN"), 422, [("greater_than_equal", ("body", "price"), "NaN")]),
    ("/nan/constrained", _price(b"Infinity"), 201, {"price": "inf"}),
    ("/nan/loose", _price(b"NaN"), 201, {"price": "nan"}),
    ("/nan/loose", _price(b"-Infinity"), 201, {"price": "-inf"}),
    ("/nan/int", _price(b"NaN"), 422, [("finite_number", ("body", "price"), "NaN")]),
    ("/nan/int", _price(b"1e400"), 422, [("finite_number", ("body", "price"), "Infinity")]),
]


def _non_finite_answer(r: Answer, status: int, expected: Any) -> None:
    assert r.status == status, r.body
    if status == 422:
        assert r.content_type == "application/problem+json"
        assert [(e["type"], tuple(e["loc"]), e["input"]) for e in r.json()["detail"]] == expected
    elif status == 201:
        assert r.json() == expected
    else:
        assert r.json()["detail"].startswith("Invalid JSON body")


@pytest.mark.parametrize("path,body,status,expected", NON_FINITE, ids=[f"{c[0]}-{c[1][-20:].decode()}" for c in NON_FINITE])
def test_non_finite_numbers_in_a_body(served: Transport, path: str, body: bytes, status: int, expected: Any) -> None:
    _non_finite_answer(served.call("POST", path, [("content-type", "application/json")], body), status, expected)


@pytest.mark.parametrize("path,body,status,expected", NON_FINITE_CHECKS,
                         ids=[f"{c[0]}-{c[1][-20:].decode()}" for c in NON_FINITE_CHECKS])
def test_non_finite_numbers_where_fastapi_fails(checked: Transport, path: str, body: bytes, status: int,
                                                expected: Any) -> None:
    _non_finite_answer(checked.call("POST", path, [("content-type", "application/json")], body), status, expected)


def test_request_validation_error_problem_is_writable() -> None:
    """The problem a RequestValidationError answers (an app's handler may call it) holds
    what JSON can: a non-finite input as its name, bytes as text, others as str()."""
    from ringbolt._native import json_dumps
    from ringbolt.typed.problem import RequestValidationError
    exc = RequestValidationError([{"type": "t", "loc": ["body"], "msg": "m",
                                   "input": {"a": [float("nan"), float("-inf"), b"raw", {1, 2}, (1, 2.5)]}}])
    problem = json.loads(json_dumps(exc.problem()))
    assert problem["detail"][0]["input"] == {"a": ["NaN", "-Infinity", "raw", "{1, 2}", [1, 2.5]]}


def _aliased_members(item: Annotated[dict[str, int], Body(alias="the-item")],
                     k: Annotated[int, Body(alias="class")] = 1) -> dict[str, Any]:
    return {"item": item, "k": k}


@pytest.mark.parametrize("body,status,expected", [
    ({"the-item": {"a": 1}, "class": 3}, 200, {"item": {"a": 1}, "k": 3}),
    ({"the-item": {"a": 1}}, 200, {"item": {"a": 1}, "k": 1}),
    ({"item": {"a": 1}}, 422, [("missing", ["body", "the-item"])]),
])
def test_embedded_members_named_by_an_alias_that_is_no_python_name(body: Any, status: int, expected: Any) -> None:
    # the members of an embedded body are read by their names on the wire, "the-item"
    # and "class" included (they were attribute reads in the runner's code: a 500)
    from ringbolt import App
    from ringbolt.testing import TestClient
    app = App()
    app.post("/aliased")(_aliased_members)
    with TestClient(app) as c:
        r = c.post("/aliased", json=body)
    assert r.status_code == status, r.text
    assert (r.json() if status == 200 else [(e["type"], e["loc"]) for e in r.json()["detail"]]) == expected
