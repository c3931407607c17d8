"""The plan of a typed route, made once when it is registered: what each parameter of
the handler (and of every dependency under it) is, where its value comes from, how it
is converted and checked, which body model validates the request's bytes, and which
writer the result goes to. ``inspect`` and ``typing.get_type_hints`` run here only.

``RoutePlan`` is the documented data that OpenAPI generation reads (``App.route_plans``)
and ``ringbolt.typed.runner`` compiles into the one function a request runs:

- ``RoutePlan.call``: a ``CallSpec`` of the handler: its ``args`` in signature order,
  each an ``ArgSpec`` whose ``what`` is a ``ParamSpec`` (a value from the request), a
  ``DependencySpec`` (``Depends``/``Security``, itself with a ``CallSpec``), or one of
  ``REQUEST``, ``BACKGROUND``, ``SecurityScopes``.
- ``RoutePlan.dependencies``: the route-level ``dependencies=[...]``.
- ``RoutePlan.body``: a ``BodySpec`` (every body parameter of the handler and its
  dependencies, one JSON document), or None.
- ``RoutePlan.response``: a ``ResponseSpec`` (model, status code, writer; under FastAPI's
  routes also the response class, a generator's stream, the temporal response's merge).
- ``RoutePlan.options``: ``tags``, ``summary``, ``description``, ``responses``,
  ``operation_id``, ``include_in_schema``, ``deprecated``: kept for OpenAPI.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import datetime
import enum
import functools
import inspect
import re
import types
import typing
import uuid
from typing import Annotated, Any, Callable, Iterator

from . import (convert as _convert,
               models as _models,
               param_models as _param_models,
               problem as _problem)
from .depends import kind_of
from .._native import Request
from ..background import BackgroundTasks
from ..forms import UploadFile
from ..params import Body, Cookie, Depends, File, Form, Header, Param, Path, Query, Required, Security, SecurityScopes
from ..response import FileResponse, Response, StreamingResponse
from ..security import SecurityBase

#: ``ArgSpec.what`` for a parameter that takes the Request itself / ``req.background``.
REQUEST = "request"
BACKGROUND = "background"

#: ``response_model=`` not given: the return annotation decides (``None``: no model).
UNSET: Any = object()

_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")
_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, tuple, frozenset, enum.Enum, uuid.UUID,
              datetime.date, datetime.time, datetime.timedelta)  # and Decimal (``_convert.is_decimal``)
#: under FastAPI's rules, read by pydantic (its errors name what is wrong in the text:
#: "Input should be a valid date or datetime, day value is outside expected range")
_PYDANTIC_TEXT = (uuid.UUID, datetime.date, datetime.datetime, datetime.time)
_SOURCES = {"query": Query, "path": Path, "header": Header, "cookie": Cookie, "body": Body, "form": Form,
            "file": File}


class PlanError(TypeError):
    """A handler or dependency whose signature cannot be planned (said at registration)."""


class DependencyScopeError(PlanError):
    """A dependency that takes one of a shorter scope (FastAPI's name for it)."""


@dataclasses.dataclass(eq=False)
class ParamSpec:
    """One value taken from the request."""

    name: str  #: the Python parameter's name
    source: str  #: "path", "query", "header", "cookie", "body", "form" or "file"
    key: str  #: its name on the wire (alias; a header's lower-case, ``_`` as ``-``)
    annotation: Any  #: the declared type (Optional and list included)
    marker: Param  #: the marker with the options and constraints (a default one if none was written)
    required: bool
    default: Any  #: the default (``Required`` when required); ``default_factory`` is on the marker
    is_list: bool  #: a repeated parameter (``list[T]``)
    convert: Callable[[Any], Any] | None  #: text (or list of texts) -> value; None: taken as it is
    loc: tuple[Any, ...]  #: where an error points: ("query", "limit")
    inline: Any = None  #: ``_convert.Inline``: how the runner converts it without a call, or None
    #: the ``Annotated`` metadata pydantic applies (``Field(ge=1)``, ``Gt(0)``, ``AfterValidator``...,
    #: the marker left out): when there is any (or inside the type), pydantic validates the value
    meta: tuple[Any, ...] = ()
    #: a parameter model (``Annotated[Filters, Query()]``): the pydantic model(s) it stands
    #: for, whose fields are read from the whole source; ``convert`` then takes the source
    #: (the query, the headers, the cookies or the form) and ``loc`` is the source's alone
    models: tuple[Any, ...] = ()
    #: how the runner takes a form field: "first" (ringbolt's: the first of a repeated
    #: name, an empty value as sent) or "last" (FastAPI's: the last, and an empty value
    #: or an empty file part as none sent)
    form_read: str = "first"

    @property
    def fresh_default(self) -> bool:
        """Whether the default must be copied (or made by the factory) per request."""
        return self.marker.default_factory is not None or not (
            isinstance(self.default, _IMMUTABLE) or _convert.is_decimal(type(self.default)))


@dataclasses.dataclass(eq=False)
class DependencySpec:
    """A ``Depends``/``Security`` parameter (or route-level dependency)."""

    call: Callable[..., Any]
    marker: Depends
    spec: "CallSpec"  #: the dependency's own parameters
    scopes: tuple[str, ...]  #: every Security scope from the route down to here
    use_cache: bool
    scope: str  #: "request", "function" or "app"

    @property
    def cache_key(self) -> tuple[Any, ...]:
        """What one value per request is kept under (FastAPI's key): the callable, the
        scopes above it when it uses them (a dependency that does not is one call however
        many scopes are above its uses), and its scope ("function" apart)."""
        return (self.call, tuple(sorted(set(self.scopes))) if self.uses_scopes() else (), self.scope)

    def uses_scopes(self) -> bool:
        """Whether the scopes above it reach anything: a ``Security`` with scopes, a
        ``SecurityScopes`` parameter or a security scheme at it or under it."""
        if isinstance(self.marker, Security) and self.marker.scopes:
            return True
        if isinstance(self.call, SecurityBase):
            return True
        for a in self.spec.args:
            if isinstance(a.what, SecurityScopes):
                return True
            if isinstance(a.what, DependencySpec) and a.what.uses_scopes():
                return True
        return False

    def visible_scopes(self) -> list[str]:
        """Its ``SecurityScopes``: the scopes above it, then its own not among them (FastAPI's)."""
        own = list(self.marker.scopes) if isinstance(self.marker, Security) else []
        seen = list(self.scopes[:len(self.scopes) - len(own)])
        for scope in own:
            if scope not in seen:
                seen.append(scope)
        return seen

    def settle(self) -> "DependencySpec":
        """Its ``SecurityScopes`` parameters given their value, and FastAPI's scope rule held:
        a generator finished after the response cannot take one finished before it."""
        for a in self.spec.args:
            what = a.what
            if isinstance(what, SecurityScopes):
                a.what = SecurityScopes(self.visible_scopes())
            elif (isinstance(what, DependencySpec) and what.scope == "function" and self.scope == "request"
                  and self.spec.kind in ("gen", "asyncgen")):
                raise DependencyScopeError(
                    f'the dependency "{_name(self.call)}" has the scope "request": it cannot depend on '
                    f'"{_name(what.call)}", whose scope is "function" (finished before the response, while the '
                    'other is held until after it)')
        return self


@dataclasses.dataclass(eq=False)
class Adapted:
    """A parameter whose value is made from the request by its annotation's class (a
    framework's view of the request, as ``ringbolt.fastapi.Request``): the class's
    ``_rb_from_request(req, app)``, called once per request that runs the route."""

    make: Callable[[Any, Any], Any]
    kind: Any = None  #: the annotation's class


class PlanAdapter(typing.Protocol):
    """How routes read from another framework's own objects are planned (an unchanged
    FastAPI app's: ``ringbolt.fastapi._adopt``): decided once per parameter, at planning."""

    def param(self, p: inspect.Parameter, annotation: Any, path_names: dict[str, str],
              where: str) -> tuple[inspect.Parameter, Any]:
        """``p`` and its annotation with the framework's markers and types as ringbolt's."""

    #: ``(types, convert)``: a handler's result of one of ``types`` (the framework's
    #: response objects) is ``convert(result)`` before it is written; None: none
    answers: tuple[tuple[type, ...], Callable[[Any], Any]] | None
    #: ``(types, answer)``: an exception of one of ``types`` the route raises (the
    #: framework's HTTPException) is answered ``answer(exc)`` by the route itself, when the
    #: app has no handler of its own for it; None: the app's handlers decide
    errors: tuple[tuple[type, ...], Callable[[Any], Any]] | None


@dataclasses.dataclass(eq=False)
class ArgSpec:
    name: str
    keyword: bool  #: passed by keyword (a keyword-only parameter)
    what: Any  #: ParamSpec | DependencySpec | Adapted | REQUEST | BACKGROUND | SecurityScopes


@dataclasses.dataclass(eq=False)
class CallSpec:
    call: Callable[..., Any]
    kind: str  #: "sync", "async", "gen" or "asyncgen"
    args: list[ArgSpec]

    def params(self) -> Iterator[ParamSpec]:
        for a in self.args:
            if isinstance(a.what, ParamSpec):
                yield a.what


@dataclasses.dataclass(eq=False)
class BodySpec:
    params: list[ParamSpec]  #: every body parameter, in the order met
    embed: bool  #: the body is an object with one member per parameter
    decode: Callable[[bytes], Any]  #: raw bytes -> the value (embedded: an object with the members)
    #: raw bytes -> the value when the Content-Type is not JSON (``_models.is_json_type``):
    #: the bytes validated as they are, as FastAPI does (a model refuses them: a 422)
    not_json: Callable[[bytes], Any]
    required: bool
    media_type: str = "application/json"
    #: raw bytes -> the value of a body not sent (FastAPI's embedded body: each required
    #: member missing, the others their default); None: ringbolt's (a ``missing`` at
    #: ``["body"]`` when required, else each parameter's default)
    empty: Callable[[bytes], Any] | None = None


@dataclasses.dataclass(eq=False)
class ResponseSpec:
    model: Any  #: the response model (a type or TypeAdapter), or None
    status_code: int | None
    write: Callable[[Any], Any] | None  #: the model's writer (None: no model): JSON bytes, or
    #: JSON-able Python for a ``response_class`` that renders it
    #: FastAPI's ``response_class`` (a route registered through ringbolt.fastapi): the class a
    #: result that is not a response is made into; None: ringbolt's own writer
    response_class: Any = None
    default_class: bool = True  #: ``response_class`` is the default (FastAPI's JSONResponse): JSON written as it is
    #: a generator handler's answer under FastAPI's routes: "jsonl" (JSON lines), "sse"
    #: (Server-Sent Events) or "raw" (``response_class(content=generator)``); None: no stream
    stream: str | None = None
    item_write: Callable[[Any], bytes] | None = None  #: a streamed item's JSON (its declared type's writer)
    #: ``merge(req, result, write)``: the answer of a route that takes FastAPI's temporal
    #: ``response: Response`` (its status, headers and cookies merged in), or None
    merge: Callable[[Any, Any, Any], Any] | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  #: ``response_model_*`` options
    #: ``(types, convert)``: another framework's response objects the handler may return,
    #: made into ringbolt's before anything else sees them (``PlanAdapter.answers``)
    convert: tuple[tuple[type, ...], Callable[[Any], Any]] | None = None
    #: ``(types, answer)``: another framework's exceptions the route answers itself
    #: (``PlanAdapter.errors``)
    errors: tuple[tuple[type, ...], Callable[[Any], Any]] | None = None


class ResponseModelError(PlanError):
    """A response model (or return annotation) that cannot check and write a value."""


@dataclasses.dataclass(eq=False)
class RoutePlan:
    call: CallSpec
    dependencies: list[DependencySpec]
    body: BodySpec | None
    response: ResponseSpec
    path_names: dict[str, str]  #: the route's path parameters and their converters ("str", "int"...)
    is_async: bool  #: the runner is an ``async def`` (the handler or a dependency is)
    options: dict[str, Any]
    #: whose rules read the signature: "ringbolt", or "fastapi" (ringbolt.fastapi's routes:
    #: an unmarked list or dict is the body, forms and bodies are read as FastAPI reads them)
    rules: str = "ringbolt"

    def params(self) -> list[ParamSpec]:
        """Every request value the route reads, its dependencies' included, once each."""
        seen: dict[int, ParamSpec] = {}
        for spec in self._calls():
            for p in spec.params():
                seen.setdefault(id(p), p)
        return list(seen.values())

    def all_dependencies(self) -> list[DependencySpec]:
        out: list[DependencySpec] = []

        def walk(spec: CallSpec) -> None:
            for a in spec.args:
                if isinstance(a.what, DependencySpec):
                    out.append(a.what)
                    walk(a.what.spec)
        for d in self.dependencies:
            out.append(d)
            walk(d.spec)
        walk(self.call)
        return out

    def _calls(self) -> Iterator[CallSpec]:
        yield self.call
        for d in self.all_dependencies():
            yield d.spec


# ---- signatures ----

def path_names(path: str) -> dict[str, str]:
    return {m.group(1): m.group(2) or "str" for m in _PATH_PARAM.finditer(path)}


def _signature(call: Any) -> tuple[list[inspect.Parameter], dict[str, Any]]:
    target = call.__init__ if inspect.isclass(call) else call
    if not (inspect.isclass(call) or inspect.isroutine(call) or isinstance(call, functools.partial)):
        target = type(call).__call__  # a callable object: its __call__'s annotations, not its class's fields
    try:
        sig = inspect.signature(call)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"cannot read the signature of {call!r}: {exc}") from None
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # noqa: BLE001 - an unresolvable annotation, named
        found = _closure_hints(target)
        if found is None:
            raise PlanError(f"cannot resolve the annotations of {_name(call)}: {exc}") from None
        hints = found
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return params, hints


