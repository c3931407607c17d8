"""FastAPI's parameters read as ringbolt's, once per parameter when a route is planned
(``ringbolt.typed.plan.PlanAdapter``): FastAPI's markers (``fastapi.params.Query``... pydantic
``FieldInfo`` subclasses, ``Depends``/``Security`` dataclasses) as ringbolt's
(``ringbolt.params``), Starlette's and FastAPI's types (``Request``, ``HTTPConnection``,
``Response``, ``BackgroundTasks``, ``UploadFile``, ``SecurityScopes``) as the ones
ringbolt's plans inject, and an unmarked parameter placed where FastAPI places it (a path
parameter, a file, a body for a type that is not a scalar, else a query parameter)."""

from __future__ import annotations

import functools
import inspect
import operator
import sys
import types
import typing
from typing import Annotated, Any, Callable

import fastapi.security  # noqa: F401 - its SecurityScopes, below
from fastapi import params as fa_params
from pydantic.fields import FieldInfo
from starlette.background import BackgroundTasks as StarletteBackgroundTasks
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.requests import HTTPConnection
from starlette.responses import Response as StarletteResponse
from starlette.websockets import WebSocket

from ... import params as rb
from ..._native import Request as NativeRequest
from ...background import BackgroundTasks
from ..datastructures import UploadFile
from ..responses import Response as TemporalResponse

try:  # FastAPI's own rule for what a parameter with no marker is (0.100 and later)
    from fastapi import _compat as _fastapi_compat
except ImportError:  # pragma: no cover - a FastAPI without it is outside the supported range
    _fastapi_compat = None  # type: ignore[assignment]
field_annotation_is_scalar: Any = getattr(_fastapi_compat, "field_annotation_is_scalar", None)
FastAPISecurityScopes: Any = getattr(sys.modules.get("fastapi.security"), "SecurityScopes", None)


class Unplannable(Exception):
    """A route FastAPI serves in a way ringbolt's plans do not (said at start-up; the
    route goes through the ASGI path)."""


_MARKERS: dict[type, type[rb.Param]] = {
    fa_params.Path: rb.Path, fa_params.Query: rb.Query, fa_params.Header: rb.Header,
    fa_params.Cookie: rb.Cookie, fa_params.File: rb.File, fa_params.Form: rb.Form, fa_params.Body: rb.Body,
}
#: the constraints ringbolt's markers take as keyword arguments (checked inline), by the
#: annotated_types / pydantic metadata attribute that holds each
_CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern")
_DOCUMENT = ("title", "description", "deprecated")


def _undefined(value: Any) -> bool:
    return value is Ellipsis or type(value).__name__ == "PydanticUndefinedType"


def _unset(value: Any) -> bool:
    return _undefined(value) or type(value).__name__ == "_Unset" or value is None


def marker(m: Any, where: str) -> tuple[Any, list[Any]]:
    """A FastAPI marker as ringbolt's, with the metadata pydantic applies that ringbolt's
    marker does not hold (``Strict``, ``max_digits``...): put beside it in ``Annotated``."""
    if isinstance(m, fa_params.Depends):
        return depends(m, where), []
    cls = None
    for klass in type(m).__mro__:
        cls = _MARKERS.get(klass)
        if cls is not None:
            break
    if cls is None:
        return m, []
    kwargs: dict[str, Any] = {}
    default = m.default
    if not _undefined(default):
        kwargs["default"] = default
    factory = getattr(m, "default_factory", None)
    if factory is not None and not _unset(factory):
        kwargs["default_factory"] = factory
    alias = m.alias
    if isinstance(alias, str):
        kwargs["alias"] = alias
    given = m.validation_alias
    if given is not None and given != alias:
        raise Unplannable(f"{where}: validation_alias={given!r} (an alias to read other than its name)")
    for name in _DOCUMENT:
        value = getattr(m, name, None)
        if not _unset(value):
            kwargs[name] = value
    if getattr(m, "examples", None):
        kwargs["examples"] = m.examples
    if getattr(m, "include_in_schema", True) is False:
        kwargs["include_in_schema"] = False
    extra: list[Any] = []
    for meta in m.metadata:
        taken = False
        for name in _CONSTRAINTS:
            value = getattr(meta, name, None)
            if value is not None and name not in kwargs:
                kwargs[name] = value
                taken = True
        rest = {k: v for k, v in vars(meta).items() if k not in _CONSTRAINTS and v is not None} \
            if hasattr(meta, "__dict__") else {}
        if not taken or rest:
            extra.append(meta)  # pydantic applies it, as FastAPI has it do
    if getattr(m, "discriminator", None) is not None:
        raise Unplannable(f"{where}: a discriminator on the parameter's marker")
    if cls is rb.Header:
        kwargs["convert_underscores"] = getattr(m, "convert_underscores", True)
    if cls is rb.Body:
        kwargs["embed"] = getattr(m, "embed", None)
    if cls in (rb.Body, rb.Form, rb.File):
        kwargs["media_type"] = getattr(m, "media_type", None) or rb.Body().media_type
    if "pattern" in kwargs and not isinstance(kwargs["pattern"], str):
        kwargs["pattern"] = kwargs["pattern"].pattern  # a compiled pattern
    try:
        return cls(**kwargs), extra
    except (TypeError, ValueError) as exc:
        raise Unplannable(f"{where}: {exc}") from None


