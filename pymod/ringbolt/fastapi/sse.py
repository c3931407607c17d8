"""``fastapi.sse``: Server-Sent Events from a generator route. A route with
``response_class=EventSourceResponse`` whose handler yields (sync or async) streams each
item as one event: a ``ServerSentEvent`` as its fields say (``data`` as JSON,
``raw_data`` as it is), anything else as the ``data`` of an event, written as JSON (by the
item type the handler declares, ``-> AsyncIterable[Item]``, checked first). A comment
(``: ping``) goes out whenever the handler is idle for ``_PING_INTERVAL`` seconds; the
stream is ringbolt's (``ringbolt.sse.event_stream``), sent as it is produced."""

from __future__ import annotations

import json
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, Field, field_validator, model_validator

from ..typed.jsonable import jsonable_encoder
from ..typed.writers import finite, item_json
from ..sse import event_stream
from .responses import StreamingResponse

#: the comment sent while the handler is idle (WHATWG HTML §9.2.6: a line starting with ':')
KEEPALIVE_COMMENT = b": ping\n\n"
#: seconds without an event before a keep-alive comment (read when a stream starts)
_PING_INTERVAL: float = 15.0


class ServerSentEvent(BaseModel):
    """One event: ``data`` (any value, sent as JSON: a str is quoted) or ``raw_data`` (a
    str sent as it is), ``event`` (its type), ``id`` (sent back as ``Last-Event-ID`` by a
    reconnecting client), ``retry`` (milliseconds) and ``comment``."""

    _rb_sse_event: ClassVar[bool] = True  # not an item type the route's items are checked against

    data: Any = None
    raw_data: str | None = None
    event: str | None = None
    id: str | None = None
    retry: int | None = Field(default=None, ge=0)
    comment: str | None = None

    @field_validator("event", "id")
    @classmethod
    def _one_line(cls, value: str | None, info: Any) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError(f"SSE '{info.field_name}' must be a single line")
        if value is not None and info.field_name == "id" and "\0" in value:
            raise ValueError("SSE 'id' must not contain null characters")
        return value

    @model_validator(mode="after")
    def _one_payload(self) -> "ServerSentEvent":
        if self.data is not None and self.raw_data is not None:
            raise ValueError("Cannot set both 'data' and 'raw_data' on the same ServerSentEvent: 'data' is sent "
                             "as JSON, 'raw_data' as it is")
        return self


def _lines(text: str) -> list[str]:
    # CRLF, CR and LF all end a line in the event stream (WHATWG HTML §9.2.5)
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def format_sse_event(*, data_str: str | None = None, event: str | None = None, id: str | None = None,
                     retry: int | None = None, comment: str | None = None) -> bytes:
    """One event's bytes from its fields (``data_str`` already written), ending in a
    blank line: comment lines, then ``event``, ``data`` (one line each), ``id``, ``retry``."""
    out = [": " + line for line in _lines(comment)] if comment is not None else []
    if event is not None:
        out.append("event: " + event)
    if data_str is not None:
        out.extend("data: " + line for line in _lines(data_str))
    if id is not None:
        out.append("id: " + id)
    if retry is not None:
        out.append(f"retry: {retry}")
    if not out:
        return b"\n"
    return ("\n".join(out) + "\n\n").encode("utf-8")


def _event_encoder(item_write: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    as_json = item_json(item_write)

    def encode(item: Any) -> bytes:
        if not isinstance(item, ServerSentEvent):
            return format_sse_event(data_str=as_json(item).decode("utf-8"))
        if item.raw_data is not None:
            data: str | None = item.raw_data
        elif item.data is None:
            data = None
        elif isinstance(item.data, BaseModel):
            data = item.data.model_dump_json()
        else:
            data = json.dumps(finite(jsonable_encoder(item.data)))
        return format_sse_event(data_str=data, event=item.event, id=item.id, retry=item.retry, comment=item.comment)
    return encode


class EventSourceResponse(StreamingResponse):
    """``text/event-stream``: as a route's ``response_class``, its generator handler's
    items are sent as Server-Sent Events (see the module's docstring)."""

    media_type = "text/event-stream"
    _rb_stream = "sse"  # the plan's stream kind for a generator route of this class

    @classmethod
    def _rb_event_stream(cls, source: Any, item_write: Callable[[Any], bytes] | None,
                         status: int | None) -> StreamingResponse:
        """The answer of a generator route of this class (``source``: what the handler
        returned; ``item_write``: its declared item type's JSON writer)."""
        content = event_stream(source, _PING_INTERVAL, _event_encoder(item_write))
        out = StreamingResponse(content, status_code=status or 200, media_type="text/event-stream")
        out.headers.append(("Cache-Control", "no-cache"))
        out.headers.append(("X-Accel-Buffering", "no"))  # nginx: pass each event on at once
        return out


__all__ = ["EventSourceResponse", "ServerSentEvent", "format_sse_event", "KEEPALIVE_COMMENT"]
