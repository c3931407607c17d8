"""A raw ASGI 3 application for tests/py/test_asgi.py: shows the scope it was given,
echoes what ``receive`` yields, streams with counters the tests read through a second
request, and breaks the protocol on purpose (one path per fault).

Lifespan behaviour comes from the environment: ``ASGI_LIFESPAN`` = ``ok`` (default),
``fail`` (``lifespan.startup.failed``), ``raise`` or ``return`` (two ways of not
speaking lifespan);
``ASGI_MARKER``: a file the shutdown writes."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import os
import time
from typing import Any
from urllib.parse import parse_qs

# Per-token records the tests read back with GET /state?token=...
RECORDS: dict[str, dict[str, Any]] = {}
MIB = 1 << 20


def _text(value: Any) -> Any:
    """JSON-able view of a scope value: bytes become {"b": latin-1 text}."""
    if isinstance(value, bytes):
        return {"b": value.decode("latin-1")}
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    return value


def _query(scope: dict[str, Any]) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}


async def _json(send: Any, obj: Any, status: int = 200) -> None:
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _text_response(send: Any, text: bytes, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text})


# ---- lifespan ----


async def _ticker(state: dict[str, Any]) -> None:
    while True:
        item = await state["queue"].get()
        state["ticks"] += 1
        item.set_result(state["ticks"])


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    mode = os.environ.get("ASGI_LIFESPAN", "ok")
    message = await receive()
    assert message["type"] == "lifespan.startup"
    if mode == "return":
        return  # how many raw apps say they have no lifespan
    if mode == "raise":
        raise RuntimeError("this app has no lifespan")
    if mode == "fail":
        await send({"type": "lifespan.startup.failed", "message": "the database is unreachable (on purpose)"})
        return
    state = scope["state"]
    state["started"] = "yes"
    state["loop_id"] = id(asyncio.get_running_loop())
    state["lock"] = asyncio.Lock()
    state["event"] = asyncio.Event()
    state["queue"] = asyncio.Queue()
    state["ticks"] = 0
    state["ticker"] = asyncio.get_running_loop().create_task(_ticker(state))
    await send({"type": "lifespan.startup.complete"})
    message = await receive()
    assert message["type"] == "lifespan.shutdown"
    state["ticker"].cancel()
    marker = os.environ.get("ASGI_MARKER")
    if marker:
        with open(marker, "w") as f:
            f.write(f"shutdown after {state['ticks']} ticks")
    await send({"type": "lifespan.shutdown.complete"})


# ---- http ----


async def scope_view(scope: dict[str, Any], receive: Any, send: Any) -> None:
    state = scope.get("state")
    view = {k: _text(v) for k, v in scope.items() if k not in ("state", "extensions")}
    view["extensions"] = sorted(scope.get("extensions") or {})
    view["state"] = None if state is None else {
        "started": state.get("started"),
        "leak": state.get("leak"),  # set by the previous /scope request's copy: must never show
        "keys": sorted(state),
    }
    if state is not None:
        state["leak"] = "mutated by an earlier request"
        state["started"] = "overwritten"
    await _json(send, view)


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    h = hashlib.sha256()
    sizes, more = [], []
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        h.update(message["body"])
        sizes.append(len(message["body"]))
        more.append(message.get("more_body", False))
        if not message.get("more_body", False):
            break
    await _json(send, {"sha256": h.hexdigest(), "bytes": sum(sizes), "sizes": sizes, "more": more})


async def after(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers, then waits for the next receive(): http.disconnect once the response is
    sent (the record says how long that took)."""
    rec = RECORDS.setdefault(_query(scope)["token"], {})
    await receive()  # the (empty) body
    await _text_response(send, b"answered")
    t0 = time.monotonic()
    message = await asyncio.wait_for(receive(), 10)
    rec["after"] = message["type"]
    rec["waited"] = time.monotonic() - t0


async def _record_next_message(rec: dict[str, Any], receive: Any, wait: float) -> None:
    """Waits up to `wait` seconds in receive(): the record tells it is waiting, then what
    came (a message type, or the exception that ended the wait)."""
    rec["waiting"] = True
    try:
        message = await asyncio.wait_for(receive(), wait)
        rec["after"] = message["type"]
    except BaseException as exc:
        rec["after"] = type(exc).__name__
        raise


