"""One source, two apps: the routes of tests/py/test_typed_params.py (the validators an
annotation carries: ``Field(ge=1)``, annotated_types, ``AfterValidator``...) and of
tests/py/test_typed_bodies.py (the body's Content-Type, NaN in a body), built with
ringbolt's markers (``app``) or FastAPI's (``build(fastapi=True)``), so a test sends both
the same request and compares the answers. No ``from __future__ import annotations``:
the handlers' annotations are evaluated where they are written, for both frameworks."""

import dataclasses
from typing import Annotated, Any

import annotated_types as at
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, PlainValidator, Strict, WrapValidator


def no_x(v: str | None) -> str | None:
    if v is not None and v.startswith("x"):
        raise ValueError("no x")
    return v


def doubled(v: Any) -> int:
    return int(v) * 2


def clamped(v: Any, handler: Any) -> int:
    return min(int(handler(v)), 100)


class Item(BaseModel):
    name: str
    price: float = Field(ge=0)


class Loose(BaseModel):
    name: str
    price: float


class Counted(BaseModel):
    name: str
    price: int


@dataclasses.dataclass
class Point:
    x: int


def build(fastapi: bool = False) -> Any:
    if fastapi:
        from fastapi import Body, Cookie, FastAPI as App, Form, Header, Path, Query
    else:
        from ringbolt import App, Body, Cookie, Form, Header, Path, Query  # type: ignore[assignment]

    app = App()

    # ---- parameters whose annotation carries what pydantic applies ----

    @app.get("/meta/field")
    def field(n: Annotated[int, Field(ge=1)] = 5) -> Any:
        return {"v": n}

    @app.get("/meta/after")
    def after(s: Annotated[str | None, AfterValidator(no_x)] = None) -> Any:
        return {"v": s}

    @app.get("/meta/annotated-types")
    def annotated_types(n: Annotated[int, at.Gt(2)] = 5, s: Annotated[str, at.MinLen(2)] = "ab",
                        m: Annotated[int, at.MultipleOf(3), at.Lt(100)] = 3) -> Any:
        return {"v": [n, s, m]}

    @app.get("/meta/marker-and-meta")
    def marker_and_meta(n: Annotated[int, Query(ge=1, alias="num"), at.Le(10)] = 5) -> Any:
        return {"v": n}

    @app.get("/meta/list-items")
    def list_items(n: Annotated[list[Annotated[int, at.Gt(0)]], Query()] = []) -> Any:
        return {"v": n}

    @app.get("/meta/list-len")
    def list_len(n: Annotated[list[int], Query(), at.MaxLen(2)] = []) -> Any:
        return {"v": n}

    @app.get("/meta/path/{n}")
    def path(n: Annotated[int, Path(), at.Ge(3)]) -> Any:
        return {"v": n}

    @app.get("/meta/header")
    def header(x_n: Annotated[int, Header(), at.Ge(3)] = 4,
               x_l: Annotated[list[int], Header(), at.MaxLen(2)] = []) -> Any:
        return {"v": [x_n, x_l]}

    @app.get("/meta/cookie")
    def cookie(cn: Annotated[int, Cookie(), at.Ge(3)] = 4) -> Any:
        return {"v": cn}

    @app.get("/meta/strict")
    def strict(n: Annotated[int, Strict()] = 4) -> Any:
        return {"v": n}

    @app.get("/meta/before")
    def before(n: Annotated[int, BeforeValidator(lambda v: v.strip("x"))] = 4) -> Any:
        return {"v": n}

    @app.get("/meta/plain")
    def plain(n: Annotated[int, PlainValidator(doubled)] = 4) -> Any:
        return {"v": n}

    @app.get("/meta/wrap")
    def wrap(n: Annotated[int, WrapValidator(clamped)] = 4) -> Any:
        return {"v": n}

    @app.get("/meta/async")
    async def in_async(n: Annotated[int, Field(ge=1)] = 5, s: Annotated[str | None, AfterValidator(no_x)] = None) -> Any:
        return {"v": [n, s]}

    @app.get("/meta/float")
    def floats(x: Annotated[float, at.Gt(0)] = 1.0) -> Any:
        return {"v": x}

    @app.get("/meta/note")
    def note(n: Annotated[int, "a note pydantic ignores"] = 5) -> Any:
        return {"v": n}

    @app.post("/meta/form")
    def form(n: Annotated[int, Form(), at.Ge(3)], tags: Annotated[list[str], Form(), at.MinLen(1)] = ["t"]) -> Any:
        return {"v": [n, tags]}

    @app.post("/meta/body")
    def body(n: Annotated[int, Body(embed=True), at.Gt(0)]) -> Any:
        return {"v": n}

    # ---- bodies: the Content-Type, NaN ----

    @app.post("/ct/model", status_code=201)
    def ct_model(item: Item) -> Any:
        return {"name": item.name}

    @app.post("/ct/optional", status_code=201)
    def ct_optional(item: Item | None = None) -> Any:
        return {"item": None if item is None else item.name}

    @app.post("/ct/int", status_code=201)
    def ct_int(n: Annotated[int, Body()]) -> Any:
        return {"n": n}

    @app.post("/ct/str", status_code=201)
    def ct_str(s: Annotated[str, Body()]) -> Any:
        return {"s": s}

    @app.post("/ct/list", status_code=201)
    def ct_list(v: Annotated[list[int], Body()]) -> Any:
        return {"v": v}

    @app.post("/ct/dataclass", status_code=201)
    def ct_dataclass(p: Point) -> Any:
        return {"x": p.x}

    @app.post("/ct/embed", status_code=201)
    def ct_embed(a: Annotated[int, Body()], b: Annotated[int, Body()]) -> Any:
        return {"a": a, "b": b}

    @app.post("/ct/embed-defaults", status_code=201)
    def ct_embed_defaults(a: Annotated[int, Body()] = 1, b: Annotated[list[int], Body()] = [2]) -> Any:
        return {"a": a, "b": b}

    @app.post("/nan/constrained", status_code=201)
    def nan_constrained(item: Item) -> Any:
        return {"price": str(item.price)}

    @app.post("/nan/loose", status_code=201)
    def nan_loose(item: Loose) -> Any:
        return {"price": str(item.price)}

    @app.post("/nan/int", status_code=201)
    def nan_int(item: Counted) -> Any:
        return {"price": item.price}

    return app


app = build()
