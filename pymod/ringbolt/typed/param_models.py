"""Parameter models: a pydantic model as a ``Query()``, ``Header()``, ``Cookie()`` or
``Form()`` parameter (``filters: Annotated[Filters, Query()]``), planned once when the
route is registered: each field's names on the wire, which value of a repeated name it
takes, and the validator (a ``TypeAdapter`` made here). Per request, the reader gathers
the source's values into the dict the model validates, as FastAPI reads them: each field
under the first of its names the request has, a list field every value of that name,
and the source's other values too (an ``extra="forbid"`` model refuses them, with
``extra="allow"`` they are kept, and a refusal's ``input`` shows them)."""

from __future__ import annotations

import collections
import collections.abc
import copy
import dataclasses
import types
import typing
from typing import Annotated, Any, Callable, Iterable, Union

from .convert import Bad, Refused
from ..params import Param

_MISSING = Bad("missing", "Field required")
_SEQUENCES = (list, set, frozenset, tuple, collections.deque, collections.abc.Sequence, collections.abc.Set)


def _pydantic_model(tp: Any) -> bool:
    import sys
    pd = sys.modules.get("pydantic")
    return pd is not None and isinstance(tp, type) and issubclass(tp, pd.BaseModel)


def _strip(tp: Any) -> Any:
    return typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def models_of(annotation: Any, marker: Param) -> list[Any]:
    """The pydantic models a query, header, cookie or form parameter stands for: ``[M]``
    for ``M`` or ``M | None``; for a form (not ``embed``) also every model of a union of
    several (``Person | Company``, a ``discriminator`` on the marker picks one); ``[]``
    for a parameter of one value."""
    if marker.source not in ("query", "header", "cookie", "form") or getattr(marker, "embed", None):
        return []
    tp = annotation
    args = typing.get_args(tp)
    if _is_union(tp) and len(args) == 2 and type(None) in args:
        tp = args[0] if args[1] is type(None) else args[1]
    if _pydantic_model(tp):
        return [tp]
    if marker.source != "form" or not _is_union(annotation):
        return []
    found = []
    for arg in args:
        if arg is type(None):
            continue
        if not _pydantic_model(_strip(arg)):
            return []
        found.append(_strip(arg))
    return found if len(found) > 1 else []


