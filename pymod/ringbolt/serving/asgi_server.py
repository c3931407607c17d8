"""ASGI 3 server mode (spec 2.4): any ASGI application (FastAPI, Starlette, Litestar,
Django's ASGI handler, a raw callable) served by ringbolt's reactors.

The reactors parse, route and frame; every request no ringbolt route takes goes to
``ASGIHandler`` as one call on the worker's event loop, with the request as a native
view. The scope is built natively in one pass (``Request._asgi_scope``). A response whose
body comes in one ``http.response.body`` message is answered at once, even if the app
goes on running (background tasks); a body sent in several messages becomes a streamed
response with the connection's backpressure (``await send`` waits while the output
queue is above its mark); ``http.response.pathsend`` is a native file response.

What the app does wrong is logged naming the violation: raising before the response
starts is a 500; raising (or returning) in the middle of a body cuts the response short
so the client can tell (no final chunk, then the close); a message out of order or of
the wrong type is a protocol error treated the same way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, MutableMapping

from .. import _native
from .. import _stream
from .._error_log import log_failure
from ..errors import ClientDisconnect
from .._tasks import _keep, complete, new_task
from ..response import FileResponse, Response, StreamingResponse
from ..websocket import WebSocketSettings, _await_receive, _await_send, _close

logger = logging.getLogger("ringbolt")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}

_DISCONNECT = {"type": "http.disconnect"}
# The adapters' own 500 (_error_500): the problem body of the native 500 (RFC 9457, the
# one error format); for an ASGI app that broke the protocol the connection is closed
# after it; a WSGI app that raised leaves it usable.
_ERROR_TYPE = (b"content-type", b"application/problem+json")
_ERROR_HEADERS = [_ERROR_TYPE, (b"connection", b"close")]
_ERROR_HEADERS_KEEP = [_ERROR_TYPE]

# Cycle states.
_INIT, _STARTED, _STREAMING, _DONE = 0, 1, 2, 3


class ASGIProtocolError(RuntimeError):
    """The application broke the ASGI protocol (message order or types)."""


class ClientDisconnected(ClientDisconnect):
    """``send`` after the client went away (an OSError, as ASGI 2.4 asks)."""


def _raw_response(body: Any, status: int, headers: Any) -> Response:
    # Skips Response.__init__: the native side validates status and headers (bytes or
    # str), and an empty content_type means "no default Content-Type".
    r = Response.__new__(Response)
    r.body = body
    r.status = status
    r.headers = headers
    r.content_type = ""
    return r


def _error_500(close: bool = True) -> Response:
    """The one 500 the ASGI and WSGI adapters build themselves, with the native 500's
    problem body: for an ASGI app that broke the protocol or returned without answering
    (an app that raised gets the native 500 through ``complete(..., exc)``), the
    connection closes after it; for a WSGI app that raised before its head (serving/wsgi_server.py),
    ``close=False``. (Also what releases a request whose client has left: nobody reads it.)"""
    return _raw_response(_native.PROBLEM_INTERNAL_ERROR, 500, _ERROR_HEADERS if close else _ERROR_HEADERS_KEEP)


class _Body:
    """The body of a streamed ASGI response: the native stream handle arrives through
    ``attach`` (called by ``ringbolt._stream.start_stream``) and the app's ``send`` writes
    to it directly, waiting when the connection's queue is above its mark."""

    __slots__ = ("handle", "loop", "_attached")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.handle: Any = None
        self.loop = loop
        self._attached: asyncio.Future[None] | None = None

    def attach(self, handle: Any) -> None:
        self.handle = handle
        if self._attached is not None and not self._attached.done():
            self._attached.set_result(None)

    async def _handle(self) -> Any:
        """The native handle, once start_stream has attached it."""
        if self.handle is None:
            self._attached = self.loop.create_future()
            await self._attached
        return self.handle

    async def write(self, chunk: bytes) -> None:
        handle = await self._handle()
        if not chunk:
            return
        state = handle.send_nowait(chunk)
        if state < 0:
            raise ClientDisconnected(400, "the client disconnected while the response was sent")
        if state > 0:
            waiter = self.loop.create_future()
            handle.set_waiter(waiter)
            await waiter
            if handle.closed:
                raise ClientDisconnected(400, "the client disconnected while the response was sent")

    async def end(self) -> None:
        (await self._handle()).end()

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.abort()
        else:  # not attached yet: cut it short as soon as it is
            self.handle = _AbortOnAttach()

    def close(self) -> None:
        """Called natively instead of ``start_stream`` when the request is HEAD: the head
        is sent on its own and no handle will ever come, so the app's body messages are
        dropped (its ``send`` returns at once) rather than waiting forever (any thread)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.attach(_DISCARD)
        else:
            self.loop.call_soon_threadsafe(self.attach, _DISCARD)


class _AbortOnAttach:
    closed = True

    def abort(self) -> None:
        pass


class _Discard:
    """The body handle of a HEAD response: takes everything, sends nothing."""

    closed = False

    def send_nowait(self, chunk: bytes) -> int:
        return 0

    def end(self) -> None:
        pass

    def abort(self) -> None:
        pass


_DISCARD = _Discard()


def _start_body_stream(content: _Body, handle: Any) -> None:
    """start_stream's hook for ASGI bodies (any thread)."""
    if isinstance(content.handle, _AbortOnAttach):
        handle.abort()
        return
    loop = content.loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        content.attach(handle)
    else:
        loop.call_soon_threadsafe(content.attach, handle)


