"""Exceptions a handler may raise to choose the response status."""

from __future__ import annotations

from typing import Any, Mapping


class HTTPError(Exception):
    """Raise from a handler to answer with ``status`` and a JSON body ``{"detail": ...}``.

    >>> raise HTTPError(404, "no such user")
    """

    def __init__(self, status: int, detail: Any = None, headers: Mapping[str, str] | None = None) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"invalid HTTP status {status!r}")
        self.status = status
        self.detail = detail if detail is not None else _default_detail(status)
        self.headers = dict(headers) if headers else None
        super().__init__(status, self.detail)


class BadRequest(HTTPError, ValueError):
    """400: the request is malformed (for example ``req.json()`` on invalid JSON)."""

    def __init__(self, detail: Any = "Bad Request") -> None:
        super().__init__(400, detail)


def _default_detail(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ClientDisconnect(HTTPError, ConnectionError):
    """The client went away while its request body was being read (``req.stream()``,
    ``await req.read()``); nothing can be answered on that connection any more."""

    def __init__(self, status: int = 400, detail: Any = "client disconnected") -> None:
        super().__init__(status, detail)
