"""Body and response models of the typed API, by each library's fastest entry: a
pydantic model (or ``TypeAdapter``) validates the request's bytes with
``validate_json`` and writes with ``dump_json``; a msgspec Struct with a
``msgspec.json.Decoder(T)`` / ``Encoder`` made once; dataclasses and TypedDicts go
through pydantic when it is installed, else msgspec. Never through an intermediate dict.

pydantic and msgspec are imported here only when a route uses them (``sys.modules``
tells whether a type can be theirs without importing them)."""

from __future__ import annotations

import dataclasses
import enum
import functools
import sys
import types
import typing
from typing import Any, Callable

from . import problem as _problem
from .convert import Refused, sequence_item, unwrap_optional
from .problem import ErrorList, Loc
from ..errors import HTTPError
from ..params import Depends, Param, Required
from .model_plan import plan_of, write_planned

Decoder = Callable[[bytes], Any]
Writer = Callable[[Any], bytes]


class BodyInvalid(list[dict[str, Any]]):
    """What a decoder returns (not raises: no second exception on the error path) when
    the body is JSON but not what the route takes: the errors in our shape, as its items.
    A decoder may return the same one again for the same failure (msgspec's), so it and
    its errors are never changed in place: the runner copies the list, and
    RequestValidationError, which hands the errors to the app, copies each error."""

    __slots__ = ()


# what a msgspec body decoder keeps of its refusals (body_decoder)
KEEP_MESSAGES = 1024
KEEP_MESSAGE_CHARS = 200


def _is_pydantic_model(tp: Any) -> bool:
    pd = sys.modules.get("pydantic")
    return pd is not None and isinstance(tp, type) and issubclass(tp, pd.BaseModel)


def _is_type_adapter(tp: Any) -> bool:
    pd = sys.modules.get("pydantic")
    return pd is not None and isinstance(tp, pd.TypeAdapter)


def _is_struct(tp: Any) -> bool:
    ms = sys.modules.get("msgspec")
    return ms is not None and isinstance(tp, type) and issubclass(tp, ms.Struct)


def _is_typeddict(tp: Any) -> bool:
    return typing.is_typeddict(tp)


def is_model(tp: Any) -> bool:
    """Whether ``tp`` (Optional or list of it included) is a body model: a pydantic
    model or TypeAdapter, a msgspec Struct, a dataclass or a TypedDict."""
    tp, _ = unwrap_optional(tp)
    seq = sequence_item(tp)
    if seq is not None and seq[0] is not str:
        tp = seq[0]
    return (_is_pydantic_model(tp) or _is_type_adapter(tp) or _is_struct(tp) or _is_typeddict(tp)
            or (isinstance(tp, type) and dataclasses.is_dataclass(tp)))


def _mentions(tp: Any, test: Callable[[Any], bool]) -> bool:
    if test(tp):
        return True
    return any(_mentions(a, test) for a in typing.get_args(tp) if a is not Ellipsis)


def reads_text(tp: Any) -> bool:
    """Whether pydantic is installed and validates ``tp`` from one text value, as a
    query, path, header, cookie or form value is (``HttpUrl``, ``EmailStr``,
    ``IPv4Address``: a JSON schema of a string, number, integer or boolean). A mapping, a
    model or another structured type is no parameter's: the plan refuses it."""
    try:
        from pydantic import TypeAdapter
        schema = TypeAdapter(tp).json_schema()
    except Exception:  # noqa: BLE001 - no pydantic, or a type it has no schema for
        return False

    def scalar(part: dict[str, Any]) -> bool:
        if "anyOf" in part:
            return all(scalar(p) or p.get("type") == "null" for p in part["anyOf"])
        return part.get("type") in ("string", "number", "integer", "boolean")
    return scalar(schema)


def library_for(tp: Any) -> str:
    """Which library validates ``tp``: "pydantic" or "msgspec" (a clear ImportError
    naming the extra when neither is installed)."""
    if _is_type_adapter(tp) or _mentions(tp, _is_pydantic_model):
        return "pydantic"
    if _mentions(tp, _is_struct):
        return "msgspec"
    try:
        import pydantic  # noqa: F401
        return "pydantic"
    except ImportError:
        pass
    try:
        import msgspec  # noqa: F401
        return "msgspec"
    except ImportError:
        pass
    raise ImportError(f"validating {getattr(tp, '__name__', tp)!r} needs pydantic or msgspec: "
                      "pip install 'ringbolt[pydantic]' (or 'ringbolt[msgspec]')")


