"""Typed parameters (docs/typed.md): every scalar converter, the constraints, each
marker (Query, Path, Header, Cookie, Form, File) with aliases, defaults and lists, and
the 422 problem listing every failure, in TestClient and over a real socket to the
server in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Annotated, Any, Iterator

import annotated_types as at
import msgspec
import pytest
from pydantic import AfterValidator, BaseModel, Field

from ringbolt import Cookie, Form, Header, Path, Query

from typed_helpers import Transport, multipart, transport_fixture

served = transport_fixture("testclient", "http1")

UUID = "12345678-1234-5678-1234-567812345678"

# (path, expected value, expected type name) for a value that converts
CONVERTS = [
    ("/conv/int?v=5", 5, "int"),
    ("/conv/int?v=-12", -12, "int"),
    ("/conv/int?v=3.0", 3, "int"),
    ("/conv/int?v=%201_000%20", 1000, "int"),  # as pydantic reads it
    ("/conv/int?v=1&v=2", 2, "int"),  # a repeated name: the last, as FastAPI
    ("/conv/float?v=2.5", 2.5, "float"),
    ("/conv/float?v=7", 7.0, "float"),
    ("/conv/bool?v=yes", True, "bool"),
    ("/conv/bool?v=On", True, "bool"),
    ("/conv/bool?v=1", True, "bool"),
    ("/conv/bool?v=false", False, "bool"),
    ("/conv/bool?v=n", False, "bool"),
    ("/conv/str?v=caf%C3%A9", "café", "str"),
    ("/conv/enum?v=green", "green", "Color"),
    ("/conv/intenum?v=2", 2, "Level"),
    (f"/conv/uuid?v={UUID}", UUID, "UUID"),
    ("/conv/date?v=2024-02-29", "2024-02-29", "date"),
    ("/conv/datetime?v=2024-01-02T03:04:05", "2024-01-02T03:04:05", "datetime"),
    ("/conv/datetime?v=2024-01-02T03:04:05%2B02:00", "2024-01-02T03:04:05+02:00", "datetime"),
    ("/conv/time?v=12:30", "12:30:00", "time"),
    ("/conv/decimal?v=1.50", "1.50", "Decimal"),
    ("/conv/literal?v=b", "b", "str"),
    ("/conv/optint?v=4", 4, "int"),
    ("/conv/listint?v=1&v=2&v=3", [1, 2, 3], "list"),
]

# (path, [(type, loc), ...]) for values that do not
REFUSED = [
    ("/conv/int?v=x", [("int_parsing", ("query", "v"))]),
    ("/conv/int?v=1.5", [("int_parsing", ("query", "v"))]),
    ("/conv/int?v=1e2", [("int_parsing", ("query", "v"))]),
    ("/conv/int?v=%D9%A3", [("int_parsing", ("query", "v"))]),  # an Arabic-Indic digit: Python's int() takes it
    ("/conv/float?v=%D9%A3", [("float_parsing", ("query", "v"))]),
    ("/conv/int?v=" + "9" * 5000, [("int_parsing_size", ("query", "v"))]),
    ("/conv/int", [("missing", ("query", "v"))]),
    ("/conv/int?v=", [("int_parsing", ("query", "v"))]),
    ("/conv/float?v=abc", [("float_parsing", ("query", "v"))]),
    ("/conv/float?v=1e400", [("finite_number", ("query", "v"))]),  # inf: refused, never written back as JSON
    ("/conv/float?v=-nan", [("finite_number", ("query", "v"))]),
    ("/constrained?n=5&x=inf", [("finite_number", ("query", "x"))]),
    ("/conv/bool?v=maybe", [("bool_parsing", ("query", "v"))]),
    ("/conv/enum?v=blue", [("enum", ("query", "v"))]),
    ("/conv/intenum?v=3", [("enum", ("query", "v"))]),
    ("/conv/uuid?v=not-a-uuid", [("uuid_parsing", ("query", "v"))]),
    ("/conv/date?v=2024-02-30", [("date_parsing", ("query", "v"))]),
    ("/conv/datetime?v=yesterday", [("datetime_parsing", ("query", "v"))]),
    ("/conv/time?v=25:00", [("time_parsing", ("query", "v"))]),
    ("/conv/decimal?v=1.2.3", [("decimal_parsing", ("query", "v"))]),
    ("/conv/decimal?v=NaN", [("finite_number", ("query", "v"))]),
    ("/conv/literal?v=c", [("literal_error", ("query", "v"))]),
    ("/conv/listint?v=1&v=x&v=y", [("int_parsing", ("query", "v", 1))]),
    ("/conv/listint", [("missing", ("query", "v"))]),
    ("/conv/optint", [("missing", ("query", "v"))]),  # Optional without a default is required, as in FastAPI
    ("/constrained?n=0", [("greater_than_equal", ("query", "n"))]),
    ("/constrained?n=11", [("less_than_equal", ("query", "n"))]),
    ("/constrained?n=5&s=a", [("string_too_short", ("query", "s"))]),
    ("/constrained?n=5&s=abcdef", [("string_too_long", ("query", "s"))]),
    ("/constrained?n=5&s=AB", [("string_pattern_mismatch", ("query", "s"))]),
    ("/constrained?n=5&x=0", [("greater_than", ("query", "x"))]),
    ("/constrained?n=5&x=1", [("less_than", ("query", "x"))]),
    ("/constrained?n=5&m=7", [("multiple_of", ("query", "m"))]),
    ("/constrained?n=5&tags=1&tags=2&tags=3&tags=4", [("too_long", ("query", "tags"))]),
    # every failure of one request, in one answer
    ("/constrained?n=x&s=A&x=2&m=1&tags=z",
     [("int_parsing", ("query", "n")), ("string_too_short", ("query", "s")), ("less_than", ("query", "x")),
      ("multiple_of", ("query", "m")), ("int_parsing", ("query", "tags", 0))]),
    ("/markers/0", [("greater_than_equal", ("path", "pid")), ("missing", ("query", "item-query")),
                    ("missing", ("header", "x-token"))]),
    ("/markers/x?item-query=q", [("int_parsing", ("path", "pid")), ("missing", ("header", "x-token"))]),
]


@pytest.mark.parametrize("path,value,kind", CONVERTS, ids=[c[0][:40] for c in CONVERTS])
def test_converts(served: Transport, path: str, value: Any, kind: str) -> None:
    r = served.get(path)
    assert r.status == 200, r.body
    assert r.json() == {"v": value, "t": kind}


@pytest.mark.parametrize("path,errors", REFUSED, ids=[c[0][:40] for c in REFUSED])
def test_refused_with_every_failure(served: Transport, path: str, errors: list[tuple[str, tuple[Any, ...]]]) -> None:
    r = served.get(path)
    assert r.detail() == errors
    problem = r.json()
    assert (problem["type"], problem["title"], problem["status"]) == ("about:blank", "Unprocessable Content", 422)
    for e in problem["detail"]:
        assert isinstance(e["msg"], str) and e["msg"]


def test_error_carries_input_and_ctx(served: Transport) -> None:
    e = served.get("/constrained?n=0").json()["detail"][0]
    assert e == {"type": "greater_than_equal", "loc": ["query", "n"], "msg": "Input should be greater than or equal to 1",
                 "input": "0", "ctx": {"ge": 1}}


MARKERS = [
    # headers, cookies, expected members
    ([("x-token", "t")], None, {"x_token": "t", "ua": None, "multi": [], "raw_name": None, "session": None}),
    ([("X-TOKEN", "t2"), ("x-multi", "a"), ("x-multi", "b"), ("User-Agent", "ua/1")], None,
     {"x_token": "t2", "ua": "ua/1", "multi": ["a", "b"]}),
    ([("x-token", "t"), ("raw_name", "r")], None, {"raw_name": "r"}),  # convert_underscores=False
    ([("x-token", "t"), ("raw-name", "r")], None, {"raw_name": None}),
    ([("x-token", "t")], "session=abc; other=1", {"session": "abc"}),
]


@pytest.mark.parametrize("headers,cookie,expected", MARKERS)
def test_headers_cookies_aliases(served: Transport, headers: list[tuple[str, str]], cookie: str | None,
                                 expected: dict[str, Any]) -> None:
    if cookie:
        headers = [*headers, ("cookie", cookie)]
    r = served.get("/markers/3?item-query=z&dflt=7", headers=headers)
    assert r.status == 200, r.body
    got = r.json()
    assert (got["pid"], got["q"], got["dflt"]) == (3, "z", [7])
    assert {k: got[k] for k in expected} == expected


def test_list_default_is_not_shared(served: Transport) -> None:
    assert served.get("/markers/3?item-query=z", headers=[("x-token", "t")]).json()["dflt"] == [1, 2]
    assert served.get("/markers/3?item-query=z", headers=[("x-token", "t")]).json()["dflt"] == [1, 2]


@pytest.mark.parametrize("path,expected", [
    ("/native/7", {"uid": 7, "t": "int", "path": "/native/7"}),  # {uid:int}: the native converter's int
    ("/plain?a=1", {"plain": True, "query": {"a": "1"}}),  # def h(req): as before
    ("/none", {"none": True}),  # no parameter at all
    ("/mixed/4?q=r", {"path": "/mixed/4", "x": 4, "q": "r", "method": "GET"}),  # req and typed together
])
def test_route_shapes(served: Transport, path: str, expected: dict[str, Any]) -> None:
    r = served.get(path)
    assert (r.status, r.json()) == (200, expected)


def test_native_int_route_does_not_match_text(served: Transport) -> None:
    assert served.get("/native/x").status == 404  # {uid:int} does not match: ringbolt's routing, not a 422


FORMS = [
    ("application/x-www-form-urlencoded", b"name=n&age=3&many=a&many=b", 200, {"name": "n", "age": 3, "many": ["a", "b"]}),
    ("application/x-www-form-urlencoded", b"name=n", 200, {"name": "n", "age": 0, "many": []}),
    ("application/x-www-form-urlencoded", b"age=x", 422, [("missing", ("body", "name")), ("int_parsing", ("body", "age"))]),
    ("application/x-www-form-urlencoded", b"name=", 422, [("string_too_short", ("body", "name"))]),
    ("text/plain", b"name=n", 422, [("missing", ("body", "name"))]),
    (*multipart([("name", None, b"m"), ("age", None, b"9")]), 200, {"name": "m", "age": 9, "many": []}),
]


@pytest.mark.parametrize("ctype,body,status,expected", FORMS)
def test_form_fields(served: Transport, ctype: str, body: bytes, status: int, expected: Any) -> None:
    r = served.call("POST", "/form", [("content-type", ctype)], body)
    assert r.status == status, r.body
    assert (r.json() if status == 200 else r.detail()) == expected


def test_file_parts(served: Transport) -> None:
    ctype, body = multipart([("f", "a.txt", b"hello"), ("data", "b.bin", b"xy"), ("note", None, b"n")])
    r = served.call("POST", "/file", [("content-type", ctype)], body)
    assert (r.status, r.json()) == (200, {"name": "a.txt", "size": 5, "data": 2, "note": "n"})
    ctype, body = multipart([("f", None, b"not a file")])
    r = served.call("POST", "/file", [("content-type", ctype)], body)
    assert r.detail() == [("value_error", ("body", "f"))]


# ---- the validators an annotation carries (tests/py/apps/typed_checks_app.py) ----
# Field(ge=1), annotated_types' Gt/MinLen/MaxLen..., After/Before/Plain/WrapValidator and
# Strict on a query, path, header, cookie or form value are pydantic's to apply, as in
# FastAPI: each request below goes to ringbolt (in process and over a socket) and to the
# same routes built with FastAPI's markers, and the answers must be the same.

checked = transport_fixture("testclient", "http1", app="typed_checks_app:app")


@pytest.fixture(scope="module")
def fastapi_app() -> Iterator[Any]:
    from fastapi.testclient import TestClient
    import typed_checks_app
    with TestClient(typed_checks_app.build(fastapi=True), raise_server_exceptions=False) as client:
        yield client


def fastapi_answer(client: Any, method: str, path: str, headers: list[tuple[str, str]],
                   body: bytes | None) -> tuple[int, Any]:
    """(status, the JSON answer or the 422's detail) of FastAPI."""
    r = client.request(method, path, headers=headers, content=body)
    data = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
    return r.status_code, data["detail"] if r.status_code == 422 else data


def ringbolt_answer(served: Transport, method: str, path: str, headers: list[tuple[str, str]],
                    body: bytes | None) -> tuple[int, Any]:
    """(status, the JSON answer or the 422's detail) of ringbolt, a validator's exception
    in ``ctx.error`` written as FastAPI writes it (``{}``; ringbolt writes its text)."""
    r = served.call(method, path, headers, body)
    if r.status != 422:
        return r.status, r.json()
    assert r.content_type == "application/problem+json"
    detail = r.json()["detail"]
    for e in detail:
        if "error" in e.get("ctx", {}):
            assert isinstance(e["ctx"]["error"], str) and e["ctx"]["error"], e
            e["ctx"]["error"] = {}
    return 422, detail


FORM = [("content-type", "application/x-www-form-urlencoded")]

# (method, path, headers, body, status on both)
META: list[tuple[str, str, list[tuple[str, str]], bytes | None, int]] = [
    ("GET", "/meta/field?n=0", [], None, 422),  # Annotated[int, Field(ge=1)]
    ("GET", "/meta/field?n=2", [], None, 200),
    ("GET", "/meta/field?n=x", [], None, 422),
    ("GET", "/meta/field", [], None, 200),  # the default is not validated
    ("GET", "/meta/after?s=xa", [], None, 422),  # Annotated[str | None, AfterValidator(no_x)]
    ("GET", "/meta/after?s=a", [], None, 200),
    ("GET", "/meta/after", [], None, 200),
    ("GET", "/meta/annotated-types?n=1&s=a&m=4", [], None, 422),  # Gt, MinLen, MultipleOf: every failure
    ("GET", "/meta/annotated-types?m=102", [], None, 422),
    ("GET", "/meta/annotated-types?n=3&s=abc&m=6", [], None, 200),
    ("GET", "/meta/marker-and-meta?num=0", [], None, 422),  # Query(ge=1, alias=...) and Le(10)
    ("GET", "/meta/marker-and-meta?num=11", [], None, 422),
    ("GET", "/meta/marker-and-meta?num=7", [], None, 200),
    ("GET", "/meta/list-items?n=1&n=0&n=-1", [], None, 422),  # list[Annotated[int, Gt(0)]]: each item's
    ("GET", "/meta/list-items?n=1&n=x", [], None, 422),
    ("GET", "/meta/list-items?n=1&n=2", [], None, 200),
    ("GET", "/meta/list-len?n=1&n=2&n=3", [], None, 422),  # MaxLen(2) on the list
    ("GET", "/meta/list-len?n=1&n=2", [], None, 200),
    ("GET", "/meta/path/1", [], None, 422),
    ("GET", "/meta/path/x", [], None, 422),
    ("GET", "/meta/path/5", [], None, 200),
    ("GET", "/meta/header", [("x-n", "1")], None, 422),
    ("GET", "/meta/header", [("x-l", "1"), ("x-l", "2"), ("x-l", "3")], None, 422),
    ("GET", "/meta/header", [("x-l", "1"), ("x-l", "y")], None, 422),
    ("GET", "/meta/header", [("x-n", "9"), ("x-l", "7")], None, 200),
    ("GET", "/meta/cookie", [("cookie", "cn=1")], None, 422),
    ("GET", "/meta/cookie", [("cookie", "cn=z")], None, 422),
    ("GET", "/meta/cookie", [("cookie", "cn=9")], None, 200),
    ("GET", "/meta/strict?n=3", [], None, 422),  # Strict(): text is never an int
    ("GET", "/meta/before?n=x3x", [], None, 200),
    ("GET", "/meta/before?n=xyx", [], None, 422),
    ("GET", "/meta/plain?n=3", [], None, 200),
    ("GET", "/meta/plain?n=z", [], None, 422),
    ("GET", "/meta/wrap?n=500", [], None, 200),
    ("GET", "/meta/wrap?n=x", [], None, 422),
    ("GET", "/meta/async?n=0&s=xx", [], None, 422),  # an async handler
    ("GET", "/meta/async?n=3&s=a", [], None, 200),
    ("GET", "/meta/float?x=-1", [], None, 422),
    ("GET", "/meta/float?x=2.5", [], None, 200),
    ("GET", "/meta/note?n=x", [], None, 422),  # metadata pydantic ignores: the converters as before
    ("GET", "/meta/note?n=7", [], None, 200),
    ("POST", "/meta/form", FORM, b"n=1", 422),
    ("POST", "/meta/form", FORM, b"n=5&tags=a&tags=b", 200),
    ("POST", "/meta/form", FORM, b"n=5", 200),
    ("POST", "/meta/body", [("content-type", "application/json")], b'{"n":0}', 422),
    ("POST", "/meta/body", [("content-type", "application/json")], b'{"n":3}', 200),
]


@pytest.mark.parametrize("method,path,headers,body,status", META, ids=[f"{c[0]} {c[1]} {c[2]}"[:60] for c in META])
def test_annotation_validators_apply_as_in_fastapi(checked: Transport, fastapi_app: Any, method: str, path: str,
                                                   headers: list[tuple[str, str]], body: bytes | None,
                                                   status: int) -> None:
    ours = ringbolt_answer(checked, method, path, headers, body)
    theirs = fastapi_answer(fastapi_app, method, path, headers, body)
    assert ours[0] == theirs[0] == status, (ours, theirs)
    assert ours[1] == theirs[1]


def test_annotation_validator_error_in_full(checked: Transport) -> None:
    r = checked.get("/meta/after?s=xa")
    assert r.json()["detail"] == [{"type": "value_error", "loc": ["query", "s"], "msg": "Value error, no x",
                                   "input": "xa", "ctx": {"error": "no x"}}]


@pytest.mark.parametrize("path,expected", [
    ("/meta/float?x=nan", [("finite_number", ("query", "x"))]),  # FastAPI: greater_than
    ("/meta/float?x=inf", [("finite_number", ("query", "x"))]),  # FastAPI: taken (and written as null)
])
def test_annotation_validators_keep_floats_finite(checked: Transport, path: str,
                                                  expected: list[tuple[str, tuple[Any, ...]]]) -> None:
    assert checked.get(path).detail() == expected


class Opaque:
    pass


class MStruct(msgspec.Struct):
    x: int


def _path_list(n: Annotated[list[int], Path(), at.MinLen(1)]) -> None: ...
def _unknown_type(o: Annotated[Opaque, at.Gt(1)] = Opaque()) -> None: ...
def _msgspec_body(s: Annotated[MStruct, AfterValidator(lambda v: v)]) -> None: ...


@pytest.mark.parametrize("path,handler,message", [
    ("/x/{n}", _path_list, "parameter 'n' of _path_list: a path parameter cannot be a list"),
    ("/x", _unknown_type, "parameter 'o' of _unknown_type: pydantic cannot validate <class "),
    ("/x", _msgspec_body, "body parameter 's': msgspec validates "),
])
def test_annotation_validators_refused_at_registration(path: str, handler: Any, message: str) -> None:
    from ringbolt import App
    from ringbolt.typed.plan import PlanError
    with pytest.raises(PlanError) as caught:
        App().post(path)(handler)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_annotation_validators_need_pydantic() -> None:
    code = textwrap.dedent('''
        import sys
        sys.modules["pydantic"] = None
        from typing import Annotated
        import annotated_types as at
        from ringbolt import App
        app = App()
        try:
            @app.get("/")
            def f(n: Annotated[int, at.Ge(1)] = 1):
                return {"n": n}
        except ImportError as exc:
            print("refused:", exc)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "validated by pydantic: pip install 'ringbolt[pydantic]'" in out.stdout


# ---- parameter models in ringbolt's own App (FastAPI's reading, ringbolt's 422) ----

class Page(BaseModel):
    limit: int = Field(10, ge=1)
    tags: list[str] = []


class Strict(BaseModel):
    model_config = {"extra": "forbid"}
    q: str


class Client(BaseModel):
    x_client: str
    x_tag: list[str] = []


class Session(BaseModel):
    session_id: str


class Login(BaseModel):
    username: str
    password: str


class Loose(BaseModel):
    model_config = {"extra": "allow"}
    x_a: str = ""


def _models_app() -> Any:
    from ringbolt import App

    app = App()

    @app.get("/page")
    def page(p: Annotated[Page, Query()]) -> Any:
        return p.model_dump()

    @app.get("/strict")
    def strict(s: Annotated[Strict | None, Query()] = None) -> Any:
        return {"s": s and s.model_dump()}

    @app.get("/client", cache=60)
    def client(c: Annotated[Client, Header()], k: Annotated[Session, Cookie()]) -> Any:
        return {"c": c.model_dump(), "k": k.model_dump()}

    @app.post("/login")
    def login(d: Annotated[Login, Form()]) -> Any:
        return d.model_dump()

    return app


MODEL_CASES = [
    ("GET", "/page?limit=3&tags=a&tags=b", [], None, 200, {"limit": 3, "tags": ["a", "b"]}),
    ("GET", "/strict", [], None, 200, {"s": None}),  # none of it sent: the default
    ("GET", "/strict?q=x", [], None, 200, {"s": {"q": "x"}}),
    ("GET", "/strict?zz=1", [], None, 422, [("missing", ["query", "q"]), ("extra_forbidden", ["query", "zz"])]),
    ("GET", "/page?limit=0", [], None, 422, [("greater_than_equal", ["query", "limit"])]),
    ("GET", "/client", [("X-Client", "a"), ("x-tag", "1"), ("X-Tag", "2"), ("cookie", "session_id=s")], None, 200,
     {"c": {"x_client": "a", "x_tag": ["1", "2"]}, "k": {"session_id": "s"}}),
    ("GET", "/client", [], None, 422, [("missing", ["header", "x-client"]), ("missing", ["cookie", "session_id"])]),
    ("POST", "/login", [("content-type", "application/x-www-form-urlencoded")], b"username=u&password=p", 200,
     {"username": "u", "password": "p"}),
    ("POST", "/login", [("content-type", "application/x-www-form-urlencoded")], b"username=u", 422,
     [("missing", ["body", "password"])]),
    ("POST", "/login", [("content-type", "application/json")], b'{"username": "u"}', 422,
     [("missing", ["body", "username"]), ("missing", ["body", "password"])]),
]


@pytest.mark.parametrize("method,path,headers,body,status,expected", MODEL_CASES)
def test_parameter_models(method: str, path: str, headers: list[tuple[str, str]], body: bytes | None, status: int,
                          expected: Any) -> None:
    from ringbolt.testing import TestClient
    with TestClient(_models_app()) as c:
        r = c.request(method, path, headers=headers, content=body)
    assert r.status_code == status, r.text
    if status == 422:
        assert r.headers["content-type"] == "application/problem+json"
        assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == expected
    else:
        assert r.json() == expected


def test_parameter_model_cache_keys_on_each_field() -> None:
    # a cached route keys on every header and cookie its models read: another X-Tag or
    # session is another answer, never the first one's
    from ringbolt.testing import TestClient
    with TestClient(_models_app()) as c:
        seen = set()
        for tag, session in [("1", "a"), ("2", "a"), ("1", "b"), ("1", "a")]:
            r = c.get("/client", headers=[("X-Client", "c"), ("X-Tag", tag), ("cookie", f"session_id={session}")])
            assert r.json() == {"c": {"x_client": "c", "x_tag": [tag]}, "k": {"session_id": session}}
            seen.add(r.text)
        assert len(seen) == 3


def _loose_headers(h: Annotated[Loose, Header()]) -> Any:
    return h.model_dump()


def test_parameter_model_with_extra_allowed_is_refused_with_cache() -> None:
    # its value holds every header of the request: no key lists them
    from ringbolt import App
    with pytest.raises(ValueError, match="cache= cannot key on the header model 'h'"):
        App().get("/x", cache=60)(_loose_headers)
    App().get("/x")(_loose_headers)  # without cache=: served
