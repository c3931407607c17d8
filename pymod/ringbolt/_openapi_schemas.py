"""JSON Schemas (2020-12, as OpenAPI 3.1 takes them) for the OpenAPI document: a
parameter's from its ``ParamSpec`` (the type and the marker's constraints that
``ringbolt._convert`` enforces, nothing more), and a body's or response's model from the
library that validates it (``ringbolt._models.library_for``): pydantic's
``TypeAdapter.json_schemas`` and ``msgspec.json.schema_components``, each run once over
every type of the document so a model used by several routes is one component under
``components.schemas`` that they ``$ref``."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import logging
import typing
import uuid
from typing import Any, Literal

from . import _convert, _models
from ._plan import ParamSpec
from .params import Param, Required

logger = logging.getLogger("ringbolt")

REF = "#/components/schemas/{model}"
MSGSPEC_REF = "#/components/schemas/{name}"
REF_PREFIX = "#/components/schemas/"

#: the bounds of a native ``{x:int}`` path segment (dispatch/router.cpp: it must fit int64)
INT64 = (-(2**63), 2**63 - 1)

_FORMATS: dict[Any, dict[str, Any]] = {
    uuid.UUID: {"type": "string", "format": "uuid"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
    decimal.Decimal: {"type": "number"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bytes: {"type": "string"},
}
_NUMBERS = (int, float, decimal.Decimal)
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum",
           "multiple_of": "multipleOf"}


def jsonable(value: Any) -> tuple[bool, Any]:
    """``(True, value as JSON)`` for the values a default or example can be written as,
    else ``(False, None)``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value != value:  # NaN has no JSON
            return False, None
        return True, value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return True, str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return True, value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        out = []
        for v in value:
            ok, j = jsonable(v)
            if not ok:
                return False, None
            out.append(j)
        return True, out
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        d = {}
        for k, v in value.items():
            ok, j = jsonable(v)
            if not ok:
                return False, None
            d[k] = j
        return True, d
    return False, None


def _values_type(values: list[Any]) -> dict[str, Any]:
    kinds = {type(v) for v in values}
    if kinds <= {str}:
        return {"type": "string"}
    if kinds <= {int}:
        return {"type": "integer"}
    if kinds <= {int, float}:
        return {"type": "number"}
    if kinds <= {bool}:
        return {"type": "boolean"}
    return {}


def scalar(tp: Any) -> dict[str, Any]:
    """The schema of one path/query/header/cookie/form value of type ``tp`` (the types
    ``ringbolt._convert`` converts)."""
    if tp in _FORMATS:
        return dict(_FORMATS[tp])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        return {**_values_type(values), "enum": values, "title": tp.__name__}
    if typing.get_origin(tp) is Literal:
        values = list(typing.get_args(tp))
        return {**_values_type(values), "enum": values}
    if tp in (Any, object, inspect.Parameter.empty):
        return {}
    return {"type": "string"}


def _constrain(schema: dict[str, Any], tp: Any, marker: Param) -> None:
    """The marker's constraints that its converter checks on one value of ``tp``:
    lengths and pattern on text, bounds on numbers."""
    if tp is str or tp in (Any, object) or (isinstance(tp, type) and issubclass(tp, str)
                                            and not issubclass(tp, enum.Enum)):
        if marker.min_length is not None:
            schema["minLength"] = marker.min_length
        if marker.max_length is not None:
            schema["maxLength"] = marker.max_length
        if marker.pattern is not None:
            schema["pattern"] = marker.pattern
    elif tp in _NUMBERS:
        for name, keyword in _BOUNDS.items():
            bound = getattr(marker, name)
            if bound is not None:
                schema[keyword] = bound