class _Cycle(_native.ASGICycle):
    """One request and its response. ``send`` and ``receive`` are native
    (``_native.ASGICycle``): the common case (``http.response.start``, then the whole body
    in one ``http.response.body``; a body the server has read whole) completes at once,
    as an awaitable that is already done; every other message, a streamed request body
    and the wait for the end of the request come here (``_send``, ``_receive``).

    Native fields: ``req``, ``pending``, ``loop``, ``state``, ``status``, ``headers``,
    ``body`` (the streamed body, a ``_Body``), ``body_done``, ``disconnected``,
    ``finished`` (the future a receive waits on)."""

    __slots__ = ()

    # ---- receive ----
    async def _receive(self) -> Message:
        if not self.body_done:
            req = self.req
            handle = req._body_stream
            if handle is None:
                self.body_done = True
                return {"type": "http.request", "body": req.body, "more_body": False}
            while True:
                try:
                    chunk = handle.take()
                except ClientDisconnect:
                    self.body_done = True
                    self.disconnected = True
                    return _DISCONNECT
                if chunk is None:
                    waiter = self.loop.create_future()
                    handle.set_waiter(waiter)
                    await waiter
                    continue
                if not chunk:
                    self.body_done = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                return {"type": "http.request", "body": chunk, "more_body": True}
        # The body is read: the next event is the end of this request's life, the
        # response sent or the client gone (the native watch fails when the connection
        # closes or the client ends its side, as uvicorn treats it).
        watch = self.req._disconnect_watch
        while True:
            if self.state == _DONE or self.disconnected:
                return _DISCONNECT
            if watch is not None and watch.wait(0):  # ready once the client left or the answer went out
                try:
                    watch.take()  # b"": answered; no credit is sent once the watch has ended
                except ClientDisconnect:
                    self.disconnected = True
                return _DISCONNECT
            # A fresh future per wait: a cancelled receive (Starlette's
            # is_disconnected() polls with a cancelled scope) must not poison the next.
            waiter = self.finished = self.loop.create_future()
            if watch is not None:
                watch.set_waiter(waiter)
            await waiter

    def _finish(self) -> None:
        self.state = _DONE
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    # ---- send ----
    async def _send(self, message: Message) -> None:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise ASGIProtocolError(f"an ASGI message must be a dict with a 'type', got {message!r:.200}") from None
        state = self.state
        if kind == "http.response.body":
            if state == _STREAMING:
                body = message.get("body", b"")
                if type(body) is not bytes:
                    body = _check_body(body)
                if self.disconnected:
                    raise ClientDisconnected(400, "the client disconnected while the response was sent")
                try:
                    await self.body.write(body)
                    if not message.get("more_body", False):
                        await self.body.end()
                        self._finish()
                except ClientDisconnected:
                    self.disconnected = True
                    self._finish()
                    raise
                return
            if state == _STARTED:
                body = message.get("body", b"")
                if type(body) is not bytes:
                    body = _check_body(body)
                if not message.get("more_body", False):
                    self._finish()
                    complete(self.loop, self.pending, _raw_response(body, self.status, self.headers), None)
                    return
                stream = self.body = _Body(self.loop)
                self.state = _STREAMING
                r = StreamingResponse.__new__(StreamingResponse)
                r.content = stream  # type: ignore[assignment]  # a push body: start_stream attaches it, never iterates it
                r.status = self.status
                r.headers = self.headers
                r.content_type = None
                complete(self.loop, self.pending, r, None)
                await self._send(message)
                return
            raise ASGIProtocolError("'http.response.body' before 'http.response.start'" if state == _INIT
                                    else "'http.response.body' after the response was complete")
        if kind == "http.response.start":
            if state != _INIT:
                raise ASGIProtocolError("'http.response.start' sent twice")
            status = message.get("status")
            if type(status) is not int:
                raise ASGIProtocolError(f"'http.response.start' needs an int 'status', got {status!r:.100}")
            self.status = status
            self.headers = message.get("headers", ())
            self.state = _STARTED
            return
        if kind == "http.response.pathsend":
            if state != _STARTED:
                raise ASGIProtocolError("'http.response.pathsend' before 'http.response.start'" if state == _INIT
                                        else "'http.response.pathsend' after the body started")
            path = message.get("path")
            if not isinstance(path, str):
                raise ASGIProtocolError(f"'http.response.pathsend' needs a str 'path', got {path!r:.100}")
            file = FileResponse._as_sent(path, self.status, self.headers)
            self._finish()
            complete(self.loop, self.pending, file, None)
            return
        if kind == "http.response.trailers":
            raise ASGIProtocolError("'http.response.trailers': trailers were not announced (no 'trailers' in "
                                    "'http.response.start'; ringbolt does not offer the extension yet)")
        raise ASGIProtocolError(f"unknown ASGI message type {kind!r:.100} for an http scope")

    # ---- the end of the app's call ----
    def fail(self, exc: BaseException) -> None:
        state = self.state
        if self.disconnected and not isinstance(exc, ASGIProtocolError):
            # The client is gone and the app raised on learning it (Starlette turns the
            # OSError from send, or http.disconnect in request.body(), into its own
            # ClientDisconnect): a routine event, not an application error.
            self._finish()
            if state == _STREAMING:
                self.body.abort()
            elif state != _DONE:
                complete(self.loop, self.pending, _error_500(), None)
            logger.debug("ASGI application for %s %s raised %s after the client disconnected", self.req.method,
                         self.req.target, type(exc).__name__, exc_info=(type(exc), exc, exc.__traceback__))
            return
        if state in (_INIT, _STARTED):
            self._finish()
            if isinstance(exc, ASGIProtocolError):
                _log_protocol_error(self.req, exc)
                complete(self.loop, self.pending, _error_500(), None)
                return
            complete(self.loop, self.pending, None, exc)  # a 500 (HTTPError: its status), logged natively
            return
        if state == _STREAMING:
            self._finish()
            self.body.abort()
            if isinstance(exc, ClientDisconnected):
                return
        if isinstance(exc, ClientDisconnected):
            return
        if isinstance(exc, ASGIProtocolError):
            _log_protocol_error(self.req, exc)
            return
        log_failure(exc, "Exception in ASGI application after the response for %s %s started", self.req.method,
                    self.req.target)

    def returned(self) -> None:
        state = self.state
        if state == _DONE:
            return
        self._finish()
        if self.disconnected and state != _STREAMING:
            # It saw http.disconnect and gave up: normal, nothing to log; the answer only
            # releases the request (nobody is there to read it).
            complete(self.loop, self.pending, _error_500(), None)
            return
        if state == _STREAMING:
            logger.error("ASGI application returned before finishing the response body for %s %s "
                         "(the response is cut short)", self.req.method, self.req.target)
            self.body.abort()
            return
        logger.error("ASGI application returned without %s for %s %s",
                     "sending a response" if state == _INIT else "sending the response body",
                     self.req.method, self.req.target)
        complete(self.loop, self.pending, _error_500(), None)


