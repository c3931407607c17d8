"""What a request's parameters and body become under FastAPI's conventions
(``ringbolt.fastapi``): parameter models (a pydantic model as ``Query()``, ``Header()``,
``Cookie()`` or ``Form()``), several body parameters, forms and files, each answer (and
each 422, field by field) as FastAPI 0.165 gives it, over a real socket to the app served
in this process by ``ringbolt.fastapi.testclient.TestClient``."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib
import time
import uuid
from typing import Annotated, Any, Callable, Literal

import pydantic
import pytest
from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, HttpUrl

from ringbolt import forms
from ringbolt.fastapi import Body, Cookie, Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from ringbolt.fastapi.encoders import jsonable_encoder
from ringbolt.fastapi.exception_handlers import request_validation_exception_handler
from ringbolt.fastapi.exceptions import RequestValidationError
from ringbolt.fastapi.responses import JSONResponse
from ringbolt.fastapi.testclient import TestClient

app = FastAPI()


@app.post("/upload")
async def upload(file: UploadFile) -> Any:
    head = await file.read(4)
    return {"filename": file.filename, "head": head.decode(), "size": file.size}



# ---- bodies ----
class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.post("/two")
def two(item: Item, importance: Annotated[int, Body(gt=0)], q: Annotated[str | None, Body()] = None):
    return {"item": item, "importance": importance, "q": q}
@app.post("/embed")
def embed(item: Annotated[Item, Body(embed=True)]): return item
@app.post("/embedopt")
def embedopt(item: Annotated[Item | None, Body(embed=True)] = None): return item
@app.post("/single")
def single(item: Item): return item
@app.post("/singleopt")
def singleopt(item: Item | None = None): return item
@app.post("/weights")
def weights(weights: dict[int, float]): return weights
class StrictItem(BaseModel):
    model_config = {"strict": True}
    id: uuid.UUID


@app.post("/strict")
def strict(item: StrictItem) -> Any:
    return item


@app.post("/ids")
def ids(ids: list[int]): return ids


# ---- dependencies' parameters ----
class Named(BaseModel):
    name: str


def named_dep(item: Named) -> str:
    return item.name
def named_dep2(item: Named, n: Annotated[str, Depends(named_dep)]) -> str:
    return n + "!"
def importance_dep(importance: Annotated[int, Body()]) -> int:
    return importance
def token_dep(x_token: Annotated[str, Header()], c: Annotated[int, Cookie()] = 0) -> str:
    return x_token
def page_dep(q2: Annotated[int, Query()], t: Annotated[str, Depends(token_dep)]) -> int:
    return q2
@app.post("/shared-body")
def shared_body(item: Named, n: Annotated[str, Depends(named_dep)]):
    return {"item": item, "n": n}
@app.post("/shared-deps")
def shared_deps(n: Annotated[str, Depends(named_dep)], m: Annotated[str, Depends(named_dep2)]):
    return {"n": n, "m": m}
@app.post("/dep-order")
def dep_order(i: Annotated[int, Depends(importance_dep)], item: Named, q: Annotated[int, Body()]):
    return {"i": i, "item": item, "q": q}
@app.get("/source-order/{pid}")
def source_order(pid: int, q: int, p: Annotated[int, Depends(page_dep)], h: Annotated[str, Header()]):
    return [pid, q, p, h]
@app.post("/aliased")
def aliased(item: Annotated[Named, Body(alias="the-item")], k: Annotated[int, Body(alias="k-k")] = 1):
    return {"item": item, "k": k}


handled = FastAPI()
@handled.exception_handler(RequestValidationError)
async def on_invalid(request: Request, exc: RequestValidationError):
    return JSONResponse({"locs": [repr(e["loc"]) for e in exc.errors()],
                         "body": [type(exc.body).__name__, jsonable_encoder(exc.body)]}, status_code=422)
@handled.post("/json/{n}")
async def handled_json(n: int, item: Named):
    return item
@handled.post("/form")
async def handled_form(name: Annotated[str, Form()], n: Annotated[int, Form()]):
    return name
@handled.get("/none")
async def handled_none(n: int):
    return n


delegating = FastAPI()


@delegating.exception_handler(RequestValidationError)
async def delegate(request: Request, exc: RequestValidationError) -> Any:
    return await request_validation_exception_handler(request, exc)


def _no_x(v: str) -> str:
    if "x" in v:
        raise ValueError("no x")
    return v


@delegating.get("/checked")
async def checked(s: Annotated[str, AfterValidator(_no_x)]) -> Any:
    return s


# ---- forms and files ----
@app.post("/form")
def plain_form(a: Annotated[str, Form()], b: Annotated[int, Form()] = 3, c: Annotated[list[str], Form()] = [], d: Annotated[str | None, Form()] = None): return {"a": a, "b": b, "c": c, "d": d}
@app.post("/files")
async def files(x: Annotated[bytes, File()], y: UploadFile, z: Annotated[list[UploadFile], File()], o: UploadFile | None = None, ob: Annotated[bytes | None, File()] = None):
    return {"x": x.decode(), "y": y.filename, "z": [f.filename for f in z], "o": o and o.filename, "ob": ob and ob.decode()}
@app.post("/shared")
async def shared(file: UploadFile, raw: Annotated[bytes, File(alias="file")]):
    return {"raw": raw.decode(), "read": (await file.read()).decode()}


# ---- scalars ----
@app.get("/scalars")
def scalars(u: uuid.UUID | None = None, d: datetime.date | None = None, dt: datetime.datetime | None = None,
            t: datetime.time | None = None, ds: Annotated[list[datetime.date], Query()] = [],
            ratio: Annotated[float, Query(gt=0, lt=1)] = 0.5):
    return {"u": u, "d": d, "dt": dt, "t": t, "ds": ds, "ratio": ratio}


# ---- parameter models ----
class Filter(BaseModel):
    limit: int = Field(100, gt=0, le=100)
    order_by: Literal["created_at", "updated_at"] = "created_at"
    tags: list[str] = []
class Forbid(Filter):
    model_config = {"extra": "forbid"}
class Allow(Filter):
    model_config = {"extra": "allow"}
class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    item_q: str = Field("d", alias="item-q")
    other: str | None = Field(None, validation_alias=AliasChoices("o", "oth"))
class Range(BaseModel):
    start: int
    end: int
@app.get("/q")
def q(f: Annotated[Filter, Query()]): return f
@app.get("/qf")
def qf(f: Annotated[Forbid, Query()]): return f
@app.get("/qa")
def qa(f: Annotated[Allow, Query()]): return f
@app.get("/qal")
def qal(f: Annotated[Aliased, Query()]): return f
@app.get("/qopt")
def qopt(r: Annotated[Range | None, Query()] = None, limit: int = 1): return {"limit": limit, "r": r}
@app.get("/qreq")
def qreq(r: Annotated[Range | None, Query()]): return {"r": r}
class H(BaseModel):
    save_data: bool
    x_tag: list[str] = []
    al: str | None = Field(None, alias="X-Al")
class HF(H):
    model_config = {"extra": "forbid"}
@app.get("/h")
def h(hh: Annotated[H, Header()]): return hh
@app.get("/hnc")
def hnc(hh: Annotated[H, Header(convert_underscores=False)]): return hh
@app.get("/hf")
def hf(hh: Annotated[HF, Header()]): return hh
class HO(BaseModel):
    x_client_name: str
    x_client_version: str
@app.get("/ho")
def ho(c: Annotated[HO | None, Header()] = None): return c
class C(BaseModel):
    session_id: str
    tracker: str | None = None
class CF(C):
    model_config = {"extra": "forbid"}
@app.get("/c")
def c_(c: Annotated[C, Cookie()]): return c
@app.get("/cf")
def cf(c: Annotated[CF, Cookie()]): return c
@app.get("/co")
def co(c: Annotated[C | None, Cookie()] = None): return c
class FD(BaseModel):
    username: str
    tags: list[str] = []
    n: int = 0
class FDF(FD):
    model_config = {"extra": "forbid"}
@app.post("/f")
def f(d: Annotated[FD, Form()]): return d
@app.post("/ff")
def ff(d: Annotated[FDF, Form()]): return d
class P(BaseModel):
    name: str
class PA(BaseModel):
    name: str
    age: int
@app.post("/fmix")
async def fmix(p: Annotated[P, Form()], token: Annotated[str, Form()], avatar: UploadFile, pa: Annotated[PA | None, Form()] = None):
    return {"p": p, "token": token, "avatar": avatar.filename, "pa": pa}
class Person(BaseModel):
    kind: Literal["person"]
    name: str
class Company(BaseModel):
    kind: Literal["company"]
    company_name: str
@app.post("/fu")
def fu(c: Annotated[Person | Company | None, Form(discriminator="kind")] = None): return c


class Upload(BaseModel):
    title: str
    file: UploadFile
    extra: list[UploadFile] = []


@app.post("/upload-model")
async def upload_model(d: Annotated[Upload, Form()]) -> Any:
    return {"title": d.title, "file": d.file.filename, "data": (await d.file.read()).decode(),
            "extra": [f.filename for f in d.extra]}


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(app) as c:
        yield c


def _client_of(other: Callable[[], Any]) -> Any:
    """A module fixture: a TestClient of the app ``other()`` (one defined further down),
    served while ``client`` is (a TestClient stopped in the module's middle stops the event
    loop the other's async routes use)."""
    @pytest.fixture(scope="module")
    def served(client: Any) -> Any:
        with TestClient(other()) as c:
            yield c
    return served


handled_client = _client_of(lambda: handled)
delegating_client = _client_of(lambda: delegating)
lax_client = _client_of(lambda: lax)


# ---- files ----

@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("size", [10, 2 << 20])  # in memory, and spooled to a temp file
def test_upload_file_is_closed_after_the_response(client: Any, tmp_path: Any, monkeypatch: Any, size: int) -> None:
    # FastAPI's UploadFile.close is a coroutine: the form's clean-up after the response
    # must close the file itself, not make a coroutine nobody awaits (a RuntimeWarning,
    # and a temp file left on disk)
    monkeypatch.setitem(forms.DEFAULTS, "spool_dir", str(tmp_path))
    r = client.post("/upload", files={"file": ("a.txt", b"abcd" + b"x" * (size - 4), "text/plain")})
    assert r.status_code == 200, r.text
    assert r.json() == {"filename": "a.txt", "head": "abcd", "size": size}
    deadline = time.monotonic() + 5
    while list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("options", "status", "answer"), [
    # a form model's file fields (FastAPI's UploadFile validates as a pydantic type)
    ({"data": {"title": "t"}, "files": [("file", ("a.txt", b"abc", "text/plain")), ("extra", ("b", b"1", "text/plain")),
                                        ("extra", ("c", b"2", "text/plain"))]},
     200, {"title": "t", "file": "a.txt", "data": "abc", "extra": ["b", "c"]}),
    ({"data": {"title": "t", "file": "notafile"}},
     422, {"detail": [{"type": "value_error", "loc": ["body", "file"], "input": "notafile", "ctx": {"error": {}},
                       "msg": "Value error, Expected UploadFile, received: <class 'str'>"}]}),
    ({"data": {"title": "t"}},
     422, {"detail": [{"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": {"title": "t"}}]}),
])
def test_form_model_with_files(client: Any, options: dict[str, Any], status: int, answer: Any) -> None:
    r = client.post("/upload-model", **options)
    assert (r.status_code, r.json()) == (status, answer)