def _adapter(tp: Any) -> Any:
    """pydantic's TypeAdapter of ``tp``, or None when pydantic refuses the type and
    msgspec can take it (``typing.TypedDict`` on Python < 3.12)."""
    from pydantic import PydanticUserError, TypeAdapter
    if _is_type_adapter(tp):
        return tp
    try:
        return TypeAdapter(tp)
    except PydanticUserError:
        if _mentions(tp, _is_pydantic_model) or "msgspec" not in sys.modules and not _importable("msgspec"):
            raise
        return None


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def body_decoder(tp: Any, prefix: Loc = ("body",)) -> Decoder:
    """``decode(raw) -> value`` for a JSON body of type ``tp``, or a BodyInvalid (422,
    errors located under ``prefix``). Raises an HTTPError 400 for bytes that are not
    JSON, nested deeper than the library reads, or a number too long."""
    return body_decoders(tp, prefix)[0]


def body_decoders(tp: Any, prefix: Loc = ("body",)) -> tuple[Decoder, Decoder]:
    """``body_decoder(tp, prefix)``, and the decoder of a body whose Content-Type is not
    JSON (``is_json_type``): its bytes validated as they are, not read as JSON, as
    FastAPI does (a model refuses them, 422 ``model_attributes_type``; an ``int`` or
    ``str`` body may take them)."""
    adapter = _adapter(tp) if library_for(tp) == "pydantic" else None
    if adapter is not None:
        import pydantic
        # pydantic-core's own entries (TypeAdapter.validate_json only forwards to them)
        validate = getattr(adapter, "validator", adapter).validate_json
        validate_python = getattr(adapter, "validator", adapter).validate_python
        PydanticError = pydantic.ValidationError

        def decode_pydantic(raw: bytes) -> Any:
            try:
                return validate(raw)
            except PydanticError as exc:
                errors = exc.errors(include_url=False)
                if errors and errors[0]["type"] == "json_invalid":
                    raise _problem.malformed(errors[0]["msg"].removeprefix("Invalid JSON: ")) from None
                return BodyInvalid(_problem.from_pydantic(errors, prefix))

        def as_they_are_pydantic(raw: bytes) -> Any:
            try:
                return validate_python(raw, from_attributes=True)  # FastAPI's ModelField.validate
            except PydanticError as exc:
                return BodyInvalid(_problem.from_pydantic(exc.errors(include_url=False), prefix))
        return decode_pydantic, as_they_are_pydantic

    import msgspec
    decode = msgspec.json.Decoder(tp).decode
    convert = msgspec.convert
    MsgspecError = msgspec.ValidationError
    DecodeError = msgspec.DecodeError
    # msgspec reports one failure, as a message: the errors of a message met before are
    # not made again, so a refusal costs about what a success does (about 5,000
    # instructions less than a new list each time). At most KEEP_MESSAGES are kept (the
    # first ones), and none longer than KEEP_MESSAGE_CHARS: a message can quote the
    # client (an unknown field's name, an enum's value), which must not fill memory.
    seen: dict[str, BodyInvalid] = {}

    def decode_msgspec(raw: bytes) -> Any:
        try:
            return decode(raw)
        except MsgspecError as exc:
            text = str(exc)
            known = seen.get(text)
            if known is None:
                known = BodyInvalid(_problem.from_msgspec(text, prefix))
                if len(seen) < KEEP_MESSAGES and len(text) <= KEEP_MESSAGE_CHARS:
                    seen[text] = known
            return known
        except DecodeError as exc:
            raise _problem.malformed(str(exc).removeprefix("JSON is malformed: ")) from None
        except RecursionError:
            raise _problem.malformed("nested too deep") from None

    def as_they_are_msgspec(raw: bytes) -> Any:
        try:
            return convert(raw, tp)
        except MsgspecError as exc:
            return BodyInvalid(_problem.from_msgspec(str(exc), prefix))
    return decode_msgspec, as_they_are_msgspec


