"""Read-only request mappings (case-insensitive headers, multi-valued query params) and
a response's headers (ResponseHeaders: a case-insensitive multi-map that keeps order)."""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator, Mapping, SupportsIndex, TypeVar, Union, cast, overload

_T = TypeVar("_T")


class _MultiDict(Mapping[str, str]):
    """A mapping over (name, value) pairs: ``m[name]`` is the first value, ``getlist`` all."""

    __slots__ = ("_items", "_first")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        first: dict[str, str] = {}
        for k, v in items:
            first.setdefault(self._key(k), v)
        self._first = first

    @staticmethod
    def _key(name: str) -> str:
        return name

    def __getitem__(self, name: str) -> str:
        return self._first[self._key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def get(self, name: str, default: _T | None = None) -> str | _T | None:  # type: ignore[override]
        return self._first.get(self._key(name), default)

    def getlist(self, name: str) -> list[str]:
        key = self._key(name)
        return [v for k, v in self._items if self._key(k) == key]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _MultiDict):
            return self._items == other._items
        return super().__eq__(other)


class Headers(_MultiDict):
    """Request headers; names are case-insensitive (stored lower-case)."""

    __slots__ = ()

    @staticmethod
    def _key(name: str) -> str:
        return name.lower()

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """All (name, value) pairs in order, repeated names included."""
        return list(self._items)


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(f"'{type(self).__name__}' object is read-only")


class QueryParams(dict[str, str]):
    """Query-string parameters: ``q[name]`` is the first value, ``q.getlist(name)`` all.

    A read-only dict of each name's first value (lookups, ``in``, ``len``, iteration,
    ``keys``/``values``/``items`` are the dict's own, in C: a handler reads them on every
    request), with every (name, value) pair in order behind ``getlist`` and
    ``multi_items``. ``_items`` holds those pairs, or None when no name repeats (then the
    dict's items are the pairs: the server's Request builds it so, in C++, with no list)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        pairs = list(items)
        for k, v in pairs:
            dict.setdefault(self, k, v)
        self._items: list[tuple[str, str]] | None = pairs if len(pairs) != len(self) else None

    def _pairs(self) -> list[tuple[str, str]]:
        return list(self._items) if self._items is not None else list(dict.items(self))

    def getlist(self, name: str) -> list[str]:
        if self._items is None:
            return [dict.__getitem__(self, name)] if dict.__contains__(self, name) else []
        return [v for k, v in self._items if k == name]

    def multi_items(self) -> list[tuple[str, str]]:
        return self._pairs()

    def __repr__(self) -> str:
        return f"QueryParams({self._pairs()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, QueryParams):
            return self._pairs() == other._pairs()
        if isinstance(other, Mapping):
            return dict(self) == dict(other.items())
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __reduce__(self) -> Any:
        return (QueryParams, (self._pairs(),))

    def copy(self) -> dict[str, str]:
        return dict(self)

    # Read-only, as a request's query is: the dict's mutators refuse.
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only


_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2 token


# Names that passed the check (an app uses a handful, again and again): a set lookup
# instead of the pattern. Bounded, so names made per request cannot grow it.
_names_seen: set[str] = set()


def check_header(name: str, value: str) -> None:
    """TypeError unless both are str; ValueError for a name that is not a token or a value
    with CR, LF or NUL (which would split the response head)."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError(f"header names and values must be str, got {name!r}: {value!r}")
    if name not in _names_seen:
        if _FIELD_NAME.fullmatch(name) is None:
            raise ValueError(f"invalid header name {name!r}")
        if len(_names_seen) < 1024:
            _names_seen.add(name)
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"header {name!r}: value contains CR, LF or NUL")


HeaderPairs = Union[Mapping[str, str], Iterable[tuple[str, str]], None]


