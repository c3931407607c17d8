"""The writers of routes registered through ``ringbolt.fastapi`` (a plan whose
``ResponseSpec.response_class`` is set), chosen once when the runner is compiled: what a
handler's result becomes by FastAPI's rules. A response object is answered as it is;
anything else is written by the response model (pydantic, FastAPI's options) or by
``jsonable_encoder``'s rules, then, for a route with a ``response_class`` of its own,
made into that class (``response_class(content, status_code=...)``); a generator
handler's items are streamed as JSON lines, as Server-Sent Events (the class's
``_rb_event_stream``) or as the class's own content. Nothing here runs per request
that the plan decided: each writer is a closure over what its route needs."""

from __future__ import annotations

import json
import math
from typing import Any, AsyncIterator, Callable, Iterator

from . import problem as _problem
from .jsonable import jsonable_default, jsonable_encoder
from .._native import json_dumps
from .model_plan import plan_of, write_planned
from ..response import FileResponse, Response, StreamingResponse

Writer = Callable[[Any], Any]

#: what a handler may return that is answered as it is (FastAPI's response classes are
#: subclasses of these)
RESPONSES = (Response, StreamingResponse, FileResponse)


def body_allowed(status: int) -> bool:
    """RFC 9110 §15.2, §15.3.5, §15.3.6, §15.4.5: no content with 1xx, 204, 205, 304."""
    return status >= 200 and status not in (204, 205, 304)


def _empty_json(status: int) -> Response:
    """FastAPI's answer for a status without content: its JSON media type, no body."""
    return _problem.json_response(b"", status)


def jsonable_writer(code: int) -> Writer:
    """A response object as it is, anything else as JSON by ``jsonable_encoder``'s rules
    with status ``code``: FastAPI's answer without a response model."""
    json_response = _problem.json_response

    def jsonable(result: Any) -> Any:
        if isinstance(result, RESPONSES):
            return result
        return json_response(json_dumps(result, jsonable_default), code)
    return jsonable


def write_fastapi(spec: Any) -> Writer:
    """The writer of a route registered through ringbolt.fastapi (``spec``: its
    ``ResponseSpec``)."""
    if spec.stream is not None:
        return _stream_writer(spec)
    status = spec.status_code
    if spec.default_class:
        code = status or 200
        if not body_allowed(code):
            def empty(result: Any) -> Any:
                return result if isinstance(result, RESPONSES) else _empty_json(code)
            return empty
        json_response = _problem.json_response
        write = spec.write
        passthrough = _passthrough(spec) if write is not None else None
        if passthrough is not None:
            assert write is not None
            return _passthrough_json(passthrough, write, code)
        if write is not None:
            def model_json(result: Any) -> Any:
                if isinstance(result, RESPONSES):
                    return result
                return json_response(write(result), code)
            return model_json
        return jsonable_writer(code)
    cls = spec.response_class
    render: Callable[[Any], Any] = spec.write if spec.write is not None else jsonable_encoder
    args = {} if status is None else {"status_code": status}

    def made(result: Any) -> Any:
        if isinstance(result, RESPONSES):
            return result
        out = cls(render(result), **args)
        if isinstance(out, Response) and not body_allowed(out.status):
            out.body = b""
        return out
    return made


def _passthrough(spec: Any) -> Any:
    """The write plan of a response model whose check neither refuses nor changes a value
    of its exact types and whose writer has one spelling for it (``Any``, ``dict[str,
    Any]``, ``list[Person]`` of plain pydantic models: ``model_plan`` says which), with no
    dump option that would change the text; None for every other model."""
    if any(k != "by_alias" for k in spec.options or {}):
        return None
    return plan_of(spec.model)


def _passthrough_json(plan: Any, write: Callable[[Any], bytes], code: int) -> Writer:
    """The response model's writer for a model that has a write plan: a value of exactly
    the plan's types written natively, as pydantic writes it, without its check (one that
    cannot refuse or change it); any other value (a Decimal, a set, a dict for a model, a
    model's subclass, NaN, an int key) by pydantic, as FastAPI writes it."""
    json_response = _problem.json_response

    def respond(result: Any) -> Any:
        if isinstance(result, RESPONSES):
            return result
        body = write_planned(result, plan)
        return json_response(write(result) if body is None else body, code)
    return respond


def _stream_writer(spec: Any) -> Writer:
    """A generator handler's answer: ``gen`` is what calling it returned."""
    status = spec.status_code
    if spec.stream == "jsonl":
        line = _item_line(spec.item_write)
        code = status or 200

        def jsonl(gen: Any) -> Any:
            if isinstance(gen, RESPONSES):
                return gen
            content = _lines_async(gen, line) if hasattr(gen, "__aiter__") else _lines_sync(gen, line)
            return StreamingResponse(content, code, None, "application/jsonl")
        return jsonl
    cls = spec.response_class
    if spec.stream == "sse":
        make = cls._rb_event_stream
        item_write = spec.item_write

        def events(gen: Any) -> Any:
            return make(gen, item_write, status)
        return events
    args = {} if status is None else {"status_code": status}

    def raw(gen: Any) -> Any:
        return cls(content=gen, **args)
    return raw


def finite(data: Any) -> Any:
    """``data`` (JSON-able) with every non-finite float as None, as FastAPI streams it."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [finite(v) for v in data]
    return data


def item_json(item_write: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    """One streamed item as JSON: by its declared type's writer, else as FastAPI writes
    an untyped item (``jsonable_encoder``, then Python's ``json.dumps`` with its default
    separators and ASCII escapes)."""
    if item_write is not None:
        return item_write

    def untyped(item: Any) -> bytes:
        return json.dumps(finite(jsonable_encoder(item))).encode("utf-8")
    return untyped


def _item_line(item_write: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    encode = item_json(item_write)

    def line(item: Any) -> bytes:
        return encode(item) + b"\n"
    return line


def _lines_sync(gen: Any, line: Callable[[Any], bytes]) -> Iterator[bytes]:
    try:
        for item in gen:
            yield line(item)
    finally:
        close = getattr(gen, "close", None)
        if close is not None:
            close()


async def _lines_async(gen: Any, line: Callable[[Any], bytes]) -> AsyncIterator[bytes]:
    try:
        async for item in gen:
            yield line(item)
    finally:
        aclose = getattr(gen, "aclose", None)
        if aclose is not None:
            await aclose()