def _closure_hints(fn: Any) -> dict[str, Any] | None:
    """The annotations of a function defined in another (an app factory) under ``from
    __future__ import annotations``: read with the names its closure holds too."""
    code = getattr(fn, "__code__", None)
    closure = getattr(fn, "__closure__", None) or ()
    if code is None:
        return None
    names = dict(getattr(fn, "__globals__", {}))
    for name, cell in zip(code.co_freevars, closure):
        try:
            names[name] = cell.cell_contents
        except ValueError:
            continue
    out = {}
    for key, ann in getattr(fn, "__annotations__", {}).items():
        try:
            out[key] = eval(ann, names) if isinstance(ann, str) else ann  # noqa: S307 - the function's own annotations
        except Exception:  # noqa: BLE001 - still unresolvable: the caller names the first error
            if key == "return":
                continue  # a name only a type checker sees (TYPE_CHECKING), as FastAPI leaves it: not planned
            return None
    return out


def _name(call: Any) -> str:
    return str(getattr(call, "__qualname__", None) or getattr(call, "__name__", None) or repr(call))


def is_plain_handler(fn: Any, path_names: dict[str, str] | None = None) -> bool:
    """A handler that takes the request and nothing else (``def h(req)``, any name, no
    annotation or ``Request``): served as it is, with no plan and no added cost. A lone
    parameter named as one of the path's (``path_names``) or annotated with a class made
    from the request (``_rb_from_request``: FastAPI's ``Request``) is planned instead."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not params and any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()):
        return True  # def h(*args): a wrapper that passes the request on
    if len(params) != 1:
        return False
    p = params[0]
    if p.kind is p.KEYWORD_ONLY or isinstance(p.default, (Param, Depends)) or p.name in (path_names or ()):
        return False
    ann = p.annotation
    if isinstance(ann, str):
        # Text (or ``from __future__ import annotations``): read with its markers, so
        # "Annotated[Any, Depends(f)]" or an alias of it is a typed route, f run before it.
        try:
            ann = typing.get_type_hints(fn, include_extras=True).get(p.name, ann)
        except Exception:  # noqa: BLE001 - read as written below
            pass
    if isinstance(ann, str):  # text that does not resolve here: no marker in it, and the request by name or type
        return "Annotated" not in ann and (p.name in ("req", "request") or ann in (
            "Request", "ringbolt.Request", "Any", "typing.Any"))
    if _split(ann)[1]:
        return False  # Annotated metadata: a marker, or at least a typed parameter
    if isinstance(ann, type) and hasattr(ann, "_rb_from_request"):
        return False  # a framework's own request (ringbolt.fastapi's): made by the plan
    return ann is p.empty or p.name in ("req", "request") or ann is Request or ann is Any


def _split(annotation: Any) -> tuple[Any, list[Any]]:
    if typing.get_origin(annotation) is Annotated:
        base, *meta = typing.get_args(annotation)
        return base, meta
    return annotation, []


class Planner:
    """Plans the calls of one route (its handler and the dependencies under it); the
    body parameters of all of them are gathered in ``body_params``. ``adapter``: another
    framework's reading of a parameter (``PlanAdapter``), or None."""

    def __init__(self, path_names: dict[str, str], rules: str = "ringbolt",
                 adapter: "PlanAdapter | None" = None) -> None:
        self.path_names = path_names
        self.fastapi = rules == "fastapi"
        self.adapter = adapter
        self.body_params: list[ParamSpec] = []
        self.embed_forced = False

    def call(self, call: Callable[..., Any], scopes: tuple[str, ...] = (), app_scope: bool = False) -> CallSpec:
        params, hints = _signature(call)
        # a signature set by hand (``__signature__``: strawberry's context dependency) may
        # order the parameters otherwise than the code: its values go by name, as FastAPI's
        by_name = "__signature__" in getattr(call, "__dict__", {})
        args = []
        for p in params:
            annotation = hints.get(p.name, p.annotation)
            if by_name and p.annotation is not p.empty and not isinstance(p.annotation, str):
                annotation = p.annotation  # the hand-set signature's own, as FastAPI reads it
            what = self._arg(call, p, annotation, scopes)
            if app_scope and not (isinstance(what, DependencySpec) and what.scope == "app"):
                raise PlanError(f"the app-scoped dependency {_name(call)} takes {p.name!r}: an app-scoped "
                                "dependency can only take other app-scoped dependencies")
            args.append(ArgSpec(p.name, by_name or p.kind is p.KEYWORD_ONLY, what))
        return CallSpec(call, kind_of(call), args)

    def dependency(self, marker: Depends, base: Any, scopes: tuple[str, ...], where: str) -> DependencySpec:
        call = marker.dependency if marker.dependency is not None else base
        if call is None or call is inspect.Parameter.empty or not callable(call):
            raise PlanError(f"{where}: Depends() without a callable needs a class annotation")
        own = tuple(marker.scopes) if isinstance(marker, Security) else ()
        all_scopes = scopes + own
        spec = self.call(call, all_scopes, app_scope=marker.scope == "app")
        return DependencySpec(call, marker, spec, all_scopes, marker.use_cache, marker.scope).settle()

    def _arg(self, call: Any, p: inspect.Parameter, annotation: Any, scopes: tuple[str, ...]) -> Any:
        where = f"parameter {p.name!r} of {_name(call)}"
        if self.adapter is not None:  # another framework's markers and types, as ringbolt's
            p, annotation = self.adapter.param(p, annotation, self.path_names, where)
        base, meta = _split(annotation)
        marker: Any = None
        for m in meta:
            if isinstance(m, (Param, Depends)):
                marker = m
        default = p.default
        if isinstance(default, (Param, Depends)):
            if marker is not None:
                raise PlanError(f"{where}: a marker in Annotated and another as the default")
            marker, default = default, (default.default if isinstance(default, Param) else p.empty)
        if isinstance(marker, Depends):
            return self.dependency(marker, base, scopes, where)
        if marker is None:
            if p.name in ("req", "request") and (base is p.empty or base is Any):
                return REQUEST
            if isinstance(base, type) and (issubclass(base, Request) or base.__name__ == "ASGIRequest"):
                return REQUEST
            make = getattr(base, "_rb_from_request", None) if isinstance(base, type) else None
            if make is not None:
                return Adapted(make, base)
            if base is BackgroundTasks:
                return BACKGROUND
            if base is SecurityScopes:
                return SecurityScopes(scopes)
            if p.name in self.path_names:
                marker = Path()
            elif _is_upload(base):
                marker = File()
            elif _models.is_model(base) or (self.fastapi and _param_models.is_complex(base)):
                marker = Body()  # FastAPI's: anything but a scalar (a list, a dict) is the body
            else:
                marker = Query()
        if default is p.empty:
            default = marker.default if marker.default is not Required else Required
        if marker.default is not Required and default is Required:
            default = marker.default
        return self._param(p.name, base, marker, default, where, meta)

    def _param(self, name: str, annotation: Any, marker: Param, default: Any, where: str,
               meta: list[Any] | None = None) -> ParamSpec:
        source = marker.source
        if annotation is inspect.Parameter.empty:
            annotation = str if source not in ("body", "file") else Any
        required = default is Required and marker.default_factory is None
        if source == "header":
            key = marker.alias or (name.replace("_", "-") if getattr(marker, "convert_underscores", True) else name)
            key = key.lower()
        else:
            key = marker.alias or name
        if source == "path":
            if name not in self.path_names and key not in self.path_names:
                raise PlanError(f"{where} is a path parameter, but the route's path has no {{{key}}}")
            required, default = True, Required
        spec = ParamSpec(name, source, key, annotation, marker, required, default, False, None,
                         ("body" if source in ("form", "file") else source, key))
        spec.meta = tuple(m for m in meta or () if _models.applies(m))
        if source == "body":
            self.body_params.append(spec)
            if getattr(marker, "embed", None):
                self.embed_forced = True
            return spec
        models = _param_models.models_of(annotation, marker) if source != "path" else []
        if models:
            spec.models = tuple(models)
            spec.loc = ("body",) if source == "form" else (source,)
            try:
                spec.convert = _param_models.reader(annotation, models, marker, default, required)
            except Exception as exc:  # noqa: BLE001 - pydantic refusing the type or an option, named
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise PlanError(f"{where}: pydantic cannot validate the {source} model {annotation!r}: "
                                f"{first}") from None
            return spec
        inner, _optional = _convert.unwrap_optional(annotation)
        seq = _convert.sequence_item(inner)
        if self.fastapi and source in ("form", "file"):
            spec.form_read = "last"
        if source == "file":
            spec.is_list = seq is not None
            item = seq[0] if seq is not None else inner
            spec.convert = _file_converter(item, spec.is_list, where, self.fastapi)
            return spec
        if seq is not None and source in ("path", "cookie"):
            raise PlanError(f"{where}: a {source} parameter cannot be a list")
        item = seq[0] if seq is not None else inner
        if spec.meta or _models.carries_validators(annotation) or (self.fastapi and item in _PYDANTIC_TEXT) or (
                not _convert.knows(item) and _models.reads_text(item)):
            # validators of the annotation's own (Field(ge=1), AfterValidator...), or a type
            # pydantic validates and ringbolt's converters do not (HttpUrl, EmailStr...):
            # pydantic's, with the marker's constraints where the marker stands; no inline form
            spec.is_list = seq is not None
            own = list(meta or ())
            if marker not in own:
                own.insert(0, marker)  # a marker given as the default
            try:
                spec.convert = _models.param_validator(annotation, own)
            except ImportError:
                raise
            except Exception as exc:  # noqa: BLE001 - pydantic refusing the type or a validator, named
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise PlanError(f"{where}: pydantic cannot validate {annotation!r} with {list(spec.meta)}: "
                                f"{first}") from None
            return spec
        if seq is not None:
            spec.is_list = True
            spec.convert = _convert.sequence(seq[0], seq[1], marker)
        else:
            try:
                spec.convert = _convert.scalar(inner, marker)
            except TypeError as exc:
                raise PlanError(f"{where}: {exc}") from None
            if source != "path" or self.path_names.get(key, "str") in ("str", "path"):
                spec.inline = _convert.inline(inner, marker)  # (a native {x:int} value is not text)
        return spec


