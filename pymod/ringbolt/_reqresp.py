"""The Python side of ``req.form()``, ``req.set_cookie()``, ``req.background`` and of the
step between a handler's return and the wire when one of them (or a Response's own
cookies/background) was used: ``finish_result``. The native bridge calls it only when
the request has attributes set or the Response carries extras, so handlers that use
none of this never enter this module."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Mapping, Unpack

from ._stream import _get_runner, _keep
from .background import BackgroundTasks
from .cookies import Cookie, CookieOptions, DeleteCookieOptions, deletion
from .datastructures import ResponseHeaders
from .forms import request_form as _request_form
from .response import FileResponse, Response, StreamingResponse

if TYPE_CHECKING:
    import asyncio

logger = logging.getLogger("ringbolt")

request_form = _request_form


def _state(req: Any) -> dict[str, Any]:
    return req.__dict__  # type: ignore[no-any-return]


def request_set_cookie(req: Any, name: str, value: str = "", **options: Unpack[CookieOptions]) -> None:
    _state(req).setdefault("_rb_cookies", []).append(Cookie(name, value, **options))


def request_delete_cookie(req: Any, name: str, **options: Unpack[DeleteCookieOptions]) -> None:
    _state(req).setdefault("_rb_cookies", []).append(deletion(name, **options))


def request_background(req: Any) -> BackgroundTasks:
    state = _state(req)
    tasks = state.get("_rb_background")
    if tasks is None:
        tasks = state["_rb_background"] = BackgroundTasks()
    return tasks


def _as_response(result: Any) -> Response | StreamingResponse | FileResponse:
    """A bare return value as a Response (the native conversion rules still apply)."""
    if isinstance(result, (Response, StreamingResponse, FileResponse)):
        return result
    if isinstance(result, tuple) and len(result) in (2, 3):
        return Response(result[0], result[1], result[2] if len(result) == 3 else None)
    if result is None:
        return Response(None, 204)
    return Response(result)


def _copy(result: Response | StreamingResponse | FileResponse) -> Any:
    # Never modify the handler's object: it may be a module-level constant.
    new = type(result).__new__(type(result))
    if isinstance(result, FileResponse):
        slots: tuple[str, ...] = ("path", "status", "headers", "content_type")
    else:
        slots = ("status", "headers", "content_type", "_after", "_cookies", "background",
                 "content" if isinstance(result, StreamingResponse) else "body")
    for slot in slots:
        setattr(new, slot, getattr(result, slot, None))
    headers = result.headers  # a ResponseHeaders, unless the handler put something else there
    new.headers = list.__new__(ResponseHeaders)  # copied as they are (checked when they were added)
    list.extend(new.headers, headers.items() if isinstance(headers, Mapping) else headers or ())
    return new


def finish_result(req: Any, result: Any, deferred: list[Any] | None = None) -> Any:
    """The result with the cookies set on ``req``/the response rendered, and the
    background tasks and form cleanup scheduled for after it (or, with ``deferred``,
    appended there as an awaitable-returning callable for the caller to run)."""
    # Objects made only when there is something to do: a route that read an unchanged
    # session (the common case) comes back with `result` as it was (docs/sessions.md).
    state = _state(req)
    cookies: list[Cookie] | None = state.get("_rb_cookies")
    session = state.get("_rb_session")
    if session is not None:  # read by ringbolt.sessions: written back if it changed
        cookie = session._owner.commit(session)
        if cookie is not None:
            cookies = [*cookies, cookie] if cookies else [cookie]
    own = state.get("_rb_background")
    form = state.get("_rb_form")
    extra: BackgroundTasks | None = None
    if isinstance(result, (Response, StreamingResponse)) and getattr(result, "_after", None) is not None:
        if result._cookies:
            cookies = [*(cookies or ()), *result._cookies]
        extra = result.background
    if cookies:
        https = req.scheme == "https"
        result = _copy(_as_response(result))
        result.headers.extend(("Set-Cookie", c.render(https)) for c in cookies)
    if not own and not extra and form is None:
        return result
    tasks = BackgroundTasks()
    if own is not None:
        tasks.extend(own)
    if extra is not None:
        tasks.extend(extra)
    if not len(tasks) and form is None:
        return result
    after = _After(tasks, form)
    if deferred is not None:
        deferred.append(after.run)  # the ASGI adapter awaits it once the response is sent
        return result
    if isinstance(result, StreamingResponse):
        result = _copy(result)
        content = result.content
        result.content = _then_async(content, after) if hasattr(content, "__aiter__") else _then_sync(content, after)
        return result
    after.schedule()
    return result


class _After:
    """What runs once the response is out: the background tasks, then the form's temp
    files are removed. On the worker's event loop (made on demand for sync-only apps)."""

    __slots__ = ("tasks", "form")

    def __init__(self, tasks: BackgroundTasks, form: Any) -> None:
        self.tasks = tasks
        self.form = form

    def schedule(self) -> None:
        loop = _get_runner().loop
        # Two hops: the first callback runs in the loop iteration that also flushes the
        # answers staged so far (an async handler's), the second after that flush.
        loop.call_soon_threadsafe(loop.call_soon, self._start, loop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        _keep(loop.create_task(self.run()))

    async def run(self) -> None:
        try:
            if len(self.tasks):
                await self.tasks.run()
        finally:
            if self.form is not None:
                self.form.close()


def _then_sync(content: Any, after: _After) -> Iterator[Any]:
    try:
        yield from content
    finally:
        after.schedule()


async def _then_async(content: Any, after: _After) -> AsyncIterator[Any]:
    try:
        async for chunk in content:
            yield chunk
    finally:
        after.schedule()