def depends(m: Any, where: str) -> rb.Depends:
    """``fastapi.Depends``/``Security`` as ringbolt's."""
    if getattr(m, "max_concurrency", None) is not None:
        raise Unplannable(f"{where}: Depends(max_concurrency={m.max_concurrency}) (a limit FastAPI keeps per "
                          "dependency)")
    if isinstance(m, fa_params.Security):
        return rb.Security(m.dependency, scopes=list(m.scopes or ()), use_cache=m.use_cache)
    return rb.Depends(m.dependency, use_cache=m.use_cache, scope=getattr(m, "scope", None) or "request")


def _is_uploads(tp: Any) -> bool:
    """FastAPI's reading of an ``UploadFile`` parameter: the class, an optional one, or a
    sequence of them."""
    if isinstance(tp, type) and issubclass(tp, StarletteUploadFile):
        return True
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_is_uploads(a) for a in args)
    return origin in (list, set, tuple, frozenset, typing.Sequence, typing.List) and any(_is_uploads(a) for a in args)


def _is_scalar(tp: Any) -> bool:
    if field_annotation_is_scalar is not None:
        return bool(field_annotation_is_scalar(tp))
    return not (typing.get_origin(tp) in (list, set, tuple, dict) or isinstance(tp, type) and
                issubclass(tp, (list, set, tuple, dict)))  # pragma: no cover


def _swap(tp: Any, request_class: type) -> Any:
    """``tp`` with Starlette's and FastAPI's types as the ones ringbolt's plans take."""
    if isinstance(tp, type):
        if issubclass(tp, HTTPConnection) and not issubclass(tp, WebSocket):
            return request_class
        if issubclass(tp, StarletteUploadFile):
            return UploadFile
        if issubclass(tp, StarletteBackgroundTasks):
            return BackgroundTasks
        if issubclass(tp, StarletteResponse):
            return TemporalResponse
        if FastAPISecurityScopes is not None and issubclass(tp, FastAPISecurityScopes):
            return rb.SecurityScopes
        return tp
    args = typing.get_args(tp)
    if not args:
        return tp
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return tp  # its own metadata: read by the caller
    new = tuple(_swap(a, request_class) for a in args)
    if new == args:
        return tp
    if origin is types.UnionType:
        return functools.reduce(operator.or_, new)
    if origin is typing.Union:
        return typing.Union[new]
    if isinstance(tp, types.GenericAlias):
        return types.GenericAlias(origin, new)
    try:
        return tp.copy_with(new)
    except AttributeError:  # pragma: no cover - a generic of its own: left as it is
        return tp


class Adapter:
    """The ``PlanAdapter`` of one adopted app: its parameters read as FastAPI reads them."""

    def __init__(self, request_class: type, answers: tuple[tuple[type, ...], Callable[[Any], Any]]) -> None:
        self.request_class = request_class
        self.answers = answers
        #: FastAPI's own answer to an HTTPException, when the app keeps it (``answers.exception_handlers``)
        self.errors: tuple[tuple[type, ...], Callable[[Any], Any]] | None = None

    def param(self, p: inspect.Parameter, annotation: Any, path_names: dict[str, str],
              where: str) -> tuple[inspect.Parameter, Any]:
        base, meta = annotation, []
        if annotation is NativeRequest:  # a wrapper of ringbolt's own (a Starlette route's)
            return p, annotation
        if typing.get_origin(annotation) is Annotated:
            base, *meta = typing.get_args(annotation)
        if isinstance(base, type) and issubclass(base, WebSocket):
            raise Unplannable(f"{where}: a WebSocket")
        found: Any = None  # the last FastAPI marker wins, as in FastAPI
        out_meta: list[Any] = []
        for m in meta:
            if isinstance(m, (fa_params.Depends, fa_params.Param, fa_params.Body)):
                rb_marker, extra = marker(m, where)
                found = rb_marker
                out_meta += extra
                out_meta.append(rb_marker)
            else:
                out_meta.append(m)
        default = p.default
        if isinstance(default, (fa_params.Depends, fa_params.Param, fa_params.Body)):
            default, extra = marker(default, where)
            out_meta += extra
            found = default
        elif isinstance(default, FieldInfo):
            raise Unplannable(f"{where}: a pydantic Field() as the default of an endpoint's parameter")
        swapped = _swap(base, self.request_class)
        if found is None and swapped is base and base is not inspect.Parameter.empty and (
                not isinstance(base, type) or not issubclass(base, rb.SecurityScopes)):
            default = self._placed(p, base, path_names)
        elif found is None and base is inspect.Parameter.empty:
            default = self._placed(p, Any, path_names)
        if out_meta:
            annotation = Annotated[(swapped, *out_meta)]
        else:
            annotation = swapped
        return p.replace(default=default, annotation=annotation), annotation

    @staticmethod
    def _placed(p: inspect.Parameter, base: Any, path_names: dict[str, str]) -> rb.Param:
        """FastAPI's place of a parameter with no marker (``analyze_param``)."""
        value = rb.Required if p.default is inspect.Parameter.empty else p.default
        if p.name in path_names:
            return rb.Path()
        if _is_uploads(base):
            return rb.File(value)
        if not _is_scalar(base):
            return rb.Body(value)
        return rb.Query(value)