def _is_upload(tp: Any) -> bool:
    inner, _ = _convert.unwrap_optional(tp)
    seq = _convert.sequence_item(inner)
    item = seq[0] if seq is not None else inner
    return isinstance(item, type) and issubclass(item, UploadFile)


def _file_converter(item: Any, many: bool, where: str, text_as_bytes: bool = False) -> Callable[[Any], Any]:
    """A file part's value: the UploadFile, or its bytes (read from where the file is, and
    the file put back there: another parameter may read it too). ``text_as_bytes``
    (FastAPI's): a ``bytes`` parameter sent as a plain field takes that text's bytes."""
    upload = isinstance(item, type) and issubclass(item, UploadFile)
    if not upload and item not in (bytes, Any, inspect.Parameter.empty):
        raise PlanError(f"{where}: a File parameter is an UploadFile or bytes (or a list of them)")
    as_bytes = item is bytes
    # a framework's own UploadFile (ringbolt.fastapi's: async read/write/seek/close) on the
    # same slots: the parsed part is given that class, no copy
    own_class = item if upload and item is not UploadFile else None

    def one(v: Any) -> Any:
        if not isinstance(v, UploadFile):
            if as_bytes and text_as_bytes and type(v) is str:
                return v.encode()
            raise _convert.Bad("value_error", f"Value error, Expected UploadFile, received: {type(v)}",
                               {"error": _problem.Raised(ValueError(f"Expected UploadFile, received: {type(v)}"))})
        if as_bytes:
            at = v.file.tell()
            data = v.file.read()
            v.file.seek(at)
            return data
        if own_class is not None and type(v) is not own_class:
            v.__class__ = own_class
        return v

    if not many:
        return one

    def each(values: Any) -> Any:
        out = []
        for i, v in enumerate(values):
            try:
                out.append(one(v))
            except _convert.Bad as e:
                e.index = i
                raise
        return out
    return each


