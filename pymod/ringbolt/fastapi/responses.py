"""FastAPI's (Starlette's) response classes on ringbolt's: the same constructors
(``content``, ``status_code``, ``headers``, ``media_type``, ``background``), the body
rendered once when the response is made (``render``), ``status_code``/``media_type``
attributes and Starlette's ``set_cookie`` defaults. ringbolt's server sends them as its
own ``Response``, ``StreamingResponse`` and ``FileResponse``: nothing per request beyond
what the constructor did."""

from __future__ import annotations

import hashlib
import http.cookies
import mimetypes
import os
import stat
import sys
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Mapping
from urllib.parse import quote

from .._native import json_dumps
from ..typed.writers import RESPONSES, body_allowed
from ..datastructures import ResponseHeaders
from ..response import FileResponse as _File
from ..response import Response as _Response
from ..response import StreamingResponse as _Streaming

#: where a request's temporal response (a ``response: Response`` parameter) is kept
_TEMPORAL = "_rb_response"


def _content_type(media_type: str | None, charset: str) -> str:
    """Starlette's Content-Type: a text/* type (and JSON's relatives) gets the charset."""
    if media_type is None:
        return ""  # no Content-Type line (ringbolt: "" means none)
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        return f"{media_type}; charset={charset}"
    return media_type


def _headers(headers: Mapping[str, str] | None) -> tuple[ResponseHeaders, str | None]:
    """The headers as ringbolt keeps them, and a Content-Type given among them (which
    then wins over the media type, as in Starlette)."""
    if not headers:
        return list.__new__(ResponseHeaders), None
    pairs = ResponseHeaders(headers.items() if isinstance(headers, Mapping) else headers)
    ctype = pairs.get("content-type")
    if ctype is not None:
        del pairs["content-type"]
    return pairs, ctype


class _SetCookie:
    """One Set-Cookie value, written as Starlette writes it (the standard library's
    ``http.cookies``: attributes in its order, a value with a space or ';' quoted)."""

    __slots__ = ("line",)

    def __init__(self, line: str) -> None:
        self.line = line

    def render(self, https: bool) -> str:
        return self.line


def _set_cookie_line(key: str, value: str, max_age: int | None, expires: Any, path: str | None,
                     domain: str | None, secure: bool, httponly: bool, samesite: str | None,
                     partitioned: bool) -> str:
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    jar[key] = value  # a name that is not a token: http.cookies.CookieError, naming it
    morsel = jar[key]
    if max_age is not None:
        morsel["max-age"] = max_age
    if expires is not None:
        morsel["expires"] = format_datetime(expires, usegmt=True) if isinstance(expires, datetime) else expires
    if path is not None:
        morsel["path"] = path
    if domain is not None:
        morsel["domain"] = domain
    if secure:
        morsel["secure"] = True
    if httponly:
        morsel["httponly"] = True
    if samesite is not None:
        if samesite.lower() not in ("strict", "lax", "none"):
            raise ValueError(f"samesite must be 'strict', 'lax' or 'none', not {samesite!r}")
        morsel["samesite"] = samesite
    if partitioned:
        if sys.version_info < (3, 14):
            raise ValueError("a Partitioned cookie needs Python 3.14 (http.cookies writes the attribute from then)")
        morsel["partitioned"] = True
    line = morsel.OutputString()
    if any(c in line for c in "\r\n\0"):
        raise ValueError(f"cookie {key!r}: CR, LF or NUL in its value or options")
    return line


class _Cookies:
    """Starlette's ``set_cookie``/``delete_cookie``: its defaults (Path=/, SameSite=lax,
    neither HttpOnly nor Secure) and its Set-Cookie text."""

    _cookies: list[Any] | None
    _after: Any

    def set_cookie(self, key: str, value: str = "", max_age: int | None = None, expires: Any = None,
                   path: str | None = "/", domain: str | None = None, secure: bool = False, httponly: bool = False,
                   samesite: str | None = "lax", partitioned: bool = False) -> None:
        self._add_cookie(_SetCookie(_set_cookie_line(key, value, max_age, expires, path, domain, secure, httponly,
                                                     samesite, partitioned)))

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None, secure: bool = False,
                      httponly: bool = False, samesite: str | None = "lax") -> None:
        """An expired, empty cookie (give the path and domain it was set with)."""
        self.set_cookie(key, max_age=0, expires=0, path=path, domain=domain, secure=secure, httponly=httponly,
                        samesite=samesite)

    def _add_cookie(self, cookie: Any) -> None:
        if self._cookies is None:
            self._cookies = []
        self._cookies.append(cookie)
        self._after = True