@pytest.mark.parametrize(("headers", "content_type"), [
    (None, None), ({"Content-Type": "text/csv"}, "text/csv"), ([("content-type", "image/png")], "image/png"),
])
def test_upload_file_made_by_hand(headers: Any, content_type: str | None) -> None:
    # Starlette's constructor (a test or a dependency override makes one)
    import asyncio
    import io
    f = UploadFile(io.BytesIO(b"xyz"), filename="f.txt", size=3, headers=headers)
    assert (f.filename, f.size, f.content_type, f.headers.get("content-type")) == ("f.txt", 3, content_type,
                                                                                    content_type)

    async def use() -> bytes:
        await f.seek(3)
        await f.write(b"!")
        await f.seek(0)
        data = await f.read()
        await f.close()
        return data
    assert asyncio.run(use()) == b"xyz!" and f.size == 4


def _part(name: str, data: bytes = b"data") -> tuple[str, bytes, str]:
    return (name, data, "text/plain")


# (target, request options, FastAPI 0.165's status and JSON answer): a form field's last
# value, an empty one as none sent, a bytes file sent as text, empty file parts
FORMS = [
    ('/form', {},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'a'], 'msg': 'Field required', 'input': None}]}),
    ('/form', {'data': {'a': ''}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'a'], 'msg': 'Field required', 'input': None}]}),
    ('/form', {'data': {'a': ['x', 'y'], 'b': ['1', '2']}},
     200, {'a': 'y', 'b': 2, 'c': [], 'd': None}),
    ('/form', {'data': {'a': 'x', 'b': '', 'd': ''}},
     200, {'a': 'x', 'b': 3, 'c': [], 'd': None}),
    ('/form', {'data': {'a': 'x', 'b': 'z', 'c': ['1', '2']}},
     422, {'detail': [{'type': 'int_parsing', 'loc': ['body', 'b'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'z'}]}),
    ('/form', {'json': {'a': 'x'}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'a'], 'msg': 'Field required', 'input': None}]}),
    ('/form', {'content': b'a=x', 'headers': {'content-type': 'text/plain'}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'a'], 'msg': 'Field required', 'input': None}]}),
    ('/form', {'files': {'a': (None, 'x'), 'b': (None, '2')}},
     200, {'a': 'x', 'b': 2, 'c': [], 'd': None}),
    ('/files', {'files': [('x', _part('x.txt', b'xx')), ('y', _part('y.txt')), ('z', ('z1', b'data', 'text/plain')), ('z', ('z2', b'data', 'text/plain'))]},
     200, {'x': 'xx', 'y': 'y.txt', 'z': ['z1', 'z2'], 'o': None, 'ob': None}),
    ('/files', {'files': [('x', _part('x.txt', b'xx')), ('y', _part('y.txt')), ('z', ('z1', b'data', 'text/plain')), ('o', ('o', b'data', 'text/plain')), ('ob', ('ob', b'obdata', 'text/plain'))]},
     200, {'x': 'xx', 'y': 'y.txt', 'z': ['z1'], 'o': 'o', 'ob': 'obdata'}),
    ('/files', {'files': [('x', ('', b'', 'text/plain')), ('y', ('', b'', 'text/plain')), ('z', ('', b'', 'text/plain'))]},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'x'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'y'], 'msg': 'Field required', 'input': None}, {'type': 'value_error', 'loc': ['body', 'z', 0], 'msg': "Value error, Expected UploadFile, received: <class 'str'>", 'input': '', 'ctx': {'error': {}}}]}),
    ('/files', {'data': {'x': 'text', 'y': 'text', 'z': 't'}},
     422, {'detail': [{'type': 'value_error', 'loc': ['body', 'y'], 'msg': "Value error, Expected UploadFile, received: <class 'str'>", 'input': 'text', 'ctx': {'error': {}}}, {'type': 'value_error', 'loc': ['body', 'z', 0], 'msg': "Value error, Expected UploadFile, received: <class 'str'>", 'input': 't', 'ctx': {'error': {}}}]}),
    ('/files', {},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'x'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'y'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'z'], 'msg': 'Field required', 'input': None}]}),
    ('/shared', {'files': {'file': ('f.txt', b'content', 'text/plain')}},
     200, {'raw': 'content', 'read': 'content'}),
]


