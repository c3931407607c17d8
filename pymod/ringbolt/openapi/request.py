"""What an operation of the OpenAPI document says a route reads of the request, from its
plan (``ringbolt.typed.plan.RoutePlan``), by FastAPI's rules:

- ``walk``: the path, query, header and cookie parameters in FastAPI's order (the
  handler's own first, then each dependency's, depth first, the route-level
  ``dependencies=`` before the handler's), each dependency met once (by callable and
  scopes); the security schemes met under the route, with the scopes above each; the
  body parameters (JSON, form and file) in the order FastAPI gathers them.
- ``parameters``: each parameter as the document lists it (a parameter model,
  ``Annotated[Filters, Query()]``, as one parameter per field).
- ``body_field``: the request body as one field: the one body parameter, or the object
  ``Body_<operationId>`` of all of them (embedded bodies, forms, files).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

from ..typed import convert as _convert, models as _models
from .forms import form_body_model, form_models, nullable, request_names, takes_config, wire_name
from .schemas import CONSTRAINTS, field_options, native_converter, plain_param, pydantic_type
from ..typed.plan import CallSpec, DependencySpec, ParamSpec, RoutePlan
from ..params import Body, File, Form, Header, Required, Security, SecurityScopes
from ..security import SecurityBase

SOURCES = ("path", "query", "header", "cookie")
UNSET: Any = object()


@dataclasses.dataclass
class Reads:
    params: list[ParamSpec]  #: path, query, header and cookie parameters, in the document's order
    security: list[tuple[SecurityBase, list[str]]]  #: each scheme met and the scopes above it
    body: list[ParamSpec]  #: the JSON, form and file parameters, in FastAPI's order
    #: ids of the parameters declared without an annotation (FastAPI's schema for them: any value)
    untyped: set[int] = dataclasses.field(default_factory=set)


def _children(spec: CallSpec) -> list[DependencySpec]:
    return [a.what for a in spec.args if isinstance(a.what, DependencySpec)]


def _uses_scopes(dep: DependencySpec, seen: dict[int, bool]) -> bool:
    """Whether a dependency's value can depend on the scopes above it (FastAPI's test for
    keying it by its scopes too)."""
    known = seen.get(id(dep))
    if known is not None:
        return known
    seen[id(dep)] = False
    result = (bool(isinstance(dep.marker, Security) and dep.marker.scopes) or isinstance(dep.call, SecurityBase)
              or any(isinstance(a.what, SecurityScopes) for a in dep.spec.args)
              or any(_uses_scopes(d, seen) for d in _children(dep.spec)))
    seen[id(dep)] = result
    return result


def walk(plan: RoutePlan) -> Reads:
    groups: dict[str, list[ParamSpec]] = {s: [] for s in SOURCES}
    security: list[tuple[SecurityBase, list[str]]] = []
    visited: list[Any] = []
    uses: dict[int, bool] = {}
    untyped: set[int] = set()
    stack: list[tuple[CallSpec, DependencySpec | None]] = [(plan.call, None)]
    while stack:
        spec, dep = stack.pop()
        if dep is not None:
            scopes = tuple(sorted(set(dep.scopes))) if _uses_scopes(dep, uses) else ()
            key: Any = (dep.call, scopes, dep.scope)
        else:
            key = ("route",)
        if key in visited:
            continue
        visited.append(key)
        bare = _unannotated(spec.call)
        for p in spec.params():
            if p.source in groups:
                groups[p.source].append(p)
                if p.name in bare:
                    untyped.add(id(p))
        if dep is not None and isinstance(dep.call, SecurityBase):
            security.append((dep.call, list(dict.fromkeys(dep.scopes))))
        children = (list(plan.dependencies) if dep is None else []) + _children(spec)
        stack.extend((d.spec, d) for d in reversed(children))
    body: list[ParamSpec] = []
    pending: list[tuple[CallSpec, bool]] = [(plan.call, True)]
    while pending:  # FastAPI gathers body parameters without skipping a dependency met twice
        spec, root = pending.pop()
        body += [p for p in spec.params() if p.source in ("body", "form", "file")]
        children = (list(plan.dependencies) if root else []) + _children(spec)
        pending.extend((d.spec, False) for d in reversed(children))
    return Reads([p for s in SOURCES for p in groups[s]], security, body, untyped)


def _unannotated(call: Any) -> set[str]:
    """The names of ``call``'s parameters written without an annotation."""
    try:
        params = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.annotation is p.empty}


