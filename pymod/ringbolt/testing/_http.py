"""The HTTP side of the test client: requests over a real socket with ``http.client``,
responses with case-insensitive headers, and a cookie jar (RFC 6265 path and expiry
rules, one host)."""

from __future__ import annotations

import email.utils
import json as _json
import time
from typing import Any, Iterable, Iterator, Mapping, MutableMapping, Sequence, Union
from urllib.parse import urlencode

HeaderTypes = Union[Mapping[str, str], Sequence[tuple[str, str]]]
QueryValue = Union[str, int, float, bool, None]
ParamTypes = Union[Mapping[str, Union[QueryValue, Sequence[QueryValue]]], Sequence[tuple[str, QueryValue]], str]
CookieTypes = Mapping[str, str]


class Headers(Mapping[str, str]):
    """Response headers: case-insensitive, in the order received, repeats kept.
    ``headers["x"]`` joins repeated fields with ", "; ``get_list("set-cookie")`` gives
    each one; ``raw`` is the list of (name, value) pairs as sent."""

    def __init__(self, raw: Iterable[tuple[str, str]] = ()) -> None:
        self.raw: list[tuple[str, str]] = list(raw)
        self._index: dict[str, list[str]] = {}
        for name, value in self.raw:
            self._index.setdefault(name.lower(), []).append(value)

    def __getitem__(self, name: str) -> str:
        values = self._index[name.lower()]
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def get_list(self, name: str) -> list[str]:
        return list(self._index.get(name.lower(), ()))

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self.raw)

    def __repr__(self) -> str:
        return f"Headers({self.raw!r})"


class TestResponse:
    """What the server answered."""

    __test__ = False  # not a pytest test class

    def __init__(self, method: str, url: str, status: int, reason: str, version: str, headers: Headers,
                 content: bytes) -> None:
        self.request_method = method
        self.url = url
        self.status_code = status
        self.reason_phrase = reason
        self.http_version = version
        self.headers = headers
        self.content = content
        self.cookies: dict[str, str] = {}
        for line in headers.get_list("set-cookie"):
            parsed = parse_set_cookie(line)
            if parsed is not None:
                self.cookies[parsed.name] = parsed.value

    @property
    def encoding(self) -> str:
        ctype = self.headers.get("content-type", "")
        for part in ctype.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def raise_for_status(self) -> None:
        """AssertionError naming the status and the start of the body for a 4xx/5xx."""
        if self.status_code >= 400:
            raise AssertionError(f"{self.request_method} {self.url} answered {self.status_code} "
                                 f"{self.reason_phrase}: {self.content[:200]!r}")

    def __repr__(self) -> str:
        return f"<TestResponse [{self.status_code}] {self.request_method} {self.url}>"


class SetCookie:
    """One Set-Cookie field, parsed."""

    __slots__ = ("name", "value", "path", "expires", "secure", "delete")

    def __init__(self, name: str, value: str, path: str | None, expires: float | None, secure: bool,
                 delete: bool) -> None:
        self.name = name
        self.value = value
        self.path = path
        self.expires = expires  # time.time() it expires at; None: the session's end
        self.secure = secure
        self.delete = delete


def parse_set_cookie(line: str) -> SetCookie | None:
    """RFC 6265 §5.2, the parts one host needs: name=value, Path, Max-Age (wins over
    Expires), Expires, Secure. None for a field with no '=' or an empty name."""
    parts = line.split(";")
    name, sep, value = parts[0].partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    path: str | None = None
    expires: float | None = None
    max_age: int | None = None
    secure = False
    for attr in parts[1:]:
        key, _, arg = attr.partition("=")
        key, arg = key.strip().lower(), arg.strip()
        if key == "path" and arg.startswith("/"):
            path = arg
        elif key == "max-age":
            try:
                max_age = int(arg)
            except ValueError:
                pass
        elif key == "expires":
            try:
                expires = email.utils.parsedate_to_datetime(arg).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
        elif key == "secure":
            secure = True
    now = time.time()
    if max_age is not None:
        expires = now + max_age if max_age > 0 else now - 1
    delete = expires is not None and expires <= now
    return SetCookie(name, value, path, expires, secure, delete)


def _default_path(request_path: str) -> str:
    # RFC 6265 §5.1.4: the request path up to (not including) its last '/'.
    path = request_path.split("?", 1)[0]
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def _path_matches(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


class Cookies(MutableMapping[str, str]):
    """The client's cookie jar. As a mapping it is name -> value (set and delete cookies
    by hand too: ``client.cookies["session"] = "abc"``); it stores each cookie by name and
    path, sends those whose path matches a request, and drops expired ones. ``Secure``
    cookies are kept but never sent: the test client speaks plain HTTP."""

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self._jar: dict[tuple[str, str], SetCookie] = {}
        for name, value in (initial or {}).items():
            self[name] = value

    def _live(self) -> list[SetCookie]:
        now = time.time()
        for key in [k for k, c in self._jar.items() if c.expires is not None and c.expires <= now]:
            del self._jar[key]
        return list(self._jar.values())

    def __getitem__(self, name: str) -> str:
        for cookie in self._live():
            if cookie.name == name:
                return cookie.value
        raise KeyError(name)

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def set(self, name: str, value: str, path: str = "/") -> None:
        self._jar[(name, path)] = SetCookie(name, value, path, None, False, False)

    def __delitem__(self, name: str) -> None:
        keys = [k for k in self._jar if k[0] == name]
        if not keys:
            raise KeyError(name)
        for key in keys:
            del self._jar[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(c.name for c in self._live()))

    def __len__(self) -> int:
        return len(dict.fromkeys(c.name for c in self._live()))

    def update_from(self, response: TestResponse, request_path: str) -> None:
        for line in response.headers.get_list("set-cookie"):
            cookie = parse_set_cookie(line)
            if cookie is None:
                continue
            cookie.path = cookie.path or _default_path(request_path)
            key = (cookie.name, cookie.path)
            if cookie.delete:
                self._jar.pop(key, None)
            else:
                self._jar[key] = cookie

    def header_for(self, request_path: str, extra: CookieTypes | None = None) -> str | None:
        """The Cookie field for a request to ``request_path`` (longest paths first, RFC
        6265 §5.4), with ``extra`` cookies (this request only) replacing same-named ones."""
        path = request_path.split("?", 1)[0] or "/"
        chosen = [c for c in self._live() if not c.secure and _path_matches(path, c.path or "/")]
        chosen.sort(key=lambda c: -len(c.path or "/"))
        pairs: dict[str, str] = {}
        for cookie in chosen:
            pairs.setdefault(cookie.name, cookie.value)
        for name, value in (extra or {}).items():
            pairs[name] = value
        if not pairs:
            return None
        return "; ".join(f"{name}={value}" for name, value in pairs.items())

    def __repr__(self) -> str:
        return f"Cookies({dict(self)!r})"


def query_string(params: ParamTypes) -> str:
    if isinstance(params, str):
        return params.lstrip("?")
    pairs: list[tuple[str, Any]] = []
    items = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None:
                continue
            pairs.append((name, ("true" if v else "false") if isinstance(v, bool) else v))
    return urlencode(pairs)


def header_pairs(headers: HeaderTypes | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"header names and values must be str, got {name!r}: {value!r}")
    return pairs
