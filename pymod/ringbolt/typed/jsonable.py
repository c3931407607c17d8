"""``jsonable_encoder`` (FastAPI's name; ``ringbolt.fastapi.encoders`` offers it): a value
made of what JSON can hold (dict, list, str, int, float,
bool, None), by FastAPI's rules: Pydantic models dumped in JSON mode (aliases by default),
dataclasses as dicts, Enums as their values, dates as ISO text, ``timedelta`` as seconds,
``Decimal`` as an int when it has no fraction, sets, tuples and generators as lists, paths,
UUIDs, IP addresses and URLs as text, bytes decoded, other objects by ``dict(obj)`` or
``vars(obj)``. ``include``/``exclude``, ``exclude_unset``/``_defaults``/``_none`` and
``custom_encoder`` as FastAPI takes them."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import ipaddress
import re
import sys
import types
import uuid
from collections import deque
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import decimal

IncEx = Any


def _decimal(value: decimal.Decimal) -> int | float:
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def _iso(value: Any) -> str:
    return str(value.isoformat())


#: by exact type first, then by isinstance in this order
_BY_TYPE: dict[type[Any], Callable[[Any], Any]] = {
    bytes: lambda o: o.decode(),
    datetime.date: _iso,
    datetime.datetime: _iso,
    datetime.time: _iso,
    datetime.timedelta: lambda td: td.total_seconds(),
    frozenset: list,
    set: list,
    deque: list,
    types.GeneratorType: list,
    uuid.UUID: str,
    re.Pattern: lambda o: o.pattern,
    ipaddress.IPv4Address: str,
    ipaddress.IPv4Interface: str,
    ipaddress.IPv4Network: str,
    ipaddress.IPv6Address: str,
    ipaddress.IPv6Interface: str,
    ipaddress.IPv6Network: str,
}


_pydantic_module: Any = None
_decimal_known = False


def _late_types() -> None:
    """``Decimal`` joins _BY_TYPE once the decimal module is imported (a Decimal value can
    only come from there; not imported here, docs/deployment.md "Memory")."""
    global _decimal_known
    module = sys.modules.get("decimal")
    if module is not None:
        _BY_TYPE[module.Decimal] = _decimal
        _decimal_known = True


def _pydantic() -> Any:
    """pydantic once the app imported it (a model or a pydantic type can only come from
    there), else None. Not imported here: an app without models does not carry pydantic's
    modules (7 MB of a worker's memory; docs/deployment.md, "Memory"). Its types join
    _BY_TYPE the first time it is seen."""
    global _pydantic_module
    if _pydantic_module is None and "pydantic" in sys.modules:
        module = sys.modules["pydantic"]
        for _t in (module.SecretStr, module.SecretBytes, module.AnyUrl, module.NameEmail):
            _BY_TYPE[_t] = str
        try:
            from pydantic_extra_types.color import Color  # type: ignore[import-not-found]
            _BY_TYPE[Color] = str
        except ImportError:
            pass
        try:
            from pydantic.color import Color as _OldColor  # deprecated module: a warning on import
            _BY_TYPE[_OldColor] = str
        except Exception:  # noqa: BLE001 - not there, or a warning turned into an error
            pass
        try:
            from pydantic_core import Url as _Url
            _BY_TYPE[_Url] = str
        except ImportError:  # pragma: no cover
            pass
        _pydantic_module = module
    return _pydantic_module


def jsonable_encoder(obj: Any, include: IncEx | None = None, exclude: IncEx | None = None, by_alias: bool = True,
                     exclude_unset: bool = False, exclude_defaults: bool = False, exclude_none: bool = False,
                     custom_encoder: dict[Any, Callable[[Any], Any]] | None = None,
                     sqlalchemy_safe: bool = True) -> Any:
    """``obj`` as a value JSON can hold (see the module's docstring)."""
    if custom_encoder:
        own = custom_encoder.get(type(obj))
        if own is not None:
            return own(obj)
        for kind, encode in custom_encoder.items():
            if isinstance(obj, kind):
                return encode(obj)
    if include is not None and not isinstance(include, (set, dict)):
        include = set(include)
    if exclude is not None and not isinstance(exclude, (set, dict)):
        exclude = set(exclude)
    again: dict[str, Any] = {"by_alias": by_alias, "exclude_unset": exclude_unset, "exclude_defaults": exclude_defaults,
             "exclude_none": exclude_none, "custom_encoder": custom_encoder, "sqlalchemy_safe": sqlalchemy_safe}
    pydantic = _pydantic()
    if not _decimal_known:
        _late_types()
    if pydantic is not None and isinstance(obj, pydantic.BaseModel):
        dumped = obj.model_dump(mode="json", include=include, exclude=exclude, by_alias=by_alias,
                                exclude_unset=exclude_unset, exclude_none=exclude_none,
                                exclude_defaults=exclude_defaults)
        return jsonable_encoder(dumped, exclude_none=exclude_none, exclude_defaults=exclude_defaults,
                                sqlalchemy_safe=sqlalchemy_safe)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable_encoder(dataclasses.asdict(obj), include=include, exclude=exclude, **again)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float)):
        return obj
    if pydantic is not None and isinstance(obj, sys.modules["pydantic_core"].PydanticUndefinedType):
        return None
    if isinstance(obj, dict):
        keys = set(obj)
        if include is not None:
            keys &= set(include)
        if exclude is not None:
            keys -= set(exclude)
        out = {}
        for key, value in obj.items():
            if key not in keys or (value is None and exclude_none):
                continue
            if sqlalchemy_safe and isinstance(key, str) and key.startswith("_sa"):
                continue
            out[jsonable_encoder(key, **again)] = jsonable_encoder(value, **again)
        return out
    if isinstance(obj, (list, set, frozenset, types.GeneratorType, tuple, deque)):
        return [jsonable_encoder(item, include=include, exclude=exclude, **again) for item in obj]
    exact = _BY_TYPE.get(type(obj))
    if exact is not None:
        return exact(obj)
    for kind, encode in _BY_TYPE.items():
        if isinstance(obj, kind):
            return encode(obj)
    try:
        data = dict(obj)
    except Exception as first:  # noqa: BLE001 - try vars() next, then say both
        try:
            data = vars(obj)
        except Exception as second:  # noqa: BLE001
            raise ValueError([first, second]) from second
    return jsonable_encoder(data, include=include, exclude=exclude, **again)


def jsonable_default(obj: Any) -> Any:
    """The JSON writer's ``default`` under FastAPI's conventions: a value the writer does
    not know (a model, a set, a timedelta, bytes...) as ``jsonable_encoder`` makes it."""
    return jsonable_encoder(obj)