def _fastapi_order(call: CallSpec, route_deps: list[DependencySpec]) -> list[ParamSpec]:
    """The body parameters in the order FastAPI validates them: a call's dependencies' (the
    route's ``dependencies=`` first), each the same way, then its own."""
    out: list[ParamSpec] = []

    def walk(spec: CallSpec, first: list[DependencySpec]) -> None:
        for d in first:
            walk(d.spec, [])
        for a in spec.args:
            if isinstance(a.what, DependencySpec):
                walk(a.what.spec, [])
        out.extend(p for p in spec.params() if p.source == "body")
    walk(call, route_deps)
    return out


def _body(planner: Planner, params: list[ParamSpec]) -> BodySpec | None:
    """The body of the route whose body parameters are ``params`` (under FastAPI's rules,
    in FastAPI's order: a name met again, a dependency's parameter of the handler's name,
    is the same member, validated for each, as FastAPI does)."""
    if not params:
        return None
    unique: dict[str, ParamSpec] = {}
    for p in params:
        first = unique.setdefault(p.key, p)
        if first is not p and not (planner.fastapi and first.annotation == p.annotation):
            raise PlanError(f"two body parameters share one name: {[q.key for q in params]}")
    embed = planner.embed_forced or len(unique) > 1
    empty = None
    if embed:
        fields = [(p.key, _body_type(p), p.default, p.marker.constraints()) for p in unique.values()]
        model = _models.embedded_model(fields)
        not_json = _embedded_not_json(params)
        if planner.fastapi and _models._is_pydantic_model(model):
            decode, empty = _fastapi_embedded(model, params)
            not_json = empty
        else:
            decode = _models.body_decoder(model)
        required = any(p.required for p in params)
    else:
        p = params[0]
        tp = _models.constrained(_body_type(p), p.marker.constraints(), _models.library_for(p.annotation))
        decode, not_json = _models.body_decoders(tp, ("body",))
        if planner.fastapi and _models.library_for(tp) == "pydantic":
            adapter = _models._adapter(tp)
            if adapter is not None:
                from . import fastapi_bodies as _fastapi_bodies  # (FastAPI's conventions only)

                decode = _fastapi_bodies.single(adapter, _absent(p), len(params))
        required = p.required
    media = params[0].marker.media_type or "application/json"
    return BodySpec(params, embed, decode, not_json, required, media, empty)


