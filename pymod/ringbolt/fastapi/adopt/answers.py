"""What an adopted app's planned routes answer with Starlette's objects: a Starlette
``Response`` (``JSONResponse``, ``HTMLResponse``, ``RedirectResponse``, ``StreamingResponse``,
``FileResponse``, a subclass with its own ``render``) made into ringbolt's, a route's
``response_class`` as the ``ringbolt.fastapi.responses`` class the plan makes results into,
and the app's ``exception_handlers`` as the handlers of ringbolt's ``ErrorPolicy``, each
given Starlette's ``Request`` and the exception FastAPI would give it. Decided at start-up;
per request only the conversion of what a handler returned or raised."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Callable

from fastapi import exception_handlers as fa_handlers
from fastapi.exceptions import RequestValidationError as FastAPIValidationError
from starlette import responses as sr
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...typed.jsonable import jsonable_encoder
from ..._native import json_dumps
from ...typed.problem import RequestValidationError
from ...typed.writers import body_allowed
from ...background import BackgroundTasks
from ...datastructures import ResponseHeaders
from ...errors import HTTPError
from ...response import FileResponse, Response, StreamingResponse
from .. import responses as rbr
from .markers import Unplannable

_SKIP = (b"content-length", b"content-type")
_new = object.__new__
_no_headers = list.__new__


def _tasks(background: Any) -> BackgroundTasks:
    """Starlette's ``BackgroundTask``/``BackgroundTasks`` as ringbolt's (each task's own
    function, run as ringbolt runs tasks: an async one on the loop, a sync one on a thread)."""
    out = BackgroundTasks()
    for task in getattr(background, "tasks", None) or (background,):
        func = getattr(task, "func", None)
        if func is None:
            out.add(task)  # a callable of its own: called (and awaited) as it is
        else:
            out.add(func, *task.args, **task.kwargs)
    return out


def _headers(raw: list[tuple[bytes, bytes]]) -> tuple[ResponseHeaders, str]:
    """Starlette's raw headers as ringbolt's, without the framing ringbolt's server writes
    (Content-Length) and with the Content-Type apart ("" when there is none)."""
    headers = _no_headers(ResponseHeaders)
    ctype = ""
    for k, v in raw:
        if k in _SKIP:
            if k == b"content-type":
                ctype = v.decode("latin-1")
            continue
        list.append(headers, (k.decode("latin-1"), v.decode("latin-1")))
    return headers, ctype


def to_ringbolt(resp: Any) -> Any:
    """A Starlette response as ringbolt's (the body Starlette rendered, its status, its
    headers and cookies, its background tasks)."""
    if isinstance(resp, sr.StreamingResponse):
        headers, ctype = _headers(resp.raw_headers)
        stream = StreamingResponse.__new__(StreamingResponse)
        stream.content = resp.body_iterator  # type: ignore[assignment]  # Starlette's chunks: bytes or str
        stream.status = resp.status_code
        stream.headers = headers
        stream.content_type = ctype
        stream._init_extras(None if resp.background is None else _tasks(resp.background))
        return stream
    if isinstance(resp, sr.FileResponse):
        return _file(resp)
    headers, ctype = _headers(resp.raw_headers)
    out = _new(Response)
    out.body = resp.body
    out.status = resp.status_code
    out.headers = headers
    out.content_type = ctype
    out._cookies = None
    if resp.background is None:
        out._after = None
        out.background = None
    else:
        out._after = True
        out.background = _tasks(resp.background)
    return out


def _file(resp: Any) -> Any:
    """A Starlette ``FileResponse``: its headers as Starlette sends them (its ETag and
    Last-Modified from the file), the file sent natively; with background tasks, read
    and streamed instead (ringbolt's native file answer carries none)."""
    if resp.stat_result is None:  # (a path that is no file: Starlette's RuntimeError, the app's 500)
        resp.set_stat_headers(rbr.file_stat(resp.path))
    headers, ctype = _headers(resp.raw_headers)
    if resp.background is None:
        out = FileResponse(resp.path, resp.status_code, headers, ctype or None)
        return out

    def chunks() -> Any:
        with open(resp.path, "rb") as f:
            while True:
                piece = f.read(65536)
                if not piece:
                    return
                yield piece
    length = os.stat(resp.path).st_size
    headers.append(("content-length", str(length)))
    return StreamingResponse(chunks(), resp.status_code, headers, ctype or None, _tasks(resp.background))


#: Starlette's (and FastAPI's) response classes, by the ringbolt.fastapi class that
#: renders a route's results the same way
_CLASSES: dict[Any, Any] = {
    sr.Response: rbr.Response, sr.HTMLResponse: rbr.HTMLResponse, sr.PlainTextResponse: rbr.PlainTextResponse,
    sr.JSONResponse: rbr.JSONResponse, sr.RedirectResponse: rbr.RedirectResponse,
    sr.StreamingResponse: rbr.StreamingResponse, sr.FileResponse: rbr.FileResponse,
}
try:
    from fastapi import responses as fa_responses
    _CLASSES[fa_responses.ORJSONResponse] = rbr.ORJSONResponse
    _CLASSES[fa_responses.UJSONResponse] = rbr.UJSONResponse
except (ImportError, AttributeError):  # pragma: no cover - a FastAPI without them
    pass


def response_class(cls: Any) -> Any:
    """The class a route's results are made into: ringbolt.fastapi's for Starlette's own,
    else one that makes the app's class and converts it."""
    known = _CLASSES.get(cls)
    if known is not None:
        return known
    if not (isinstance(cls, type) and issubclass(cls, sr.Response)):
        raise Unplannable(f"response_class {cls!r} is not a Starlette Response class")
    fastapi_sse = sys.modules.get("fastapi.sse")
    if fastapi_sse is not None and cls is getattr(fastapi_sse, "EventSourceResponse", None):
        return _event_source(fastapi_sse.ServerSentEvent)
    if cls.__name__ == "EventSourceResponse":
        raise Unplannable(f"a Server-Sent Events route of its own class ({cls.__module__}.{cls.__qualname__})")
    if cls.__call__ not in (sr.Response.__call__, sr.StreamingResponse.__call__, sr.FileResponse.__call__):
        raise Unplannable(f"response_class {cls.__qualname__} sends itself (its own __call__)")

    class Made(rbr.Response):
        """``cls``'s response made, then as ringbolt's."""

        def __new__(klass, content: Any = None, status_code: int = 200, **kwargs: Any) -> Any:
            return to_ringbolt(cls(content, status_code=status_code, **kwargs))

    Made.__name__ = Made.__qualname__ = cls.__name__
    return Made


def _event_source(fastapi_event: type) -> type:
    """FastAPI's ``EventSourceResponse`` as ringbolt.fastapi's, which sends the same events:
    the ``ServerSentEvent`` items a route yields made into ringbolt.fastapi's (fields as
    they are, validated when the app made them)."""
    from ..sse import EventSourceResponse, ServerSentEvent

    fields = list(ServerSentEvent.model_fields)

    def event(item: Any) -> Any:
        if isinstance(item, fastapi_event):
            return ServerSentEvent.model_construct(**{f: getattr(item, f, None) for f in fields})
        return item

    def events(source: Any) -> Any:
        if hasattr(source, "__aiter__"):
            async def each_async() -> Any:
                async for item in source:
                    yield event(item)
            return each_async()

        def each() -> Any:
            for item in source:
                yield event(item)
        return each()

    class Adopted(EventSourceResponse):
        @classmethod
        def _rb_event_stream(cls, source: Any, item_write: Any, status: int | None) -> Any:
            return super()._rb_event_stream(events(source), item_write, status)

    Adopted.__name__ = Adopted.__qualname__ = "EventSourceResponse"
    return Adopted


# ---- exceptions ----

def _detail_answer(status: int, detail: Any, headers: Any) -> Any:
    """FastAPI's default answer to an HTTPException: ``{"detail": ...}``, none for a
    status without content."""
    if not body_allowed(status):
        return Response(None, status, headers, "")
    return Response(json_dumps({"detail": detail}), status, headers, "application/json")


def _validation_answer(req: Any, exc: Any) -> Any:
    """FastAPI's default answer to a RequestValidationError the app's code raised itself
    (ringbolt's own refusals are answered by the route's plan): its errors as a 422."""
    body = json_dumps({"detail": jsonable_encoder(exc.errors())})
    return Response(body, 422, None, "application/json")


def _text_answer(status: int, detail: Any, headers: Any) -> Any:
    """Starlette's default answer to an HTTPException: its detail as text."""
    if status in (204, 304):
        return Response(None, status, headers, "")
    return rbr.PlainTextResponse(detail, status_code=status, headers=headers)


def _as_starlette(exc: BaseException, http_class: type) -> BaseException:
    """What FastAPI's handlers get for an exception ringbolt raised: its HTTPException, its
    RequestValidationError."""
    if isinstance(exc, RequestValidationError):
        return FastAPIValidationError(list(exc.errors), body=exc.body)
    if isinstance(exc, HTTPError) and not isinstance(exc, StarletteHTTPException):
        made: BaseException = http_class(status_code=exc.status, detail=exc.detail, headers=exc.headers)
        return made
    return exc


def _wrapped(handler: Callable[..., Any], request_of: Callable[[Any], Any], http_class: type) -> Callable[..., Any]:
    """The app's ``handler(request, exc)`` called with Starlette's Request, its answer as
    ringbolt's."""
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(getattr(handler, "__call__", None)):
        async def call_async(req: Any, exc: BaseException) -> Any:
            out = await handler(request_of(req), _as_starlette(exc, http_class))
            return to_ringbolt(out) if isinstance(out, sr.Response) else out
        return call_async

    def call(req: Any, exc: BaseException) -> Any:
        out = handler(request_of(req), _as_starlette(exc, http_class))
        return to_ringbolt(out) if isinstance(out, sr.Response) else out
    return call


def exception_handlers(app: Any, request_of: Callable[[Any], Any],
                       is_fastapi: bool) -> tuple[dict[Any, Any], tuple[tuple[type, ...], Callable[[Any], Any]] | None]:
    """The app's ``exception_handlers`` as ringbolt's (``ErrorPolicy`` handlers): by status
    code, by class (Starlette's order for an HTTPException: its status's handler first);
    and, when the app keeps FastAPI's (Starlette's) own answer to an HTTPException, that
    answer for each planned route to give itself (``PlanAdapter.errors``: no pipeline
    around the route for it)."""
    http_class: type = StarletteHTTPException
    if is_fastapi:
        from fastapi import HTTPException as http_class
    defaults = {getattr(fa_handlers, name, None) for name in (
        "http_exception_handler", "request_validation_exception_handler",
        "websocket_request_validation_exception_handler")} - {None}
    by_status: dict[int, Any] = {}
    out: dict[Any, Any] = {}
    for key, handler in app.exception_handlers.items():
        if isinstance(key, int):
            if key == 500:
                out[Exception] = _wrapped(handler, request_of, http_class)
            else:
                by_status[key] = out[key] = _wrapped(handler, request_of, http_class)
    for key, handler in app.exception_handlers.items():
        if isinstance(key, int):
            continue
        own = None if handler in defaults else _wrapped(handler, request_of, http_class)
        if issubclass(key, FastAPIValidationError):
            if own is not None:
                out[RequestValidationError] = own
            out[key] = own if own is not None else _validation_answer  # one the app's code raised itself
            continue
        if issubclass(key, StarletteHTTPException):
            if own is None and not by_status:
                continue  # FastAPI's (Starlette's) own answer: given by each planned route itself
            out[key] = _by_status(by_status, own, is_fastapi)
            if own is not None and key is StarletteHTTPException:
                out[HTTPError] = own  # what ringbolt itself raises (a refused body...) goes to it too
            continue
        if own is not None and not key.__name__.startswith("WebSocket"):
            out[key] = own
    own_http = [k for k in out if isinstance(k, type) and issubclass(k, StarletteHTTPException)]
    if not by_status and not own_http:
        default = _detail_answer if is_fastapi else _text_answer

        def answer(exc: Any) -> Any:
            return default(exc.status_code, exc.detail, exc.headers)
        return out, ((StarletteHTTPException,), answer)
    if StarletteHTTPException not in out:
        out[StarletteHTTPException] = _by_status(by_status, None, is_fastapi)
    return out, None


def _by_status(by_status: dict[int, Any], own: Any, is_fastapi: bool) -> Any:
    """The handler of an HTTPException class: the handler of its status when there is
    one, else ``own``, else FastAPI's (or Starlette's) default answer."""
    default = _detail_answer if is_fastapi else _text_answer
    if own is None and not by_status:
        def answer(req: Any, exc: Any) -> Any:
            return default(exc.status_code, exc.detail, exc.headers)
        return answer
    handlers = [h for h in (*by_status.values(), own) if h is not None]
    if any(inspect.iscoroutinefunction(h) for h in handlers):
        async def answer_async(req: Any, exc: Any) -> Any:
            h = by_status.get(exc.status_code, own)
            if h is None:
                return default(exc.status_code, exc.detail, exc.headers)
            out = h(req, exc)
            return await out if inspect.isawaitable(out) else out
        return answer_async

    def answer_sync(req: Any, exc: Any) -> Any:
        h = by_status.get(exc.status_code, own)
        if h is None:
            return default(exc.status_code, exc.detail, exc.headers)
        return h(req, exc)
    return answer_sync


__all__ = ["to_ringbolt", "response_class", "exception_handlers"]
