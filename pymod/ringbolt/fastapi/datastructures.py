"""Starlette's and FastAPI's small data types, as ``fastapi.datastructures`` (and
``starlette.datastructures``) offer them: ``URL``, ``Address``, ``State``, ``Headers``,
``QueryParams``, ``FormData``, ``UploadFile``, ``Default``/``DefaultPlaceholder``."""

from __future__ import annotations

from typing import IO, Any, Iterator, NamedTuple
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from ..datastructures import Headers, QueryParams
from ..forms import FormData
from ..forms import UploadFile as _UploadFile


class Address(NamedTuple):
    host: str
    port: int


class URL:
    """A URL with its parts (``scheme``, ``netloc``, ``hostname``, ``port``, ``path``,
    ``query``, ``fragment``) and ``replace``/``include_query_params``; ``str(url)`` is the
    URL as given."""

    def __init__(self, url: str = "", scope: Any = None, **components: Any) -> None:
        if components:
            url = str(URL("").replace(**components))
        self._url: str = url
        self._parts: SplitResult | None = None

    @property
    def components(self) -> SplitResult:
        if self._parts is None:
            self._parts = urlsplit(self._url)
        return self._parts

    scheme = property(lambda self: self.components.scheme)
    netloc = property(lambda self: self.components.netloc)
    path = property(lambda self: self.components.path)
    query = property(lambda self: self.components.query)
    fragment = property(lambda self: self.components.fragment)
    username = property(lambda self: self.components.username)
    password = property(lambda self: self.components.password)
    hostname = property(lambda self: self.components.hostname)
    port = property(lambda self: self.components.port)

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> "URL":
        if {"username", "password", "hostname", "port"} & set(kwargs):
            host = kwargs.pop("hostname", None) or self.hostname or ""
            port = kwargs.pop("port", self.port)
            user = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            netloc = host if port is None else f"{host}:{port}"
            if user:
                netloc = f"{user}:{password}@{netloc}" if password else f"{user}@{netloc}"
            kwargs["netloc"] = netloc
        return URL(urlunsplit(self.components._replace(**kwargs)))

    def include_query_params(self, **kwargs: Any) -> "URL":
        params = dict(parse_qsl(self.query, keep_blank_values=True))
        params.update({str(k): str(v) for k, v in kwargs.items()})
        return self.replace(query=urlencode(params))

    def replace_query_params(self, **kwargs: Any) -> "URL":
        return self.replace(query=urlencode({str(k): str(v) for k, v in kwargs.items()}))

    def remove_query_params(self, keys: Any) -> "URL":
        drop = {keys} if isinstance(keys, str) else set(keys)
        return self.replace(query=urlencode([(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True)
                                             if k not in drop]))

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"URL({self._url!r})"


class State:
    """Attributes set on it (``request.state.user = ...``, ``app.state.db = ...``)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", dict(state or {}))

    @classmethod
    def _over(cls, state: dict[str, Any]) -> "State":
        """A State whose attributes are ``state``'s items (shared, not copied)."""
        self = cls.__new__(cls)
        object.__setattr__(self, "_state", state)
        return self

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'") from None

    def __delattr__(self, key: str) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)


class UploadFile(_UploadFile):
    """FastAPI's ``UploadFile``: ``filename``, ``content_type``, ``size``, ``headers``,
    ``file``, and the async ``read``/``write``/``seek``/``close``. The same slots as
    ringbolt's: the plan gives a parsed part this class (no copy); made by hand, it takes
    Starlette's arguments (``UploadFile(file, size=, filename=, headers=)``)."""

    __slots__ = ()

    def __init__(self, file: IO[bytes], *, size: int | None = None, filename: str | None = None,
                 headers: Any = None) -> None:
        if headers is None:
            headers = Headers([])
        elif not isinstance(headers, Headers):
            pairs = headers.items() if hasattr(headers, "items") else headers
            headers = Headers([(str(k).lower(), str(v)) for k, v in pairs])
        super().__init__(filename, headers.get("content-type"), headers, size, file, None)  # type: ignore[arg-type]

    @classmethod
    def _validate(cls, value: Any) -> Any:
        value = super()._validate(value)
        if type(value) is _UploadFile:  # a parsed part: this class, on the same slots
            value.__class__ = cls
        return value

    async def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        return _UploadFile.read(self, size)

    async def write(self, data: bytes) -> None:
        self.file.write(data)
        if self.size is not None:
            self.size += len(data)

    async def seek(self, offset: int) -> None:  # type: ignore[override]
        self.file.seek(offset)

    async def close(self) -> None:  # type: ignore[override]
        self.release()



class DefaultPlaceholder:
    """A default value that was not given (FastAPI's ``Default(...)``)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DefaultPlaceholder) and other.value == self.value

    def __hash__(self) -> int:
        return hash(repr(self.value))


def Default(value: Any) -> Any:  # noqa: N802 - FastAPI's name
    return DefaultPlaceholder(value)


__all__ = ["Address", "URL", "State", "Headers", "QueryParams", "FormData", "UploadFile", "Default",
           "DefaultPlaceholder"]