class Response(_Cookies, _Response):  # type: ignore[misc]  # Starlette's cookie signatures
    """Starlette's ``Response``: ``content`` rendered to bytes now (str in ``charset``)."""

    media_type: str | None = None
    charset = "utf-8"

    def __init__(self, content: Any = None, status_code: int = 200, headers: Mapping[str, str] | None = None,
                 media_type: str | None = None, background: Any = None) -> None:
        if media_type is not None:
            self.media_type = media_type
        pairs, given_type = _headers(headers)
        body = self.render(content)
        super().__init__(body, status_code, None, None, background)
        self.headers = pairs
        self.content_type = given_type if given_type is not None else (
            _content_type(self.media_type, self.charset) if body or self.media_type is not None else "")

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if isinstance(content, (bytes, memoryview)):
            return bytes(content)
        if isinstance(content, str):
            return content.encode(self.charset)
        raise TypeError(f"{type(self).__name__} renders bytes or str, not {type(content).__name__} "
                        "(a JSONResponse renders other values)")

    # ---- FastAPI's temporal response: a ``response: Response`` parameter ----
    @classmethod
    def _rb_from_request(cls, native: Any, app: Any) -> "Response":
        """The request's temporal response (made at its first use, then shared by the
        handler and its dependencies): what is set on it is merged into the answer."""
        own = native.__dict__
        found = own.get(_TEMPORAL)
        if found is None:
            found = own[_TEMPORAL] = Response.__new__(Response)
            found.body = b""
            found.status = None  # type: ignore[assignment]  # None until the handler sets one
            found.headers = list.__new__(ResponseHeaders)
            found.content_type = None
            found._cookies = None
            found._after = None
            found.background = None
        return found  # type: ignore[no-any-return]

    @staticmethod
    def _rb_merge(native: Any, result: Any, write: Any) -> Any:
        """The answer of a route that takes the temporal response: a response the
        handler returned as it is; any other result written, then the temporal
        response's status, headers and cookies merged in (FastAPI's rules)."""
        if isinstance(result, RESPONSES):
            return result
        out = write(result)
        temporal = native.__dict__.get(_TEMPORAL)
        if temporal is None:
            return out
        if temporal.status is not None:
            out.status = temporal.status
            if isinstance(out, _Response) and not body_allowed(out.status):
                out.body = b""
        if temporal.headers:
            if not isinstance(out.headers, ResponseHeaders):
                out.headers = ResponseHeaders(out.headers)
            list.extend(out.headers, temporal.headers)  # checked when they were set
        if temporal._cookies:
            out._cookies = [*(out._cookies or ()), *temporal._cookies]
            out._after = True
        return out

    @property
    def status_code(self) -> int:
        return self.status

    @status_code.setter
    def status_code(self, value: int) -> None:
        self.status = value

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        self.headers, given = _headers(headers)
        if given is not None:
            self.content_type = given

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]


class HTMLResponse(Response):
    media_type = "text/html"


class PlainTextResponse(Response):
    media_type = "text/plain"


class JSONResponse(Response):
    """``content`` written as compact JSON (UTF-8, no NaN), as Starlette writes it."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_dumps(content)


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        import orjson  # optional, as in FastAPI

        return bytes(orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY))


class UJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        import ujson  # type: ignore[import-not-found,unused-ignore]  # optional, as in FastAPI

        return str(ujson.dumps(content, ensure_ascii=False)).encode("utf-8")


class RedirectResponse(Response):
    def __init__(self, url: Any, status_code: int = 307, headers: Mapping[str, str] | None = None,
                 background: Any = None) -> None:
        super().__init__(content=b"", status_code=status_code, headers=headers, background=background)
        self.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")


class StreamingResponse(_Cookies, _Streaming):  # type: ignore[misc]
    """Starlette's ``StreamingResponse``: a sync or async iterable of bytes/str."""

    media_type: str | None = None
    charset = "utf-8"

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None,
                 media_type: str | None = None, background: Any = None) -> None:
        pairs, given_type = _headers(headers)
        media = media_type if media_type is not None else self.media_type
        super().__init__(content, status_code, None, None, background)
        self.headers = pairs
        self.content_type = given_type if given_type is not None else _content_type(media, self.charset)
        if media_type is not None:
            self.media_type = media_type

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def body_iterator(self) -> Any:
        return self.content


def file_stat(path: str | os.PathLike[str]) -> os.stat_result:
    """The stat of the file a ``FileResponse`` sends, refused as Starlette refuses it when
    it sends one: a path that does not exist, or is not a regular file, is a RuntimeError
    (the app's 500), any other OSError is itself."""
    try:
        result = os.stat(path)
    except FileNotFoundError:
        raise RuntimeError(f"File at path {os.fspath(path)} does not exist.") from None
    if not stat.S_ISREG(result.st_mode):
        raise RuntimeError(f"File at path {os.fspath(path)} is not a file.")
    return result


class FileResponse(_File):
    """Starlette's ``FileResponse``: its headers (the type from ``media_type`` or the
    name, a text type with its charset; ``Content-Disposition`` for ``filename``; an
    ``ETag`` of the file's time and size), the file sent natively (``sendfile``) when the
    handler returns. A path that is no file is Starlette's RuntimeError (``file_stat``),
    raised here, where the route's handlers see it, rather than when the answer is sent."""

    charset = "utf-8"

    def __init__(self, path: str | os.PathLike[str], status_code: int = 200, headers: Mapping[str, str] | None = None,
                 media_type: str | None = None, background: Any = None, filename: str | None = None,
                 stat_result: os.stat_result | None = None, method: str | None = None,
                 content_disposition_type: str = "attachment") -> None:
        pairs, given_type = _headers(headers)
        if filename is not None and pairs.get("content-disposition") is None:
            quoted = quote(filename)
            pairs.append(("content-disposition", f"{content_disposition_type}; filename*=utf-8''{quoted}"
                          if quoted != filename else f'{content_disposition_type}; filename="{filename}"'))
        if media_type is None:
            media_type = mimetypes.guess_type(filename or os.fspath(path))[0] or "application/octet-stream"
        if stat_result is None:
            stat_result = file_stat(path)
        if pairs.get("etag") is None:
            tag = hashlib.md5(f"{stat_result.st_mtime}-{stat_result.st_size}".encode(), usedforsecurity=False)
            pairs.append(("etag", f'"{tag.hexdigest()}"'))
        super().__init__(path, status_code, pairs, given_type or _content_type(media_type, self.charset))
        self.media_type = media_type
        self.filename = filename

    @property
    def status_code(self) -> int:
        return self.status


__all__ = ["Response", "HTMLResponse", "PlainTextResponse", "JSONResponse", "ORJSONResponse", "UJSONResponse",
           "RedirectResponse", "StreamingResponse", "FileResponse"]
