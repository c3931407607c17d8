"""What a handler may return when a bare dict/str/bytes is not enough: a Response, a
StreamingResponse (body produced while it is sent) or a FileResponse (sent natively)."""

from __future__ import annotations

import mimetypes
import os
from typing import Any, AsyncIterable, Iterable, Unpack
from urllib.parse import quote

from ._native import json_dumps
from .background import BackgroundTasks, as_tasks
from .datastructures import HeaderPairs, ResponseHeaders, check_header
from .cookies import Cookie, CookieOptions, DeleteCookieOptions, deletion
from .sse import event_stream

_BAD = ("\r", "\n", "\0")
_check_header = check_header
_no_headers = list.__new__  # _no_headers(ResponseHeaders): an empty one, without a call to __init__


class _Extras:
    """Cookies and background tasks a response carries. ``_after`` is None until one is
    added, so the server's check for them is one attribute read."""

    __slots__ = ("_after", "_cookies", "background")
    _after: Any
    _cookies: list[Cookie] | None
    background: BackgroundTasks | None

    def _init_extras(self, background: Any) -> None:
        self._cookies = None
        self.background = None if background is None else as_tasks(background)
        self._after = None if background is None else True

    def set_cookie(self, name: str, value: str = "", **options: Unpack[CookieOptions]) -> Any:
        """Add a Set-Cookie line. Options (``ringbolt.cookies.CookieOptions``): ``max_age``,
        ``expires``, ``path`` ("/"), ``domain``, ``secure`` (None: Secure when the request
        came over https), ``httponly`` (True), ``samesite`` ("lax"), ``partitioned``.
        Refuses (ValueError naming the cause) a name that is not a token, a value with
        ';', CR/LF, space, comma, quote or backslash, and samesite='none' without
        secure=True; an unknown option is a TypeError naming it. Returns the response."""
        cookie = Cookie(name, value, **options)
        if self._cookies is None:
            self._cookies = []
        self._cookies.append(cookie)
        self._after = True
        return self

    def delete_cookie(self, name: str, **options: Unpack[DeleteCookieOptions]) -> Any:
        """Make the browser drop cookie ``name`` (same path/domain as it was set with)."""
        cookie = deletion(name, **options)
        if self._cookies is None:
            self._cookies = []
        self._cookies.append(cookie)
        self._after = True
        return self