class ResponseHeaders(list[tuple[str, str]]):
    """A response's header fields: (name, value) pairs in the order they go out, names as
    written, repeats kept (Set-Cookie), looked up case-insensitively by name.

    ``h[name]`` is the first value (KeyError if none); ``h[name] = value`` replaces every
    field of that name (the first keeps its place) or appends one; ``del h[name]``
    removes them all (KeyError if none); ``get``, ``getlist``, ``append(name, value)``,
    ``setdefault``, ``update``, ``name in h``. ``len``, iteration and ``items()`` are over
    the pairs. It is a list of pairs too (``h[0]``, ``h.append((name, value))``,
    ``extend``, ``==`` a list), which is what the server reads as it is. Names and values
    are checked as they are added: str, a token, no CR/LF/NUL."""

    __slots__ = ()

    def __init__(self, headers: HeaderPairs = None) -> None:
        kind = type(headers)
        if kind is list or kind is tuple or headers is None:
            super().__init__(cast("Iterable[tuple[str, str]]", headers or ()))  # (the Mapping ABC's check is slow)
        elif kind is dict:
            super().__init__(headers.items())  # type: ignore[union-attr]
        else:
            super().__init__(headers.items() if isinstance(headers, Mapping) else headers)
        for name, value in self:
            # check_header's test inline, its call only for a name not seen yet or a
            # value to refuse (here and below: headers are added on every request)
            if (type(name) is not str or name not in _names_seen or type(value) is not str
                or "\r" in value or "\n" in value or "\0" in value):
                check_header(name, value)

    @overload
    def __getitem__(self, key: SupportsIndex) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, key: slice) -> list[tuple[str, str]]: ...
    @overload
    def __getitem__(self, key: str) -> str: ...

    def __getitem__(self, key: SupportsIndex | slice | str) -> Any:
        if isinstance(key, str):
            low = key.lower()
            for name, value in self:
                if name.lower() == low:
                    return value
            raise KeyError(key)
        return list.__getitem__(self, key)

    @overload
    def __setitem__(self, key: SupportsIndex, value: tuple[str, str]) -> None: ...
    @overload
    def __setitem__(self, key: slice, value: Iterable[tuple[str, str]]) -> None: ...
    @overload
    def __setitem__(self, key: str, value: str) -> None: ...

    def __setitem__(self, key: SupportsIndex | slice | str, value: Any) -> None:
        if not isinstance(key, str):
            list.__setitem__(self, key, value)
            return
        if (type(key) is not str or key not in _names_seen or type(value) is not str
                or "\r" in value or "\n" in value or "\0" in value):
            check_header(key, value)
        low = key.lower()
        for at, (name, _) in enumerate(self):
            if name.lower() == low:
                break
        else:
            list.append(self, (key, value))
            return
        list.__setitem__(self, at, (key, value))
        later = list.__getitem__(self, slice(at + 1, None))
        kept = [pair for pair in later if pair[0].lower() != low]
        if len(kept) != len(later):
            list.__setitem__(self, slice(at + 1, None), kept)

    def __delitem__(self, key: SupportsIndex | slice | str) -> None:
        if not isinstance(key, str):
            list.__delitem__(self, key)
            return
        low = key.lower()
        kept = [pair for pair in self if pair[0].lower() != low]
        if len(kept) == len(self):
            raise KeyError(key)
        list.__setitem__(self, slice(None), kept)

    def __contains__(self, key: object) -> bool:
        """``name in h`` (any case); a (name, value) pair is looked for as it is."""
        if isinstance(key, str):
            low = key.lower()
            return any(name.lower() == low for name, _ in self)
        return list.__contains__(self, key)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of ``name``, or ``default``."""
        try:
            return self[name]
        except KeyError:
            return default

    def getlist(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        low = name.lower()
        return [value for n, value in self if n.lower() == low]

    def append(self, name: str | tuple[str, str], value: str | None = None) -> None:
        """Add a field after the others, keeping those of the same name:
        ``append(name, value)`` or, as on a list, ``append((name, value))``."""
        field: Any = name
        if value is None:
            if not isinstance(name, (tuple, list)) or len(name) != 2:
                raise TypeError(f"append takes (name, value) or one (name, value) pair, not {name!r}")
            field, value = name
        if (type(field) is not str or field not in _names_seen or type(value) is not str
                or "\r" in value or "\n" in value or "\0" in value):
            check_header(field, value)
        list.append(self, (field, value))

    def extend(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Append every (name, value) pair of ``pairs``."""
        for name, value in pairs:
            if (type(name) is not str or name not in _names_seen or type(value) is not str
                or "\r" in value or "\n" in value or "\0" in value):
                check_header(name, value)
            list.append(self, (name, value))

    def setdefault(self, name: str, value: str) -> str:
        """The first value of ``name``; when there is none, ``value``, appended."""
        try:
            return self[name]
        except KeyError:
            self.append(name, value)
            return value

    def update(self, headers: HeaderPairs = None, /) -> None:
        """``h[name] = value`` for each of a mapping's or pairs' items."""
        for name, value in headers.items() if isinstance(headers, Mapping) else headers or ():
            self[name] = value

    def items(self) -> list[tuple[str, str]]:
        """All (name, value) pairs in order, repeats included."""
        return list(self)

    @property
    def raw(self) -> "RawHeaders":
        """Starlette's view of the fields: (name, value) pairs of bytes, names in lower
        case; ``append`` and ``extend`` on it add fields here (checked as ``append``)."""
        return RawHeaders(self)

    def __repr__(self) -> str:
        return f"ResponseHeaders({list.__repr__(self)})"


class RawHeaders:
    """``ResponseHeaders.raw``: the fields as Latin-1 bytes pairs (Starlette's
    ``headers.raw``), read from and added to the headers it views."""

    __slots__ = ("_headers",)

    def __init__(self, headers: ResponseHeaders) -> None:
        self._headers = headers

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter([(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in self._headers])

    def __len__(self) -> int:
        return len(self._headers)

    def __getitem__(self, index: SupportsIndex) -> tuple[bytes, bytes]:
        name, value = list.__getitem__(self._headers, index)
        return name.lower().encode("latin-1"), value.encode("latin-1")

    def __eq__(self, other: object) -> bool:
        return list(self) == other

    def append(self, pair: tuple[bytes, bytes]) -> None:
        name, value = pair
        self._headers.append(_text(name), _text(value))

    def extend(self, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        for pair in list(pairs):
            self.append(pair)

    def __repr__(self) -> str:
        return repr(list(self))


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value
