"""Read-only request mappings: case-insensitive headers and multi-valued query params."""

from __future__ import annotations

from typing import Iterator, Mapping, TypeVar

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


class QueryParams(_MultiDict):
    """Query-string parameters: ``q[name]`` is the first value, ``q.getlist(name)`` all."""

    __slots__ = ()
