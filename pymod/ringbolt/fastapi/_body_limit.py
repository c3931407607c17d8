"""FastAPI's ``max_body_size`` (app, router, ``include_router``, route: the most specific
one given) on ringbolt.fastapi's routes. The limit is planned into the route (its
``RoutePlan.options``) and its runner checks it first (``_runner``): a ``Content-Length``
or a body read whole over it is 413 ``Content Too Large`` (text/plain), Starlette's answer,
before any parameter is read; a body streamed without a length is counted as the route
reads it. A route without a limit runs no check. The server's own ``max_body_size``
(16 MiB unless ``--max-body-size``) still bounds every body."""

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
