"""Form bodies with models in the OpenAPI document, by FastAPI's rules: a form parameter
whose type is a pydantic model (``Annotated[Profile, Form()]``, ``Profile | None``, or a
union of models) stands for the model's fields sent as form fields. Next to other form
fields (or when it may be absent) the body is an object ``Body_<operationId>`` whose
plain fields are its ``properties`` and whose models are ``allOf`` conditions: each
model's schema (with the names its fields are sent under), or, for an optional model,
"either none of its fields, or the model"."""

from __future__ import annotations

import copy
import functools
import types
import typing
from typing import Annotated, Any, Union

from ..typed import models as _models
from .schemas import field_options, pydantic_type
from ..typed.plan import ParamSpec
from ..params import Form, Header



def wire_name(p: ParamSpec) -> str:
    """The name FastAPI lists a parameter under: its alias, or its name (a header's with
    ``_`` as ``-``), in the case it was written."""
    alias = p.marker.extra.get("validation_alias")
    if isinstance(alias, str) and alias:
        return alias
    if p.marker.alias:
        return p.marker.alias
    if isinstance(p.marker, Header) and p.marker.convert_underscores:
        return p.name.replace("_", "-")
    return p.name

def form_models(p: ParamSpec) -> list[Any]:
    """The models a form parameter stands for: ``[M]`` for ``M`` or ``M | None``, the
    models of a union of several; ``[]`` for a plain form field."""
    if not isinstance(p.marker, Form) or getattr(p.marker, "embed", None):
        return []
    tp = p.annotation
    args = typing.get_args(tp)
    union = typing.get_origin(tp) in (Union, types.UnionType)
    if union and len(args) == 2 and type(None) in args:
        tp = args[0] if args[1] is type(None) else args[1]
    if _models._is_pydantic_model(tp):
        return [tp]
    if not union:
        return []
    found = []
    for arg in args:
        if arg is type(None):
            continue
        if typing.get_origin(arg) is Annotated:
            arg = typing.get_args(arg)[0]
        if not _models._is_pydantic_model(arg):
            return []
        found.append(arg)
    return found if len(found) > 1 else []


def nullable(p: ParamSpec) -> bool:
    return type(None) in typing.get_args(p.annotation)


def takes_config(tp: Any) -> bool:
    """Whether a model field of type ``tp`` is read with its model's config (FastAPI's:
    not a model, dict or dataclass field)."""
    import dataclasses

    import pydantic
    shape = typing.get_origin(tp) or tp
    return not (isinstance(shape, type) and (issubclass(shape, (pydantic.BaseModel, dict))
                                             or dataclasses.is_dataclass(shape)))


def request_names(name: str, info: Any, config: Any) -> list[str]:
    """The names a model field is read under from a form (or query...), preferred first:
    its alias (or its alias choices), and its own name when the model takes names too."""
    from pydantic import AliasChoices, AliasPath
    given = info.validation_alias
    alias = given if isinstance(given, str) and given else (info.alias or name)
    if isinstance(given, AliasPath):
        return [alias]
    names = [alias]
    if isinstance(given, AliasChoices):
        if any(isinstance(c, AliasPath) for c in given.choices):
            return names
        names = [str(c) for c in given.choices]
    config = config or {}
    if config.get("validate_by_alias") is False:
        return [name]
    if config.get("validate_by_name", config.get("populate_by_name", False)) and name not in names:
        names.append(name)
    return names


def _field_names(model: Any) -> list[tuple[str, Any, Any]]:
    return [(n, info, model.model_config if takes_config(info.annotation) else None)
            for n, info in model.model_fields.items()]


def _model_schema(model: Any, core_schema: Any, handler: Any) -> Any:
    """A form model's schema: pydantic's, with its properties named as the form sends
    them where that differs (an alias read under several names: any of them)."""
    from pydantic import AliasChoices
    schema = handler(core_schema)
    resolved = handler.resolve_ref_schema(schema)
    properties = resolved.get("properties", {})
    required = resolved.get("required", [])
    renamed: dict[str, list[str]] = {}
    for name, info, config in _field_names(model):
        given = info.validation_alias
        in_schema = given.choices[0] if isinstance(given, AliasChoices) else (
            given if isinstance(given, str) and given else (info.alias or name))
        names = request_names(name, info, config)
        if isinstance(in_schema, str) and in_schema in properties and (
                names[0] != in_schema or (len(names) > 1 and in_schema in required)):
            renamed[in_schema] = names
    if not renamed:
        return schema
    out = copy.deepcopy(resolved)
    out["properties"] = {renamed.get(k, [k])[0]: v for k, v in properties.items()}
    out["required"] = []
    for key in required:
        names = renamed.get(key, [key])
        if len(names) == 1:
            out["required"].append(names[0])
        else:
            out.setdefault("allOf", []).append({"anyOf": [{"required": [n]} for n in names]})
    return out


def _absent(models: list[Any]) -> dict[str, Any]:
    """The schema of a form that sends none of the models' fields."""
    if any(m.model_config.get("extra") in ("allow", "forbid") for m in models):
        return {"maxProperties": 0}
    names = sorted({n for m in models for name, info, config in _field_names(m)
                    for n in request_names(name, info, config)})
    return {"not": {"anyOf": [{"required": [n]} for n in names]}} if names else {}


def _arrange(params: list[ParamSpec], schema: dict[str, Any]) -> None:
    """The body object's schema made from its ``field_<i>`` members: plain fields as
    properties (under their form names), models as conditions in ``allOf``."""
    members = schema.pop("properties")
    schema.pop("required", None)
    properties: dict[str, Any] = {}
    required: list[str] = []
    conditions: list[dict[str, Any]] = []
    for i, p in enumerate(params):
        member = members[f"field_{i}"]
        models = form_models(p)
        if not models:
            name = wire_name(p)
            if name in properties:
                conditions.append({"properties": {name: member}})
            else:
                properties[name] = member
            if p.required and name not in required:
                required.append(name)
            continue
        member.pop("default", None)
        if nullable(p):  # an absent model is sent as no fields, never as a null
            member["anyOf"] = [c for c in member.get("anyOf", []) if c.get("type") != "null"]
            absent = _absent(models)
            if p.required:
                conditions.append({"not": absent})
            else:
                member = {"anyOf": [absent, member]}
        conditions.append(member)
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    schema["allOf"] = conditions


def form_body_model(name: str, params: list[ParamSpec]) -> Any:
    """The pydantic model of a form body with models, named ``name``: one member
    ``field_<i>`` per parameter, arranged into FastAPI's schema when pydantic makes it."""
    import pydantic
    from pydantic import GetPydanticSchema
    spec: dict[str, Any] = {}
    for i, p in enumerate(params):
        options = field_options(p)
        for key in ("validation_alias", "serialization_alias"):
            options.pop(key, None)
        if "default" not in options and "default_factory" not in options:
            options["default"] = ...
        tp = pydantic_type(p.annotation)
        models = form_models(p)
        if len(models) == 1:
            shown: Any = Annotated[models[0], GetPydanticSchema(
                get_pydantic_json_schema=functools.partial(_model_schema, models[0]))]
            tp = shown if p.annotation is models[0] else Union[shown, None]
        options["title"] = options.get("title") or p.name.replace("_", " ").title()
        key = f"field_{i}"
        spec[key] = (tp, pydantic.Field(alias=key, validation_alias=key, serialization_alias=key, **options))
    config = pydantic.ConfigDict(json_schema_extra=functools.partial(_arrange, params))
    return pydantic.create_model(name, __config__=config, **spec)
