"""JSON Schemas (2020-12, as OpenAPI 3.1 takes them) for the OpenAPI document, made by
FastAPI's rules: every schema the document needs (a parameter's, a body's, a
response's) is asked for first (``Schemas.want``), then all are made in one batch per
library at ``resolve()``: pydantic's ``TypeAdapter.json_schemas`` with FastAPI's
``$ref`` template (a model used by several routes is one component under
``components.schemas``; one whose request and response schemas differ is two,
``Model-Input`` and ``Model-Output``), msgspec's ``schema_components`` for Structs. A
parameter is a pydantic field of its type with its marker's default, constraints,
title, description, examples, so its schema is the one FastAPI writes; with no pydantic
installed it is made here from what ``ringbolt.typed.convert`` checks."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import inspect
import logging
import operator
import types
import typing
import uuid
import warnings
from typing import Annotated, Any, Callable, Literal, Union

from ..typed import convert as _convert, models as _models
from ..typed.plan import ParamSpec
from ..forms import UploadFile
from ..params import Param, Required

logger = logging.getLogger("ringbolt")

REF_PREFIX = "#/components/schemas/"
REF_TEMPLATE = REF_PREFIX + "{model}"
MSGSPEC_REF_TEMPLATE = REF_PREFIX + "{name}"

#: a file part (an UploadFile, or ``bytes`` read from a File()): FastAPI's schema
FILE_SCHEMA: dict[str, Any] = {"type": "string", "contentMediaType": "application/octet-stream"}

#: the bounds of a native ``{x:int}`` path segment (dispatch/router.cpp: it must fit int64)
INT64 = (-(2**63), 2**63 - 1)

#: the marker options (``Query(..., discriminator=...)``) that pydantic's ``Field`` takes too
_FIELD_EXTRAS = ("json_schema_extra", "discriminator", "strict", "union_mode", "allow_inf_nan", "max_digits",
                 "decimal_places", "validation_alias", "serialization_alias", "fail_fast")
CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern")


def field_title(alias: str) -> str:
    """FastAPI's title of a field's schema when it is not a ``$ref``: its name on the
    wire, ``item_id`` as ``Item Id``, ``x-token`` as ``X-Token``."""
    return alias.title().replace("_", " ")


def field_options(p: ParamSpec, *, default: bool = True) -> dict[str, Any]:
    """pydantic ``Field(...)`` keyword arguments of a parameter's marker: its default
    (``default=False``: none, as a path parameter's), constraints and what the
    document shows."""
    m = p.marker
    out: dict[str, Any] = {}
    if default and p.default is not Required:
        out["default"] = p.default
    if default and m.default_factory is not None:
        out["default_factory"] = m.default_factory
    for name in ("title", "description", "examples", "deprecated", *CONSTRAINTS):
        value = getattr(m, name)
        if value is not None:
            out[name] = value
    for name in _FIELD_EXTRAS:
        if m.extra.get(name) is not None:
            out[name] = m.extra[name]
    return out


# ---- types as pydantic reads them ----

class _FileSchema:
    """Stands for ``ringbolt.forms.UploadFile`` in a type given to pydantic: any value,
    whose JSON Schema is a file's."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema
        return core_schema.any_schema()

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return dict(FILE_SCHEMA)


def pydantic_type(tp: Any) -> Any:
    """``tp`` with every ``UploadFile`` in it (``list[UploadFile]``, ``UploadFile |
    None``) replaced by what pydantic can make a schema of."""
    if isinstance(tp, type) and issubclass(tp, UploadFile):  # ringbolt.fastapi's too
        return _FileSchema
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is None or not args:
        return tp
    if origin is Annotated:
        return Annotated[(pydantic_type(args[0]), *tp.__metadata__)]
    new = tuple(pydantic_type(a) for a in args)
    if new == args:
        return tp
    if origin is types.UnionType:
        return functools.reduce(operator.or_, new)
    if origin is Union:
        return Union[new]
    try:
        return tp.copy_with(new)
    except AttributeError:
        return origin[new] if len(new) > 1 else origin[new[0]]


def _generator() -> Any:
    """pydantic's JSON Schema generator, with FastAPI's schema of ``bytes`` (a string of
    octets, base64 when the model's config writes it so)."""
    from pydantic.json_schema import GenerateJsonSchema

    class Generator(GenerateJsonSchema):
        def bytes_schema(self, schema: Any) -> Any:
            out: dict[str, Any] = dict(FILE_SCHEMA)
            wire = self._config.ser_json_bytes if self.mode == "serialization" else self._config.val_json_bytes
            if wire == "base64":
                out["contentEncoding"] = "base64"
            self.update_with_validations(out, schema, self.ValidationsMapping.bytes)
            return out

    return Generator


# ---- without pydantic: the schema of what ringbolt's converters take ----

_FORMATS: dict[Any, dict[str, Any]] = {
    uuid.UUID: {"type": "string", "format": "uuid"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bytes: dict(FILE_SCHEMA),
    UploadFile: dict(FILE_SCHEMA),
}
_NUMBERS = (int, float)  # and Decimal (``_convert.is_decimal``)
_DECIMAL_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string"}]}
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
    if isinstance(value, uuid.UUID) or _convert.is_decimal(type(value)):
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
    """The schema of one value of type ``tp`` (the types ``ringbolt.typed.convert`` converts)."""
    if tp in _FORMATS:
        return dict(_FORMATS[tp])
    if _convert.is_decimal(tp):
        return dict(_DECIMAL_SCHEMA)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        return {**_values_type(values), "enum": values, "title": tp.__name__}
    if typing.get_origin(tp) is Literal:
        values = list(typing.get_args(tp))
        return {**_values_type(values), "enum": values} if len(values) > 1 else {**_values_type(values),
                                                                                   "const": values[0]}
    if tp in (Any, object, inspect.Parameter.empty):
        return {}
    return {"type": "string"}


def _constrain(schema: dict[str, Any], tp: Any, marker: Param) -> None:
    if tp is str or (isinstance(tp, type) and issubclass(tp, str) and not issubclass(tp, enum.Enum)):
        for name, keyword in (("min_length", "minLength"), ("max_length", "maxLength"), ("pattern", "pattern")):
            if getattr(marker, name) is not None:
                schema[keyword] = getattr(marker, name)
    elif tp in _NUMBERS or _convert.is_decimal(tp):
        for name, keyword in _BOUNDS.items():
            if getattr(marker, name) is not None:
                schema[keyword] = getattr(marker, name)


def plain_param(spec: ParamSpec, tp: Any) -> dict[str, Any]:
    """The schema of a parameter (or form field) of type ``tp`` made without pydantic,
    as pydantic would write it for the types ringbolt's converters take."""
    marker = spec.marker
    inner, optional = _convert.unwrap_optional(tp)
    seq = _convert.sequence_item(inner)
    if seq is not None:
        schema: dict[str, Any] = {"type": "array", "items": scalar(seq[0])}
        if marker.min_length is not None:
            schema["minItems"] = marker.min_length
        if marker.max_length is not None:
            schema["maxItems"] = marker.max_length
        if seq[1] in (set, frozenset):
            schema["uniqueItems"] = True
    else:
        schema = scalar(inner)
        _constrain(schema, inner, marker)
    if optional:
        schema = {"anyOf": [schema, {"type": "null"}]}
    for key in ("title", "description", "deprecated"):
        if getattr(marker, key):
            schema[key] = getattr(marker, key)
    if not spec.required and spec.default is not Required and marker.default_factory is None:
        ok, value = jsonable(spec.default)
        if ok:
            schema["default"] = value
    if marker.examples:
        ok, value = jsonable(marker.examples)
        if ok:
            schema["examples"] = value
    extra = marker.extra.get("json_schema_extra")
    if isinstance(extra, dict):
        schema.update(extra)
    return schema


def native_converter(tp: Any, converter: str | None) -> tuple[Any, dict[str, Any]]:
    """A native path converter's part of a path parameter's schema: the type it hands
    (``{x:int}`` of an unannotated parameter is an int) and the bounds it checks."""
    if converter in ("int", "float", "uuid") and tp in (str, Any, inspect.Parameter.empty):
        tp = {"int": int, "float": float, "uuid": uuid.UUID}[converter]
    bounds = {"minimum": INT64[0], "maximum": INT64[1]} if converter == "int" and tp is int else {}
    return tp, bounds


def path_converter_schema(converter: str) -> dict[str, Any]:
    """A path parameter no handler parameter declares: the schema of its converter."""
    tp, bounds = native_converter(str, converter)
    return {**scalar(tp), **bounds}


# ---- the batch ----

@dataclasses.dataclass(eq=False)
class _Wanted:
    tp: Any
    mode: str  #: "validation" (what a request may send) or "serialization" (what a response is)
    field: dict[str, Any] | None  #: pydantic ``Field(...)`` options, or None: the type alone
    title: str | None  #: the name a schema that is not a $ref is titled after (FastAPI's rule), or None
    into: dict[str, Any]  #: the document's schema object, filled in place by ``resolve``
    plain: Callable[[], dict[str, Any]] | None  #: the schema without pydantic, or None (msgspec makes it)
    config: Any = None  #: a pydantic ConfigDict for the field (a parameter model's)


class Schemas:
    """The schemas a document needs: ``want(...)`` hands out the (still empty) schema
    object the operation puts in place; ``resolve()`` makes every one, fills those
    objects and returns ``components.schemas``. ``separate=False``: one schema per model
    (the request's) for requests and responses alike (FastAPI's
    ``separate_input_output_schemas``)."""

    def __init__(self, separate: bool = True) -> None:
        self._wanted: list[_Wanted] = []
        self.components: dict[str, Any] = {}
        self.separate = separate

    def want(self, tp: Any, mode: str = "validation", *, field: dict[str, Any] | None = None,
             title: str | None = None, into: dict[str, Any] | None = None,
             plain: Callable[[], dict[str, Any]] | None = None, config: Any = None) -> dict[str, Any]:
        into = {} if into is None else into
        self._wanted.append(_Wanted(tp, mode, field, title, into, plain, config))
        return into

    def add(self, name: str, schema: dict[str, Any]) -> str:
        """A component of the document's own (the validation error): its name, suffixed
        when a model already took it."""
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
            lib = _library(w.tp)
            if lib == "pydantic":
                pydantic_side.append(w)
            elif w.plain is not None:
                w.into.update(w.plain())
            elif lib == "msgspec":
                msgspec_side.append(w)
        if pydantic_side:
            msgspec_side += self._pydantic(pydantic_side)
        if msgspec_side:
            self._msgspec(msgspec_side)
        for w in self._wanted:
            if w.title is not None and "$ref" not in w.into:
                w.into["title"] = (w.field or {}).get("title") or field_title(w.title)
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
            _deep_update(w.into, s)

    def _adapter(self, w: _Wanted) -> Any:
        import pydantic
        if _models._is_type_adapter(w.tp):
            return w.tp
        tp = pydantic_type(w.tp)
        if w.field:
            tp = Annotated[tp, pydantic.Field(**w.field)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a field's alias or default "has no effect" outside a model: known
            return pydantic.TypeAdapter(tp, config=w.config)

    def _pydantic(self, wanted: list[_Wanted]) -> list[_Wanted]:
        """Make the pydantic side; returns what pydantic could not take (to msgspec)."""
        from pydantic import TypeAdapter
        inputs: list[tuple[int, Literal["validation", "serialization"], Any]] = []
        rest: list[_Wanted] = []
        for i, w in enumerate(wanted):
            try:
                adapter = self._adapter(w)
            except Exception as exc:  # noqa: BLE001 - one type pydantic refuses: the others go on
                if w.plain is not None:
                    w.into.update(w.plain())
                elif _models._mentions(w.tp, _models._is_struct) or not _models._mentions(
                        w.tp, _models._is_pydantic_model):
                    rest.append(w)
                else:
                    logger.warning("OpenAPI: no JSON Schema for %r: %s", w.tp, exc)
                continue
            mode: Literal["validation", "serialization"] = "serialization" if w.mode == "serialization" else "validation"
            if not self.separate and not _has_computed_fields(adapter):
                mode = "validation"
            inputs.append((i, mode, adapter))
        generator = _generator()
        try:
            out, defs = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE, schema_generator=generator)
        except Exception:  # noqa: BLE001 - one type without a schema: each on its own, the rest kept
            out, defs = {}, {"$defs": {}}
            for one_input in inputs:
                try:
                    one, more = TypeAdapter.json_schemas([one_input], ref_template=REF_TEMPLATE,
                                                         schema_generator=generator)
                except Exception as exc:  # noqa: BLE001
                    logger.warning("OpenAPI: no JSON Schema for %r: %s", wanted[one_input[0]].tp, exc)
                    continue
                out.update(one)
                defs["$defs"].update(more.get("$defs", {}))
        components = defs.get("$defs", {})
        for schema in components.values():
            if isinstance(schema.get("description"), str):  # FastAPI: after a form feed, for the code only
                schema["description"] = schema["description"].split("\f")[0]
        self._merge(components, [(wanted[k], s) for (k, _), s in out.items()])
        return rest

    def _msgspec(self, wanted: list[_Wanted]) -> None:
        import msgspec
        try:
            out, defs = msgspec.json.schema_components([w.tp for w in wanted], ref_template=MSGSPEC_REF_TEMPLATE)
        except Exception:  # noqa: BLE001 - as above, one by one
            out_list: list[Any] = []
            defs = {}
            for w in wanted:
                try:
                    (one,), more = msgspec.json.schema_components([w.tp], ref_template=MSGSPEC_REF_TEMPLATE)
                except Exception as exc:  # noqa: BLE001
                    logger.warning("OpenAPI: no JSON Schema for %r: %s", w.tp, exc)
                    one, more = {}, {}
                out_list.append(one)
                defs.update(more)
            out = tuple(out_list)
        self._merge(dict(defs), list(zip(wanted, out)))


def _library(tp: Any) -> str | None:
    """Which library makes ``tp``'s schema: "pydantic", "msgspec", or None (neither is
    installed: the ringbolt-made schema)."""
    try:
        return _models.library_for(tp)
    except ImportError:
        return None


def _has_computed_fields(adapter: Any) -> bool:
    """Whether a model in ``adapter``'s type writes computed fields (its response schema
    then stays its own with ``separate_input_output_schemas=False``, as FastAPI's)."""
    found = False

    def walk(node: Any) -> None:
        nonlocal found
        if found:
            return
        if isinstance(node, dict):
            if node.get("computed_fields"):
                found = True
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(adapter.core_schema)
    return found


def _deep_update(main: dict[str, Any], update: dict[str, Any]) -> None:
    """FastAPI's merge of one dict into another: dicts merged, lists joined, the rest
    replaced."""
    for key, value in update.items():
        if isinstance(main.get(key), dict) and isinstance(value, dict):
            _deep_update(main[key], value)
        elif isinstance(main.get(key), list) and isinstance(value, list):
            main[key] = main[key] + value
        else:
            main[key] = value


deep_update = _deep_update


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


def http_validation_error(item_ref: str) -> dict[str, Any]:
    """The 422 answer's body under FastAPI's conventions: ``{"detail": [errors]}``."""
    return {"title": "HTTPValidationError", "type": "object",
            "properties": {"detail": {"title": "Detail", "type": "array", "items": {"$ref": item_ref}}}}


def _problem_properties(detail: dict[str, Any]) -> dict[str, Any]:
    """An RFC 9457 problem's members as ringbolt writes them; ``detail`` as given."""
    return {
        "type": {"title": "Type", "type": "string"},
        "title": {"title": "Title", "type": "string"},
        "status": {"title": "Status", "type": "integer"},
        "detail": {"title": "Detail", **detail},
    }


def problem_validation_error(item_ref: str) -> dict[str, Any]:
    """The 422 answer's body under ringbolt's conventions (``ringbolt.typed.problem.invalid_response``):
    an RFC 9457 problem whose ``detail`` lists the failures."""
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