def _some_member(tp: Any, test: Callable[[Any, Any], bool]) -> bool:
    """Whether ``test(t, origin)`` holds for ``tp`` or for a member of it when it is a union
    (``Annotated`` looked through), as FastAPI's field-shape checks walk a type."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _some_member(typing.get_args(tp)[0], test)
    if _is_union(tp):
        return any(_some_member(a, test) for a in typing.get_args(tp))
    return test(tp, origin)


def _sequence(tp: Any, origin: Any) -> bool:
    return any(isinstance(t, type) and not issubclass(t, (str, bytes)) and issubclass(t, _SEQUENCES)
               for t in (tp, origin))


def is_sequence(tp: Any) -> bool:
    """Whether a field of type ``tp`` takes every value of its name (a list, set, tuple,
    or a union with one), as FastAPI decides it."""
    return _some_member(tp, _sequence)


def is_complex(tp: Any) -> bool:
    """Whether FastAPI reads an unmarked parameter of type ``tp`` from the body: a model, a
    mapping, a dataclass, a file, a sequence (or a union with one of them)."""
    from ..forms import UploadFile

    def complex_(tp: Any, origin: Any) -> bool:
        return any(isinstance(t, type) and (_pydantic_model(t) or issubclass(t, (collections.abc.Mapping, UploadFile))
                                            or dataclasses.is_dataclass(t)) for t in (tp, origin)) or (
            _sequence(tp, origin) or hasattr(origin, "__pydantic_core_schema__")
            or hasattr(origin, "__get_pydantic_core_schema__"))
    return _some_member(tp, complex_)


def _takes_config(tp: Any) -> bool:
    """Whether a field is read with its model's config (FastAPI's rule: not a model, dict
    or dataclass field)."""
    import pydantic
    shape = typing.get_origin(tp) or tp
    return not (isinstance(shape, type) and (issubclass(shape, (pydantic.BaseModel, dict))
                                             or dataclasses.is_dataclass(shape)))


@dataclasses.dataclass(frozen=True)
class _Field:
    """One model field: its ``(key in the dict, name on the wire, that name as the
    request's keys hold it)``, preferred first (a header's matched lower-case)."""

    name: str
    names: tuple[tuple[str, str, str], ...]
    many: bool
    also_read: frozenset[str]  #: a header's other spellings, never an extra header


def _names(name: str, info: Any, config: Any, convert: bool) -> list[tuple[str, str]]:
    """A field's names: its alias (or each of its ``AliasChoices``), then its own name when
    the model validates by name too; a header's own name with ``_`` as ``-``
    (``convert``)."""
    from pydantic import AliasChoices, AliasPath
    given = info.validation_alias
    alias = given if isinstance(given, str) and given else (info.alias if info.alias is not None else name)
    pairs = [(alias, alias.replace("_", "-") if convert and alias == name else alias)]
    if isinstance(given, AliasPath):
        return pairs
    if isinstance(given, AliasChoices):
        if any(isinstance(c, AliasPath) for c in given.choices):
            return pairs
        pairs = [(str(c), str(c)) for c in given.choices]  # written names, underscores kept
    config = config or {}
    by_alias = config.get("validate_by_alias")
    if by_alias is False or config.get("validate_by_name", config.get("populate_by_name", False)):
        own = (name, name.replace("_", "-") if convert else name)
        if by_alias is False:
            return [own]
        if name not in [key for key, _ in pairs]:
            pairs.append(own)
    return pairs


def _fields(model: Any, source: str, convert: bool) -> list[_Field]:
    out = []
    header = source == "header"
    for name, info in model.model_fields.items():
        config = model.model_config if _takes_config(info.annotation) else None
        pairs = _names(name, info, config, header and convert)
        if header:  # names are matched in any case; the request's are lower-case
            also = frozenset(key.lower() for key, wire in pairs if key != wire)
            names = tuple((key, wire, wire.lower()) for key, wire in pairs)
        else:
            also = frozenset()
            names = tuple((key, wire, wire) for key, wire in pairs)
        out.append(_Field(name, names, is_sequence(info.annotation), also))
    return out


def names_read(models: tuple[Any, ...], marker: Param) -> tuple[str, ...] | None:
    """Every name a parameter model reads from its source (a header's lower-case), or None
    when its value may hold any of the source's values (an ``extra="allow"`` model)."""
    if any(m.model_config.get("extra") == "allow" for m in models):
        return None
    convert = bool(getattr(marker, "convert_underscores", True))
    names = (match for m in models for f in _fields(m, marker.source, convert) for _, _, match in f.names)
    return tuple(dict.fromkeys(names))


# ---- per request ----

def _grouped(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Each name's value, or the list of its values when it repeats (a value is never a
    list: text, or an UploadFile)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        got = out.get(k, _NONE)
        if got is _NONE:
            out[k] = v
        elif type(got) is list:
            got.append(v)
        else:
            out[k] = [got, v]
    return out


_NONE: Any = object()


def _empty_file(v: Any) -> bool:
    # a browser sends a file input left empty as a part with no name and no bytes
    return type(v) is not str and getattr(v, "filename", None) == "" and getattr(v, "size", None) == 0


def _gather(fields: list[_Field], grouped: dict[str, Any], source: str, read: frozenset[str] | None) -> dict[str, Any]:
    """The dict a model validates: each field's value under its key, then every value of
    another name (one, or a list of a repeated name). ``read``: every name the fields
    read, when each field has one (else found here)."""
    form = source == "form"
    last = source in ("query", "form")  # Starlette's multidicts: the last of a repeated name
    data: dict[str, Any] = {}
    seen: set[str] | None = set() if read is None else None
    for f in fields:
        key, _, wire = f.names[0]
        if seen is not None:
            for k, _, w in f.names:
                if w in grouped:
                    key, wire = k, w
                    break
            seen.add(wire)
            seen.update(f.also_read)
        value = grouped.get(wire)
        if value is None:
            continue
        if type(value) is list:  # a repeated name
            if f.many:
                values = [v for v in value if not _empty_file(v)] if form else list(value)
                if values:
                    data[key] = values
                continue
            value = value[-1] if last else value[0]
        elif f.many:
            if not (form and _empty_file(value)):
                data[key] = [value]
            continue
        if form and (value == "" or _empty_file(value)):
            continue
        data[key] = value
    known = read if read is not None else seen
    for k, v in grouped.items():
        if k not in known:  # type: ignore[operator]
            data[k] = v
    return data


def _gather_simple(plan: list[tuple[str, str, bool]], grouped: dict[str, Any], read: frozenset[str],
                   last: bool) -> dict[str, Any]:
    """``_gather`` for fields of one name each, out of a form (``plan``: each field's key,
    name and whether it takes every value)."""
    data: dict[str, Any] = {}
    for key, wire, many in plan:
        value = grouped.get(wire)
        if value is None:
            continue
        if type(value) is list:
            data[key] = list(value) if many else value[-1] if last else value[0]
        else:
            data[key] = [value] if many else value
    for k, v in grouped.items():
        if k not in read:
            data[k] = v
    return data


def _source_reader(source: str) -> Callable[[Any], dict[str, Any]]:
    """The request's values of ``source`` by name (``_grouped``'s shape), with no copy
    where the request holds them so already (cookies; a query with no repeated name)."""
    if source == "cookie":
        return lambda src: src
    if source == "query":
        from ..datastructures import QueryParams

        def query(src: Any) -> dict[str, Any]:
            if type(src) is QueryParams:
                items = src._items
                return src if items is None else _grouped(items)  # no repeated name: the dict itself
            return _grouped(src.multi_items())
        return query
    return lambda src: _grouped(src._items)  # (Headers, FormData: their pairs)


def _header_names(fields: list[_Field], grouped: dict[str, list[Any]]) -> dict[str, str]:
    """The header name each field was read under, where an error names the field otherwise
    (``save_data`` read as ``save-data``)."""
    out = {}
    for f in fields:
        key, wire, _ = f.names[0]
        for k, w, match in f.names:
            if match in grouped:
                key, wire = k, w
                break
        if key != wire:
            out[f.name] = wire
    return out


def _normalizer(model: Any, source: str) -> Callable[[Any], Any]:
    """A union branch's view of a form: the form's values read for that model's fields."""
    fields = _fields(model, source, False)

    def normalize(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = _gather(fields, value, source, None)  # (a list: a repeated name)
        for k, v in value.items():  # a validator may hand these; a form cannot send them
            if v is None or (isinstance(v, list) and not v):
                out[k] = v
        return out
    return normalize


def reader(annotation: Any, models: list[Any], marker: Param, default: Any, required: bool) -> Callable[[Any], Any]:
    """``read(source) -> value`` for a parameter model: ``source`` is the request's query
    (``req.query``), headers, cookies (a dict) or form. A refusal raises
    ``_convert.Refused`` with pydantic's errors (``loc`` after the source's: a header's
    under the name it was read by); a model that may be absent and of which the request
    has nothing is the default, or (required) raises a ``missing`` ``Bad``."""
    from pydantic import BeforeValidator, Field, Tag, TypeAdapter, ValidationError
    source = marker.source
    convert = bool(getattr(marker, "convert_underscores", True))
    values_of = _source_reader(source)
    optional = _is_union(annotation) and type(None) in typing.get_args(annotation)
    extra_counts = any(m.model_config.get("extra") in ("allow", "forbid") for m in models)
    if len(models) == 1:
        fields = _fields(models[0], source, convert)
        target: Any = annotation
    else:  # a union: each branch reads the form for its own fields
        fields = []
        choices: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is type(None):
                choices.append(arg)
                continue
            model, *meta = typing.get_args(arg) if typing.get_origin(arg) is Annotated else (arg,)
            tag = next((m for m in reversed(meta) if isinstance(m, Tag)), Tag(model.__name__))
            choices.append(Annotated[arg, BeforeValidator(_normalizer(model, source)), tag])
        target = Union[tuple(choices)]
    options = {k: marker.extra[k] for k in ("discriminator",) if marker.extra.get(k) is not None}
    if options:
        target = Annotated[target, Field(**options)]
    validate = TypeAdapter(target).validator.validate_python
    own = frozenset(match for m in models for f in _fields(m, source, convert) for _, _, match in f.names)
    factory = marker.default_factory
    fresh = factory is None and not isinstance(default, (type(None), bool, int, float, str, tuple, frozenset))
    header = source == "header"
    read_names = None if any(len(f.names) > 1 for f in fields) else frozenset(
        {f.names[0][2] for f in fields} | {n for f in fields for n in f.also_read})
    last = source == "query"
    simple = [(f.names[0][0], f.names[0][2], f.many) for f in fields] if (
        fields and read_names is not None and source != "form") else None
    rename_ok = all(m.model_config.get("loc_by_alias", True) for m in models)

    def absent() -> Any:
        if required:
            raise _MISSING
        if factory is not None:
            return factory()
        return copy.deepcopy(default) if fresh else default

    def read(src: Any) -> Any:
        grouped = values_of(src)
        if optional and not (own.intersection(grouped) or (extra_counts and grouped)):
            return absent()
        if simple is not None:
            data = _gather_simple(simple, grouped, read_names, last)  # type: ignore[arg-type]
        elif fields:
            data = _gather(fields, grouped, source, read_names)
        else:
            data = dict(grouped)
        try:
            return validate(data, from_attributes=True)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        if header and rename_ok:
            names = _header_names(fields, grouped)
            for e in errors:
                loc = e["loc"]
                if loc and loc[0] in names:
                    e["loc"] = (names[loc[0]], *loc[1:])
        raise Refused(errors)
    return read
