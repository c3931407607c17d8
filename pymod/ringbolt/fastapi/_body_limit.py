"""FastAPI's ``max_body_size`` and ``form_limits`` (app, router, ``include_router``, route:
the most specific one given) on ringbolt.fastapi's routes. The limit is planned into the route (its
``RoutePlan.options``) and its runner checks it first (``_runner``): a ``Content-Length``
or a body read whole over it is 413 ``Content Too Large`` (text/plain), Starlette's answer,
before any parameter is read; a body streamed without a length is counted as the route
reads it. A route without a limit runs no check. The server's own ``max_body_size``
(16 MiB unless ``--max-body-size``) still bounds every body. A route with ``form_limits``
reads its form with ``form_within``: Starlette's counts, sizes and messages."""

from __future__ import annotations

from typing import Any

from .._request_body import request_stream
from ..response import Response

TOO_LARGE = b"Content Too Large"


def too_large() -> Response:
    return Response(TOO_LARGE, 413, content_type="text/plain; charset=utf-8")


def over(req: Any, limit: int) -> bool:
    """Whether the request says (or its body read whole shows) more than ``limit`` bytes."""
    length = req.header("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return True
    return req._body_stream is None and len(req.body) > limit


async def read_within(req: Any, limit: int) -> bytes | None:
    """A streamed body gathered, or None past ``limit`` bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request_stream(req):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


#: Starlette's form parsers' limits, FastAPI's ``form_limits`` keys, and their defaults
FORM_DEFAULTS = {"max_fields": 1000, "max_files": 1000, "max_part_size": 1024 * 1024}
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_UNBOUNDED = 1 << 62  # a field's size left to the check below (the body is bounded by the server)


def check_form_limits(value: Any) -> dict[str, int] | None:
    """FastAPI's ``form_limits``: None, or a dict of those keys to non-negative ints."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - set(FORM_DEFAULTS) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value.values()):
        raise ValueError(f"form_limits must be a dict of {', '.join(FORM_DEFAULTS)} to non-negative integers, "
                         f"not {value!r}")
    return dict(value)


def form_within(req: Any, limits: dict[str, int]) -> Any:
    """The request's form read under FastAPI's ``form_limits`` (the route's, merged over
    its router's and app's, FastAPI's defaults for the rest), refused as Starlette refuses
    it: 400 naming the first limit a part passes, in the parts' order. The parse itself
    gets room for one part more than both counts allow, so that the check sees it."""
    from ..forms import FormData
    ctype = (req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype not in _FORM_TYPES:
        return FormData([])  # not a form: its fields are missing (a 422), as the route's plan says
    full = {**FORM_DEFAULTS, **limits}
    got = req.form(max_parts=full["max_fields"] + full["max_files"] + 1, max_field_size=_UNBOUNDED)
    urlencoded = ctype == _FORM_TYPES[0]
    if isinstance(got, FormData):
        _check(got, full, urlencoded)
        return got

    async def later() -> Any:
        form = await got
        _check(form, full, urlencoded)
        return form
    return later()


def _check(form: Any, limits: dict[str, int], urlencoded: bool) -> None:
    from urllib.parse import quote_plus

    from ..errors import HTTPError
    fields = files = 0
    kb = int(limits["max_part_size"] / 1024)
    for name, value in form.multi_items():
        if urlencoded:  # Starlette's order: a field's bytes as sent (its name's too), then the count
            if len(quote_plus(name)) + len(quote_plus(value)) > limits["max_part_size"]:
                raise HTTPError(400, f"Field exceeded maximum size of {kb}KB.")
            fields += 1
            if fields > limits["max_fields"]:
                raise HTTPError(400, f"Too many fields. Maximum number of fields is {limits['max_fields']}.")
        elif isinstance(value, str):  # a part: counted at its headers, then its bytes
            fields += 1
            if fields > limits["max_fields"]:
                raise HTTPError(400, f"Too many fields. Maximum number of fields is {limits['max_fields']}.")
            if len(value.encode("utf-8")) > limits["max_part_size"]:
                raise HTTPError(400, f"Part exceeded maximum size of {kb}KB.")
        else:
            files += 1
            if files > limits["max_files"]:
                raise HTTPError(400, f"Too many files. Maximum number of files is {limits['max_files']}.")
