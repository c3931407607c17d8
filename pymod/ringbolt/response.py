"""The Response a handler may return when a bare dict/str/bytes is not enough."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._native import json_dumps

_BAD = ("\r", "\n", "\0")


def _check_header(name: str, value: str) -> None:
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError(f"header names and values must be str, got {name!r}: {value!r}")
    if not name or any(c in name for c in ' \t:"(),/;<=>?@[\\]{}') or any(c in name for c in _BAD):
        raise ValueError(f"invalid header name {name!r}")
    if any(c in value for c in _BAD):
        raise ValueError(f"header {name!r}: value contains CR, LF or NUL")


class Response:
    """An HTTP response.

    ``body``: bytes, str (text/plain), dict or list (JSON), or None.
    ``headers``: a mapping or a list of (name, value) pairs; validated here, so a
    CR/LF/NUL in a header raises ValueError instead of reaching the wire.
    """

    __slots__ = ("body", "status", "headers", "content_type")

    def __init__(
        self,
        body: Any = b"",
        status: int = 200,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        content_type: str | None = None,
    ) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"invalid HTTP status {status!r}")
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        for name, value in pairs:
            _check_header(name, value)
        if content_type is not None:
            _check_header("content-type", content_type)
        self.body = body
        self.status = status
        self.headers = pairs
        self.content_type = content_type

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> "Response":
        """A JSON response written by ringbolt's native JSON writer."""
        return cls(json_dumps(obj), status=status, headers=headers, content_type="application/json")

    def __repr__(self) -> str:
        return f"Response(status={self.status}, content_type={self.content_type!r})"