@pytest.mark.parametrize(("target", "options", "status", "answer"), FORMS)
def test_forms_and_files_answer_as_fastapi(client: Any, target: str, options: dict[str, Any], status: int,
                                           answer: Any) -> None:
    r = client.post(target, **options)
    assert (r.status_code, r.json()) == (status, answer)


# ---- bodies ----

# (target, request options, FastAPI 0.165's status and JSON answer): several body
# parameters (each member on its own), Body(embed=True), FastAPI's Python-mode error
# names, malformed JSON, an unmarked dict or list as the body
BODIES = [
    ('/two', {},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'importance'], 'msg': 'Field required', 'input': None}]}),
    ('/two', {'json': None},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'importance'], 'msg': 'Field required', 'input': None}]}),
    ('/two', {'json': []},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'importance'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'q'], 'msg': 'Field required', 'input': None}]}),
    ('/two', {'json': {}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'importance'], 'msg': 'Field required', 'input': None}]}),
    ('/two', {'json': {'item': {'name': 'a', 'price': 1}, 'importance': 0}},
     422, {'detail': [{'type': 'greater_than', 'loc': ['body', 'importance'], 'msg': 'Input should be greater than 0', 'input': 0, 'ctx': {'gt': 0}}]}),
    ('/two', {'json': {'item': {'name': 'a', 'price': 1, 'tags': 'x'}, 'importance': 2, 'q': 's'}},
     422, {'detail': [{'type': 'list_type', 'loc': ['body', 'item', 'tags'], 'msg': 'Input should be a valid list', 'input': 'x'}]}),
    ('/two', {'json': {'item': {'name': 'a'}, 'user': 1}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item', 'price'], 'msg': 'Field required', 'input': {'name': 'a'}}, {'type': 'missing', 'loc': ['body', 'importance'], 'msg': 'Field required', 'input': None}]}),
    ('/two', {'content': b'{"item": 1}', 'headers': {'content-type': 'text/plain'}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'importance'], 'msg': 'Field required', 'input': None}]}),
    ('/embed', {'json': {'name': 'a', 'price': 1}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}]}),
    ('/embed', {'json': {'item': {'name': 'a', 'price': 1}}},
     200, {'name': 'a', 'price': 1.0, 'tags': []}),
    ('/embed', {'json': 3},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}]}),
    ('/embedopt', {},
     200, None),
    ('/embedopt', {'json': []},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}]}),
    ('/single', {},
     422, {'detail': [{'type': 'missing', 'loc': ['body'], 'msg': 'Field required', 'input': None}]}),
    ('/single', {'json': None},
     422, {'detail': [{'type': 'missing', 'loc': ['body'], 'msg': 'Field required', 'input': None}]}),
    ('/single', {'json': []},
     422, {'detail': [{'type': 'model_attributes_type', 'loc': ['body'], 'msg': 'Input should be a valid dictionary or object to extract fields from', 'input': []}]}),
    ('/single', {'json': {'name': 'a', 'price': 'x', 'tags': {}}},
     422, {'detail': [{'type': 'float_parsing', 'loc': ['body', 'price'], 'msg': 'Input should be a valid number, unable to parse string as a number', 'input': 'x'}, {'type': 'list_type', 'loc': ['body', 'tags'], 'msg': 'Input should be a valid list', 'input': {}}]}),
    ('/single', {'content': b'{some broken json}', 'headers': {'content-type': 'application/json'}},
     422, {'detail': [{'type': 'json_invalid', 'loc': ['body', 1], 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': 'Expecting property name enclosed in double quotes'}}]}),
    ('/single', {'content': b'{"name": "a",', 'headers': {'content-type': 'application/json'}},
     422, {'detail': [{'type': 'json_invalid', 'loc': ['body', 13], 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': 'Expecting property name enclosed in double quotes'}}]}),
    ('/single', {'content': b'{"name": "a", "price": 1}'},
     422, {'detail': [{'type': 'model_attributes_type', 'loc': ['body'], 'msg': 'Input should be a valid dictionary or object to extract fields from', 'input': '{"name": "a", "price": 1}'}]}),
    ('/singleopt', {'json': None},
     200, None),
    ('/singleopt', {'json': 5},
     422, {'detail': [{'type': 'model_attributes_type', 'loc': ['body'], 'msg': 'Input should be a valid dictionary or object to extract fields from', 'input': 5}]}),
    ('/weights', {'json': {'1': 2.5, '3': 4}},
     200, {'1': 2.5, '3': 4.0}),
    ('/weights', {'json': {'x': 1, '2': 'y'}},
     422, {'detail': [{'type': 'int_parsing', 'loc': ['body', 'x', '[key]'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'x'}, {'type': 'float_parsing', 'loc': ['body', '2'], 'msg': 'Input should be a valid number, unable to parse string as a number', 'input': 'y'}]}),
    ('/weights', {'json': []},
     422, {'detail': [{'type': 'dict_type', 'loc': ['body'], 'msg': 'Input should be a valid dictionary', 'input': []}]}),
    # a strict model: Python mode's rules, as FastAPI (JSON mode would take the string)
    ('/strict', {'json': {'id': '12345678-1234-5678-1234-567812345678'}},
     422, {'detail': [{'type': 'is_instance_of', 'loc': ['body', 'id'], 'msg': 'Input should be an instance of UUID',
                       'input': '12345678-1234-5678-1234-567812345678', 'ctx': {'class': 'UUID'}}]}),
    ('/ids', {'json': [1, '2']},
     200, [1, 2]),
    ('/ids', {'json': {'a': 1}},
     422, {'detail': [{'type': 'list_type', 'loc': ['body'], 'msg': 'Input should be a valid list', 'input': {'a': 1}}]}),
    ('/ids', {'json': [1, 'x']},
     422, {'detail': [{'type': 'int_parsing', 'loc': ['body', 1], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'x'}]}),
]


@pytest.mark.parametrize(("target", "options", "status", "answer"), BODIES)
def test_bodies_answer_as_fastapi(client: Any, target: str, options: dict[str, Any], status: int,
                                  answer: Any) -> None:
    r = client.post(target, **options)
    assert (r.status_code, r.json()) == (status, answer)


def test_body_parser_failure_is_400(client: Any, monkeypatch: Any) -> None:
    # FastAPI answers 400 "There was an error parsing the body" when json.loads raises
    # anything but a decode error (its own test patches json.loads)
    import json

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("parser broken")
    monkeypatch.setattr(json, "loads", broken)
    r = client.post("/single", json={"test": "test2"})
    monkeypatch.undo()  # (the client reads the answer with json.loads too)
    assert (r.status_code, r.json()) == (400, {"detail": "There was an error parsing the body"})
    assert client.post("/single", json={"name": "a", "price": 1}).status_code == 200


lax = FastAPI()
lax.strict_content_type = False  # what FastAPI(strict_content_type=False) sets


@lax.post("/items")
async def lax_item(item: Item) -> Any:
    return item


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 200),  # no Content-Type: JSON, as FastAPI's strict_content_type=False reads it
    ({"content-type": "application/json"}, 200),
    ({"content-type": "text/plain"}, 422),  # another type is still not JSON
])
def test_lax_content_type_reads_a_body_without_one_as_json(client: Any, lax_client: Any, headers: dict[str, str],
                                                           status: int) -> None:
    r = lax_client.post("/items", content=b'{"name": "Foo", "price": 50.5}', headers=headers)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == {"name": "Foo", "price": 50.5, "tags": []}
    # the default: strict
    assert client.post("/single", content=b'{"name": "Foo", "price": 50.5}', headers=headers).status_code == (
        200 if headers.get("content-type") == "application/json" else 422)


# ---- dependencies' parameters ----

# (method, target, request options, FastAPI 0.165's status and JSON answer): a body
# parameter a dependency and the handler share (one member, an error for each), the
# errors in FastAPI's order (each dependency's, then the handler's), an alias that is no
# Python name
DEPENDENCIES = [
    ('POST', '/shared-body', {'json': {'name': 'x'}},
     200, {'item': {'name': 'x'}, 'n': 'x'}),
    ('POST', '/shared-body', {'json': {}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'name'], 'msg': 'Field required', 'input': {}}, {'type': 'missing', 'loc': ['body', 'name'], 'msg': 'Field required', 'input': {}}]}),
    ('POST', '/shared-body', {},
     422, {'detail': [{'type': 'missing', 'loc': ['body'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body'], 'msg': 'Field required', 'input': None}]}),
    ('POST', '/shared-deps', {'json': {'name': 'x'}},
     200, {'n': 'x', 'm': 'x!'}),
    ('POST', '/shared-deps', {'json': {}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'name'], 'msg': 'Field required', 'input': {}}, {'type': 'missing', 'loc': ['body', 'name'], 'msg': 'Field required', 'input': {}}, {'type': 'missing', 'loc': ['body', 'name'], 'msg': 'Field required', 'input': {}}]}),
    ('POST', '/dep-order', {'json': {'importance': 2, 'item': {'name': 'a'}, 'q': 1}},
     200, {'i': 2, 'item': {'name': 'a'}, 'q': 1}),
    ('POST', '/dep-order', {'json': {'importance': 'x', 'q': 'y'}},
     422, {'detail': [{'type': 'int_parsing', 'loc': ['body', 'importance'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'x'}, {'type': 'missing', 'loc': ['body', 'item'], 'msg': 'Field required', 'input': None}, {'type': 'int_parsing', 'loc': ['body', 'q'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'y'}]}),
    ('GET', '/source-order/x?q=y&q2=z', {'headers': {'cookie': 'c=w'}},
     422, {'detail': [{'type': 'missing', 'loc': ['header', 'x-token'], 'msg': 'Field required', 'input': None}, {'type': 'int_parsing', 'loc': ['cookie', 'c'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'w'}, {'type': 'int_parsing', 'loc': ['query', 'q2'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'z'}, {'type': 'int_parsing', 'loc': ['path', 'pid'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'x'}, {'type': 'int_parsing', 'loc': ['query', 'q'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'y'}, {'type': 'missing', 'loc': ['header', 'h'], 'msg': 'Field required', 'input': None}]}),
    ('POST', '/aliased', {'json': {'the-item': {'name': 'x'}, 'k-k': 3}},
     200, {'item': {'name': 'x'}, 'k': 3}),
    ('POST', '/aliased', {'json': {'item': {}}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'the-item'], 'msg': 'Field required', 'input': None}]}),
]


@pytest.mark.parametrize(("method", "target", "options", "status", "answer"), DEPENDENCIES)
def test_dependency_parameters_answer_as_fastapi(client: Any, method: str, target: str, options: dict[str, Any],
                                                 status: int, answer: Any) -> None:
    r = client.request(method, target, **options)
    assert (r.status_code, r.json()) == (status, answer)


# (an app's handler of RequestValidationError) each error's loc a tuple, exc.body the
# body as FastAPI read it: the JSON value, malformed JSON's text, the bytes of another
# type, the form, None
HANDLED = [
    ('POST', '/json/x', {'json': {'name': 1, 'extra': [1]}},
     422, {'locs': ["('path', 'n')", "('body', 'name')"], 'body': ['dict', {'name': 1, 'extra': [1]}]}),
    ('POST', '/json/1', {'content': b'{"name": ', 'headers': {'content-type': 'application/json'}},
     422, {'locs': ["('body', 9)"], 'body': ['str', '{"name": ']}),
    ('POST', '/json/1', {'content': b'plain', 'headers': {'content-type': 'text/plain'}},
     422, {'locs': ["('body',)"], 'body': ['bytes', 'plain']}),
    ('POST', '/json/1', {},
     422, {'locs': ["('body',)"], 'body': ['NoneType', None]}),
    ('POST', '/form', {'data': {'n': 'x'}},
     422, {'locs': ["('body', 'name')", "('body', 'n')"], 'body': ['FormData', {'n': 'x'}]}),
    ('GET', '/none?n=x', {},
     422, {'locs': ["('query', 'n')"], 'body': ['NoneType', None]}),
]


@pytest.mark.parametrize(("method", "target", "options", "status", "answer"), HANDLED)
def test_validation_error_handler_sees_fastapi_errors(handled_client: Any, method: str, target: str,
                                                      options: dict[str, Any], status: int, answer: Any) -> None:
    r = handled_client.request(method, target, **options)
    assert (r.status_code, r.json()) == (status, answer)


def test_default_validation_handler_writes_a_validator_exception_as_fastapi(delegating_client: Any) -> None:
    # exc.errors() holds the exception itself, as pydantic's do: FastAPI's handler writes
    # it with jsonable_encoder ({})
    r = delegating_client.get("/checked?s=xa")
    assert (r.status_code, r.json()) == (422, {"detail": [{"type": "value_error", "loc": ["query", "s"], "input": "xa",
                                                           "msg": "Value error, no x", "ctx": {"error": {}}}]})


# ---- scalars ----


def _uuid_refusal(text: str) -> str:
    """pydantic-core's reason for a malformed UUID (its wording changed in 2.50)."""
    try:
        pydantic.TypeAdapter(uuid.UUID).validate_python(text)
    except pydantic.ValidationError as exc:
        return str(exc.errors()[0]["ctx"]["error"])
    raise AssertionError(f"{text!r} is a UUID")


_UUID_BAD = _uuid_refusal("bad")

# (query, FastAPI 0.165's status and JSON answer): pydantic's own errors for a UUID,
# date, datetime or time; a float's bounds as floats in ctx
SCALARS = [
    ('?u=12345678-1234-5678-1234-567812345678&d=2024-02-29&dt=2024-01-02T03:04:05Z&t=12:30&ratio=0.25',
     200, {'u': '12345678-1234-5678-1234-567812345678', 'd': '2024-02-29', 'dt': '2024-01-02T03:04:05+00:00', 't': '12:30:00', 'ds': [], 'ratio': 0.25}),
    ('?u=bad&d=2024-02-30&dt=x&t=25:00',
     422, {'detail': [{'type': 'uuid_parsing', 'loc': ['query', 'u'], 'msg': f'Input should be a valid UUID, {_UUID_BAD}', 'input': 'bad', 'ctx': {'error': _UUID_BAD}}, {'type': 'date_from_datetime_parsing', 'loc': ['query', 'd'], 'msg': 'Input should be a valid date or datetime, day value is outside expected range', 'input': '2024-02-30', 'ctx': {'error': 'day value is outside expected range'}}, {'type': 'datetime_from_date_parsing', 'loc': ['query', 'dt'], 'msg': 'Input should be a valid datetime or date, input is too short', 'input': 'x', 'ctx': {'error': 'input is too short'}}, {'type': 'time_parsing', 'loc': ['query', 't'], 'msg': 'Input should be in a valid time format, hour value is outside expected range of 0-23', 'input': '25:00', 'ctx': {'error': 'hour value is outside expected range of 0-23'}}]}),
    ('?d=1700000000&dt=1700000000',
     422, {'detail': [{'type': 'date_from_datetime_inexact', 'loc': ['query', 'd'], 'msg': 'Datetimes provided to dates should have zero time - e.g. be exact dates', 'input': '1700000000'}]}),
    ('?ds=2024-01-01&ds=nope',
     422, {'detail': [{'type': 'date_from_datetime_parsing', 'loc': ['query', 'ds', 1], 'msg': 'Input should be a valid date or datetime, input is too short', 'input': 'nope', 'ctx': {'error': 'input is too short'}}]}),
    ('?ratio=0',
     422, {'detail': [{'type': 'greater_than', 'loc': ['query', 'ratio'], 'msg': 'Input should be greater than 0', 'input': '0', 'ctx': {'gt': 0.0}}]}),
    ('?ratio=1',
     422, {'detail': [{'type': 'less_than', 'loc': ['query', 'ratio'], 'msg': 'Input should be less than 1', 'input': '1', 'ctx': {'lt': 1.0}}]}),
]


@pytest.mark.parametrize(("query", "status", "answer"), SCALARS)
def test_scalars_answer_as_fastapi(client: Any, query: str, status: int, answer: Any) -> None:
    r = client.get("/scalars" + query)
    assert (r.status_code, r.json()) == (status, answer)


def test_float_bound_in_ctx_is_a_float(client: Any) -> None:
    # pydantic reports a float parameter's bound as a float ("gt": 0.0), which == 0 hides
    [error] = client.get("/scalars?ratio=0").json()["detail"]
    assert type(error["ctx"]["gt"]) is float


# ---- parameter models ----

# (method, target, request options, FastAPI 0.165's status and JSON answer, checked there)
PARAM_MODELS = [
    ('GET', '/q', {},
     200, {'limit': 100, 'order_by': 'created_at', 'tags': []}),
    ('GET', '/q?limit=5&order_by=updated_at&tags=a&tags=b&limit=7', {},
     200, {'limit': 7, 'order_by': 'updated_at', 'tags': ['a', 'b']}),
    ('GET', '/q?limit=0&order_by=no&tool=x', {},
     422, {'detail': [{'type': 'greater_than', 'loc': ['query', 'limit'], 'msg': 'Input should be greater than 0', 'input': '0', 'ctx': {'gt': 0}}, {'type': 'literal_error', 'loc': ['query', 'order_by'], 'msg': "Input should be 'created_at' or 'updated_at'", 'input': 'no', 'ctx': {'expected': "'created_at' or 'updated_at'"}}]}),
    ('GET', '/q?limit=x&tags=', {},
     422, {'detail': [{'type': 'int_parsing', 'loc': ['query', 'limit'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'x'}]}),
    ('GET', '/qf?limit=3&tool=plumbus&tool=b', {},
     422, {'detail': [{'type': 'extra_forbidden', 'loc': ['query', 'tool'], 'msg': 'Extra inputs are not permitted', 'input': ['plumbus', 'b']}]}),
    ('GET', '/qa?limit=3&tool=plumbus&tool=b', {},
     200, {'limit': 3, 'order_by': 'created_at', 'tags': [], 'tool': ['plumbus', 'b']}),
    ('GET', '/qal?item-q=1&oth=4', {},
     200, {'item-q': '1', 'other': '4'}),
    ('GET', '/qal?item_q=2&o=3&oth=5', {},
     200, {'item-q': '2', 'other': '3'}),
    ('GET', '/qopt?limit=3', {},
     200, {'limit': 3, 'r': None}),
    ('GET', '/qopt?start=1', {},
     422, {'detail': [{'type': 'missing', 'loc': ['query', 'end'], 'msg': 'Field required', 'input': {'start': '1'}}]}),
    ('GET', '/qopt?start=1&end=2', {},
     200, {'limit': 1, 'r': {'start': 1, 'end': 2}}),
    ('GET', '/qreq', {},
     422, {'detail': [{'type': 'missing', 'loc': ['query'], 'msg': 'Field required', 'input': None}]}),
    ('GET', '/h', {'headers': [('save-data', 'yes'), ('x-tag', 'a'), ('X-Tag', 'b'), ('X-Al', 'al')]},
     200, {'save_data': True, 'x_tag': ['a', 'b'], 'X-Al': 'al'}),
    ('GET', '/h', {'headers': [('save_data', 'true')]},
     422, {'detail': [{'type': 'missing', 'loc': ['header', 'save-data'], 'msg': 'Field required', 'input': {'host': 'testserver', 'accept': '*/*', 'connection': 'keep-alive', 'user-agent': 'testclient', 'accept-encoding': 'identity'}}]}),
    ('GET', '/hnc', {'headers': [('save_data', 'on'), ('x_tag', 'a')]},
     200, {'save_data': True, 'x_tag': ['a'], 'X-Al': None}),
    ('GET', '/hnc', {'headers': [('save-data', 'on')]},
     422, {'detail': [{'type': 'missing', 'loc': ['header', 'save_data'], 'msg': 'Field required', 'input': {'host': 'testserver', 'accept': '*/*', 'connection': 'keep-alive', 'user-agent': 'testclient', 'save-data': 'on', 'accept-encoding': 'identity'}}]}),
    ('GET', '/hf', {'headers': [('save-data', 'maybe'), ('tool', 'p')]},
     422, {'detail': [{'type': 'bool_parsing', 'loc': ['header', 'save-data'], 'msg': 'Input should be a valid boolean, unable to interpret input', 'input': 'maybe'}, {'type': 'extra_forbidden', 'loc': ['header', 'host'], 'msg': 'Extra inputs are not permitted', 'input': 'testserver'}, {'type': 'extra_forbidden', 'loc': ['header', 'accept'], 'msg': 'Extra inputs are not permitted', 'input': '*/*'}, {'type': 'extra_forbidden', 'loc': ['header', 'connection'], 'msg': 'Extra inputs are not permitted', 'input': 'keep-alive'}, {'type': 'extra_forbidden', 'loc': ['header', 'user-agent'], 'msg': 'Extra inputs are not permitted', 'input': 'testclient'}, {'type': 'extra_forbidden', 'loc': ['header', 'tool'], 'msg': 'Extra inputs are not permitted', 'input': 'p'}, {'type': 'extra_forbidden', 'loc': ['header', 'accept-encoding'], 'msg': 'Extra inputs are not permitted', 'input': 'identity'}]}),
    ('GET', '/ho', {},
     200, None),
    ('GET', '/ho', {'headers': {'X-Client-Name': 'a'}},
     422, {'detail': [{'type': 'missing', 'loc': ['header', 'x-client-version'], 'msg': 'Field required', 'input': {'x_client_name': 'a', 'host': 'testserver', 'accept': '*/*', 'connection': 'keep-alive', 'user-agent': 'testclient', 'accept-encoding': 'identity'}}]}),
    ('GET', '/ho', {'headers': {'X-Client-Name': 'a', 'X-Client-Version': '1'}},
     200, {'x_client_name': 'a', 'x_client_version': '1'}),
    ('GET', '/c', {'headers': {'cookie': 'session_id=1; tracker=2; foo=bar'}},
     200, {'session_id': '1', 'tracker': '2'}),
    ('GET', '/c', {'headers': {'cookie': 'tracker=2'}},
     422, {'detail': [{'type': 'missing', 'loc': ['cookie', 'session_id'], 'msg': 'Field required', 'input': {'tracker': '2'}}]}),
    ('GET', '/cf', {'headers': {'cookie': 'session_id=1; foo=bar'}},
     422, {'detail': [{'type': 'extra_forbidden', 'loc': ['cookie', 'foo'], 'msg': 'Extra inputs are not permitted', 'input': 'bar'}]}),
    ('GET', '/co', {'headers': {'cookie': 'foo=bar'}},
     200, None),
    ('GET', '/co', {'headers': {'cookie': 'tracker=2'}},
     422, {'detail': [{'type': 'missing', 'loc': ['cookie', 'session_id'], 'msg': 'Field required', 'input': {'tracker': '2'}}]}),
    ('POST', '/f', {'data': {'username': 'a', 'tags': ['x', 'y'], 'n': '3'}},
     200, {'username': 'a', 'tags': ['x', 'y'], 'n': 3}),
    ('POST', '/f', {'data': {'username': ['a', 'b'], 'n': ''}},
     200, {'username': 'b', 'tags': [], 'n': 0}),
    ('POST', '/f', {},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'username'], 'msg': 'Field required', 'input': {}}]}),
    ('POST', '/f', {'data': {'username': '', 'n': 'x'}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'username'], 'msg': 'Field required', 'input': {'n': 'x'}}, {'type': 'int_parsing', 'loc': ['body', 'n'], 'msg': 'Input should be a valid integer, unable to parse string as an integer', 'input': 'x'}]}),
    ('POST', '/f', {'json': {'username': 'a'}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'username'], 'msg': 'Field required', 'input': {}}]}),
    ('POST', '/ff', {'data': {'username': 'a', 'zz': '1'}},
     422, {'detail': [{'type': 'extra_forbidden', 'loc': ['body', 'zz'], 'msg': 'Extra inputs are not permitted', 'input': '1'}]}),
    # (FastAPI writes an UploadFile in an input as Starlette's object's attributes; ringbolt as its repr)
    ('POST', '/fmix', {'data': {'name': 'R', 'token': 't'}, 'files': {'avatar': ('a.png', b'x', 'image/png')}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'age'], 'msg': 'Field required', 'input': {'name': 'R', 'token': 't', 'avatar': "UploadFile(filename='a.png', content_type='image/png', size=1)"}}]}),
    ('POST', '/fmix', {'data': {'name': 'R', 'token': 't', 'age': '70'}, 'files': {'avatar': ('a.png', b'x', 'image/png')}},
     200, {'p': {'name': 'R'}, 'token': 't', 'avatar': 'a.png', 'pa': {'name': 'R', 'age': 70}}),
    ('POST', '/fmix', {'data': {'name': 'R', 'token': 't', 'age': '70', 'name2': 'x'}, 'files': {'avatar': ('a.png', b'x', 'image/png')}},
     200, {'p': {'name': 'R'}, 'token': 't', 'avatar': 'a.png', 'pa': {'name': 'R', 'age': 70}}),
    ('POST', '/fmix', {'data': {'token': ''}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'name'], 'msg': 'Field required', 'input': {'token': ''}}, {'type': 'missing', 'loc': ['body', 'token'], 'msg': 'Field required', 'input': None}, {'type': 'missing', 'loc': ['body', 'avatar'], 'msg': 'Field required', 'input': None}]}),
    ('POST', '/fu', {},
     200, None),
    ('POST', '/fu', {'data': {'kind': 'person', 'name': 'R'}},
     200, {'kind': 'person', 'name': 'R'}),
    ('POST', '/fu', {'data': {'kind': 'company'}},
     422, {'detail': [{'type': 'missing', 'loc': ['body', 'company', 'company_name'], 'msg': 'Field required', 'input': {'kind': 'company'}}]}),
    ('POST', '/fu', {'data': {'name': 'R'}},
     422, {'detail': [{'type': 'union_tag_not_found', 'loc': ['body'], 'msg': "Unable to extract tag using discriminator 'kind'", 'input': {'name': 'R'}, 'ctx': {'discriminator': "'kind'"}}]}),
    ('POST', '/fu', {'data': {'kind': 'zz'}},
     422, {'detail': [{'type': 'union_tag_invalid', 'loc': ['body'], 'msg': "Input tag 'zz' found using 'kind' does not match any of the expected tags: 'person', 'company'", 'input': {'kind': 'zz'}, 'ctx': {'discriminator': "'kind'", 'tag': 'zz', 'expected_tags': "'person', 'company'"}}]}),
]


