"""Scalar converters of the typed API: one small closure per parameter, made when the
route is planned, that turns the text of a path, query, header, cookie or form value
into the declared type and checks its constraints. A failure raises ``Bad`` with
pydantic's error ``type`` and message, so a 422 reads as FastAPI's does."""

from __future__ import annotations

import datetime
import enum
import re
import sys
import types
import typing
import uuid
from typing import TYPE_CHECKING, Any, Callable, Literal, Union

from ..params import Param

if TYPE_CHECKING:
    import decimal

Converter = Callable[[Any], Any]

#: The longest number text a converter reads (Python's own int() limit is 4300 digits;
#: a longer one is refused before any conversion work).
MAX_NUMBER_CHARS = 4300

_TRUE = frozenset(("1", "on", "t", "true", "y", "yes"))
_FALSE = frozenset(("0", "off", "f", "false", "n", "no"))


class Bad(Exception):
    """A value that does not convert: ``type`` and ``msg`` as pydantic names them,
    ``ctx`` the constraint's value, ``index`` the item of a list that failed."""

    __slots__ = ("type", "msg", "ctx", "index")

    def __init__(self, type: str, msg: str, ctx: dict[str, Any] | None = None, index: int | None = None) -> None:
        self.type = type
        self.msg = msg
        self.ctx = ctx
        self.index = index


class Refused(Bad):
    """pydantic's refusal of a value whose annotation carries its own validators
    (``_models.param_validator``): every error pydantic listed, each ``loc`` relative to
    the parameter (a list's item index first)."""

    __slots__ = ("errors",)

    def __init__(self, errors: list[Any]) -> None:
        super().__init__("", "")
        self.errors = errors


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``Optional[T]`` / ``T | None``, else ``(tp, False)``."""
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != len(typing.get_args(tp)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True
    return tp, False


def sequence_item(tp: Any) -> tuple[Any, type] | None:
    """``(T, list)`` for ``list[T]`` / ``List[T]`` / ``Sequence[T]``, ``(T, set)`` for
    sets, ``(T, tuple)`` for ``tuple[T, ...]``; else None."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp in (list, set, tuple, frozenset):
        return str, tp
    if origin in (list, typing.List) or origin is getattr(typing, "Sequence", None):
        return (args[0] if args else str), list
    import collections.abc as abc
    if origin in (abc.Sequence, abc.Iterable):
        return (args[0] if args else str), list
    if origin in (set, frozenset, abc.Set):
        return (args[0] if args else str), set if origin is not frozenset else frozenset
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0], tuple
    return None


def _number_checks(marker: Param | None, ctx_float: bool = False) -> list[Callable[[Any], None]]:
    """The checks of a number's bounds; ``ctx_float``: the bound in an error's ``ctx`` is a
    float (a ``float`` parameter's, as pydantic reports it: ``{"gt": 0.0}``)."""
    checks: list[Callable[[Any], None]] = []
    if marker is None:
        return checks
    shown: Callable[[Any], Any] = float if ctx_float else (lambda b: b)
    if marker.gt is not None:
        gt = marker.gt

        def check_gt(x: Any) -> None:
            if not x > gt:
                raise Bad("greater_than", f"Input should be greater than {gt}", {"gt": shown(gt)})
        checks.append(check_gt)
    if marker.ge is not None:
        ge = marker.ge

        def check_ge(x: Any) -> None:
            if not x >= ge:
                raise Bad("greater_than_equal", f"Input should be greater than or equal to {ge}", {"ge": shown(ge)})
        checks.append(check_ge)
    if marker.lt is not None:
        lt = marker.lt

        def check_lt(x: Any) -> None:
            if not x < lt:
                raise Bad("less_than", f"Input should be less than {lt}", {"lt": shown(lt)})
        checks.append(check_lt)
    if marker.le is not None:
        le = marker.le

        def check_le(x: Any) -> None:
            if not x <= le:
                raise Bad("less_than_equal", f"Input should be less than or equal to {le}", {"le": shown(le)})
        checks.append(check_le)
    if marker.multiple_of is not None:
        m = marker.multiple_of

        def check_multiple(x: Any) -> None:
            if x % m != 0:
                raise Bad("multiple_of", f"Input should be a multiple of {m}", {"multiple_of": shown(m)})
        checks.append(check_multiple)
    return checks


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _string_checks(marker: Param | None) -> list[Callable[[Any], None]]:
    checks: list[Callable[[Any], None]] = []
    if marker is None:
        return checks
    if marker.min_length is not None:
        lo = marker.min_length

        def check_min(s: Any) -> None:
            if len(s) < lo:
                raise Bad("string_too_short", f"String should have at least {_plural(lo, 'character')}",
                          {"min_length": lo})
        checks.append(check_min)
    if marker.max_length is not None:
        hi = marker.max_length

        def check_max(s: Any) -> None:
            if len(s) > hi:
                raise Bad("string_too_long", f"String should have at most {_plural(hi, 'character')}",
                          {"max_length": hi})
        checks.append(check_max)
    if marker.pattern is not None:
        text = marker.pattern
        search = re.compile(text).search

        def check_pattern(s: Any) -> None:
            if search(s) is None:
                raise Bad("string_pattern_mismatch", f"String should match pattern '{text}'", {"pattern": text})
        checks.append(check_pattern)
    return checks


