"""The errors of the typed API and their answers: every failure of a request's
parameters and body as ``{"type", "loc", "msg", "input"[, "ctx"]}`` (pydantic's and
FastAPI's shape) in the ``detail`` list of one 422 ``application/problem+json``;
malformed JSON a 400; a returned value that breaks the response model a 500."""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable

from .convert import Refused
from ..errors import PROBLEM_JSON, HTTPError, ValidationError
from .._native import json_dumps
from ..response import Response
from ..datastructures import ResponseHeaders

Loc = tuple[Any, ...]
ErrorList = list[dict[str, Any]]


class _Errors(list[dict[str, Any]]):
    """The list of errors, also callable (``exc.errors()``, as FastAPI's is a method)."""

    def __call__(self) -> list[dict[str, Any]]:
        return list(self)


class RequestValidationError(ValidationError):
    """422: one or more of the request's parameters or its body are not valid.
    ``errors`` lists each failure (``exc.errors()`` works too); the answer is a problem
    whose ``detail`` is that list (the member FastAPI's clients read)."""

    #: the request's body as read for validation (FastAPI's ``exc.body``: the JSON value,
    #: the form, the bytes of a body that is not JSON), or None
    body: Any = None

    def __init__(self, errors: Iterable[dict[str, Any]], *, body: Any = None) -> None:
        # the app's own copies: a decoder's errors may be kept for its next refusal
        listed = _Errors(ordered([_own(e) for e in errors]))
        HTTPError.__init__(self, 422, listed, title="Unprocessable Content")
        self.errors = listed
        self.body = body

    def problem(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": 422, "detail": writable(self.errors)}


def in_order(errors: Iterable[dict[str, Any]], body: Any = None) -> RequestValidationError:
    """The RequestValidationError of ``errors`` as FastAPI raises it (its routes): in the
    order given (each dependency's errors, then the handler's), not sorted by source, each
    ``loc`` a tuple, a validator's exception in ``ctx`` as itself, ``body`` the request's
    body as read."""
    exc = RequestValidationError.__new__(RequestValidationError)
    listed = _Errors()
    for e in errors:
        e = _own(e)
        e["loc"] = tuple(e["loc"])
        ctx = e.get("ctx")
        if ctx:  # a validator's exception itself, as pydantic's errors() hold it
            for k, v in ctx.items():
                if type(v) is Raised:
                    ctx[k] = v.exc
        listed.append(e)
    HTTPError.__init__(exc, 422, listed, title="Unprocessable Content")
    exc.errors = listed
    exc.body = body
    return exc


def _own(error: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``error`` whose ``loc`` (a list; a tuple is kept) and ``ctx`` are its own."""
    out = dict(error)
    loc = error["loc"]
    if type(loc) is list:
        out["loc"] = list(loc)
    ctx = error.get("ctx")
    if ctx is not None:
        out["ctx"] = dict(ctx)
    return out


class ResponseValidationError(TypeError):
    """The handler returned a value that its response model refuses (a bug of the
    service, so a 500; the errors are in the log)."""

    def __init__(self, errors: Any, model: Any) -> None:
        super().__init__(f"the response does not fit the response model {getattr(model, '__name__', model)!r}: "
                         f"{errors}")
        self.errors = errors


_new_response = object.__new__
_empty_headers = list.__new__


_ORDER = {"path": 0, "query": 1, "header": 2, "cookie": 3, "body": 4}


def ordered(errors: ErrorList) -> ErrorList:
    """Path, query, header, cookie, then body errors (FastAPI's order), each source's in
    the order met."""
    errors.sort(key=lambda e: _ORDER.get(e["loc"][0] if e["loc"] else "", 5))
    return errors


_PROBLEM_HEAD = b'{"type":"about:blank","title":"Unprocessable Content","status":422,"detail":'


def invalid_response(errors: ErrorList) -> Response:
    """The 422 answer for ``errors`` (in FastAPI's order already: the runner reads path,
    query, header, cookie, then body), built without Response's checks."""
    try:
        data = json_dumps(errors)
    except (TypeError, ValueError):  # an input JSON cannot hold as it is (NaN from a body): never a 500
        data = json_dumps(writable(errors))
    resp = _new_response(Response)
    resp.body = _PROBLEM_HEAD + data + b"}"
    resp.status = 422
    resp.headers = _empty_headers(ResponseHeaders)
    resp.content_type = PROBLEM_JSON
    resp._after = None
    resp._cookies = None
    resp.background = None
    return resp


class Raised(str):
    """A validator's exception in an error's ``ctx.error``: its text (what ringbolt's
    answer writes and a handler reads), the exception kept as ``exc`` for FastAPI's
    answer, which writes it as ``jsonable_encoder`` does (``{}`` for an exception with no
    attributes of its own)."""

    exc: BaseException

    def __new__(cls, exc: BaseException) -> "Raised":
        text = super().__new__(cls, str(exc))
        text.exc = exc
        return text


def _fastapi_errors(errors: ErrorList) -> ErrorList:
    """``errors`` as FastAPI's handler writes them: a kept exception by ``jsonable_encoder``'s
    rules, any other value JSON cannot hold too (new dicts where they change: a decoder's
    errors may be kept for its next refusal)."""
    from .jsonable import jsonable_encoder
    out = []
    for e in errors:
        ctx = e.get("ctx")
        if ctx and any(type(v) is Raised for v in ctx.values()):
            e = dict(e)
            e["ctx"] = {k: jsonable_encoder(v.exc) if type(v) is Raised else v for k, v in ctx.items()}
        out.append(e)
    return out


def detail_invalid_response(errors: ErrorList) -> Response:
    """The 422 answer for ``errors`` in FastAPI's conventions: ``{"detail": [...]}`` as
    application/json, each value as FastAPI's ``jsonable_encoder`` writes it."""
    errors = _fastapi_errors(errors)
    try:
        data = json_dumps(errors)
    except (TypeError, ValueError):  # as invalid_response: never a 500
        data = json_dumps(writable(errors))
    return json_response(b'{"detail":' + data + b"}", 422)


def writable(errors: ErrorList) -> ErrorList:
    """A copy of ``errors`` that JSON can hold: a value that is not JSON's own (an
    ``input`` pydantic read from a body) as text: ``NaN``, ``Infinity`` and ``-Infinity``
    as those strings (pydantic's ``ser_json_inf_nan="strings"``), bytes as their UTF-8
    text, anything else as its ``str()``."""
    return [{k: _json_value(v) for k, v in e.items()} for e in errors]


def _json_value(v: Any) -> Any:
    if v is None or type(v) in (str, int, bool):
        return v
    if isinstance(v, str):
        return str.__str__(v)  # a str enum: its value
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        x = float(v)
        return x if x - x == 0.0 else "NaN" if x != x else "Infinity" if x > 0 else "-Infinity"
    if isinstance(v, dict):
        return {k if type(k) is str else str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def json_response(data: bytes, status: int) -> Response:
    """A JSON body already written (by pydantic's or msgspec's encoder)."""
    resp = _new_response(Response)
    resp.body = data
    resp.status = status
    resp.headers = _empty_headers(ResponseHeaders)
    resp.content_type = "application/json"
    resp._after = None
    resp._cookies = None
    resp.background = None
    return resp


def malformed(detail: str) -> HTTPError:
    """400 for a body that is not JSON at all (or nested too deep, or a number too
    long to read)."""
    return HTTPError(400, f"Invalid JSON body: {detail}", title="Bad Request")



def error(type: str, loc: Loc, msg: str, input: Any, ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type, "loc": list(loc), "msg": msg, "input": input}
    if ctx:
        out["ctx"] = {k: v if v is None or isinstance(v, (str, int, float, bool)) else str(v) for k, v in ctx.items()}
    return out


def missing(errors: ErrorList | None, loc: Loc) -> ErrorList:
    """``errors`` with a "Field required" for ``loc`` (a new list when it was None)."""
    if errors is None:
        errors = []
    errors.append({"type": "missing", "loc": list(loc), "msg": "Field required", "input": None})
    return errors


def bad(errors: ErrorList | None, loc: Loc, exc: Any, value: Any) -> ErrorList:
    """``errors`` with the converter's failure ``exc`` (``_convert.Bad``) of ``value`` at
    ``loc`` (an item of a list adds its index)."""
    if errors is None:
        errors = []
    if type(exc) is Refused:  # pydantic's errors of a parameter with its own validators
        errors.extend(from_pydantic(exc.errors, loc))
        return errors
    if exc.index is not None:
        loc = (*loc, exc.index)
        value = value[exc.index]
    errors.append(error(exc.type, loc, exc.msg, value, exc.ctx))
    return errors


def extend(errors: ErrorList | None, more: ErrorList) -> ErrorList:
    if errors is None:
        return list(more)
    errors.extend(more)
    return errors


# ---- the libraries' errors in that shape ----

_PLAIN = (str, int, float, bool, type(None))


def from_pydantic(out: list[Any], prefix: Loc) -> ErrorList:
    """pydantic's errors (``ValidationError.errors(include_url=False)``, asked for once:
    it is most of a refusal's cost) as our list, each ``loc`` after ``prefix`` (its own
    dicts, changed in place: no copy on the error path)."""
    for e in out:
        e["loc"] = prefix + e["loc"]  # pydantic's is a tuple (written as a JSON array)
        ctx = e.get("ctx")
        if ctx is not None and "error" in ctx:
            raised = ctx["error"]  # the one member that is not plain data: a validator's exception
            if raised is not None and type(raised) not in _PLAIN:
                ctx["error"] = Raised(raised)  # its text, the exception kept for FastAPI's writer
    return out


_MSGSPEC_AT = re.compile(r"^(.*) - at `\$(.*)`$", re.S)
_MSGSPEC_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[([^\]]*)\]")
_MSGSPEC_MISSING = re.compile(r"^Object missing required field `(.*)`$")
_MSGSPEC_EXPECTED = re.compile(r"^Expected `([A-Za-z_ |]+)`")
_MSGSPEC_KINDS = {"int": "int_type", "float": "float_type", "str": "string_type", "bool": "bool_type",
                  "object": "dict_type", "array": "list_type", "null": "none_required"}


def msgspec_loc(path: str) -> list[Any]:
    """``$.items[2].price`` (msgspec's path, without the ``$``) as ``["items", 2, "price"]``."""
    loc: list[Any] = []
    for name, index, key in _MSGSPEC_STEP.findall(path):
        loc.append(name if name else int(index) if index else key)
    return loc


def from_msgspec(text: str, prefix: Loc) -> ErrorList:
    """msgspec's ValidationError's message (one failure, its place as a ``$...`` path)
    as our list."""
    return [_parse_msgspec(text, prefix)]


def _parse_msgspec(text: str, prefix: Loc) -> dict[str, Any]:
    loc: list[Any] = []
    m = _MSGSPEC_AT.match(text)
    if m is not None:
        text, loc = m.group(1), msgspec_loc(m.group(2))
    miss = _MSGSPEC_MISSING.match(text)
    if miss is not None:
        return error("missing", (*prefix, *loc, miss.group(1)), "Field required", None)
    kind = "value_error"
    ctx = None
    bound = _MSGSPEC_BOUND.match(text)
    if bound is not None:
        length, op, value = bound.group(2), bound.group(3), _number(bound.group(4))
        if length:
            short = op == ">="
            noun = "string_" if bound.group(1) == "str" else ""
            kind = f"{noun}too_short" if short else f"{noun}too_long"
            ctx = {"min_length" if short else "max_length": value}
        else:
            name = _BOUND_NAMES[op]
            kind, ctx = name[0], {name[1]: value}
    else:
        expected = _MSGSPEC_EXPECTED.match(text)
        if expected is not None:
            kind = _MSGSPEC_KINDS.get(expected.group(1).split(" ")[0], "type_error")
    return error(kind, (*prefix, *loc), text, None, ctx)


_MSGSPEC_BOUND = re.compile(r"^Expected `([a-z]+)` (of length )?(>=|>|<=|<) ([-0-9.e+]+)$")
_BOUND_NAMES = {">=": ("greater_than_equal", "ge"), ">": ("greater_than", "gt"), "<=": ("less_than_equal", "le"),
                "<": ("less_than", "lt")}


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)