@pytest.mark.parametrize(("method", "target", "options", "status", "answer"), PARAM_MODELS)
def test_parameter_models_answer_as_fastapi(client: Any, method: str, target: str, options: dict[str, Any],
                                            status: int, answer: Any) -> None:
    options = dict(options)
    headers = options.pop("headers", {})
    headers = list(headers.items()) if isinstance(headers, dict) else list(headers)
    r = client.request(method, target, headers=[*headers, ("accept-encoding", "identity")], **options)
    assert (r.status_code, r.json()) == (status, answer)


# ---- types pydantic validates and ringbolt's converters do not ----

def _types_app(fastapi: Any) -> Any:
    types_app = fastapi.FastAPI()

    @types_app.get("/url")
    def url(u: HttpUrl | None = None, ip: ipaddress.IPv4Address | None = None,
            p: pathlib.Path | None = None) -> Any:
        return {"u": str(u) if u else None, "ip": str(ip) if ip else None, "p": str(p) if p else None}
    return types_app


@pytest.mark.parametrize("query", ["u=https://example.com/x", "u=not-a-url", "ip=10.0.0.1", "ip=300.1.1.1",
                                   "p=/tmp/a", ""])
def test_a_pydantic_type_as_a_query_parameter_answers_as_fastapi(query: str) -> None:
    """An ``HttpUrl``, ``IPv4Address`` or ``Path`` query parameter (FastAPI's callbacks
    tutorial takes a ``callback_url: HttpUrl``) is validated by pydantic, as FastAPI does,
    where ringbolt's converters stop: the same answers as FastAPI 0.165's."""
    import fastapi as real
    from fastapi.testclient import TestClient as FastAPIClient

    import ringbolt.fastapi

    theirs = FastAPIClient(_types_app(real)).get(f"/url?{query}")
    with TestClient(_types_app(ringbolt.fastapi)) as c:
        ours = c.get(f"/url?{query}")
    assert (ours.status_code, ours.json()) == (theirs.status_code, theirs.json())
