"""Write plans: a response model (``list[Person]``, ``dict[str, Any]``, a pydantic model
or a standard library dataclass of str, int, float, bool, None, Enum, list, str-keyed
dict and other such models) turned into the tuple tree that the native JSON writer
(``json_dumps(value, plan=...)``) follows to write a value as pydantic's serializer
writes it, byte for byte, without pydantic.

A plan is made only where skipping pydantic changes nothing but the time it takes:

- pydantic's check of the value can neither refuse nor change it. The plan takes no
  ``Annotated`` type (``list[int]``, never ``list[conint(gt=0)]``), and an instance of
  exactly the declared model or dataclass is not checked again by pydantic
  (``revalidate_instances="never"``, its default), so its fields' constraints and
  validators never run, and the plan may take them.
- pydantic's writer has one spelling for the value: no field or model serializer, no
  computed field, no alias, no excluded field, no extra fields kept, no
  ``use_enum_values``, no ``json_encoders``.

The writer checks each value against the plan as it writes (exactly the model's class,
exactly ``str`` for ``str``, an Enum member of exactly its Enum, ...) and stops at the
first that is not (``json_dumps`` returns None; ValueError for what pydantic spells its
own way under ``Any``: NaN, a key that is not a str, a lone surrogate): the caller then
writes the whole value with pydantic, which may warn, coerce or refuse as FastAPI's own
route would.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

from .._native import json_dumps

# plan_kind in pymod/native/json/json_writer.cpp
ANY, STR, INT, FLOAT, BOOL, NONE, NULLABLE, LIST, DICT, ENUM, MODEL = range(11)

Plan = tuple[int, Any, Any]

_SCALARS = {str: STR, int: INT, float: FLOAT, bool: BOOL, type(None): NONE}


def plan_of(tp: Any) -> Plan | None:
    """The write plan of response model ``tp``, or None where pydantic must write it."""
    spell_floats_as_pydantic()
    try:
        return _node(tp, set())
    except Exception:  # noqa: BLE001 (an annotation this cannot read, a name not defined: pydantic's)
        return None


_spelt: list[bool] = []


def write_planned(value: Any, plan: Plan) -> bytes | None:
    """``value`` as pydantic writes it, by the native writer following ``plan``; None when
    the value is not exactly of the plan's types or holds what pydantic spells its own way
    (NaN, a key that is not a str, a lone surrogate): pydantic's to write, then."""
    try:
        return json_dumps(value, plan=plan)
    except ValueError:
        return None


def spell_floats_as_pydantic() -> None:
    """Has the native writer spell a positive exponent as the installed pydantic does:
    pydantic 2.14 writes 1e+16, 2.7 (FastAPI's lowest) 1e16; the rest of their spelling is
    alike (positional from 1e-5 to 1e16, the exponent unpadded: 200,000 floats). Once."""
    if _spelt:
        return
    _spelt.append(True)
    try:
        from pydantic import TypeAdapter
    except ImportError:  # pragma: no cover (no pydantic: no models to write as it does)
        return
    from .._native import _set_pydantic_exponent_plus
    _set_pydantic_exponent_plus(TypeAdapter(float).dump_json(1e16) == b"1e+16")


def _node(tp: Any, seen: set[type]) -> Plan | None:
    if tp is Any or tp is object:
        return (ANY, None, None)
    if tp in _SCALARS:
        return (_SCALARS[tp], None, None)
    if tp is list:
        return (LIST, (ANY, None, None), None)
    if tp is dict:
        return (DICT, (ANY, None, None), None)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list and len(args) == 1:
        item = _node(args[0], seen)
        return None if item is None else (LIST, item, None)
    if origin is dict and len(args) == 2 and args[0] in (str, Any):  # (other keys: the writer refuses them)
        value = _node(args[1], seen)
        return None if value is None else (DICT, value, None)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        other = args[0] if args[1] is type(None) else args[1]
        inner = _node(other, seen)
        return None if inner is None or inner[0] in (NULLABLE, ANY, NONE) else (NULLABLE, inner, None)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and _is_plain_model(tp):
        return _model(tp, seen)
    if isinstance(tp, type) and _is_plain_dataclass(tp):
        return _dataclass(tp, seen)
    return None


def _enum(tp: type[enum.Enum]) -> Plan | None:
    values = [m.value for m in tp]
    if values and (all(type(v) is str for v in values) or all(type(v) is int for v in values)):
        # each member with its text: the writer finds a member by identity
        return (ENUM, tp, tuple((m, json_dumps(m.value, strict=True)) for m in tp))
    return None


def _is_plain_model(tp: type) -> bool:
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover (pydantic is a dependency of the FastAPI layer)
        return False
    if not issubclass(tp, BaseModel) or getattr(tp, "__pydantic_root_model__", False):
        return False
    if not getattr(tp, "__pydantic_complete__", False):
        return False
    config = tp.model_config
    if (config.get("extra") == "allow" or config.get("revalidate_instances", "never") != "never"
            or config.get("use_enum_values") or config.get("json_encoders")):
        return False
    decorators = tp.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers or decorators.computed_fields:
        return False
    return True


def _model(tp: type, seen: set[type]) -> Plan | None:
    if tp in seen:  # a model that holds itself: pydantic's
        return None
    seen = seen | {tp}
    fields = []
    for name, info in tp.model_fields.items():  # type: ignore[attr-defined]
        if (info.exclude or getattr(info, "exclude_if", None) is not None or info.alias is not None
                or info.serialization_alias is not None):
            return None
        if any(_changes_writing(m) for m in info.metadata):
            return None
        node = _node(info.annotation, seen)
        if node is None:
            return None
        fields.append((name, _key(name), node))
    return (MODEL, tp, tuple(fields))


def _is_plain_dataclass(tp: type) -> bool:
    """A standard library dataclass (pydantic does not check its instances again either)
    that keeps its fields in a ``__dict__`` and has no pydantic config of its own."""
    return (dataclasses.is_dataclass(tp) and not hasattr(tp, "__pydantic_validator__")
            and not hasattr(tp, "__pydantic_config__") and "__slots__" not in tp.__dict__)


def _dataclass(tp: type, seen: set[type]) -> Plan | None:
    if tp in seen:
        return None
    seen = seen | {tp}
    hints = typing.get_type_hints(tp, include_extras=True)
    fields = []
    for f in dataclasses.fields(tp):
        node = _node(hints[f.name], seen)
        if node is None:
            return None
        fields.append((f.name, _key(f.name), node))
    return (MODEL, tp, tuple(fields))


def _key(name: str) -> bytes:
    """A field's key as the writer copies it: its JSON string (escaped as pydantic escapes
    it: a name may be any str) and the colon."""
    return json_dumps(name, strict=True) + b":"


def _changes_writing(metadata: Any) -> bool:
    """Whether a field's ``Annotated`` item may change how it is written: serializers and
    anything unknown may; annotated_types' constraints (checked only when the model is
    made, as its validators are) do not."""
    module = type(metadata).__module__
    if module == "annotated_types":
        return False
    if module.startswith("pydantic") and type(metadata).__name__ in (
            "_PydanticGeneralMetadata", "Strict", "AfterValidator", "BeforeValidator", "WrapValidator",
            "PlainValidator"):
        return False
    return True