def _absent(p: ParamSpec) -> Callable[[], Any]:
    """A lone body parameter's value when FastAPI finds no body (JSON ``null``)."""
    if p.required:
        refused = _models.BodyInvalid(_problem.missing(None, ("body",)))
        return lambda: refused
    factory = p.marker.default_factory
    if factory is not None:
        return factory
    default, fresh = p.default, p.fresh_default
    return lambda: copy_default(default) if fresh else default


def _fastapi_embedded(model: Any, params: list[ParamSpec]) -> tuple[Callable[[bytes], Any], Callable[[bytes], Any]]:
    from pydantic import TypeAdapter

    from . import fastapi_bodies as _fastapi_bodies  # (FastAPI's conventions only)
    members = []
    for p in params:
        tp = _models.constrained(_body_type(p), p.marker.constraints(), "pydantic")
        members.append(_fastapi_bodies.Member(p.key, TypeAdapter(tp), p.required, p.default,
                                              p.marker.default_factory, p.fresh_default))
    return _fastapi_bodies.embedded(TypeAdapter(model), members)


def _body_type(p: ParamSpec) -> Any:
    """A body parameter's type with the ``Annotated`` metadata pydantic applies
    (``Annotated[int, Body(), Gt(0)]``): pydantic's to validate, never msgspec's."""
    if not p.meta:
        return p.annotation
    if _models.library_for(p.annotation) != "pydantic":
        raise PlanError(f"body parameter {p.name!r}: msgspec validates {p.annotation!r} and does not apply "
                        f"{list(p.meta)} (pydantic's): write msgspec.Meta(...) in the Struct")
    return Annotated[(p.annotation, *p.meta)]