class Response(_Extras):
    """An HTTP response.

    ``body``: bytes, str (text/plain), dict or list (JSON), or None.
    ``headers``: a mapping or a list of (name, value) pairs; validated here, so a
    CR/LF/NUL in a header raises ValueError instead of reaching the wire. The
    ``headers`` attribute is a ``ResponseHeaders``: a case-insensitive multi-map that
    keeps order and repeats (``resp.headers["x-a"] = "1"`` replaces, ``append`` adds).
    ``background``: a callable or BackgroundTasks run after the response is sent.
    """

    __slots__ = ("body", "status", "headers", "content_type")

    def __init__(
        self,
        body: Any = b"",
        status: int = 200,
        headers: HeaderPairs = None,
        content_type: str | None = None,
        background: Any = None,
    ) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"invalid HTTP status {status!r}")
        if content_type is not None:
            _check_header("content-type", content_type)
        self.body = body
        self.status = status
        self.headers: ResponseHeaders = _no_headers(ResponseHeaders) if headers is None else ResponseHeaders(headers)
        self.content_type = content_type
        self._init_extras(background)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: HeaderPairs = None,
             background: Any = None) -> "Response":
        """A JSON response written by ringbolt's native JSON writer."""
        return cls(json_dumps(obj), status=status, headers=headers, content_type="application/json",
                   background=background)

    @classmethod
    def text(cls, text: str, status: int = 200, headers: HeaderPairs = None,
             background: Any = None) -> "Response":
        """A ``text/plain; charset=utf-8`` response."""
        return cls(text, status=status, headers=headers, content_type="text/plain; charset=utf-8",
                   background=background)

    @classmethod
    def html(cls, html: str, status: int = 200, headers: HeaderPairs = None,
             background: Any = None) -> "Response":
        """A ``text/html; charset=utf-8`` response."""
        return cls(html, status=status, headers=headers, content_type="text/html; charset=utf-8",
                   background=background)

    @classmethod
    def redirect(cls, url: str, status: int = 307, headers: HeaderPairs = None) -> "Response":
        """A redirect to ``url`` (307 keeps the method; 301/302/303/308 as given). The URL
        goes in ``Location`` as it is (non-ASCII is percent-encoded, CR/LF refused)."""
        if status not in (300, 301, 302, 303, 307, 308):
            raise ValueError(f"a redirect status is 300-303, 307 or 308, not {status!r}")
        if not isinstance(url, str) or not url:
            raise ValueError("redirect needs a non-empty URL")
        if any(c in url for c in _BAD):
            raise ValueError("redirect URL contains CR, LF or NUL")
        location = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
        pairs = _header_pairs(headers)
        pairs.append(("Location", location))
        return cls(b"", status=status, headers=pairs, content_type="")  # "": no Content-Type on the empty body

    @staticmethod
    def sse(content: Any, *, ping: float | None = 15.0, status: int = 200,
            headers: HeaderPairs = None,
            background: Any = None) -> "StreamingResponse":
        """Server-Sent Events (``text/event-stream``) from a sync or async iterable of
        events: str (data), dict/list (JSON data), bytes, or ``SSEEvent``. A comment line
        goes out every ``ping`` seconds while the source is idle; a client that leaves
        closes (cancels) the source. See ``ringbolt.sse``."""
        pairs = _header_pairs(headers)
        names = {k.lower() for k, _ in pairs}
        if "cache-control" not in names:
            pairs.append(("Cache-Control", "no-cache"))
        if "x-accel-buffering" not in names:
            pairs.append(("X-Accel-Buffering", "no"))
        return StreamingResponse(event_stream(content, ping), status=status, headers=pairs,
                                 media_type="text/event-stream; charset=utf-8", background=background)

    def __repr__(self) -> str:
        return f"Response(status={self.status}, content_type={self.content_type!r})"


def _header_pairs(headers: HeaderPairs) -> ResponseHeaders:
    return _no_headers(ResponseHeaders) if headers is None else ResponseHeaders(headers)


class StreamingResponse(_Extras):
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
    headers: ResponseHeaders
    content_type: str | None

    def __init__(
        self,
        content: Iterable[bytes | str] | AsyncIterable[bytes | str],
        status: int = 200,
        headers: HeaderPairs = None,
        media_type: str | None = None,
        background: Any = None,
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
        self._init_extras(background)

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
    attachment``. ``last_modified=False`` sends no ``Last-Modified`` (a response with
    one and no Cache-Control may be cached heuristically, RFC 9111 §4.2.2); a
    ``Last-Modified`` in ``headers`` is sent instead of the file's.
    """

    __slots__ = ("path", "status", "headers", "content_type", "last_modified")
    path: str
    status: int
    headers: ResponseHeaders
    content_type: str | None
    last_modified: bool

    def __init__(
        self,
        path: str | os.PathLike[str],
        status: int = 200,
        headers: HeaderPairs = None,
        media_type: str | None = None,
        filename: str | None = None,
        *,
        last_modified: bool = True,
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
        self.last_modified = bool(last_modified)

    @classmethod
    def _as_sent(cls, path: str, status: int, headers: Any) -> "FileResponse":
        """The file of an ASGI ``http.response.pathsend`` or a WSGI ``wsgi.file_wrapper``:
        the app's status and headers exactly as it wrote them (no Content-Type or
        Last-Modified of the server's; ``headers`` are not checked here, the server
        checks them as it converts them)."""
        file = cls.__new__(cls)
        file.path = path
        file.status = status
        file.headers = headers
        file.content_type = None
        file.last_modified = False
        return file

    def __repr__(self) -> str:
        return f"FileResponse({self.path!r}, status={self.status})"