async def wait_disconnect(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body, then waits in receive() without answering: the record says what
    came once the client left."""
    q = _query(scope)
    rec = RECORDS.setdefault(q["token"], {})
    while (await receive()).get("more_body"):
        pass
    await _record_next_message(rec, receive, float(q["wait"]))


async def upload_record(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body, recording the bytes and the last message type (http.disconnect
    when the client leaves mid-upload)."""
    rec = RECORDS.setdefault(_query(scope)["token"], {"bytes": 0})
    while True:
        message = await receive()
        rec["last"] = message["type"]
        if message["type"] != "http.request":
            return
        rec["bytes"] += len(message["body"])
        if not message.get("more_body"):
            break
    await _text_response(send, b"complete")


async def sleepy(scope: dict[str, Any], receive: Any, send: Any) -> None:
    delay = float(_query(scope)["s"])
    await asyncio.sleep(delay)
    await _text_response(send, str(delay).encode())


async def stream_listen(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Streams one chunk, then waits in receive() (a spec 2.3 disconnect listener, as
    event-stream apps have between events) instead of sending."""
    q = _query(scope)
    rec = RECORDS.setdefault(q["token"], {})
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first", "more_body": True})
    await _record_next_message(rec, receive, float(q["wait"]))


async def poll_disconnect(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Polls receive() with a short timeout (cancelled each time), as frameworks do to
    ask "is the client gone?", then answers with what each poll gave."""
    while (await receive()).get("more_body"):
        pass
    outcomes = []
    for _ in range(3):
        try:
            message = await asyncio.wait_for(receive(), 0.01)
            outcomes.append(message["type"])
        except asyncio.TimeoutError:
            outcomes.append("timeout")
    await _json(send, outcomes)


async def head_length(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Declares the length GET would have and, for HEAD, sends no body (as Starlette's
    FileResponse does)."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"1234")]})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else b"y" * 1234})


async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    q = _query(scope)
    n, size = int(q.get("n", "5")), int(q.get("size", "100"))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for i in range(n):
        await send({"type": "http.response.body", "body": bytes([65 + i % 26]) * size, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def big(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``total`` bytes in ``size`` chunks; the record counts what ``send`` accepted and
    what it raised."""
    q = _query(scope)
    rec = RECORDS.setdefault(q["token"], {})
    total, size = int(q["total"]), int(q["size"])
    rec.update(produced=0, in_send=False, error=None, done=False)
    chunk = b"x" * size
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    try:
        while rec["produced"] < total:
            rec["in_send"] = True
            rec["send_started"] = time.monotonic()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            rec["in_send"] = False
            rec["produced"] += size
        await send({"type": "http.response.body", "body": b""})
        rec["done"] = True
    except BaseException as exc:
        rec["in_send"] = False
        rec["error"] = {"type": type(exc).__name__, "oserror": isinstance(exc, OSError)}
        raise


async def state(scope: dict[str, Any], receive: Any, send: Any) -> None:
    rec = dict(RECORDS.get(_query(scope)["token"], {}))
    if rec.get("in_send"):
        rec["in_send_for"] = time.monotonic() - rec["send_started"]
    await _json(send, rec)


async def pathsend(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = _query(scope)["file"]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/x-test"), (b"x-sent-by", b"pathsend")]})
    await send({"type": "http.response.pathsend", "path": path})


async def resource(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Uses what lifespan created on its loop: a Lock, an Event, a Queue served by a
    task started at startup."""
    st = scope["state"]
    async with st["lock"]:
        done = asyncio.get_running_loop().create_future()
        await st["queue"].put(done)
        ticks = await asyncio.wait_for(done, 5)
    st["event"].set()
    await st["event"].wait()
    await _json(send, {"ticks": ticks, "same_loop": st["loop_id"] == id(asyncio.get_running_loop())})


# ---- faults, one per path ----


async def raise_before(scope, receive, send):
    raise ValueError("raised before the response started")


async def raise_after_start(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise ValueError("raised after http.response.start")


async def raise_mid_body(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("raised in the middle of the body")


async def body_before_start(scope, receive, send):
    await send({"type": "http.response.body", "body": b"too early"})


async def start_twice(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def status_str(scope, receive, send):
    await send({"type": "http.response.start", "status": "200", "headers": []})


async def body_str(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": "a str, not bytes"})


async def unknown_type(scope, receive, send):
    await send({"type": "http.response.bogus"})


async def returns_silently(scope, receive, send):
    return None


async def status_out_of_range(scope, receive, send):
    await send({"type": "http.response.start", "status": 1000, "headers": []})
    await send({"type": "http.response.body", "body": b"never sent"})


async def bad_header(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-split", b"a\r\nx-injected: 1")]})
    await send({"type": "http.response.body", "body": b"never sent"})


async def header_not_a_pair(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-one",)]})
    await send({"type": "http.response.body", "body": b"never sent"})


async def length_mismatch(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
    await send({"type": "http.response.body", "body": b"ten bytes!"})


async def body_after_end(scope, receive, send):
    await _text_response(send, b"complete")
    await send({"type": "http.response.body", "body": b"after the end"})


async def system_exit(scope, receive, send):
    await asyncio.sleep(0)
    raise SystemExit(3)


async def keyboard_interrupt(scope, receive, send):
    raise KeyboardInterrupt


async def method_echo(scope, receive, send):
    await _text_response(send, scope["method"].encode())


# ---- the task an app runs in (ringbolt starts it eagerly: its first step runs at once) ----

REQUEST_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_VAR")


async def task_identity(scope, receive, send):
    """?suspend=1: awaits once before answering. The record (``token``) says whether the
    task seen in the first step is the one after the await and the one that finished."""
    q = _query(scope)
    first = asyncio.current_task()
    record = RECORDS.setdefault(q["token"], {})
    record["seen_var"] = REQUEST_VAR.get("unset")  # nothing leaks in from other requests
    REQUEST_VAR.set(q["token"])
    first.add_done_callback(lambda task: record.update(done_task_is_first=task is first,
                                                       done_cancelled=task.cancelled()))
    if q.get("suspend"):
        await asyncio.sleep(0)
    await _json(send, {"has_task": first is not None, "same_after_await": asyncio.current_task() is first,
                       "var_kept": REQUEST_VAR.get() == q["token"],
                       "in_all_tasks": first in asyncio.all_tasks()})


async def cancel_self(scope, receive, send):
    """Cancels its own task: ?when=first (before any await), ?when=later (after one), or
    ?when=answered (after the whole response, then returns: the answer stands)."""
    when = _query(scope).get("when", "first")
    if when == "later":
        await asyncio.sleep(0)
    if when == "answered":
        await _text_response(send, b"answered")
        asyncio.current_task().cancel()
        return
    asyncio.current_task().cancel()
    await asyncio.sleep(0)
    await _text_response(send, b"not reached")


async def send_as_task(scope, receive, send):
    """send() and receive() results used as asyncio uses coroutines (?how=...)."""
    how = _query(scope)["how"]
    wrap = {"ensure_future": asyncio.ensure_future, "create_task": asyncio.create_task,
            "wait_for": lambda aw: asyncio.wait_for(aw, 5), "gather": asyncio.gather,
            "shield": asyncio.shield}[how]
    message = await wrap(receive())
    if how == "gather":
        message = message[0]
    body = json.dumps({"how": how, "received": message["type"], "body": message["body"].decode()}).encode()
    await wrap(send({"type": "http.response.start", "status": 200,
                     "headers": [(b"content-type", b"application/json")]}))
    await wrap(send({"type": "http.response.body", "body": body}))


async def header_block(scope, receive, send):
    """Headers built from the query: ?n= (x-n), ?cookie= (set-cookie), ?long= (a value of
    that many bytes), ?type= (content-type, default text/plain); the body names them."""
    q = _query(scope)
    headers = [(b"content-type", q.get("type", "text/plain").encode()), (b"x-n", q.get("n", "0").encode())]
    if "cookie" in q:
        headers.append((b"set-cookie", f"id={q['cookie']}".encode()))
    if "long" in q:
        headers.append((b"x-long", b"v" * int(q["long"])))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": scope["query_string"]})


ROUTES = {
    "/scope": scope_view, "/echo": echo, "/after": after, "/stream": stream, "/big": big, "/state": state, "/stream-listen": stream_listen, "/upload-record": upload_record, "/sleep": sleepy, "/head-length": head_length,
    "/wait-disconnect": wait_disconnect, "/poll-disconnect": poll_disconnect,
    "/pathsend": pathsend, "/resource": resource, "/raise-before": raise_before,
    "/raise-after-start": raise_after_start, "/raise-mid-body": raise_mid_body,
    "/body-before-start": body_before_start, "/start-twice": start_twice, "/status-str": status_str,
    "/body-str": body_str, "/unknown-type": unknown_type, "/returns-silently": returns_silently,
    "/status-out-of-range": status_out_of_range, "/bad-header": bad_header, "/header-not-a-pair": header_not_a_pair,
    "/length-mismatch": length_mismatch, "/body-after-end": body_after_end,
    "/system-exit": system_exit, "/keyboard-interrupt": keyboard_interrupt, "/method": method_echo,
    "/task": task_identity, "/header-block": header_block, "/cancel-self": cancel_self, "/send-as-task": send_as_task,
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    assert scope["type"] == "http", scope["type"]
    handler = ROUTES.get(scope["path"])
    if handler is None and scope["path"].startswith("/scope/"):
        handler = scope_view
    if handler is None:
        await _text_response(send, b"no such path", 404)
        return
    await handler(scope, receive, send)


# ---- apps whose __call__ is not async (asgiref-style wrappers) ----


class _Awaitable:
    """An awaitable that is not a coroutine."""

    def __init__(self, coro: Any) -> None:
        self.coro = coro

    def __await__(self) -> Any:
        return self.coro.__await__()


class SyncCall:
    """An ASGI app whose __call__ is a plain function that gives a coroutine (or, with
    ``wrap``, another awaitable): the call itself runs in the request's task too.
    /call-task answers whether it did; /call-raises raises in the call."""

    def __init__(self, inner: Any, wrap: bool) -> None:
        self.inner = inner
        self.wrap = wrap

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        path = scope.get("path")
        if path == "/call-raises":
            raise ValueError("raised by a plain __call__")
        if path == "/call-task":
            coro = self._call_task(asyncio.current_task(), send)
        else:
            coro = self.inner(scope, receive, send)
        return _Awaitable(coro) if self.wrap else coro

    async def _call_task(self, task: Any, send: Any) -> None:
        await _json(send, {"in_task": task is not None, "same": task is asyncio.current_task()})


# Served through ringbolt.asgi.asgi_app (`ringbolt serve` takes such a callable for WSGI).
def _served(inner: Any) -> Any:
    from ringbolt.asgi import asgi_app

    return asgi_app(inner)


sync_call_app = _served(SyncCall(app, wrap=False))
awaitable_app = _served(SyncCall(app, wrap=True))
