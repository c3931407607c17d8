"""Typed routes for tests/py/test_typed_*.py: every marker and converter, pydantic and
msgspec bodies and response models, dependencies (cached, nested, generators whose
clean-up is watched, Security scopes, app-scoped), async handlers and a handler that
mixes ``req`` with typed parameters. ``/log`` and ``/release`` let a test watch the
clean-ups from outside the server's process."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import threading
import uuid
from typing import Annotated, Any, Literal, TypedDict

import msgspec
from pydantic import BaseModel, Field, TypeAdapter

from ringbolt import (App, Body, Cookie, Depends, File, Form, Header, HTTPException, Path, Query, Request, Response,
                      Security, SecurityScopes, UploadFile)

app = App()


class Color(enum.Enum):
    red = "red"
    green = "green"


class Level(enum.IntEnum):
    low = 1
    high = 2


def show(v: Any) -> Any:
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, (uuid.UUID, decimal.Decimal)):
        return str(v)
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, list):
        return [show(x) for x in v]
    return v


CONVERTERS: dict[str, Any] = {
    "int": int, "float": float, "bool": bool, "str": str, "enum": Color, "intenum": Level, "uuid": uuid.UUID,
    "date": datetime.date, "datetime": datetime.datetime, "time": datetime.time, "decimal": decimal.Decimal,
    "literal": Literal["a", "b"], "optint": int | None, "listint": list[int],
}


def _converter_route(tp: Any) -> Any:
    def convert(v):  # type: ignore[no-untyped-def]
        return {"v": show(v), "t": type(v).__name__}
    convert.__annotations__ = {"v": tp}  # made here: `from __future__ import annotations` keeps text
    return convert


for _name, _tp in CONVERTERS.items():
    app.get(f"/conv/{_name}")(_converter_route(_tp))


@app.get("/constrained")
def constrained(
    n: Annotated[int, Query(ge=1, le=10)],
    s: Annotated[str, Query(min_length=2, max_length=5, pattern="^[a-z]+$")] = "abc",
    x: float = Query(0.5, gt=0, lt=1),
    m: int = Query(0, multiple_of=5),
    tags: Annotated[list[int], Query(max_length=3)] = [],
) -> dict[str, Any]:
    return {"n": n, "s": s, "x": x, "m": m, "tags": tags}


@app.get("/markers/{pid}")
def markers(
    pid: Annotated[int, Path(ge=1)],
    q: Annotated[str, Query(alias="item-query")],
    x_token: Annotated[str, Header()],
    ua: Annotated[str | None, Header(alias="User-Agent")] = None,
    multi: Annotated[list[str], Header(alias="x-multi")] = [],
    raw_name: str | None = Header(None, convert_underscores=False),
    session: str | None = Cookie(None),
    dflt: list[int] = Query([1, 2]),
) -> dict[str, Any]:
    return {"pid": pid, "q": q, "x_token": x_token, "ua": ua, "multi": multi, "raw_name": raw_name,
            "session": session, "dflt": dflt}


@app.get("/native/{uid:int}")
def native_int(uid: int, req: Request) -> dict[str, Any]:
    return {"uid": uid, "t": type(uid).__name__, "path": req.path}


@app.get("/plain")
def plain(req):  # type: ignore[no-untyped-def]
    return {"plain": True, "query": dict(req.query)}


@app.get("/none")
def no_params() -> dict[str, Any]:
    return {"none": True}


# ---- bodies: pydantic ----

class Tag(BaseModel):
    name: str


class ItemIn(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(ge=0)
    tags: list[Tag] = []
    note: str | None = None


class ItemOut(BaseModel):
    name: str
    price: float


class User(BaseModel):
    id: int


@app.post("/p/items", response_model=ItemOut, status_code=201)
def p_create(item: ItemIn, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> Any:
    return item


@app.post("/p/embed")
def p_embed(item: ItemIn, user: User, importance: Annotated[int, Body(gt=0)]) -> dict[str, Any]:
    return {"item": item.name, "user": user.id, "importance": importance}


@app.post("/p/embed1")
def p_embed1(item: Annotated[ItemIn, Body(embed=True)]) -> dict[str, Any]:
    return {"item": item.name}


@app.post("/p/optional")
def p_optional(item: ItemIn | None = None) -> dict[str, Any]:
    return {"item": None if item is None else item.name}


@app.post("/p/scalar")
def p_scalar(n: Annotated[int, Body()]) -> dict[str, Any]:
    return {"n": n}


TAGS = TypeAdapter(list[Tag])


@app.post("/p/adapter")
def p_adapter(tags: TAGS) -> dict[str, Any]:  # type: ignore[valid-type]
    return {"names": [t.name for t in tags]}


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Pair(TypedDict):
    a: int
    b: str


@app.post("/dc")
def dc_body(p: Point) -> Point:
    return Point(p.x * 2, p.y * 2)


@app.post("/td")
def td_body(p: Pair) -> dict[str, Any]:
    return {"a": p["a"], "b": p["b"]}


# ---- bodies: msgspec ----

class MTag(msgspec.Struct):
    name: str


class MItem(msgspec.Struct):
    name: str
    price: Annotated[float, msgspec.Meta(ge=0)]
    tags: list[MTag] = []


class MOut(msgspec.Struct):
    name: str
    price: float


@app.post("/m/items", status_code=201)
def m_create(item: MItem) -> MOut:
    return item  # type: ignore[return-value]  # filtered to MOut's fields


@app.post("/m/embed")
def m_embed(item: MItem, tag: MTag) -> dict[str, Any]:
    return {"item": item.name, "tag": tag.name}


class PAny(BaseModel):
    data: Any


class MAny(msgspec.Struct):
    data: Any


@app.post("/p/any")
def p_any(body: PAny) -> dict[str, Any]:
    return {"kind": type(body.data).__name__}


@app.post("/m/any")
def m_any(body: MAny) -> dict[str, Any]:
    return {"kind": type(body.data).__name__}


class MNumbers(msgspec.Struct):
    n: int


class PNumbers(BaseModel):
    n: int


@app.post("/m/int")
def m_int(body: MNumbers) -> dict[str, Any]:
    return {"n": body.n}


@app.post("/p/int")
def p_int(body: PNumbers) -> dict[str, Any]:
    return {"n": body.n}


# ---- responses ----

@app.get("/resp/filter", response_model=ItemOut)
def resp_filter() -> Any:
    return {"name": "a", "price": 1, "secret": "x"}


@app.get("/resp/bad", response_model=ItemOut)
def resp_bad() -> Any:
    return {"name": "a"}


@app.get("/resp/list", response_model=list[ItemOut])
def resp_list() -> Any:
    return [{"name": "a", "price": 1, "secret": 1}, ItemIn(name="b", price=2)]


@app.get("/resp/model")
def resp_model_unannotated():  # type: ignore[no-untyped-def]
    return ItemOut(name="m", price=3)


@app.get("/resp/struct")
def resp_struct():  # type: ignore[no-untyped-def]
    return MOut(name="s", price=4)


@app.get("/resp/dataclass")
def resp_dataclass():  # type: ignore[no-untyped-def]
    return Point(1, 2)


@dataclasses.dataclass
class Pet:
    name: str
    age: float
    color: Color = Color.red


@dataclasses.dataclass
class Owner:
    name: str
    pets: list[Pet]
    extra: dict[str, list[dict[str, str]]]
    level: Level | None = None


@dataclasses.dataclass
class Stamped:  # a datetime: not a plain dataclass, written by pydantic
    at: datetime.datetime
    age: float


def _owners() -> list[Owner]:
    return [Owner("a", [Pet("p", 2)], {"k": [{"x": "y"}]}, Level.high), Owner("b", [], {})]


@app.get("/resp/owners")
def resp_owners() -> list[Owner]:
    return _owners()


@app.get("/resp/owners-and-a-dict")
def resp_owners_and_a_dict() -> list[Owner]:
    return [*_owners(), {"name": "c", "pets": [{"name": "q", "age": 3}], "extra": {}}]  # type: ignore[list-item]


@app.get("/resp/stamped")
def resp_stamped() -> Stamped:
    return Stamped(datetime.datetime(2026, 1, 2, 3, 4, 5), 2)


@app.get("/resp/status", status_code=202)
def resp_status() -> dict[str, Any]:
    return {"accepted": True}


@app.get("/resp/response", response_model=ItemOut)
def resp_response() -> Any:
    return Response(b"raw", 203, content_type="text/plain")


@app.get("/resp/raise")
def resp_raise() -> Any:
    raise HTTPException(404, detail="nope", headers={"x-e": "1"})


@app.get("/resp/none", response_model=None)
def resp_none() -> ItemOut:
    return {"name": "unfiltered", "extra": 1}  # type: ignore[return-value]


# ---- forms ----

@app.post("/form")
def form(name: Annotated[str, Form(min_length=1)], age: Annotated[int, Form()] = 0,
         many: Annotated[list[str], Form()] = []) -> dict[str, Any]:
    return {"name": name, "age": age, "many": many}


@app.post("/file")
def file(f: Annotated[UploadFile, File()], data: Annotated[bytes | None, File()] = None,
         note: str = Form("")) -> dict[str, Any]:
    return {"name": f.filename, "size": len(f.read()), "data": None if data is None else len(data), "note": note}


# ---- dependencies ----

LOG: list[str] = []
RELEASE = threading.Event()


@app.get("/log")
def log(req):  # type: ignore[no-untyped-def]
    return {"log": list(LOG)}


@app.post("/log/clear")
def log_clear(req):  # type: ignore[no-untyped-def]
    LOG.clear()
    RELEASE.clear()
    return {"cleared": True}


@app.post("/release")
def release(req):  # type: ignore[no-untyped-def]
    RELEASE.set()
    return {"released": True}


def counter() -> int:
    LOG.append("counter")
    return len(LOG)


def pair(a: Annotated[int, Depends(counter)], b: Annotated[int, Depends(counter)]) -> bool:
    LOG.append("pair")
    return a == b


def fresh(a: int = Depends(counter, use_cache=False), b: int = Depends(counter, use_cache=False)) -> bool:
    return a != b


def paging(limit: Annotated[int, Query(ge=1, le=50)] = 5, x_key: Annotated[str, Header()] = "none") -> dict[str, Any]:
    return {"limit": limit, "key": x_key}


class Common:
    def __init__(self, q: str | None = None, skip: int = 0) -> None:
        self.q = q
        self.skip = skip


@app.get("/deps/cache")
def deps_cache(same: Annotated[bool, Depends(pair)], c: Annotated[int, Depends(counter)],
               differ: Annotated[bool, Depends(fresh)]) -> dict[str, Any]:
    return {"same": same, "c": c, "differ": differ, "log": list(LOG)}


@app.get("/deps/params")
def deps_params(page: Annotated[dict[str, Any], Depends(paging)], common: Annotated[Common, Depends()]) -> Any:
    return {"page": page, "q": common.q, "skip": common.skip}


def audit() -> None:
    LOG.append("audit")


@app.get("/deps/route-level", dependencies=[Depends(audit)])
def deps_route_level() -> dict[str, Any]:
    return {"log": list(LOG)}


def held() -> Any:
    LOG.append("held-open")
    try:
        yield "resource"
    except Exception as exc:
        LOG.append(f"held-exc:{type(exc).__name__}")
        raise
    finally:
        LOG.append(f"held-close:released={RELEASE.wait(10)}")


async def aheld() -> Any:
    LOG.append("aheld-open")
    try:
        yield "aresource"
    except Exception as exc:
        LOG.append(f"aheld-exc:{type(exc).__name__}")
        raise
    finally:
        released = await asyncio.get_running_loop().run_in_executor(None, RELEASE.wait, 10)
        LOG.append(f"aheld-close:released={released}")


@app.get("/deps/held")
def deps_held(r: Annotated[str, Depends(held)]) -> dict[str, Any]:
    LOG.append("handler")
    return {"r": r}


@app.get("/deps/held-fail")
def deps_held_fail(r: Annotated[str, Depends(held)]) -> dict[str, Any]:
    LOG.append("handler")
    raise HTTPException(409, detail="conflict")


@app.get("/deps/aheld")
async def deps_aheld(r: Annotated[str, Depends(aheld)], s: Annotated[str, Depends(held)]) -> dict[str, Any]:
    LOG.append("handler")
    return {"r": r, "s": s}


@app.get("/deps/aheld-fail")
async def deps_aheld_fail(r: Annotated[str, Depends(aheld)]) -> dict[str, Any]:
    LOG.append("handler")
    raise ValueError("boom")


def get_user(authorization: Annotated[str | None, Header()] = None) -> str:
    if authorization is None:
        raise HTTPException(401, detail="Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return authorization.removeprefix("Bearer ")


@app.get("/me")
def me(user: Annotated[str, Depends(get_user)]) -> dict[str, Any]:
    return {"user": user}


def oauth(scopes: SecurityScopes, authorization: Annotated[str | None, Header()] = None) -> list[str]:
    if authorization != "Bearer good":
        raise HTTPException(401, detail="bad token", headers={"WWW-Authenticate": f'Bearer scope="{scopes.scope_str}"'})
    return scopes.scopes


def current_user(scopes: Annotated[list[str], Security(oauth, scopes=["me"])]) -> list[str]:
    return scopes


@app.get("/sec/items")
def sec_items(scopes: Annotated[list[str], Security(current_user, scopes=["items"])]) -> dict[str, Any]:
    return {"scopes": scopes}


POOL_MADE: list[str] = []


def pool() -> Any:
    POOL_MADE.append("made")
    yield {"pool": len(POOL_MADE)}
    POOL_MADE.append("closed")


@app.get("/app-dep")
def app_dep(p: Annotated[dict[str, Any], Depends(pool, scope="app")]) -> dict[str, Any]:
    return {"p": p, "made": list(POOL_MADE)}


# ---- async and mixed ----

async def async_dep(limit: int = 3) -> int:
    await asyncio.sleep(0)
    return limit * 2


@app.get("/async/q")
async def async_q(a: int, d: Annotated[int, Depends(async_dep)], tags: list[str] = Query([])) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"a": a, "d": d, "tags": tags}


@app.post("/async/items", response_model=ItemOut)
async def async_items(item: ItemIn) -> Any:
    return item


@app.get("/mixed/{x}")
def mixed(req: Request, x: int, q: str = "") -> dict[str, Any]:
    return {"path": req.path, "x": x, "q": q, "method": req.method}