def param(spec: ParamSpec, converter: str | None = None) -> dict[str, Any]:
    """The schema of a parameter read from the path, query, headers, cookies or a form
    field (``converter``: the route's native path converter, ``int``, ``uuid``...)."""
    marker = spec.marker
    inner, optional = _convert.unwrap_optional(spec.annotation)
    seq = _convert.sequence_item(inner) if spec.source != "file" else None
    if spec.source == "file":
        item = _convert.sequence_item(inner)
        one = {"type": "string", "format": "binary"}
        schema: dict[str, Any] = {"type": "array", "items": one} if item is not None else one
    elif seq is not None:
        schema = {"type": "array", "items": scalar(seq[0])}
        if marker.min_length is not None:
            schema["minItems"] = marker.min_length
        if marker.max_length is not None:
            schema["maxItems"] = marker.max_length
        if seq[1] in (set, frozenset):
            schema["uniqueItems"] = True
    else:
        if converter in ("int", "float", "uuid") and inner in (str, Any, inspect.Parameter.empty):
            inner = {"int": int, "float": float, "uuid": uuid.UUID}[converter]
        schema = scalar(inner)
        _constrain(schema, inner, marker)
        if converter == "int" and inner is int:
            schema.setdefault("minimum", INT64[0])
            schema.setdefault("maximum", INT64[1])
    if optional and spec.source not in ("path",):
        schema = {"anyOf": [schema, {"type": "null"}]}
    extra = marker.extra.get("json_schema_extra")
    if isinstance(extra, dict):
        schema.update(extra)
    schema["title"] = marker.title or spec.key.replace("_", " ").replace("-", " ").title()
    if marker.description:
        schema["description"] = marker.description
    if not spec.required and spec.default is not Required and marker.default_factory is None:
        ok, value = jsonable(spec.default)
        if ok:
            schema["default"] = value
    if marker.examples:
        ok, value = jsonable(marker.examples)
        if ok:
            schema["examples"] = value
    return schema


def path_converter(converter: str) -> dict[str, Any]:
    """A path parameter no handler parameter declares: the schema of its converter."""
    if converter == "int":
        return {"type": "integer", "minimum": INT64[0], "maximum": INT64[1]}
    if converter == "float":
        return {"type": "number"}
    if converter == "uuid":
        return {"type": "string", "format": "uuid"}
    return {"type": "string"}


# ---- models, in one batch per library ----

@dataclasses.dataclass(eq=False)
class _Wanted:
    tp: Any
    mode: str  #: "validation" (what a request may send) or "serialization" (what a response is)
    into: dict[str, Any]  #: the schema object of the document, filled in place by ``Schemas.resolve``
    extra: dict[str, Any]


