"""WebSocket for ringbolt handlers: ``@app.websocket(path)`` and the ``WebSocket`` a
handler gets. The protocol (framing, UTF-8, ping/pong, the close handshake,
permessage-deflate) runs natively on the reactor; this side awaits whole messages and
sends them, with flow control both ways: a handler that does not receive stops the
socket being read, and ``send`` waits while the client is behind."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable

from . import _native
from ._error_log import log_failure
from ._tasks import complete
from .response import Response

logger = logging.getLogger("ringbolt")

_TEXT, _BINARY, _CLOSE = 1, 2, 8


class WebSocketDisconnect(Exception):
    """The WebSocket closed: ``code`` is the client's close code (1005: its close frame
    had none), 1006 when the connection dropped without a close frame, 1001 when the
    server is shutting down, or the code the server failed it with (1002, 1007, 1009)."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"WebSocket closed with code {self.code}" + (f" ({self.reason})" if self.reason else "")


class WebSocketException(Exception):
    """Raised by a WebSocket handler or one of its dependencies to end the WebSocket with
    ``code`` (default 1008, policy violation): before ``accept`` the handshake is refused
    (403; the code is kept in ``ws.close_code``), after it the close frame says ``code``
    and ``reason``. Starlette's and FastAPI's ``WebSocketException``."""

    def __init__(self, code: int = 1008, reason: str | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


@dataclass(frozen=True)
class WebSocketSettings:
    """Per-server WebSocket limits (``ringbolt serve --ws-*``, ``App.run(ws_*=...)``)."""

    max_size: int = 16 * 1024 * 1024  # bytes of a message (after decompression): more closes 1009
    ping_interval: float = 20.0  # idle seconds before the server pings (0: never)
    ping_timeout: float = 20.0  # seconds a ping may go unanswered before close 1011 (0: wait)
    close_timeout: float = 5.0  # seconds the client has to answer our close frame
    per_message_deflate: bool = True  # accept permessage-deflate (RFC 7692) when offered
    read_window: int = 1024 * 1024  # received bytes not taken by the app before reading pauses

    def native(self) -> tuple[int, int, int, int, bool, int]:
        return (self.max_size, _seconds(self.ping_interval), _seconds(self.ping_timeout),
                max(1, _seconds(self.close_timeout)), self.per_message_deflate, self.read_window)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "WebSocketSettings":
        """Take the ``ws_*`` keys out of ``options`` (checked: a clear error names the bad one)."""
        kw: dict[str, Any] = {}
        for key, field in (("ws_max_size", "max_size"), ("ws_ping_interval", "ping_interval"),
                           ("ws_ping_timeout", "ping_timeout"), ("ws_close_timeout", "close_timeout"),
                           ("ws_per_message_deflate", "per_message_deflate")):
            if key in options:
                value = options.pop(key)
                if value is None:
                    continue
                if field == "per_message_deflate":
                    kw[field] = bool(value)
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number, not {value!r}")
                if field == "max_size" and (int(value) != value or value < 1):
                    raise ValueError(f"ws_max_size must be a positive integer (bytes), not {value!r}")
                kw[field] = int(value) if field == "max_size" else float(value)
        return cls(**kw)


def _seconds(value: float) -> int:
    # The reactor's clock is coarse (whole seconds): round up, so 0.5 does not mean never.
    whole = int(value)
    return whole + (1 if value > whole else 0)


# Messages to the reactor are staged with the loop's other answers and delivered once
# per loop iteration (one wake-up per reactor); the first staged one schedules that.
_flush = _native._flush_completions


async def _await_receive(loop: asyncio.AbstractEventLoop, native: Any) -> tuple[Any, ...]:
    """(1, str, _), (2, bytes, _) or (8, code, reason)."""
    while True:
        message = native.receive()
        if message is not None:
            if message[0] != _CLOSE and message[2]:
                loop.call_soon(_flush)  # credit for the reader was staged
            return message  # type: ignore[no-any-return]
        waiter = loop.create_future()
        native.set_receive_waiter(waiter)
        await waiter


async def _await_send(loop: asyncio.AbstractEventLoop, native: Any, data: Any) -> bool:
    """Send one message; False when the WebSocket is closed."""
    state = native.send(data)
    if state < 0:
        return False
    if state >= 2:
        loop.call_soon(_flush)
        state -= 2
    if state > 0:
        waiter = loop.create_future()
        native.set_send_waiter(waiter)
        await waiter
        return not native.closed
    return True


def _close(loop: asyncio.AbstractEventLoop, native: Any, code: int, reason: str) -> None:
    if native.close(code, reason):
        loop.call_soon(_flush)


class WebSocket:
    """A WebSocket handshake, then the open WebSocket (the argument of an
    ``@app.websocket`` handler). The request's facets are here too: ``params``,
    ``headers``, ``query``, ``path``, ``client``, ``cookies``."""

    def __init__(self, req: Any, pending: Any, loop: asyncio.AbstractEventLoop, settings: WebSocketSettings) -> None:
        self._req = req
        self._pending = pending
        self._loop = loop
        self._settings = settings
        self._native: Any = None
        self._accepted = False
        self._refused = False
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    # ---- the handshake request ----
    @property
    def params(self) -> dict[str, Any]:
        return self._req.params  # type: ignore[no-any-return]

    @property
    def headers(self) -> Any:
        return self._req.headers

    @property
    def query(self) -> Any:
        return self._req.query

    query_params = query  # Starlette's names
    path_params = params

    @property
    def path(self) -> str:
        return self._req.path  # type: ignore[no-any-return]

    @property
    def client(self) -> Any:
        return self._req.client

    @property
    def tls(self) -> Any:
        """The connection's TLS facts (``ringbolt._native.TLSInfo``) over wss, else None."""
        return self._req.tls

    @property
    def proxy_protocol(self) -> dict[str, Any] | None:
        """What a load balancer's PROXY header said of the connection (--proxy-protocol), as
        ``Request.proxy_protocol``; None without one."""
        return self._req.proxy_protocol  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        url: str = self._req.url
        return "ws" + url[4:] if url.startswith("http") else url

    @property
    def origin(self) -> str | None:
        return self._req.headers.get("origin")  # type: ignore[no-any-return]

    @property
    def subprotocols(self) -> list[str]:
        """What the client offered in Sec-WebSocket-Protocol, in its order."""
        offered = ",".join(self._req.headers.getlist("sec-websocket-protocol"))
        return [p.strip() for p in offered.split(",") if p.strip()]

    @property
    def cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for header in self._req.headers.getlist("cookie"):
            for part in header.split(";"):
                name, sep, value = part.strip().partition("=")
                if sep and name and name not in jar:
                    jar[name] = value.strip('"')
        return jar

    @property
    def accepted(self) -> bool:
        return self._accepted

    @staticmethod
    def _rb_from_request(native: Any, app: Any) -> "WebSocket":
        """The WebSocket a typed WebSocket endpoint's parameter names (``ws: WebSocket``)."""
        ws = native.__dict__.get("_rb_websocket")
        if ws is None:
            raise RuntimeError("a WebSocket parameter is for WebSocket endpoints (@app.websocket), not HTTP routes")
        return ws  # type: ignore[no-any-return]

    # ---- the transport: the native channel (subclassed for other ASGI servers) ----
    async def _accept_raw(self, subprotocol: str | None, headers: list[tuple[Any, Any]]) -> None:
        self._native = _native.ws_accept(self._pending, self._req, subprotocol, headers, self._settings.native())
        self._pending = None

    async def _receive_raw(self) -> tuple[Any, ...]:
        """(1, str, _), (2, bytes, _) or (8, code, reason)."""
        return await _await_receive(self._loop, self._native)

    async def _send_raw(self, data: str | bytes) -> int | None:
        """None when sent; else the close code (the WebSocket is closed)."""
        if await _await_send(self._loop, self._native, data):
            return None
        return self._native.close_code or 1006

    async def _close_raw(self, code: int, reason: str) -> None:
        _close(self._loop, self._native, code, reason)

    def _closed_raw(self) -> bool:
        return bool(self._native.closed)

    async def _deny_raw(self, status: int) -> None:
        if self._pending is not None:
            complete(self._loop, self._pending, Response(b"", status=status), None)
            self._pending = None

    # ---- the open WebSocket ----
    async def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[Any, Any]] = ()) -> None:
        """Answer the handshake (101). ``subprotocol``: one the client offered."""
        if self._accepted or self._refused:
            raise RuntimeError("the WebSocket handshake was already answered")
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client ({self.subprotocols})")
        await self._accept_raw(subprotocol, list(headers))
        self._accepted = True
        self.subprotocol = subprotocol

    def _check_open(self) -> None:
        if not self._accepted:
            raise RuntimeError("accept() the WebSocket before receiving or sending")

    async def receive(self) -> str | bytes:
        """The next message: ``str`` (text) or ``bytes`` (binary). Raises
        ``WebSocketDisconnect`` once the WebSocket is closed."""
        native = self._native
        if native is not None:  # accepted on ringbolt's own transport: straight to it
            message = await _await_receive(self._loop, native)
        else:  # not accepted yet (an error), or another ASGI server's transport
            self._check_open()
            message = await self._receive_raw()
        if message[0] == _CLOSE:
            self.close_code = message[1]
            raise WebSocketDisconnect(message[1], message[2])
        return message[1]  # type: ignore[no-any-return]

    async def receive_text(self) -> str:
        data = await self.receive()
        if not isinstance(data, str):
            raise TypeError("expected a text message, got a binary one")
        return data

    async def receive_bytes(self) -> bytes:
        data = await self.receive()
        if not isinstance(data, bytes):
            raise TypeError("expected a binary message, got a text one")
        return data

    async def receive_json(self, mode: str = "text") -> Any:
        """The next message as JSON: a text one (``mode="text"``) or a binary one."""
        data = await (self.receive_text() if mode == "text" else self.receive_bytes())
        return json.loads(data)

    async def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the client closes (Starlette's ``iter_text``)."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    async def send(self, data: str | bytes) -> None:
        """Send ``str`` as a text message, ``bytes`` as binary; waits while the client is
        behind. Raises ``WebSocketDisconnect`` once the WebSocket is closed."""
        native = self._native
        if native is None:
            self._check_open()
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"a WebSocket message is str (text) or bytes (binary), not {type(data).__name__}")
        if native is not None:
            # ringbolt's own transport, _await_send inlined: a message is one native call
            # and, unless the client is behind, no await at all.
            state = native.send(data)
            if state >= 0:
                if state >= 2:
                    self._loop.call_soon(_flush)
                    state -= 2
                if state == 0:
                    return
                waiter = self._loop.create_future()
                native.set_send_waiter(waiter)
                await waiter
                if not native.closed:
                    return
            code = native.close_code or 1006
        else:
            code = await self._send_raw(data)
            if code is None:
                return
        self.close_code = code
        raise WebSocketDisconnect(code)

    async def send_text(self, data: str) -> None:
        if not isinstance(data, str):
            raise TypeError(f"send_text takes str, not {type(data).__name__}")
        await self.send(data)

    async def send_bytes(self, data: bytes) -> None:
        if isinstance(data, str):
            raise TypeError("send_bytes takes bytes, not str")
        await self.send(data)

    async def send_json(self, data: Any, mode: str = "text", *, binary: bool = False) -> None:
        """``data`` as JSON, in a text message (or binary: ``mode="binary"``, ``binary=True``)."""
        encoded: bytes = _native.json_dumps(data)  # ringbolt's JSON writer, as for returned dicts
        await self.send(encoded if binary or mode == "binary" else encoded.decode())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send the close frame (the connection ends once the client answers it, or after
        the close timeout). Before ``accept`` it refuses the handshake with 403 (the code
        and reason are kept in ``close_code`` and ``close_reason``: an HTTP answer has no
        place for them)."""
        if not self._accepted:
            if not self._refused:
                self.close_code, self.close_reason = code, reason
            await self.deny(403)
            return
        await self._close_raw(code, reason)

    async def deny(self, status: int = 403) -> None:
        """Refuse the handshake with an HTTP status (before ``accept``)."""
        if self._accepted:
            raise RuntimeError("the WebSocket is accepted: close() it instead")
        if not self._refused:
            self._refused = True
            await self._deny_raw(status)

    def __aiter__(self) -> "WebSocket":
        """Messages until the client closes (a normal close ends the iteration)."""
        return self

    async def __anext__(self) -> str | bytes:
        # The loop of `async for message in ws`, one coroutine deep on ringbolt's own
        # transport. An async generator over receive() was four deep: with send() also
        # inlined, an echo costs 23,400 instructions of Python instead of 30,300
        # (callgrind, a fake channel).
        native = self._native
        if native is not None:
            loop = self._loop
            message = native.receive()
            while message is None:
                waiter = loop.create_future()
                native.set_receive_waiter(waiter)
                await waiter
                message = native.receive()
            if message[0] != _CLOSE:
                if message[2]:
                    loop.call_soon(_flush)  # credit for the reader was staged
                return message[1]  # type: ignore[no-any-return]
            self.close_code = message[1]
            exc = WebSocketDisconnect(message[1], message[2])
        else:
            try:
                return await self.receive()
            except WebSocketDisconnect as e:
                exc = e
        if exc.code in (1000, 1001, 1005):
            raise StopAsyncIteration
        raise exc


async def run_handler(ws: WebSocket, handler: Callable[[WebSocket], Any], path: str) -> None:
    """Run an ``@app.websocket`` handler: a disconnect ends it quietly; a failure is 500
    before ``accept`` (``BaseException`` re-raised) and close 1011 after; returning
    without accepting refuses with 403; returning while open closes with 1000."""
    try:
        await handler(ws)
    except WebSocketDisconnect:
        pass  # the client left: nothing more to say
    except WebSocketException as exc:  # the handler's own way to end it: its code
        still_open = not ws._closed_raw() if ws._accepted else not ws._refused
        if still_open:
            await ws.close(exc.code, exc.reason)
        return
    except BaseException as exc:  # noqa: BLE001 - one handler's failure closes its WebSocket only
        if not ws._accepted and not ws._refused:
            raise  # the caller answers the handshake with 500
        if ws._accepted:
            if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                logger.error("WebSocket handler for %s failed: %r: closing with 1011", path, exc)
            else:
                log_failure(exc, "WebSocket handler for %s failed: %r: closing with 1011", path, exc)
            if not ws._closed_raw():
                await ws._close_raw(1011, "")
        if isinstance(exc, asyncio.CancelledError):
            raise
        return
    if not ws._accepted:
        await ws.deny(403)  # returned without accepting: the handshake is refused
    elif not ws._closed_raw():
        await ws._close_raw(1000, "")


async def close_invalid(ws: WebSocket, exc: Any) -> None:
    """A handshake whose parameters are refused: closed with 1008 (policy violation), the
    errors as the reason, as FastAPI does (before ``accept``: refused, the code kept)."""
    reason = json.dumps(exc.errors(), default=str)
    await ws.close(1008, reason if len(reason.encode()) <= 123 else "")


def typed_endpoint(run: Callable[[Any], Any],
                   on_invalid: Callable[[WebSocket, Any], Any] = close_invalid) -> Callable[[WebSocket], Any]:
    """The handler of a typed WebSocket endpoint: ``run`` is its plan's runner (the
    parameters read from the handshake request, the dependencies called, then the
    handler, given the WebSocket by its annotation); a request its parameters refuse goes
    to ``on_invalid(ws, exc)``."""
    from .typed.problem import RequestValidationError

    async def endpoint(ws: WebSocket) -> None:
        ws._req.__dict__["_rb_websocket"] = ws
        try:
            await run(ws._req)
        except RequestValidationError as exc:
            await on_invalid(ws, exc)
    endpoint.__qualname__ = getattr(run, "__qualname__", "endpoint")
    return endpoint


class WebSocketRoute:
    """The server-side callable of one ``@app.websocket`` handler (started on the event
    loop with the handshake request and its pending answer)."""

    _ringbolt_takes_pending = True

    def __init__(self, handler: Callable[[WebSocket], Any], settings: WebSocketSettings) -> None:
        self.handler = handler
        self.settings = settings

    async def run(self, req: Any, pending: Any, loop: asyncio.AbstractEventLoop) -> None:
        ws = WebSocket(req, pending, loop, self.settings)
        try:
            await run_handler(ws, self.handler, req.path)
        except BaseException as exc:  # noqa: BLE001 - failed before answering the handshake: 500
            if ws._pending is not None:
                complete(loop, ws._pending, None, exc)
                ws._pending = None
            if isinstance(exc, asyncio.CancelledError):
                raise


class _BothWays:
    """One native target for a path a WebSocket endpoint and an HTTP GET route share: a
    handshake (``req._websocket``) goes to the endpoint, a plain request to the route,
    answered as any async route's request is."""

    _ringbolt_takes_pending = True

    def __init__(self, socket: WebSocketRoute, http: Callable[[Any], Any]) -> None:
        self.socket = socket
        self.http = http

    def run(self, req: Any, pending: Any, loop: asyncio.AbstractEventLoop) -> Any:
        if req._websocket:
            return self.socket.run(req, pending, loop)
        return _native.answer(loop, self.http, req, pending)


def both_ways(socket: WebSocketRoute, http: Callable[[Any], Any], is_async: bool) -> _BothWays:
    """``_BothWays`` of ``socket`` and the route's ``http`` handler (a sync one is called on
    the loop, as a route under async middleware is)."""
    if is_async:
        return _BothWays(socket, http)

    async def http_on_loop(req: Any) -> Any:
        return http(req)
    return _BothWays(socket, http_on_loop)