# ---- parameters ----

@dataclasses.dataclass
class Parameter:
    """One parameter of the document."""

    where: str  #: "path", "query", "header" or "cookie"
    name: str  #: its name on the wire
    title: str  #: the name its schema's title is made from
    required: bool
    tp: Any  #: the type whose schema is the parameter's
    field: dict[str, Any] | None  #: pydantic Field options (default, constraints, title...)
    plain: Any  #: the schema without pydantic (a callable), or None
    description: str | None = None
    deprecated: bool = False
    openapi_examples: Any = None
    example: Any = UNSET
    config: Any = None


def _param_model(p: ParamSpec) -> tuple[Any, bool] | None:
    """``(model, optional)`` for a parameter model (``Annotated[Filters, Query()]``)."""
    if p.source not in ("query", "header", "cookie"):
        return None
    inner, optional = _convert.unwrap_optional(p.annotation)
    if not _models._is_pydantic_model(inner):
        return None
    return inner, optional and not p.required


def parameters(p: ParamSpec, converter: str | None = None) -> list[Parameter]:
    """The document's parameters for ``p`` (several for a parameter model)."""
    model = _param_model(p)
    if model is not None:
        return _model_parameters(p, *model)
    name = wire_name(p)
    tp = p.annotation
    field = field_options(p, default=p.source != "path")
    if p.source == "path":
        tp, bounds = native_converter(tp, converter)
        for key, bound in (("ge", bounds.get("minimum")), ("le", bounds.get("maximum"))):
            if bound is not None and key not in field:
                field[key] = bound
    plain_tp = tp

    def plain() -> dict[str, Any]:
        schema = plain_param(p, plain_tp)
        if p.source == "path":
            schema.update(native_converter(plain_tp, converter)[1])
        return schema

    m = p.marker
    return [Parameter(p.source, name, name, True if p.source == "path" else p.required, tp, field, plain,
                      m.description, bool(m.deprecated), m.extra.get("openapi_examples"),
                      m.extra.get("example", UNSET))]


def _model_parameters(p: ParamSpec, model: Any, optional: bool) -> list[Parameter]:
    """One parameter per field of a parameter model, under the name it is read by first
    (a header's with ``_`` as ``-``), required when the field is and the model is."""
    out = []
    convert = isinstance(p.marker, Header) and p.marker.convert_underscores
    for name, info in model.model_fields.items():
        config = model.model_config if takes_config(info.annotation) else None
        alias = request_names(name, info, config)[0]
        wire = alias.replace("_", "-") if convert and alias == name else alias
        out.append(Parameter(p.source, wire, alias, info.is_required() and not optional, _field_type(info), None,
                             None, info.description, bool(info.deprecated), config=config))
    return out


def _field_type(info: Any) -> Any:
    """A model field as a type of its own (its annotation, constraints and options)."""
    import pydantic
    as_dict = getattr(info, "asdict", None)
    if as_dict is None:
        return typing.Annotated[info.annotation, info]
    parts = as_dict()
    return typing.Annotated[(parts["annotation"], *parts["metadata"], pydantic.Field(**parts["attributes"]))]


# ---- the body ----

@dataclasses.dataclass
class BodyField:
    """The request body as the document shows it."""

    media_type: str
    required: bool
    tp: Any  #: the type whose schema is the body's (a model made here for several parameters)
    field: dict[str, Any] | None
    title: str | None  #: the name the schema's title is made from (one parameter's), or None
    plain: Any = None  #: the schema without pydantic (a callable), or None
    openapi_examples: Any = None
    example: Any = UNSET


def _is_form(p: ParamSpec) -> bool:
    return isinstance(p.marker, Form)


def _embeds(params: list[ParamSpec]) -> bool:
    """FastAPI's rule: several body parameters (by name), ``embed=True``, or a form
    field that is not a model make an object of members."""
    if len({p.name for p in params}) > 1:
        return True
    first = params[0]
    if form_models(first) and any(not form_models(p) or p.annotation is not first.annotation for p in params[1:]):
        return True
    if isinstance(first.marker, Body) and first.marker.embed:
        return True
    return _is_form(first) and not _models._is_pydantic_model(first.annotation) and not form_models(first)