def _embedded_not_json(params: list[ParamSpec]) -> Callable[[bytes], Any]:
    """The embedded body when the request's Content-Type is not JSON: no member is read
    from it (FastAPI's answer): each required parameter missing, the others their default."""
    missing: list[dict[str, Any]] = []
    for p in params:
        if p.required:
            missing = _problem.missing(missing, ("body", p.key))
    if missing:
        refused = _models.BodyInvalid(missing)
        return lambda raw: refused

    def defaults(raw: bytes) -> Any:
        return types.SimpleNamespace(**{p.key: p.marker.default_factory() if p.marker.default_factory is not None
                                        else copy_default(p.default) if p.fresh_default else p.default
                                        for p in params})
    return defaults


_STREAMS = frozenset((collections.abc.AsyncIterable, collections.abc.AsyncIterator, collections.abc.AsyncGenerator,
                      collections.abc.Iterable, collections.abc.Iterator, collections.abc.Generator))


def _return_annotation(fn: Any) -> Any:
    try:
        return typing.get_type_hints(fn, include_extras=True).get("return")
    except Exception:  # noqa: BLE001 - the handler's annotations were read already
        return None


def _is_response_class(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, (Response, StreamingResponse, FileResponse))


def _response(fn: Any, kind: str, response_model: Any, status_code: int | None,
              response_class: Any = None, options: dict[str, Any] | None = None) -> ResponseSpec:
    """What writes the handler's result. ``response_class`` given (FastAPI's routes):
    FastAPI's rules: any return annotation is the response model (a Response class's
    none; a generator's ``Iterable[T]`` the type of each item it streams), checked and
    written by pydantic as FastAPI writes it."""
    options = dict(options or {})
    if response_class is None:
        if options and response_model in (UNSET, None) and not _models.is_model(_split(_return_annotation(fn))[0]):
            raise PlanError(f"response model options {sorted(options)} of {_name(fn)} need a response model")
        model = response_model
        if model is UNSET:
            ret = _return_annotation(fn)
            model = _split(ret)[0] if ret is not None and _models.is_model(_split(ret)[0]) else None
        if model is not None and _is_response_class(model):
            model = None
        write = _models.response_writer(model, options) if model is not None else None
        return ResponseSpec(model, status_code, write, options=options)
    default = bool(getattr(response_class, "_rb_default", False))
    cls = response_class.value if default else response_class
    if not isinstance(cls, type):
        raise PlanError(f"response_class of {_name(fn)} must be a class, not {cls!r}")
    if "by_alias" not in options:
        options["by_alias"] = True  # FastAPI's default
    stream = None
    item = None
    model = response_model
    if kind in ("gen", "asyncgen"):
        stream = "jsonl" if default else getattr(cls, "_rb_stream", "raw")
    if model is UNSET:
        model = None
        ret = _split(_return_annotation(fn))[0]
        if ret is None or ret is type(None) or _is_response_class(ret):
            pass
        elif stream is not None and typing.get_origin(ret) in _STREAMS:
            args = typing.get_args(ret)
            if stream != "raw" and args and not getattr(args[0], "_rb_sse_event", False):
                item = args[0]
        else:
            model = ret
    if model is not None and _is_response_class(model):
        model = None
    try:
        write = (_models.response_writer(model, options, exact=True, python=not default)
                 if model is not None and stream is None else None)
        item_write = _models.response_writer(item, options, exact=True) if item is not None else None
    except TypeError as exc:
        raise ResponseModelError(f"invalid response model of {_name(fn)}: {exc}") from None
    return ResponseSpec(model, status_code, write, cls, default, stream, item_write, options=options)