def is_json_type(value: str | None) -> bool:
    """Whether a request's Content-Type names JSON: ``application/json`` or
    ``application/<anything>+json``, in any case, with any parameters (FastAPI's test,
    with ``email.message``'s reading of the header). None or empty is not JSON: FastAPI's
    ``strict_content_type=True``, its default, which keeps a cross-site form (it can send
    ``text/plain``, or no type, without a CORS preflight) from posting a JSON body."""
    if not value:
        return False
    if value.startswith("application/json;"):  # the usual one with a charset
        return True
    kind = value.split(";", 1)[0].strip().lower()
    main, _, sub = kind.partition("/")
    return main == "application" and "/" not in sub and (sub == "json" or sub.endswith("+json"))


# ---- the validators an annotation carries (a parameter's own) ----

def applies(meta: Any) -> bool:
    """Whether pydantic applies ``meta``, one item of an ``Annotated``: an annotated_types
    constraint (``Gt``, ``MinLen``, ``Interval``...), a ``Field(...)``, or anything with a
    core schema of its own (``AfterValidator``, ``BeforeValidator``, ``PlainValidator``,
    ``WrapValidator``, ``Strict``...). A ringbolt marker, a string, a ``Doc`` do not."""
    if isinstance(meta, (Param, Depends)) or isinstance(meta, str):
        return False
    at = sys.modules.get("annotated_types")
    if at is not None and isinstance(meta, (at.BaseMetadata, at.GroupedMetadata)):
        return True
    fields = sys.modules.get("pydantic.fields")
    if fields is not None and isinstance(meta, fields.FieldInfo):
        return True
    return hasattr(type(meta), "__get_pydantic_core_schema__")


def carries_validators(tp: Any, meta: Any = ()) -> bool:
    """Whether ``meta`` (a parameter's ``Annotated`` metadata) or an ``Annotated`` inside
    ``tp`` (``list[Annotated[int, Gt(0)]]``) holds something pydantic applies."""
    if any(applies(m) for m in meta):
        return True
    for arg in typing.get_args(tp):
        if typing.get_origin(arg) is typing.Annotated:
            inner, *more = typing.get_args(arg)
            if carries_validators(inner, more):
                return True
        elif carries_validators(arg):
            return True
    return False


def param_validator(tp: Any, meta: Any) -> Callable[[Any], Any]:
    """``convert(text) -> value`` for a path, query, header, cookie or form value (or the
    list of a repeated one) whose annotation carries validators (``carries_validators``):
    pydantic validates it with them, from the text, as FastAPI does. ringbolt's two
    rules for those values stay: a float is finite (``finite_number``), a ``pattern`` is
    Python's ``re.search``. ``meta``: the ``Annotated`` metadata, in which a ringbolt
    marker stands for its constraints (``Query(ge=1)`` as ``Field(ge=1)``). A refusal
    raises ``_convert.Refused`` with pydantic's errors. Made once, at registration."""
    try:
        from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
    except ImportError:
        raise ImportError("a parameter whose annotation carries validators (Field, annotated_types, "
                          "AfterValidator...) is validated by pydantic: pip install 'ringbolt[pydantic]'") from None
    items = []
    for m in meta:
        if isinstance(m, Param):
            if m.constraints():
                items.append(Field(**m.constraints()))
        elif not isinstance(m, Depends):
            items.append(m)
    target: Any = typing.Annotated[(tp, *items)] if items else tp
    adapter: Any = TypeAdapter(target, config=ConfigDict(allow_inf_nan=False, regex_engine="python-re"))
    validate = getattr(adapter, "validator", adapter).validate_python  # pydantic-core's own entry

    def convert(value: Any) -> Any:
        try:
            return validate(value)
        except ValidationError as exc:
            raise Refused(exc.errors(include_url=False)) from None
    return convert


def constrained(tp: Any, constraints: dict[str, Any], library: str) -> Any:
    """``tp`` with a ``Body(ge=..., max_length=...)``'s constraints, as the library
    reads them (``Annotated[tp, Field(...)]`` / ``Annotated[tp, Meta(...)]``)."""
    if not constraints:
        return tp
    if library == "pydantic":
        from pydantic import Field
        return typing.Annotated[tp, Field(**constraints)]
    import msgspec
    return typing.Annotated[tp, msgspec.Meta(**constraints)]


def embedded_decoder(fields: list[tuple[str, Any, Any, dict[str, Any]]]) -> Decoder:
    """One decoder for a JSON object whose members are several body parameters
    (``(name, type, default, constraints)``; ``Required`` default: the member is
    required). Returns an object whose attributes are the members (a pydantic model or
    a msgspec Struct made once, here)."""
    return body_decoder(embedded_model(fields))


