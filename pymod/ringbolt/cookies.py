"""Set-Cookie lines (RFC 6265 §4.1) with secure defaults: HttpOnly and SameSite=Lax
unless told otherwise, Secure when the request came over https (``secure=None``).
Anything that could inject another attribute or header is refused with a ValueError
naming the cause."""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any, Mapping, TypedDict, Union, Unpack

# token (RFC 9110 §5.6.2): what a cookie name may be (RFC 6265 §4.1.1).
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (no space, DQUOTE, comma, ';', backslash)
_OCTETS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('",;\\')
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}

Expires = Union[_dt.datetime, int, float, str, None]


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError("cookie name must be a non-empty str")
    for c in name:
        if c not in _TOKEN:
            raise ValueError(f"invalid character {c!r} in cookie name {name!r} (a name is an RFC 6265 token)")


def _check_value(name: str, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"cookie {name!r}: value must be str, not {type(value).__name__}")
    inner = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    for c in inner:
        if c not in _OCTETS:
            what = {";": "';'", "\r": "CR", "\n": "LF", " ": "a space", ",": "','", '"': "'\"'", "\\": "'\\\\'"}.get(
                c, repr(c)
            )
            raise ValueError(
                f"cookie {name!r}: value contains {what} (RFC 6265 cookie-octets only; encode it, "
                "e.g. urllib.parse.quote)"
            )


def _check_attr(name: str, attr: str, value: str) -> None:
    for c in value:
        if c == ";" or ord(c) < 0x20 or ord(c) == 0x7F:
            raise ValueError(f"cookie {name!r}: {attr} contains {'CR/LF' if c in chr(13) + chr(10) else repr(c)}")


def _http_date(expires: Expires) -> str:
    if isinstance(expires, str):
        return expires
    if isinstance(expires, _dt.datetime):
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=_dt.timezone.utc)
        from email.utils import format_datetime  # here: not every worker carries email's modules
        return format_datetime(expires.astimezone(_dt.timezone.utc), usegmt=True)
    if isinstance(expires, (int, float)):
        from email.utils import formatdate
        return formatdate(time.time() + expires, usegmt=True)  # seconds from now
    raise TypeError(f"expires must be a datetime, seconds (int/float) or an HTTP date str, not {type(expires).__name__}")


class DeleteCookieOptions(TypedDict, total=False):
    """The keyword options of ``delete_cookie`` (the cookie's scope and flags)."""

    path: str | None
    domain: str | None
    secure: bool | None
    httponly: bool
    samesite: str | None


class CookieOptions(DeleteCookieOptions, total=False):
    """The keyword options of ``Cookie``, ``Response.set_cookie`` and ``req.set_cookie``:
    one definition, which the three share through ``**options: Unpack[CookieOptions]``.
    The defaults are ``COOKIE_DEFAULTS``."""

    max_age: int | None
    expires: Expires
    partitioned: bool


#: Each option's default: HttpOnly, SameSite=Lax, Path=/, Secure when the request was
#: https (``secure=None``), a session cookie (no Max-Age, no Expires).
COOKIE_DEFAULTS: Mapping[str, Any] = {
    "max_age": None,
    "expires": None,
    "path": "/",
    "domain": None,
    "secure": None,
    "httponly": True,
    "samesite": "lax",
    "partitioned": False,
}


