"""Exceptions a handler may raise to choose the response status, and the one error
format every error answer uses: RFC 9457 problem details (``application/problem+json``
with ``type``, ``title``, ``status`` and ``detail``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Mapping

from ._native import json_dumps
from .response import Response

PROBLEM_JSON = "application/problem+json"


def require_str(what: str, value: Any) -> str:
    """`value` when it is a str; else a TypeError naming `what` and the type given (the
    checks of the framework's own arguments: prefixes, paths, titles)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


class HTTPError(Exception):
    """Raise from a handler to answer with ``status`` and an RFC 9457 problem body
    ``{"type", "title", "status", "detail"}`` (``application/problem+json``).

    >>> raise HTTPError(404, "no such user")

    ``type``: a URI naming the problem type (default ``about:blank``: the status says
    it); ``title``: a short summary (default: the status's reason phrase);
    ``extensions``: more members of the problem object (``{"errors": [...]}``).
    """

    def __init__(
        self,
        status: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        type: str = "about:blank",
        title: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"invalid HTTP status {status!r}")
        self.status = status
        self.detail = detail if detail is not None else _default_detail(status)
        self.headers = dict(headers) if headers else None
        self.type = type
        self.title = title if title is not None else _default_detail(status)
        self.extensions = dict(extensions) if extensions else None
        super().__init__(status, self.detail)

    def problem(self) -> dict[str, Any]:
        """The problem object (the JSON body of the answer)."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.extensions:
            for key, value in self.extensions.items():
                body.setdefault(key, value)
        return body

    def response(self) -> "Response":
        """The answer as a ``Response`` (what middleware sees from ``call_next``)."""
        return problem_response(self.status, self.problem(), self.headers)

    def detail_response(self) -> "Response":
        """The answer in FastAPI's conventions: ``{"detail": ...}`` as application/json,
        no body for a status that has none (1xx, 204, 205, 304)."""
        if self.status < 200 or self.status in (204, 205, 304):
            return Response(None, self.status, self.headers, "")
        return Response(json_dumps({"detail": self.detail}), self.status, self.headers, "application/json")


class HTTPException(HTTPError):
    """FastAPI's name and arguments for ``HTTPError``: ``raise HTTPException(404,
    detail="no such item")`` answers the same problem+json (its ``detail`` member is
    what FastAPI's clients read)."""

    def __init__(self, status_code: int, detail: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, detail, headers)

    @property
    def status_code(self) -> int:
        return self.status


class BadRequest(HTTPError, ValueError):
    """400: the request is malformed (for example ``req.json()`` on invalid JSON; the
    detail names the JSON error)."""

    def __init__(self, detail: Any = "Bad Request") -> None:
        super().__init__(400, detail)


class ValidationError(HTTPError, ValueError):
    """422: the request is well formed but its content is not valid. ``errors`` (a list
    of ``{"loc": [...], "msg": ...}``-like objects) becomes the problem's ``errors`` member.

    >>> raise ValidationError("name is required", errors=[{"loc": ["body", "name"], "msg": "required"}])
    """

    def __init__(self, detail: Any = "Unprocessable Content", errors: list[Any] | None = None) -> None:
        super().__init__(422, detail, title="Unprocessable Content", extensions={"errors": list(errors or [])})
        self.errors = list(errors or [])


def _default_detail(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, detail: Any = None, *, type: str = "about:blank", title: str | None = None,
            **extensions: Any) -> dict[str, Any]:
    """An RFC 9457 problem object for ``status``."""
    body: dict[str, Any] = {
        "type": type,
        "title": title if title is not None else _default_detail(status),
        "status": status,
        "detail": detail if detail is not None else _default_detail(status),
    }
    body.update(extensions)
    return body


def problem_response(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> "Response":
    """A ``Response`` carrying the problem object ``body`` as ``application/problem+json``."""
    return Response(json_dumps(body), status=status, headers=headers, content_type=PROBLEM_JSON)


class ClientDisconnect(HTTPError, ConnectionError):
    """The client went away while its request body was being read (``req.stream()``,
    ``await req.read()``); nothing can be answered on that connection any more."""

    def __init__(self, status: int = 400, detail: Any = "client disconnected") -> None:
        super().__init__(status, detail)