class Schemas:
    """The model schemas a document needs: ``want(tp, mode)`` hands out the (still
    empty) schema object the operation puts in place; ``resolve()`` generates every
    one, library by library, fills those objects and returns ``components.schemas``."""

    def __init__(self) -> None:
        self._wanted: list[_Wanted] = []
        self.components: dict[str, Any] = {}

    def want(self, tp: Any, mode: str = "validation", **extra: Any) -> dict[str, Any]:
        into: dict[str, Any] = {}
        self._wanted.append(_Wanted(tp, mode, into, extra))
        return into

    def add(self, name: str, schema: dict[str, Any]) -> str:
        """A component of the document's own (a form body, the validation error): its
        name, suffixed when a model already took it."""
        name = self._free(name, schema)
        self.components[name] = schema
        return name

    def _free(self, name: str, schema: dict[str, Any]) -> str:
        base, n = name, 1
        while name in self.components and self.components[name] != schema:
            n += 1
            name = f"{base}{n}"
        return name

    def resolve(self) -> dict[str, Any]:
        pydantic_side: list[_Wanted] = []
        msgspec_side: list[_Wanted] = []
        for w in self._wanted:
            try:
                lib = _models.library_for(w.tp)
                if lib == "pydantic" and _models._adapter(w.tp) is None:
                    lib = "msgspec"
            except Exception as exc:  # noqa: BLE001 - the route itself was refused then; say it, go on
                logger.warning("OpenAPI: no schema for %r: %s", w.tp, exc)
                continue
            (pydantic_side if lib == "pydantic" else msgspec_side).append(w)
        if pydantic_side:
            self._pydantic(pydantic_side)
        if msgspec_side:
            self._msgspec(msgspec_side)
        for w in self._wanted:
            w.into.update(w.extra)
        return self.components

    def _merge(self, defs: dict[str, Any], schemas: list[tuple[_Wanted, dict[str, Any]]]) -> None:
        """Put ``defs`` into the components (renaming one whose name another library's
        different schema took, and the ``$ref``s to it) and fill the wanted objects."""
        renames = {}
        for name, schema in defs.items():
            free = self._free(name, schema)
            if free != name:
                renames[REF_PREFIX + name] = REF_PREFIX + free
        if renames:
            defs = {renames.get(REF_PREFIX + k, REF_PREFIX + k)[len(REF_PREFIX):]: _renamed(v, renames)
                    for k, v in defs.items()}
            schemas = [(w, _renamed(s, renames)) for w, s in schemas]
        self.components.update(defs)
        for w, s in schemas:
            w.into.update(s)

    def _pydantic(self, wanted: list[_Wanted]) -> None:
        from pydantic import TypeAdapter
        inputs: list[tuple[int, Literal["validation", "serialization"], Any]] = []
        for i, w in enumerate(wanted):
            adapter = _models._adapter(w.tp)
            inputs.append((i, "serialization" if w.mode == "serialization" else "validation", adapter))
        try:
            out, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
        except Exception:  # noqa: BLE001 - one type without a schema: each on its own, the rest kept
            out, defs = {}, {"$defs": {}}
            for key, mode, adapter in inputs:
                try:
                    one, more = TypeAdapter.json_schemas([(key, mode, adapter)], ref_template=REF)
                except Exception as exc:  # noqa: BLE001
                    logger.warning("OpenAPI: no JSON Schema for %r: %s", wanted[key].tp, exc)
                    continue
                out.update(one)
                defs["$defs"].update(more.get("$defs", {}))
        self._merge(defs.get("$defs", {}), [(wanted[k], s) for (k, _), s in out.items()])

    def _msgspec(self, wanted: list[_Wanted]) -> None:
        import msgspec
        try:
            out, defs = msgspec.json.schema_components([w.tp for w in wanted], ref_template=MSGSPEC_REF)
        except Exception:  # noqa: BLE001 - as above, one by one
            out_list: list[Any] = []
            defs = {}
            for w in wanted:
                try:
                    (one,), more = msgspec.json.schema_components([w.tp], ref_template=MSGSPEC_REF)
                except Exception as exc:  # noqa: BLE001
                    logger.warning("OpenAPI: no JSON Schema for %r: %s", w.tp, exc)
                    one, more = {}, {}
                out_list.append(one)
                defs.update(more)
            out = tuple(out_list)
        self._merge(dict(defs), list(zip(wanted, out)))


def _renamed(obj: Any, renames: dict[str, str]) -> Any:
    if isinstance(obj, dict):
        return {k: (renames.get(v, v) if k == "$ref" and isinstance(v, str) else _renamed(v, renames))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_renamed(v, renames) for v in obj]
    return obj


# ---- the document's own components ----

VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {"title": "Location", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
    "required": ["loc", "msg", "type"],
}


def _problem_properties(detail: dict[str, Any]) -> dict[str, Any]:
    """An RFC 9457 problem's members as ringbolt writes them; ``detail`` as given."""
    return {
        "type": {"title": "Type", "type": "string"},
        "title": {"title": "Title", "type": "string"},
        "status": {"title": "Status", "type": "integer"},
        "detail": {"title": "Detail", **detail},
    }


def http_validation_error(item_ref: str) -> dict[str, Any]:
    """The 422 answer's body (``ringbolt._problem.invalid_response``): an RFC 9457
    problem whose ``detail`` lists the failures."""
    return {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": _problem_properties({"type": "array", "items": {"$ref": item_ref}}),
        "required": ["detail"],
    }


PROBLEM = {
    "title": "Problem",
    "description": "An RFC 9457 problem: the answer of an HTTPException, a malformed JSON body, ...",
    "type": "object",
    "properties": _problem_properties({}),
}