def embedded_model(fields: list[tuple[str, Any, Any, dict[str, Any]]]) -> Any:
    """The type of a JSON object whose members are several body parameters (see
    ``embedded_decoder``): a pydantic model, or a msgspec Struct when msgspec validates
    them all."""
    types = [tp for _, tp, _, _ in fields]
    if any(library_for(tp) == "pydantic" for tp in types) or not any(_mentions(tp, _is_struct) for tp in types):
        try:
            import pydantic
        except ImportError:
            pydantic = None  # type: ignore[assignment]
        if pydantic is not None:
            spec: dict[str, Any] = {}
            for name, tp, default, limits in fields:
                spec[name] = (constrained(tp, limits, "pydantic"), ... if default is Required else default)
            return pydantic.create_model("EmbeddedBody", **spec)
    import msgspec
    members = []
    for name, tp, default, limits in fields:
        tp = constrained(tp, limits, "msgspec")
        members.append((name, tp) if default is Required else (name, tp, default))
    members.sort(key=len)  # msgspec wants the members without a default first
    return msgspec.defstruct("EmbeddedBody", members)


# ---- responses ----

#: ``response_model_*`` options the writer takes (FastAPI's names without the prefix)
DUMP_OPTIONS = ("include", "exclude", "by_alias", "exclude_unset", "exclude_defaults", "exclude_none")


def response_writer(tp: Any, options: dict[str, Any] | None = None, *, exact: bool = False,
                    python: bool = False) -> Writer:
    """``write(value) -> bytes``: ``value`` checked against ``tp`` and written as JSON
    with only ``tp``'s fields (the extra ones dropped, as FastAPI's response_model
    does). A value that does not fit raises ResponseValidationError (a 500).

    ``options``: ``include``, ``exclude``, ``by_alias``, ``exclude_unset``,
    ``exclude_defaults``, ``exclude_none`` as pydantic's serializer takes them (FastAPI's
    ``response_model_*``). ``exact``: written by pydantic alone, as FastAPI writes it
    (no msgspec shortcut; a type pydantic cannot take raises ``TypeError`` now).
    ``python``: the writer returns the value as JSON-able Python (for a response class
    that renders it) instead of bytes."""
    options = {k: v for k, v in (options or {}).items()
               if v is not None and (v is not False or k == "by_alias")}  # the defaults left out
    unknown = set(options) - set(DUMP_OPTIONS)
    if unknown:
        raise TypeError(f"unknown response model options: {sorted(unknown)}")
    if exact:
        from pydantic import PydanticUserError, TypeAdapter
        try:
            adapter: Any = tp if _is_type_adapter(tp) else TypeAdapter(tp)
        except (PydanticUserError, TypeError) as exc:
            raise TypeError(f"{getattr(tp, '__name__', tp)!r} is not a type pydantic can check and write: "
                            f"{exc}") from None
    else:
        adapter = _adapter(tp) if library_for(tp) == "pydantic" else None
        if adapter is None and (options or python):
            raise TypeError(f"response model options and response classes need a pydantic type, "
                            f"not {getattr(tp, '__name__', tp)!r}")
    if adapter is not None:
        import pydantic
        if options.get("by_alias") is True and not _has_aliases(adapter):
            del options["by_alias"]  # the same text either way: no keyword to parse per call
        # pydantic-core's own serializer and validator (the adapter's methods forward to them)
        serializer = getattr(adapter, "serializer", None)
        if python:
            dump = functools.partial(serializer.to_python if serializer is not None else adapter.dump_python,
                                     mode="json", **options)
        elif options:
            dump = functools.partial(serializer.to_json if serializer is not None else adapter.dump_json, **options)
        else:
            dump = serializer.to_json if serializer is not None else adapter.dump_json
        validate = getattr(adapter, "validator", adapter).validate_python
        PydanticError = pydantic.ValidationError
        exact_model = tp if isinstance(tp, type) and _is_pydantic_model(tp) else None
        # a plain dataclass (or a list of one) returned as its own instances: pydantic
        # passes them through unchecked, so the work is only writing them, which msgspec
        # does in about 40% of pydantic's time (500 of Litestar's benchmark's people)
        fits, encode = (None, None) if exact or options or python else (_dataclass_passthrough(tp) or (None, None))
        # a value of exactly the model's types: pydantic's bytes by the native writer (None
        # for any other); FastAPI's routes try it first themselves (writers.py)
        plan = None if exact or options or python else plan_of(tp)

        def write_pydantic(value: Any) -> Any:
            if plan is not None and (body := write_planned(value, plan)) is not None:
                return body
            if fits is not None and fits(value):
                return encode(value)  # type: ignore[misc]
            if type(value) is not exact_model:
                try:
                    value = validate(value, from_attributes=True)
                except PydanticError as exc:
                    raise _problem.ResponseValidationError(exc.errors(include_url=False), tp) from None
            return dump(value)
        return write_pydantic

    import msgspec
    encode = msgspec.json.Encoder().encode
    convert = msgspec.convert
    MsgspecError = msgspec.ValidationError
    exact_struct = tp if _is_struct(tp) else None

    def write_msgspec(value: Any) -> bytes:
        if type(value) is not exact_struct:
            try:
                value = convert(value, tp, from_attributes=True)
            except MsgspecError as exc:
                raise _problem.ResponseValidationError(str(exc), tp) from None
        return encode(value)
    return write_msgspec


