"""What a handler may return when a bare dict/str/bytes is not enough: a Response, a
StreamingResponse (body produced while it is sent) or a FileResponse (sent natively)."""

from __future__ import annotations

import mimetypes
import os
from typing import Any, AsyncIterable, Iterable, Mapping, Sequence
from urllib.parse import quote

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


def _header_pairs(headers: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> list[tuple[str, str]]:
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    for name, value in pairs:
        _check_header(name, value)
    return pairs


class StreamingResponse:
    """A response whose body is produced while it is sent.

    ``content``: a sync iterable (run on a thread, so it may block) or an async iterable
    (run on the event loop) of ``bytes`` or ``str`` (UTF-8). Chunks reach the client as
    they are produced; a slow client pauses the producer. HTTP/1.1 uses chunked encoding
    unless ``headers`` declare a ``Content-Length`` (then exactly that many bytes must
    come); HTTP/1.0 ends the body with the close. An exception mid-stream ends the
    response so the client can tell it is incomplete (no terminating chunk, then the
    close); when the client goes away the iterator is closed (``GeneratorExit``).
    """

    __slots__ = ("content", "status", "headers", "content_type")
    content: Iterable[bytes | str] | AsyncIterable[bytes | str]
    status: int
    headers: list[tuple[str, str]]
    content_type: str | None

    def __init__(
        self,
        content: Iterable[bytes | str] | AsyncIterable[bytes | str],
        status: int = 200,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        media_type: str | None = None,
    ) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"invalid HTTP status {status!r}")
        if not (hasattr(content, "__aiter__") or hasattr(content, "__iter__")):
            raise TypeError(f"StreamingResponse content must be an iterable or async iterable, not {type(content).__name__}")
        if isinstance(content, (bytes, str)):
            raise TypeError("StreamingResponse content must be an iterable of chunks, not a single bytes/str body")
        if media_type is not None:
            _check_header("content-type", media_type)
        self.content = content
        self.status = status
        self.headers = _header_pairs(headers)
        self.content_type = media_type

    def __repr__(self) -> str:
        return f"StreamingResponse(status={self.status}, media_type={self.content_type!r})"


def _content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        value += "; filename*=UTF-8''" + quote(filename, safe="")  # RFC 6266 §4.3, RFC 8187
    return value


class FileResponse:
    """Send a file from disk, natively: the server opens it when the handler returns
    (a missing path or a directory is a 404, permission denied a 403) and sends it
    with ``sendfile()``, never reading it into Python or into one buffer.

    ``Content-Length`` and ``Last-Modified`` come from the file; ``Content-Type`` from
    ``media_type`` or the extension; ``filename`` adds ``Content-Disposition:
    attachment``.
    """

    __slots__ = ("path", "status", "headers", "content_type")
    path: str
    status: int
    headers: list[tuple[str, str]]
    content_type: str | None

    def __init__(
        self,
        path: str | os.PathLike[str],
        status: int = 200,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        media_type: str | None = None,
        filename: str | None = None,
    ) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"invalid HTTP status {status!r}")
        self.path = os.fspath(path)
        if "\0" in self.path:
            raise ValueError("path contains NUL")
        pairs = _header_pairs(headers)
        if filename is not None:
            pairs.append(("Content-Disposition", _content_disposition(filename)))
        if media_type is None:
            guessed, encoding = mimetypes.guess_type(filename or self.path)
            media_type = guessed if guessed is not None and encoding is None else "application/octet-stream"
            if media_type.startswith("text/") and "charset" not in media_type:
                media_type += "; charset=utf-8"
        _check_header("content-type", media_type)
        self.status = status
        self.headers = pairs
        self.content_type = media_type

    def __repr__(self) -> str:
        return f"FileResponse({self.path!r}, status={self.status})"
