"""Server-Sent Events (WHATWG HTML §9.2): events encoded as ``text/event-stream`` lines,
keep-alive comments while the source is idle, and the source closed (an async one
cancelled) when the client goes away. ``Response.sse(source)`` builds the response."""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any, AsyncIterator, Callable, Iterator

from ._native import json_dumps

PING = b": ping\n\n"


class SSEEvent:
    """One event: ``data`` (str, or dict/list sent as JSON), optional ``event`` type,
    ``id`` (the client sends it back as ``Last-Event-ID`` when it reconnects, see
    ``req.last_event_id``) and ``retry`` (reconnection delay in ms)."""

    __slots__ = ("data", "event", "id", "retry", "comment")

    def __init__(self, data: Any = "", *, event: str | None = None, id: str | None = None,
                 retry: int | None = None, comment: str | None = None) -> None:
        for name, value in (("event", event), ("id", id)):
            if value is not None and any(c in value for c in "\r\n"):
                raise ValueError(f"SSE {name} must not contain CR or LF: {value!r}")
        if id is not None and "\0" in id:
            raise ValueError("SSE id must not contain NUL")
        if retry is not None and (not isinstance(retry, int) or isinstance(retry, bool) or retry < 0):
            raise ValueError(f"SSE retry must be a non-negative int (milliseconds), not {retry!r}")
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment

    def encode(self) -> bytes:
        out: list[str] = []
        if self.comment is not None:
            out.extend(": " + line for line in _lines(self.comment))
        if self.event is not None:
            out.append("event: " + self.event)
        if self.id is not None:
            out.append("id: " + self.id)
        if self.retry is not None:
            out.append(f"retry: {self.retry}")
        data = self.data
        if isinstance(data, (dict, list)):
            data = json_dumps(data).decode()
        elif isinstance(data, bytes):
            data = data.decode("utf-8")
        elif not isinstance(data, str):
            raise TypeError(f"SSE data must be str, bytes, dict or list, not {type(data).__name__}")
        if data != "" or not out:
            out.extend("data: " + line for line in _lines(data))
        return ("\n".join(out) + "\n\n").encode("utf-8")


def _lines(text: str) -> list[str]:
    # CRLF, CR and LF all end a line in the event stream: each becomes its own field.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines


def encode(item: Any) -> bytes:
    """One event's bytes from a str, bytes, dict/list or SSEEvent."""
    if isinstance(item, SSEEvent):
        return item.encode()
    return SSEEvent(item).encode()


def event_stream(source: Any, ping: float | None, encode: Callable[[Any], bytes] = encode) -> Any:
    """The stream's bytes: each item of ``source`` by ``encode`` (ringbolt's events by
    default; ``ringbolt.fastapi.sse`` passes FastAPI's), a ``PING`` comment whenever the
    source is idle for ``ping`` seconds."""
    if ping is not None and ping <= 0:
        raise ValueError("ping must be a positive number of seconds or None")
    if hasattr(source, "__aiter__"):
        return _async_events(source, ping, encode)
    if hasattr(source, "__iter__") and not isinstance(source, (str, bytes, dict)):
        return _sync_events(source, ping, encode)
    raise TypeError(f"Response.sse needs an iterable or async iterable of events, not {type(source).__name__}")


async def _async_events(source: Any, ping: float | None, encode: Callable[[Any], bytes]) -> AsyncIterator[bytes]:
    it = source.__aiter__()
    asyncio = sys.modules["asyncio"]  # on a loop: imported (a sync-only app never imports it)
    nxt: Any = None
    try:
        while True:
            if ping is None:
                try:
                    item = await it.__anext__()
                except StopAsyncIteration:
                    return
                yield encode(item)
                continue
            if nxt is None:
                nxt = asyncio.ensure_future(it.__anext__())
            done, _ = await asyncio.wait({nxt}, timeout=ping)
            if not done:
                yield PING  # idle: a comment keeps proxies from timing the stream out
                continue
            fut, nxt = nxt, None
            try:
                item = fut.result()
            except StopAsyncIteration:
                return
            yield encode(item)
    finally:
        # The client left (or the source failed): the pending step is cancelled, which
        # raises CancelledError inside the source at its await; then it is closed.
        if nxt is not None and not nxt.done():
            nxt.cancel()
            await asyncio.wait({nxt})
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except RuntimeError:
                pass  # already running/finished after the cancellation


def _sync_events(source: Any, ping: float | None, encode: Callable[[Any], bytes]) -> Iterator[bytes]:
    if ping is None:
        iterator = iter(source)
        try:
            for item in iterator:
                yield encode(item)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        return
    # The source may block between events: it runs on its own thread, and this one
    # (the streaming thread) sends a ping whenever nothing came for `ping` seconds.
    q: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=16)
    stop = threading.Event()

    def pump() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put((0, item), timeout=0.25)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((1, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the streaming thread
            q.put((2, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # on this thread: the generator's finally blocks run

    threading.Thread(target=pump, name="ringbolt-sse-source", daemon=True).start()
    try:
        while True:
            try:
                kind, value = q.get(timeout=ping)
            except queue.Empty:
                yield PING
                continue
            if kind == 1:
                return
            if kind == 2:
                raise value
            yield encode(value)
    finally:
        stop.set()