_INT_WHOLE = re.compile(r"\s*[+-]?[0-9_]+\.0*\s*")  # "3.0": pydantic reads it as 3


def _to_int(v: Any) -> int:
    if type(v) is int:
        return v  # a native {x:int} path parameter
    if len(v) > MAX_NUMBER_CHARS:
        raise Bad("int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size")
    if v.isascii():  # Python's int() reads other digits too ("９"); pydantic does not
        try:
            return int(v)
        except ValueError:
            pass
        if _INT_WHOLE.fullmatch(v):
            return int(v.strip().split(".")[0])
    raise Bad("int_parsing", "Input should be a valid integer, unable to parse string as an integer")


def _to_float(v: Any) -> float:
    if type(v) is float or type(v) is int:
        return float(v)
    if len(v) > MAX_NUMBER_CHARS or not v.isascii():
        raise Bad("float_parsing", "Input should be a valid number, unable to parse string as a number")
    try:
        x = float(v)
    except ValueError:
        raise Bad("float_parsing", "Input should be a valid number, unable to parse string as a number") from None
    if x - x != 0.0:
        raise FINITE  # inf, nan: no JSON writer takes them back, and no bound means anything for them
    return x


FINITE = Bad("finite_number", "Input should be a finite number")


def _to_bool(v: Any) -> bool:
    low = v.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise Bad("bool_parsing", "Input should be a valid boolean, unable to interpret input")


def _to_uuid(v: Any) -> uuid.UUID:
    if type(v) is uuid.UUID:
        return v
    try:
        return uuid.UUID(v)
    except ValueError:
        raise Bad("uuid_parsing", "Input should be a valid UUID, unable to parse string as a UUID") from None


def is_decimal(tp: Any) -> bool:
    """Whether ``tp`` is ``decimal.Decimal``. The module is never imported to answer no: a
    ``Decimal`` annotation, default or value can only come from it, and an app without one
    does not carry it (0.4 MB of a worker; docs/deployment.md, "Memory"). Registration and
    start-up read it, never a request."""
    module = sys.modules.get("decimal")
    return module is not None and tp is module.Decimal


def _decimal_converter(module: Any) -> Converter:
    """The converter of ``Decimal`` parameters, made when the first such route is planned."""
    make, invalid = module.Decimal, module.InvalidOperation

    def _to_decimal(v: Any) -> decimal.Decimal:
        if len(v) > MAX_NUMBER_CHARS:
            raise Bad("decimal_parsing", "Input should be a valid decimal")
        try:
            d = make(v)
        except invalid:
            raise Bad("decimal_parsing", "Input should be a valid decimal") from None
        if not d.is_finite():
            raise Bad("finite_number", "Input should be a finite number")
        return d  # type: ignore[no-any-return]
    return _to_decimal


def _iso(kind: type, name: str) -> Converter:
    parse = kind.fromisoformat  # type: ignore[attr-defined]

    def convert(v: Any) -> Any:
        try:
            return parse(v)
        except ValueError:
            raise Bad(f"{name}_parsing", f"Input should be a valid {name} in ISO 8601 format") from None
    return convert


def _to_datetime(v: Any) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(v)
    except ValueError:
        pass
    if v and len(v) <= 20:
        try:
            return datetime.datetime.fromtimestamp(float(v), tz=datetime.timezone.utc)  # pydantic takes a Unix time
        except (ValueError, OverflowError, OSError):
            pass
    raise Bad("datetime_parsing", "Input should be a valid datetime in ISO 8601 format")


def _choices(values: list[Any]) -> str:
    shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _enum(tp: type[enum.Enum]) -> Converter:
    table = {str(m.value): m for m in tp}
    values = [m.value for m in tp]
    message = f"Input should be {_choices(values)}"

    def convert(v: Any) -> Any:
        m = table.get(v if type(v) is str else str(v))
        if m is None:
            raise Bad("enum", message, {"expected": _choices(values)})
        return m
    return convert


def _literal(values: tuple[Any, ...]) -> Converter:
    table = {str(v): v for v in values}
    message = f"Input should be {_choices(list(values))}"

    def convert(v: Any) -> Any:
        if v in table:
            return table[v]
        raise Bad("literal_error", message, {"expected": _choices(list(values))})
    return convert


_BASE: dict[Any, Converter] = {
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
    uuid.UUID: _to_uuid,
    datetime.datetime: _to_datetime,
    datetime.date: _iso(datetime.date, "date"),
    datetime.time: _iso(datetime.time, "time"),
}