def _media_type(params: list[ParamSpec]) -> str:
    if any(isinstance(p.marker, File) for p in params):
        return "multipart/form-data"
    if any(_is_form(p) for p in params):
        kinds = [p.marker.media_type for p in params if _is_form(p)]
        if "multipart/form-data" in kinds:
            return "multipart/form-data"
        return kinds[0] if len(set(kinds)) == 1 and kinds[0] else "application/x-www-form-urlencoded"
    kinds = [p.marker.media_type for p in params]
    return kinds[0] if len(set(kinds)) == 1 and kinds[0] else "application/json"


def body_field(params: list[ParamSpec], name: str) -> BodyField | None:
    """The body of an operation whose operation id is ``name`` (its object is
    ``Body_<name>``), or None."""
    if not params:
        return None
    embeds = _embeds(params)
    with_models = any(form_models(p) for p in params)
    if with_models and (embeds or any(nullable(p) for p in params if form_models(p))):
        model = form_body_model(f"Body_{name}", params)
        if embeds:
            return BodyField(_media_type(params), any(p.required for p in params), model, None, None)
        p = params[0]  # one model that may be absent: the model's own field, its type the object
        options = {k: v for k, v in field_options(p).items() if k not in (*CONSTRAINTS, "discriminator")}
        return BodyField(p.marker.media_type or "application/json", p.required, model, options, wire_name(p))
    if not embeds:
        p = params[0]
        tp = p.annotation
        return BodyField(p.marker.media_type or "application/json", p.required, tp, field_options(p),
                         wire_name(p), (lambda: plain_param(p, tp)) if p.source != "body" else None,
                         p.marker.extra.get("openapi_examples"), p.marker.extra.get("example", UNSET))
    members: dict[str, ParamSpec] = {}
    for p in params:
        members[p.name] = p  # (a parameter read twice: its last declaration, as FastAPI's)
    model, plain = _body_model(f"Body_{name}", list(members.values()))
    return BodyField(_media_type(params), any(p.required for p in params), model, None, None, plain)


def _body_model(name: str, params: list[ParamSpec]) -> tuple[Any, Any]:
    """The object of several body parameters, as FastAPI makes it: a pydantic model
    named ``name`` whose fields are the parameters (their aliases, defaults,
    constraints); a msgspec Struct when the members are msgspec's; else (no library)
    its schema made here."""
    types = [p.annotation for p in params]
    if any(_models._mentions(tp, _models._is_struct) for tp in types) and not any(
            _models._mentions(tp, _models._is_pydantic_model) for tp in types):
        return _struct(name, params), None
    try:
        import pydantic
    except ImportError:
        return None, lambda: _plain_object(name, params)
    spec: dict[str, Any] = {}
    for p in params:
        options = field_options(p)
        if "default" not in options and "default_factory" not in options:
            options["default"] = ...
        spec[p.name] = (pydantic_type(p.annotation), pydantic.Field(alias=wire_name(p), **options))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydantic.create_model(name, **spec), None


def _struct(name: str, params: list[ParamSpec]) -> Any:
    import msgspec
    members = []
    for p in params:
        shown = {k: getattr(p.marker, k) for k in ("title", "description", "examples") if getattr(p.marker, k)}
        tp = p.annotation
        if shown or p.marker.constraints():
            tp = typing.Annotated[tp, msgspec.Meta(**p.marker.constraints(), **shown)]
        members.append((wire_name(p), tp) if p.default is Required else (wire_name(p), tp, p.default))
    members.sort(key=len)  # the members without a default first, as msgspec wants them
    return msgspec.defstruct(name, members)


def _plain_object(name: str, params: list[ParamSpec]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for p in params:
        key = wire_name(p)
        props[key] = {**plain_param(p, p.annotation)}
        props[key].setdefault("title", key.title().replace("_", " "))
        if p.required:
            required.append(key)
    out: dict[str, Any] = {"properties": props, "title": name, "type": "object"}
    if required:
        out["required"] = required
    return out