def _asgi_path(path: str) -> str:
    """The native path keeps bytes that are not UTF-8 as lone surrogates (lossless, for
    ringbolt's own Request); an ASGI app fails on those as soon as it encodes the path
    (``quote()``, ``.encode()``: a 500 for ``/%FF``), so they become U+FFFD, as in
    uvicorn's ``unquote()``."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _check_body(body: Any) -> bytes:
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise ASGIProtocolError(f"'http.response.body' needs bytes for 'body', got {type(body).__name__}")


def _log_protocol_error(req: Any, exc: BaseException) -> None:
    logger.error("ASGI protocol error by the application for %s %s: %s", req.method, req.target, exc)


class ASGIHandler:
    """The server-side callable for one ASGI app: ``run(req, pending, loop)`` gives the
    coroutine the event loop starts as each request's task (``ringbolt.serving.aio``)."""

    _ringbolt_takes_pending = True

    def __init__(self, app: ASGIApp, *, root_path: str = "", scheme: str = "http",
                 server: tuple[str, int] | None = None) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.base: dict[str, Any] = {
            "type": "http",
            "asgi": ASGI_VERSION,
            "scheme": scheme,
            "root_path": root_path,
            "server": server,
            "extensions": {"http.response.pathsend": {}},
        }
        # run(req, pending, loop): the coroutine of one request's task, built natively
        # (scope, cycle; the app is called in the task's first step; when it ends, a
        # cancellation goes to cycle.fail, another exception to _failed, a return to
        # cycle.returned); WebSocket handshakes go to _run_websocket.
        self.run: Callable[[Any, Any, asyncio.AbstractEventLoop], Any] = _native.ASGICall(
            self, app, self.base, self.state, _Cycle, _asgi_path, asyncio.CancelledError)

    def set_server(self, host: str, port: int) -> None:
        self.base["server"] = (host, port)

    def _failed(self, cycle: _Cycle, exc: BaseException) -> None:
        """The app raised ``exc`` (not a cancellation): it reaches its request."""
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            logger.error("ASGI application raised %s for %s %s: answered 500; the server keeps serving "
                         "(stop it with SIGTERM)", type(exc).__name__, cycle.req.method, cycle.req.target)
        cycle.fail(exc)

    async def _run_websocket(self, req: Any, pending: Any, loop: asyncio.AbstractEventLoop) -> None:

        scope = req._asgi_scope(self.base)
        if not scope["path"].isascii():
            scope["path"] = _asgi_path(scope["path"])
        scope["type"] = "websocket"
        scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
        scope.pop("method", None)
        offered = b",".join(v for k, v in scope["headers"] if k == b"sec-websocket-protocol")
        scope["subprotocols"] = [p.strip().decode("latin-1") for p in offered.split(b",") if p.strip()]
        connection_facts = {k: v for k, v in scope["extensions"].items() if k in ("tls", "proxy_protocol")}
        # wss: the connection's TLS facts (asgiref TLS extension); a balancer's PROXY header
        scope["extensions"] = {"websocket.http.response": {}, **connection_facts}
        if self.state:
            scope["state"] = self.state.copy()
        settings = getattr(self, "ws_settings", None) or WebSocketSettings()
        cycle = _WebSocketCycle(req, pending, loop, settings)
        try:
            await self.app(scope, cycle.receive, cycle.send)
        except BaseException as exc:  # noqa: BLE001 - one app failure ends its WebSocket only
            cycle.failed(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            cycle.returned()


class _WebSocketCycle:
    """One ASGI ``websocket`` scope: the handshake (accept, close before accept = 403,
    or the ``websocket.http.response`` denial), then messages both ways."""

    __slots__ = ("req", "pending", "loop", "settings", "native", "connected", "closed", "deny_status",
                 "deny_headers", "deny_body", "denied", "close_code")

    def __init__(self, req: Any, pending: Any, loop: asyncio.AbstractEventLoop, settings: Any) -> None:
        self.req = req
        self.pending = pending
        self.loop = loop
        self.settings = settings
        self.native: Any = None
        self.connected = False  # websocket.connect was received
        self.closed = False  # the app sent websocket.close (or the handshake was refused)
        self.deny_status = 0
        self.deny_headers: Any = ()
        self.deny_body: list[bytes] = []
        self.denied = False
        self.close_code: int | None = None

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        native = self.native
        if native is None:
            if self.closed or self.denied:
                return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
            raise ASGIProtocolError("receive() after websocket.connect, before the app accepted or refused")

        message = await _await_receive(self.loop, native)
        kind = message[0]
        if kind == 1:
            return {"type": "websocket.receive", "text": message[1]}
        if kind == 2:
            return {"type": "websocket.receive", "bytes": message[1]}
        self.close_code = message[1]
        return {"type": "websocket.disconnect", "code": message[1], "reason": message[2]}

    async def send(self, message: Message) -> None:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise ASGIProtocolError(f"an ASGI message must be a dict with a 'type', got {message!r:.200}") from None
        native = self.native
        if native is not None:
            if kind == "websocket.send":
                text = message.get("text")
                data = message.get("bytes")
                if (text is None) == (data is None):
                    raise ASGIProtocolError("websocket.send needs exactly one of 'text' and 'bytes'")

                if not await _await_send(self.loop, native, text if text is not None else data):
                    raise ClientDisconnected(400, "the WebSocket is closed")
                return
            if kind == "websocket.close":
                if self.closed:
                    return
                self.closed = True

                _close(self.loop, native, message.get("code", 1000) or 1000, message.get("reason") or "")
                return
            raise ASGIProtocolError(f"{kind!r} after websocket.accept (expected websocket.send or websocket.close)")
        if self.closed or self.denied:
            raise ClientDisconnected(400, "the WebSocket handshake was already refused")
        if kind == "websocket.accept":

            headers = message.get("headers") or ()
            subprotocol = message.get("subprotocol")
            self.native = _native.ws_accept(self.pending, self.req, subprotocol, list(headers),
                                            self.settings.native())
            self.pending = None
            return
        if kind == "websocket.close":
            # Closed before accepting: the handshake is refused with 403 (ASGI spec).
            self.closed = True
            self._answer(_raw_response(b"", 403, ()))
            return
        if kind == "websocket.http.response.start":
            if self.deny_status:
                raise ASGIProtocolError("websocket.http.response.start sent twice")
            status = message.get("status")
            if not isinstance(status, int) or not 200 <= status <= 599:
                raise ASGIProtocolError(f"websocket.http.response.start needs a status 200-599, got {status!r}")
            self.deny_status = status
            self.deny_headers = message.get("headers") or ()
            return
        if kind == "websocket.http.response.body":
            if not self.deny_status:
                raise ASGIProtocolError("websocket.http.response.body before websocket.http.response.start")
            body = message.get("body", b"")
            self.deny_body.append(body if type(body) is bytes else _check_body(body))
            if not message.get("more_body", False):
                self.denied = True
                self._answer(_raw_response(b"".join(self.deny_body), self.deny_status, self.deny_headers))
            return
        raise ASGIProtocolError(f"unexpected ASGI message {kind!r} before websocket.accept")

    def _answer(self, response: Response) -> None:
        if self.pending is not None:
            complete(self.loop, self.pending, response, None)
            self.pending = None

    def failed(self, exc: BaseException) -> None:
        if self.pending is not None:
            # Before the handshake was answered: a 500 (as uvicorn answers it).
            complete(self.loop, self.pending, None, exc)
            self.pending = None
            return
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            logger.error("ASGI application failed on WebSocket %s: %r: closing with 1011", self.req.path, exc)
        elif not isinstance(exc, (asyncio.CancelledError, ClientDisconnected)):
            log_failure(exc, "ASGI application failed on WebSocket %s: %r: closing with 1011", self.req.path, exc)
        if self.native is not None and not self.native.closed:

            _close(self.loop, self.native, 1011, "")

    def returned(self) -> None:
        if self.pending is not None:
            # Returned without accepting or refusing: refused (403), as uvicorn does.
            self._answer(_raw_response(b"", 403, ()))
            return
        if self.native is not None and not self.native.closed:

            _close(self.loop, self.native, 1000, "")


# ---- lifespan ----


class LifespanError(RuntimeError):
    """The application's lifespan startup failed (``lifespan.startup.failed`` or an
    exception with ``--lifespan on``)."""


class Lifespan:
    """Runs the app's ``lifespan`` scope as one task on the worker's loop: ``startup()``
    returns when the app answered ``lifespan.startup.complete``; ``shutdown()`` sends the
    shutdown event and waits for the answer.

    ``mode``: ``"auto"`` (an app that raises before answering does not support lifespan:
    logged once, then served without it), ``"on"`` (that is a failed start-up) or
    ``"off"``."""

    def __init__(self, app: ASGIApp, mode: str, state: dict[str, Any]) -> None:
        if mode not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be auto, on or off, not {mode!r}")
        self.app = app
        self.mode = mode
        self.state = state
        self._events: asyncio.Queue[Message] | None = None
        self._started: asyncio.Future[str] | None = None
        self._stopped: asyncio.Future[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self.supported = mode != "off"

    async def startup(self) -> None:
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        self._started = loop.create_future()
        self._stopped = loop.create_future()
        await self._events.put({"type": "lifespan.startup"})
        self._task = loop.create_task(self._main())
        outcome = await self._started
        if outcome == "complete":
            return
        if outcome == "unsupported":
            self.supported = False
            return
        raise LifespanError(outcome)

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:  # noqa: BLE001
            if self._started is not None and not self._started.done():
                if self.mode == "auto":
                    logger.info("ASGI 'lifespan' protocol appears unsupported (%s: %s): serving without it",
                                type(exc).__name__, exc)
                    self._started.set_result("unsupported")
                else:
                    logger.error("Exception in ASGI lifespan startup", exc_info=(type(exc), exc, exc.__traceback__))
                    self._started.set_result(f"the application's lifespan startup raised {type(exc).__name__}: {exc}")
            else:
                logger.error("Exception in ASGI lifespan", exc_info=(type(exc), exc, exc.__traceback__))
                if self._stopped is not None and not self._stopped.done():
                    self._stopped.set_result("failed")
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if self._started is not None and not self._started.done():
                if self.mode == "auto":
                    # `if scope["type"] != "http": return` is how many apps say they have
                    # no lifespan: served without it, as uvicorn does.
                    logger.info("ASGI 'lifespan' protocol appears unsupported (the application returned "
                                "without answering lifespan.startup): serving without it")
                    self._started.set_result("unsupported")
                else:
                    self._started.set_result("the application's lifespan returned before startup completed")
            if self._stopped is not None and not self._stopped.done():
                self._stopped.set_result("returned")

    async def _receive(self) -> Message:
        assert self._events is not None
        return await self._events.get()

    async def _send(self, message: Message) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        assert self._started is not None and self._stopped is not None
        if kind == "lifespan.startup.complete" and not self._started.done():
            self._started.set_result("complete")
        elif kind == "lifespan.startup.failed" and not self._started.done():
            self._started.set_result(f"the application's lifespan startup failed: {message.get('message', '')}")
        elif kind == "lifespan.shutdown.complete" and not self._stopped.done():
            self._stopped.set_result("complete")
        elif kind == "lifespan.shutdown.failed" and not self._stopped.done():
            logger.error("ASGI lifespan shutdown failed: %s", message.get("message", ""))
            self._stopped.set_result("failed")
        else:
            raise ASGIProtocolError(f"unexpected lifespan message {message!r:.200}")

    async def shutdown(self) -> None:
        if not self.supported or self._task is None or self._events is None or self._stopped is None:
            return
        await self._events.put({"type": "lifespan.shutdown"})
        await self._stopped


_stream.set_asgi_body(_Body, _start_body_stream)  # what a streamed answer of an ASGI app is
