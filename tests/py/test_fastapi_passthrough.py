"""A response model whose check can neither refuse nor change a value of exactly its types
(``-> dict[str, Any]``, ``dict``, ``list``, ``Any``, lists and str-keyed dicts of those,
``-> list[Item]`` of plain pydantic models: FastAPI's common annotations) writes such a
value natively, without pydantic's check, and every other value as FastAPI does
(pydantic's check and writer): the same status and bytes as FastAPI 0.165 for each value,
the same app run on both (ringbolt.fastapi over a real socket, FastAPI in process)."""

from __future__ import annotations

import decimal
import enum
import math
from typing import Any, Callable

import pydantic
import pytest


class Kind(str, enum.Enum):
    A = "a"
    B = "b"


class Item(pydantic.BaseModel):
    name: str
    price: float
    kind: Kind = Kind.A
    tags: list[str] = []


class ItemChild(Item):
    note: str = "n"


VALUES: dict[str, Any] = {
    "plain": {"limit": 20, "q": "abc", "nested": {"a": [1, 2.5, None, True]}},
    "decimal": {"price": decimal.Decimal("1.50")},
    "int_key": {1: "a"},
    "nested_int_key": {"a": {1: "b"}},
    "nan": {"x": math.nan},
    "set": {"tags": {"a"}},
    "list": [1, "a", {"b": None}],
    "str": "hello",
    "none": None,
    "list_of_dicts": [{"a": 1, "b": [2.5, None]}, {}, {"c": {"d": "e"}}],
    "list_int_key": [{"a": 1}, {1: "a"}],
    "list_not_dicts": [{"a": 1}, 2],
    "list_decimal": [{"price": decimal.Decimal("1.50")}],
    "dict_of_lists": {"a": [1, "b"], "c": []},
    "dict_of_dicts": {"a": {"b": 1}, "c": {"d": [True]}},
    # pydantic's own spellings, which the writer matches byte for byte: floats positional
    # from 1e-5 to 1e16 and an exponent without padding beyond (json.dumps: 1e-05, 1e-07)
    "floats": {"f": [1e-7, 1e-5, 3.5e-6, 1.5e-5, 0.1, 1e15, 1e16, -2.5e-300, 1.5e300, 5e-324, -0.0]},
    # what the writer leaves to pydantic: keys that are not str under Any (pydantic
    # writes None as "None", a tuple as "1,2") and a lone surrogate (pydantic refuses)
    "none_key": {"a": {None: 1}},
    "tuple_key": {"a": {(1, 2): 3}},
    "bool_key": {"a": {True: 1}},
    "surrogate": {"s": "a\ud800"},
    # plain pydantic models (list[Item]'s write plan), a subclass (written as Item), NaN
    "models": [Item(name="a", price=1e-7, kind=Kind.B, tags=["x"]), Item(name="é", price=2.5)],
    "model_subclass": [ItemChild(name="a", price=1.0)],
    "model_nan": [Item(name="a", price=math.nan)],
}
ANNOTATIONS = {"dict_str_any": dict[str, Any], "dict": dict, "list": list, "any": Any,
               "list_dict_str_any": list[dict[str, Any]], "dict_str_list": dict[str, list[Any]],
               "dict_str_dict": dict[str, dict[str, Any]], "list_model": list[Item]}


def make_app(fastapi: Any) -> Any:
    app = fastapi.FastAPI()

    def route(annotation: Any, value: Any) -> Callable[[], Any]:
        def handler() -> Any:
            return value
        handler.__annotations__ = {"return": annotation}
        return handler

    for aname, annotation in ANNOTATIONS.items():
        for vname, value in VALUES.items():
            app.get(f"/{aname}/{vname}")(route(annotation, value))
    return app


@pytest.fixture(scope="module")
def answers() -> dict[str, tuple[Any, Any]]:
    import fastapi
    from fastapi.testclient import TestClient as FastAPIClient

    import ringbolt.fastapi
    from ringbolt.fastapi.testclient import TestClient

    out: dict[str, tuple[Any, Any]] = {}
    reference = FastAPIClient(make_app(fastapi), raise_server_exceptions=False)
    with TestClient(make_app(ringbolt.fastapi), raise_server_exceptions=False) as ours:
        for aname in ANNOTATIONS:
            for vname in VALUES:
                path = f"/{aname}/{vname}"
                out[path] = (_answer(reference.get(path)), _answer(ours.get(path)))
    return out


def _answer(r: Any) -> tuple[int, Any]:
    return r.status_code, (r.content if r.status_code == 200 else None)  # the bytes: the same text


@pytest.mark.parametrize("vname", list(VALUES))
@pytest.mark.parametrize("aname", list(ANNOTATIONS))
def test_same_answer_as_fastapi(answers: dict[str, tuple[Any, Any]], aname: str, vname: str) -> None:
    theirs, ours = answers[f"/{aname}/{vname}"]
    assert ours == theirs


def test_the_native_way_is_taken_for_json_values() -> None:
    """The check pydantic would make is skipped for a value of JSON's own types: the
    model's writer is never called for it (and is for the others)."""
    import ringbolt.fastapi

    from ringbolt.typed.writers import write_fastapi

    app = make_app(ringbolt.fastapi)
    d = next(d for d in app._defs if d.path == "/dict_str_any/plain")
    calls: list[Any] = []
    spec = d.plan.response
    original = spec.write
    spec.write = lambda v: (calls.append(v), original(v))[1]
    try:
        write = write_fastapi(spec)
        assert write(VALUES["plain"]).body == b'{"limit":20,"q":"abc","nested":{"a":[1,2.5,null,true]}}'
        assert calls == []
        write(VALUES["decimal"])
        assert calls == [VALUES["decimal"]]
    finally:
        spec.write = original


@pytest.mark.parametrize("path,native,other", [
    ("/list_dict_str_any/list_of_dicts", "list_of_dicts", ["list_int_key", "list_not_dicts", "list_decimal"]),
    ("/dict_str_dict/dict_of_dicts", "dict_of_dicts", ["dict_of_lists", "nested_int_key", "decimal"]),
    ("/list_model/models", "models", ["model_subclass", "model_nan", "list_of_dicts"]),
])
def test_nested_shapes_are_written_natively(path: str, native: str, other: list[str]) -> None:
    """A list of str-keyed dicts (and a str-keyed dict of them) of JSON's own values is
    written without the model's writer; a value of another shape or with other values
    goes to it."""
    import json

    import ringbolt.fastapi

    from ringbolt.typed.writers import write_fastapi

    app = make_app(ringbolt.fastapi)
    spec = next(d for d in app._defs if d.path == path).plan.response
    calls: list[Any] = []
    original = spec.write
    spec.write = lambda v: (calls.append(v), original(v))[1]
    try:
        write = write_fastapi(spec)
        assert json.loads(write(VALUES[native]).body) == pydantic.TypeAdapter(spec.model).dump_python(
            VALUES[native], mode="json")
        assert calls == []
        for name in other:
            try:
                write(VALUES[name])
            except Exception:  # the model refuses it: FastAPI's 500 (test_same_answer_as_fastapi)
                pass
        assert calls == [VALUES[name] for name in other]
    finally:
        spec.write = original