def plan_route(path: str, fn: Callable[..., Any], *, response_model: Any = UNSET, status_code: int | None = None,
               dependencies: list[Depends] | None = None, plain_handlers: bool = True, response_class: Any = None,
               response_options: dict[str, Any] | None = None, adapter: PlanAdapter | None = None,
               **options: Any) -> RoutePlan | None:
    """The plan of ``fn`` served at ``path``, or None for a plain ``def h(req)`` handler
    with none of the typed options (served as it is). ``plain_handlers=False`` (FastAPI's
    routes): every handler is planned, ``def h(item_id)`` taking a query or path value,
    by FastAPI's rules (``RoutePlan.rules`` "fastapi"). ``response_class``: FastAPI's (its
    routes' answers by FastAPI's rules, ``_response``); ``response_options``: the
    ``response_model_*`` options (``ringbolt.typed.models.DUMP_OPTIONS``); ``adapter``: another
    framework's markers and types read as ringbolt's (``PlanAdapter``)."""
    typed_options = (response_model not in (UNSET, None) or status_code is not None or dependencies
                     or response_class is not None or response_options)
    if plain_handlers and not typed_options and is_plain_handler(fn, path_names(path)):
        return None
    if status_code is not None and (not isinstance(status_code, int) or not 100 <= status_code <= 999):
        raise ValueError(f"invalid status_code {status_code!r}")
    names = path_names(path)
    rules = "ringbolt" if plain_handlers else "fastapi"
    planner = Planner(names, rules, adapter)
    call = planner.call(fn)
    route_deps = []
    for d in dependencies or ():
        if not isinstance(d, Depends):
            raise PlanError(f"dependencies= takes Depends(...) markers, not {d!r}")
        route_deps.append(planner.dependency(d, None, (), f"dependencies= of {_name(fn)}"))
    body = _body(planner, _fastapi_order(call, route_deps) if planner.fastapi else planner.body_params)
    response = _response(fn, call.kind, response_model, status_code, response_class, response_options)
    if adapter is not None:
        response.convert, response.errors = adapter.answers, adapter.errors
    plan = RoutePlan(call, route_deps, body, response, names, False, options, rules)
    plan.is_async = call.kind in ("async", "asyncgen") or any(
        d.spec.kind in ("async", "asyncgen") for d in plan.all_dependencies() if d.scope != "app")
    for spec in plan._calls():
        for a in spec.args:
            merge = getattr(a.what.kind, "_rb_merge", None) if isinstance(a.what, Adapted) else None
            if merge is not None:
                response.merge = merge
    return plan


def copy_default(value: Any) -> Any:
    return copy.deepcopy(value)
