"""The app's side of a request body: ``req.stream()`` and ``await req.read()`` (the
native Request calls these through ``_native._set_types``), and ``req.form()``'s reads.
A streamed body's chunks come from its native handle (ringbolt._native.RequestBody),
which applies the body limit and says when the client is gone."""

from __future__ import annotations

from typing import Any, AsyncIterator

from . import _stream


async def request_stream(req: Any) -> AsyncIterator[bytes]:
    """``req.stream()``: the body's chunks as they arrive; a body read whole comes in
    pieces of at most 128 KiB too (or at once when ``req.body`` was read: no new copy)."""
    handle = req._body_stream
    if handle is None:
        offset = 0
        while True:
            piece = req._body_piece(offset)
            if not piece:
                return
            yield piece
            offset += len(piece)
    loop = _stream.running_loop()
    while True:
        chunk = handle.take()  # raises HTTPError 413/408/400 or ClientDisconnect
        if chunk is None:
            waiter = loop.create_future()
            handle.set_waiter(waiter)
            await waiter
            continue
        if not chunk:
            return
        yield chunk


async def request_read(req: Any) -> bytes:
    """``await req.read()``: the whole body (streamed bodies are gathered; the body
    limit was enforced while they arrived)."""
    if req._body_stream is None:
        return req.body  # type: ignore[no-any-return]
    return b"".join([chunk async for chunk in request_stream(req)])