def _has_aliases(adapter: Any) -> bool:
    """Whether writing by alias can change the text of what ``adapter`` writes (a field,
    nested or computed, with an alias): its serialization schemas by alias and by name
    differ. True when the schema cannot be made (the option is then kept)."""
    try:
        return bool(adapter.json_schema(by_alias=True, mode="serialization")
                    != adapter.json_schema(by_alias=False, mode="serialization"))
    except Exception:  # noqa: BLE001 - a type without a JSON schema: keep the option
        return True


# The types both libraries write alike (a value of the type as JSON's own: no bytes,
# dates or Decimals, whose text the two differ on, no Any, no Annotated metadata, which
# pydantic may read as an alias or a serializer).
_PLAIN_LEAVES = (str, int, float, bool, type(None))


def _plain(tp: Any, seen: set[type]) -> bool:
    if tp in _PLAIN_LEAVES:
        return True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return all(type(m.value) in (str, int) for m in tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if tp in seen:
            return True
        seen.add(tp)
        try:
            hints = typing.get_type_hints(tp, include_extras=True)
        except Exception:  # noqa: BLE001 - an annotation that does not resolve: pydantic's own path
            return False
        return all(f.name in hints and _plain(hints[f.name], seen) for f in dataclasses.fields(tp))
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list and len(args) == 1:
        return _plain(args[0], seen)
    if origin is dict and len(args) == 2:
        return args[0] is str and _plain(args[1], seen)
    if origin is typing.Union or origin is types.UnionType:
        return all(_plain(a, seen) for a in args)
    return False


def _dataclass_passthrough(tp: Any) -> tuple[Callable[[Any], bool], Writer] | None:
    """``(fits, encode)`` when ``tp`` is a plain dataclass D (or ``list[D]``) and msgspec
    is installed: a value that ``fits`` (D's own instance, or a list of only those) is
    written by msgspec's encoder. One difference from pydantic's writer: an int held by
    a ``float`` field is written as it is (``2``, where pydantic writes ``2.0``), as
    Litestar writes it."""
    many = typing.get_origin(tp) is list and len(typing.get_args(tp)) == 1
    kind = typing.get_args(tp)[0] if many else tp
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind) and _plain(kind, set())):
        return None
    if "msgspec" not in sys.modules and not _importable("msgspec"):
        return None
    import msgspec

    def fits(value: Any) -> bool:
        if many:
            return type(value) is list and all(type(v) is kind for v in value)
        return type(value) is kind
    return fits, msgspec.json.Encoder().encode


def any_writer(value: Any) -> Any:
    """What a handler with no response model returned, when the native writer does not
    know it: a pydantic model, a msgspec Struct or a dataclass (alone or in a list) as
    JSON bytes; anything else as it is."""
    sample = value[0] if type(value) is list and value else value
    if _is_pydantic_model(type(sample)):
        return response_writer(list[type(sample)] if sample is not value else type(sample))(value)  # type: ignore[misc]
    if _is_struct(type(sample)):
        import msgspec
        return msgspec.json.encode(value)
    if dataclasses.is_dataclass(sample) and not isinstance(sample, type):
        kind = type(sample)
        try:
            return response_writer(list[kind] if sample is not value else kind)(value)  # type: ignore[valid-type]
        except ImportError:
            return dataclasses.asdict(sample) if sample is value else [dataclasses.asdict(v) for v in value]
    return None