def _base(tp: Any) -> Converter | None:
    """The converter of one scalar type (None: the text itself)."""
    if tp is str or tp is Any or tp is object or tp is None:
        return None
    if tp in _BASE:
        return _BASE[tp]
    if is_decimal(tp):  # (joins the table with the first route that takes one)
        _BASE[tp] = _decimal_converter(sys.modules["decimal"])
        return _BASE[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if typing.get_origin(tp) is Literal:
        return _literal(typing.get_args(tp))
    if tp is bytes:
        return lambda v: v.encode() if type(v) is str else v
    if isinstance(tp, type) and issubclass(tp, str):
        return tp
    raise TypeError(f"a query, path, header, cookie or form parameter cannot be of type {tp!r} "
                    "(str, int, float, bool, Enum, Literal, UUID, datetime, date, time, Decimal, "
                    "their Optional and list[...] are, and with pydantic installed any type it validates "
                    "from one string, such as HttpUrl or EmailStr)")


def knows(tp: Any) -> bool:
    """Whether ``tp`` is one of the scalar types converted here (else pydantic validates
    it, when the route's plan can have it: ``HttpUrl``, ``EmailStr``, ``IPv4Address``...)."""
    try:
        _base(tp)
    except TypeError:
        return False
    return True


def scalar(tp: Any, marker: Param | None) -> Converter | None:
    """The converter for a single value of type ``tp`` with ``marker``'s constraints, or
    None when the text is taken as it is (a ``str`` without constraints)."""
    base = _base(tp)
    checks = (_string_checks(marker) if base is None or (isinstance(tp, type) and issubclass(tp, str))
              else _number_checks(marker, tp is float))
    if not checks:
        return base
    if base is None:
        if len(checks) == 1:
            return _returning(checks[0])
        return _all(checks)
    if len(checks) == 1:
        check = checks[0]

        def one(v: Any) -> Any:
            x = base(v)
            check(x)
            return x
        return one

    def many(v: Any) -> Any:
        x = base(v)
        for check in checks:
            check(x)
        return x
    return many


def _returning(check: Callable[[Any], None]) -> Converter:
    def convert(v: Any) -> Any:
        check(v)
        return v
    return convert


def _all(checks: list[Callable[[Any], None]]) -> Converter:
    def convert(v: Any) -> Any:
        for check in checks:
            check(v)
        return v
    return convert


#: How the runner converts a value inline (in its generated code, no call): the builtin
#: ("int", "float", "bool" or "str") and the checks as (operator, bound, the Bad to
#: report). None when the type or a constraint needs the converter's call.
Inline = tuple[str, list[tuple[str, Any, Bad]]]

BOOL_WORDS = {**{w: True for w in _TRUE}, **{w: False for w in _FALSE}}
BOOL_BAD = Bad("bool_parsing", "Input should be a valid boolean, unable to interpret input")


def inline(tp: Any, marker: Param | None) -> Inline | None:
    """The inline form of ``scalar(tp, marker)`` when there is one (the common types
    and constraints); the converter is still called when the builtin refuses a text,
    for pydantic's reading of it ("3.0" is 3) and its exact error."""
    kind = {int: "int", float: "float", bool: "bool", str: "str"}.get(tp)
    if kind is None or marker is None:
        return (kind, []) if kind is not None else None
    checks: list[tuple[str, Any, Bad]] = []
    if kind in ("int", "float"):
        if marker.multiple_of is not None or marker.pattern is not None:
            return None
        for name, op, word, code in (("gt", ">", "greater than", "greater_than"),
                                     ("ge", ">=", "greater than or equal to", "greater_than_equal"),
                                     ("lt", "<", "less than", "less_than"),
                                     ("le", "<=", "less than or equal to", "less_than_equal")):
            bound = getattr(marker, name)
            if bound is not None:
                shown = float(bound) if kind == "float" else bound  # pydantic's ctx of a float
                checks.append((op, bound, Bad(code, f"Input should be {word} {bound}", {name: shown})))
    elif kind == "str":
        if marker.pattern is not None:
            return None
        if marker.min_length is not None:
            lo = marker.min_length
            checks.append(("len>=", lo, Bad("string_too_short", f"String should have at least "
                                            f"{_plural(lo, 'character')}", {"min_length": lo})))
        if marker.max_length is not None:
            hi = marker.max_length
            checks.append(("len<=", hi, Bad("string_too_long", f"String should have at most "
                                            f"{_plural(hi, 'character')}", {"max_length": hi})))
    return kind, checks


def sequence(item: Any, kind: type, marker: Param | None) -> Converter:
    """The converter of every value of a repeated parameter (``list[int]``): each item
    converted (a failure names its index), then the list's own length checked."""
    one = scalar(item, None)
    lo = marker.min_length if marker is not None else None
    hi = marker.max_length if marker is not None else None

    def convert(values: Any) -> Any:
        if one is None:
            out: Any = list(values)
        else:
            out = []
            for i, v in enumerate(values):
                try:
                    out.append(one(v))
                except Bad as e:
                    e.index = i
                    raise
        if lo is not None and len(out) < lo:
            raise Bad("too_short", f"List should have at least {_plural(lo, 'item')} after validation, "
                      f"not {len(out)}", {"field_type": "List", "min_length": lo, "actual_length": len(out)})
        if hi is not None and len(out) > hi:
            raise Bad("too_long", f"List should have at most {_plural(hi, 'item')} after validation, "
                      f"not {len(out)}", {"field_type": "List", "max_length": hi, "actual_length": len(out)})
        return out if kind is list else kind(out)
    return convert