def _check_options(name: str, options: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """TypeError naming an option that is not one (and the closest that is)."""
    for key in options:
        if key not in allowed:
            import difflib  # the error's hint only
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else f" (options: {', '.join(sorted(allowed))})"
            raise TypeError(f"cookie {name!r}: unknown option {key!r}{hint}")


_COOKIE_OPTIONS = frozenset(CookieOptions.__annotations__)
_DELETE_OPTIONS = frozenset(DeleteCookieOptions.__annotations__)


class Cookie:
    """One cookie to set; ``render(https)`` gives the Set-Cookie value (``secure=None``
    becomes Secure exactly when the request was https). Options: ``CookieOptions``."""

    __slots__ = ("name", "value", "max_age", "expires", "path", "domain", "secure", "httponly", "samesite",
                 "partitioned")

    def __init__(self, name: str, value: str = "", **options: Unpack[CookieOptions]) -> None:
        _check_name(name)
        _check_options(name, options, _COOKIE_OPTIONS)
        o: dict[str, Any] = {**COOKIE_DEFAULTS, **options}
        max_age, expires, path, domain = o["max_age"], o["expires"], o["path"], o["domain"]
        secure, httponly, samesite, partitioned = o["secure"], o["httponly"], o["samesite"], o["partitioned"]
        _check_value(name, value)
        if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool)):
            raise TypeError(f"cookie {name!r}: max_age must be an int (seconds)")
        if path is not None:
            _check_attr(name, "path", path)
        if domain is not None:
            _check_attr(name, "domain", domain)
            if not domain or any(c not in _TOKEN or c in "!#$%&'*+^`|~" for c in domain.lstrip(".")):
                raise ValueError(f"cookie {name!r}: invalid domain {domain!r}")
        site: str | None = None
        if samesite is not None:
            site = _SAMESITE.get(str(samesite).lower())
            if site is None:
                raise ValueError(f"cookie {name!r}: samesite must be 'lax', 'strict', 'none' or None, not {samesite!r}")
            if site == "None" and secure is not True:
                raise ValueError(f"cookie {name!r}: samesite='none' requires secure=True (browsers refuse it otherwise)")
        if partitioned and secure is False:
            raise ValueError(f"cookie {name!r}: partitioned=True requires Secure")
        if name.startswith("__Secure-") and secure is False:
            raise ValueError(f"cookie {name!r}: the __Secure- prefix requires Secure")
        if name.startswith("__Host-") and (secure is False or domain is not None or path != "/"):
            raise ValueError(f"cookie {name!r}: the __Host- prefix requires Secure, path='/' and no domain")
        self.name = name
        self.value = value
        self.max_age = max_age
        self.expires = None if expires is None else _http_date(expires)
        if self.expires is not None:
            _check_attr(name, "expires", self.expires)
        self.path = path
        self.domain = domain
        self.secure = secure
        self.httponly = httponly
        self.samesite = site
        self.partitioned = partitioned

    def render(self, https: bool) -> str:
        parts = [f"{self.name}={self.value}"]
        if self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
        if self.expires is not None:
            parts.append(f"Expires={self.expires}")
        if self.domain is not None:
            parts.append(f"Domain={self.domain}")
        if self.path is not None:
            parts.append(f"Path={self.path}")
        secure = self.secure if self.secure is not None else (
            https or self.partitioned or self.name.startswith(("__Secure-", "__Host-"))
        )
        if secure:
            parts.append("Secure")
        if self.httponly:
            parts.append("HttpOnly")
        if self.samesite is not None:
            parts.append(f"SameSite={self.samesite}")
        if self.partitioned:
            parts.append("Partitioned")
        return "; ".join(parts)


def deletion(name: str, **options: Unpack[DeleteCookieOptions]) -> Cookie:
    """A cookie that makes the browser drop ``name`` (empty value, Max-Age=0, expired);
    give the path and domain it was set with."""
    _check_name(name)
    _check_options(name, options, _DELETE_OPTIONS)
    return Cookie(name, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", **options)


def parse_cookie_header(values: list[str]) -> dict[str, str]:
    """The Cookie header(s) as a dict, by the rules of the native ``req.cookies``
    (pairs without '=' or a name skipped, quotes removed, the first of a name kept)."""
    out: dict[str, str] = {}
    for header in values:
        for pair in header.split(";"):
            name, eq, value = pair.partition("=")
            name = name.strip(" \t")
            if not eq or not name:
                continue
            value = value.strip(" \t")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out.setdefault(name, value)
    return out
