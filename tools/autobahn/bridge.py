"""Owns: the bridge that lets Autobahn|Testsuite, which speaks only HTTP/1.1, run its
cases over WebSocket-over-HTTP/2 streams (RFC 8441) and over HTTP/3 (RFC 9220).

    python3 tools/autobahn/bridge.py --server ws://127.0.0.1:9201/ [--via h2] [--listen 127.0.0.1:0]

The bridge listens on 127.0.0.1 and wstest connects to it as if it were the server. For
each Autobahn connection it reads the HTTP/1.1 Upgrade request and opens an extended
CONNECT stream (`:method CONNECT`, `:protocol websocket`) to the server, passing on
Sec-WebSocket-Version, -Extensions (permessage-deflate is negotiated end to end) and
-Protocol. On `:status 200` it answers Autobahn `101 Switching Protocols` with the
server's Sec-WebSocket-Extensions/-Protocol and then relays the raw WebSocket bytes both
ways unchanged: Autobahn's bytes become DATA on the stream, the stream's DATA goes to
Autobahn. Autobahn closing its socket ends the stream (END_STREAM; RST_STREAM if the
socket was reset); the server ending the stream closes Autobahn's socket once the bytes
before it are written; a reset stream closes it at once. Any other status is answered
to Autobahn as it came, and the socket closed.

HTTP/2: ONE cleartext prior-knowledge connection carries every stream; a new one is
opened only when the old one is gone (GOAWAY, closed) or full. The bridge waits for the
server's SETTINGS and refuses to start unless SETTINGS_ENABLE_CONNECT_PROTOCOL is 1.
Flow control is end to end: received DATA is acknowledged only once it has been
written to Autobahn's socket (and drained), and sends wait for the send window.

Transports are pluggable: `Transport.open()` gives a `Tunnel` (send / receive /
consumed / end / reset). `H2Transport` uses python-h2; `H3Transport` uses aioquic's
H3Connection over QUIC (`--via h3`, the server URL then names the HTTPS port, e.g.
wss://127.0.0.1:8443/). It refuses to start unless the server's HTTP/3 SETTINGS carry
SETTINGS_ENABLE_CONNECT_PROTOCOL (0x08), which ringbolt sends with `--http3` when a
route takes WebSockets.

On start the bridge prints one line, `bridge: listening on ws://HOST:PORT/PATH`, to
stdout; everything else goes to stderr. SIGINT/SIGTERM stop it after a last line of
counts (connections, streams, resets). tools/autobahn/run.py --via h2 runs it.
"""
from __future__ import annotations

import abc
import argparse
import asyncio
import base64
import contextlib
import hashlib
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FORWARDED = ("sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol")
ANSWERED = {"sec-websocket-extensions": "Sec-WebSocket-Extensions", "sec-websocket-protocol": "Sec-WebSocket-Protocol"}
READ_CHUNK = 65536
SETTINGS_TIMEOUT = 10.0
# After Autobahn closed its side, how long the server may take to end its side too.
END_GRACE = 10.0
H2_STREAM_WINDOW = 1 << 20
H2_CONNECTION_WINDOW = 16 << 20
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 426: "Upgrade Required",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class BridgeError(Exception):
    """The server cannot carry WebSocket streams (no extended CONNECT, unreachable)."""


class TunnelReset(Exception):
    """The stream was reset or its connection went away."""


@dataclass
class Counts:
    connections: int = 0
    streams: int = 0
    most_at_once: int = 0
    server_resets: int = 0
    bridge_resets: int = 0
    non_200: int = 0
    open_now: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self, via: str) -> str:
        return (f"bridge: {via}: {self.connections} connection(s) carried {self.streams} stream(s), "
                f"at most {self.most_at_once} at once; {self.server_resets} reset by the server, "
                f"{self.bridge_resets} by the bridge, {self.non_200} answered other than 200")


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ the transport interface

class Tunnel(abc.ABC):
    """One extended-CONNECT stream. `receive` gives the peer's bytes, None once it ended
    the stream, and raises TunnelReset if it was reset; `consumed(n)` returns n received
    bytes of flow-control credit; `send` waits for the send window."""

    stream_id: int

    @abc.abstractmethod
    async def send(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def receive(self) -> bytes | None: ...

    @abc.abstractmethod
    def consumed(self, n: int) -> None: ...

    @abc.abstractmethod
    def end(self) -> None: ...

    @abc.abstractmethod
    def reset(self) -> None: ...


class Transport(abc.ABC):
    """Connections to one server that open extended-CONNECT WebSocket streams."""

    name = "?"

    def __init__(self, url: str, counts: Counts) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
        self.authority = parts.netloc
        self.counts = counts

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect once and check that the server accepts extended CONNECT."""

    @abc.abstractmethod
    async def open(self, path: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], Tunnel]:
        """Open a stream: (status, response headers, tunnel)."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class _Inbox:
    """Received bytes, END_STREAM (None) or a reset, in order, for one tunnel."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None | TunnelReset] = asyncio.Queue()
        self.answer: asyncio.Future[tuple[int, dict[str, str]]] = asyncio.get_running_loop().create_future()
        self.ended = False  # END_STREAM or reset seen
        self.was_reset = False

    def headers(self, pairs: list[tuple[bytes, bytes]]) -> None:
        fields = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in pairs}
        if not self.answer.done():
            self.answer.set_result((int(fields.get(":status", "0")), fields))

    def data(self, data: bytes) -> None:
        if not self.ended:
            self.queue.put_nowait(data)

    def finish(self, reset: TunnelReset | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        self.was_reset = reset is not None
        if not self.answer.done():
            self.answer.set_exception(reset or TunnelReset("the stream ended before its response"))
        self.queue.put_nowait(reset)

    async def get(self) -> bytes | None:
        item = await self.queue.get()
        if isinstance(item, TunnelReset):
            raise item
        return item


# ------------------------------------------------------------------ HTTP/2 (python-h2)

class _H2Conn:
    """One HTTP/2 connection and the tunnels on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counts: Counts) -> None:
        import h2.config
        import h2.connection
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.reader, self.writer, self.counts = reader, writer, counts
        self.tunnels: dict[int, _H2Tunnel] = {}
        self.dead: str | None = None  # why it is closed
        self.goaway: str | None = None  # why it takes no new streams
        self.settings: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.window_changed = asyncio.Event()
        self.pump: asyncio.Task[None] | None = None

    def flush(self) -> None:
        out = self.h2.data_to_send()
        if out and not self.dead:
            self.writer.write(out)

    def wake_senders(self) -> None:
        self.window_changed.set()
        self.window_changed = asyncio.Event()

    async def start(self) -> None:
        from h2.settings import SettingCodes, Settings
        # sent in the first SETTINGS frame, so in force before the first stream
        values = {SettingCodes(k): v for k, v in self.h2.local_settings.items()}
        values |= {SettingCodes.INITIAL_WINDOW_SIZE: H2_STREAM_WINDOW, SettingCodes.ENABLE_PUSH: 0}
        self.h2.local_settings = Settings(client=True, initial_values=values)
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(H2_CONNECTION_WINDOW - 65535)
        self.flush()
        self.pump = asyncio.create_task(self.read_loop())
        try:
            await asyncio.wait_for(asyncio.shield(self.settings), SETTINGS_TIMEOUT)
        except TimeoutError:
            raise BridgeError(f"no HTTP/2 SETTINGS from the server within {SETTINGS_TIMEOUT:.0f} s "
                              "(is h2c prior knowledge on?)") from None
        if self.h2.remote_settings.enable_connect_protocol != 1:
            raise BridgeError("the server's HTTP/2 SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL=1: "
                              "it does not accept RFC 8441 extended CONNECT")

    async def read_loop(self) -> None:
        import h2.events
        import h2.exceptions
        why = "the server closed the connection"
        try:
            while True:
                data = await self.reader.read(READ_CHUNK)
                if not data:
                    break
                try:
                    events = self.h2.receive_data(data)
                except h2.exceptions.ProtocolError as exc:
                    why = f"HTTP/2 protocol error from the server: {exc!r}"
                    log(f"bridge: {why}")
                    self.flush()
                    break
                for ev in events:
                    self.dispatch(ev)
                self.flush()
        except ConnectionError as exc:
            why = f"connection error: {exc!r}"
        except Exception as exc:  # a bug here must not leave every stream hanging
            why = f"bridge error: {exc!r}"
            log(f"bridge: {why}")
        finally:
            self.fail(why)

    def dispatch(self, ev: Any) -> None:
        import h2.events as e
        tunnel = self.tunnels.get(getattr(ev, "stream_id", 0) or 0)
        if isinstance(ev, e.RemoteSettingsChanged):
            if not self.settings.done():
                self.settings.set_result(None)
            self.wake_senders()
        elif isinstance(ev, e.WindowUpdated):
            self.wake_senders()
        elif isinstance(ev, e.ResponseReceived) and tunnel:
            tunnel.inbox.headers(list(ev.headers or []))
        elif isinstance(ev, e.DataReceived):
            data = ev.data or b""
            flow = ev.flow_controlled_length or 0
            if tunnel and not tunnel.inbox.ended:
                if flow > len(data):  # padding: nobody writes it anywhere
                    self.h2.acknowledge_received_data(flow - len(data), ev.stream_id or 0)
                tunnel.inbox.data(data)
            elif flow:
                self.h2.acknowledge_received_data(flow, ev.stream_id or 0)
        elif isinstance(ev, e.StreamEnded) and tunnel:
            tunnel.inbox.finish()
            tunnel.forget_if_done()
        elif isinstance(ev, e.StreamReset) and tunnel:
            self.counts.server_resets += 1
            log(f"bridge: h2 stream {tunnel.stream_id}: reset by the server (error code {ev.error_code!r})")
            tunnel.inbox.finish(TunnelReset(f"reset by the server ({ev.error_code!r})"))
            tunnel.sent_end = True
            tunnel.forget_if_done()
            self.wake_senders()  # a send waiting for this stream's window gives up
        elif isinstance(ev, e.ConnectionTerminated):
            # streams up to last_stream_id may finish; no new ones on this connection
            self.goaway = f"GOAWAY from the server ({ev.error_code!r}, last stream {ev.last_stream_id})"
            log(f"bridge: {self.goaway}")
            for sid, t in list(self.tunnels.items()):
                if ev.last_stream_id is None or sid > ev.last_stream_id:
                    t.inbox.finish(TunnelReset(self.goaway))
            self.wake_senders()

    def fail(self, why: str) -> None:
        if not self.dead:
            self.dead = why
        if not self.settings.done():
            self.settings.set_exception(BridgeError(f"no HTTP/2 SETTINGS from the server: {why}"))
        for t in list(self.tunnels.values()):
            t.inbox.finish(TunnelReset(why))
        self.tunnels.clear()
        self.wake_senders()
        self.writer.close()

    def usable(self) -> bool:
        return (not self.dead and not self.goaway
                and self.h2.open_outbound_streams < self.h2.remote_settings.max_concurrent_streams)


class _H2Tunnel(Tunnel):
    def __init__(self, conn: _H2Conn, stream_id: int) -> None:
        self.conn, self.stream_id = conn, stream_id
        self.inbox = _Inbox()
        self.sent_end = False

    def forget_if_done(self) -> None:
        if self.inbox.ended and self.sent_end:
            self.conn.tunnels.pop(self.stream_id, None)

    async def send(self, data: bytes) -> None:
        conn, view = self.conn, memoryview(data)
        while view:
            if self.inbox.was_reset or conn.dead or self.sent_end:
                raise TunnelReset(conn.dead or "the stream is closed")
            try:
                window = conn.h2.local_flow_control_window(self.stream_id)
            except Exception as exc:  # the stream is closed for sending (reset)
                raise TunnelReset(repr(exc)) from None
            if window <= 0:
                await conn.window_changed.wait()
                continue
            n = min(window, conn.h2.max_outbound_frame_size, len(view))
            conn.h2.send_data(self.stream_id, bytes(view[:n]))
            conn.flush()
            view = view[n:]
            if conn.writer.transport.get_write_buffer_size() > H2_STREAM_WINDOW:
                await conn.writer.drain()

    async def receive(self) -> bytes | None:
        return await self.inbox.get()

    def consumed(self, n: int) -> None:
        if n and not self.conn.dead:
            self.conn.h2.acknowledge_received_data(n, self.stream_id)
            self.conn.flush()

    def end(self) -> None:
        import h2.exceptions
        if self.sent_end or self.conn.dead:
            return
        self.sent_end = True
        try:
            self.conn.h2.end_stream(self.stream_id)
            self.conn.flush()
        except h2.exceptions.H2Error:
            pass  # reset meanwhile
        self.forget_if_done()

    def reset(self) -> None:
        import h2.errors
        import h2.exceptions
        if self.conn.dead or (self.inbox.ended and self.sent_end):
            return
        self.conn.counts.bridge_resets += 1
        self.sent_end = True
        self.inbox.finish(TunnelReset("reset by the bridge"))
        try:
            self.conn.h2.reset_stream(self.stream_id, h2.errors.ErrorCodes.CANCEL)
            self.conn.flush()
        except h2.exceptions.H2Error:
            pass
        self.conn.wake_senders()
        self.forget_if_done()


class H2Transport(Transport):
    """RFC 8441 over cleartext HTTP/2 with prior knowledge; one shared connection."""

    name = "h2"

    def __init__(self, url: str, counts: Counts) -> None:
        super().__init__(url, counts)
        self.conn: _H2Conn | None = None
        self.lock = asyncio.Lock()

    async def _connect(self) -> _H2Conn:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise BridgeError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        conn = _H2Conn(reader, writer, self.counts)
        try:
            await conn.start()
        except BaseException:
            conn.fail("start-up failed")
            raise
        self.counts.connections += 1
        if self.counts.connections > 1:
            why = self.conn and (self.conn.dead or self.conn.goaway or "full")
            log(f"bridge: h2 connection #{self.counts.connections} (the previous one: {why})")
        return conn

    async def start(self) -> None:
        self.conn = await self._connect()

    async def open(self, path: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], Tunnel]:
        async with self.lock:
            if self.conn is None or not self.conn.usable():
                self.conn = await self._connect()
            conn = self.conn
            sid = conn.h2.get_next_available_stream_id()
            tunnel = _H2Tunnel(conn, sid)
            conn.tunnels[sid] = tunnel
            request = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                       (":path", path), (":authority", self.authority)] + headers
            conn.h2.send_headers(sid, [(k.encode(), v.encode("latin-1")) for k, v in request])
            conn.flush()
        self.counts.streams += 1
        status, fields = await tunnel.inbox.answer
        return status, fields, tunnel

    async def close(self) -> None:
        if self.conn and not self.conn.dead:
            self.conn.h2.close_connection()
            self.conn.flush()
            self.conn.fail("the bridge closed it")


# ------------------------------------------------------------------ HTTP/3 (aioquic)

class _H3Tunnel(Tunnel):
    def __init__(self, transport: H3Transport, stream_id: int) -> None:
        self.transport, self.stream_id = transport, stream_id
        self.inbox = _Inbox()
        self.sent_end = False

    async def send(self, data: bytes) -> None:
        if self.sent_end or self.transport.dead:
            raise TunnelReset(self.transport.dead or "the stream is closed")
        # aioquic keeps its own send buffer and flow control; hand the bytes over in pieces
        for i in range(0, len(data), READ_CHUNK):
            self.transport.h3().send_data(self.stream_id, data[i:i + READ_CHUNK], False)
            self.transport.transmit()
            await asyncio.sleep(0)

    async def receive(self) -> bytes | None:
        return await self.inbox.get()

    def consumed(self, n: int) -> None:
        pass  # aioquic returns QUIC flow-control credit as it delivers the bytes

    def end(self) -> None:
        if not self.sent_end and not self.transport.dead:
            self.sent_end = True
            self.transport.h3().send_data(self.stream_id, b"", True)
            self.transport.transmit()

    def reset(self) -> None:
        if self.transport.dead or (self.inbox.ended and self.sent_end):
            return
        from aioquic.h3.connection import ErrorCode
        self.transport.counts.bridge_resets += 1
        self.sent_end = True
        self.inbox.finish(TunnelReset("reset by the bridge"))
        self.transport.quic().reset_stream(self.stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        self.transport.transmit()


class H3Transport(Transport):
    """RFC 9220 over HTTP/3 (aioquic); one shared QUIC connection. Not yet run end to
    end: ringbolt's HTTP/3 SETTINGS do not announce extended CONNECT."""

    name = "h3"

    def __init__(self, url: str, counts: Counts) -> None:
        super().__init__(url, counts)
        self.stack = contextlib.AsyncExitStack()
        self.protocol: Any = None
        self.tunnels: dict[int, _H3Tunnel] = {}
        self.dead: str | None = None
        self.settings: asyncio.Future[None] | None = None

    def h3(self) -> Any:
        return self.protocol.h3

    def quic(self) -> Any:
        return self.protocol._quic

    def transmit(self) -> None:
        self.protocol.transmit()

    def on_event(self, event: Any) -> None:
        from aioquic.h3.events import DataReceived, HeadersReceived
        from aioquic.quic.events import ConnectionTerminated, StreamReset
        assert self.settings is not None
        if not self.settings.done() and self.h3().received_settings is not None:
            self.settings.set_result(None)
        if isinstance(event, HeadersReceived):
            tunnel = self.tunnels.get(event.stream_id)
            if tunnel:
                tunnel.inbox.headers(list(event.headers))
                if event.stream_ended:
                    tunnel.inbox.finish()
        elif isinstance(event, DataReceived):
            tunnel = self.tunnels.get(event.stream_id)
            if tunnel:
                tunnel.inbox.data(event.data)
                if event.stream_ended:
                    tunnel.inbox.finish()
        elif isinstance(event, StreamReset):
            tunnel = self.tunnels.get(event.stream_id)
            if tunnel:
                self.counts.server_resets += 1
                tunnel.inbox.finish(TunnelReset(f"reset by the server ({event.error_code:#x})"))
        elif isinstance(event, ConnectionTerminated):
            self.dead = f"the QUIC connection ended ({event.error_code:#x} {event.reason_phrase})"
            for t in self.tunnels.values():
                t.inbox.finish(TunnelReset(self.dead))

    async def start(self) -> None:
        from aioquic.asyncio.client import connect
        from aioquic.asyncio.protocol import QuicConnectionProtocol
        from aioquic.h3.connection import H3_ALPN, H3Connection
        from aioquic.quic.configuration import QuicConfiguration
        from aioquic.quic.events import QuicEvent
        transport = self

        class Protocol(QuicConnectionProtocol):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.h3 = H3Connection(self._quic)
                transport.protocol = self  # events come before connect() returns

            def quic_event_received(self, event: QuicEvent) -> None:
                for h3_event in self.h3.handle_event(event):
                    transport.on_event(h3_event)
                transport.on_event(event)

        self.settings = asyncio.get_running_loop().create_future()
        config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                                   server_name=self.host)
        try:
            await asyncio.wait_for(self.stack.enter_async_context(
                connect(self.host, self.port, configuration=config, create_protocol=Protocol)), SETTINGS_TIMEOUT)
            await asyncio.wait_for(asyncio.shield(self.settings), SETTINGS_TIMEOUT)
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise BridgeError(f"no HTTP/3 connection with SETTINGS to {self.host}:{self.port} "
                              f"within {SETTINGS_TIMEOUT:.0f} s ({exc!r}; is --http3 on with TLS?)") from None
        if (self.h3().received_settings or {}).get(0x08) != 1:
            raise BridgeError("the server's HTTP/3 SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL (0x08): "
                              "it does not accept RFC 9220 extended CONNECT")
        self.counts.connections += 1

    async def open(self, path: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], Tunnel]:
        if self.dead:
            raise TunnelReset(self.dead)
        sid = self.quic().get_next_available_stream_id()
        tunnel = _H3Tunnel(self, sid)
        self.tunnels[sid] = tunnel
        request = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                   (":path", path), (":authority", self.authority)] + headers
        self.h3().send_headers(sid, [(k.encode(), v.encode("latin-1")) for k, v in request])
        self.transmit()
        self.counts.streams += 1
        status, fields = await tunnel.inbox.answer
        return status, fields, tunnel

    async def close(self) -> None:
        await self.stack.aclose()


TRANSPORTS: dict[str, type[Transport]] = {"h2": H2Transport, "h3": H3Transport}


# ------------------------------------------------------------------ the HTTP/1.1 side (Autobahn)

def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("latin-1") + WS_GUID).digest()).decode()


def parse_request(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = (lines[0].split(" ") + ["", "", ""])[:3]
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            fields[name] = f"{fields[name]}, {value.strip()}" if name in fields else value.strip()
    return method, target, fields


async def answer_status(writer: asyncio.StreamWriter, status: int, why: str = "") -> None:
    body = why.encode()
    writer.write(f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\nConnection: close\r\n"
                 f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


class Bridge:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.counts = transport.counts
        self.accepted = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        number = self.accepted
        try:
            await self.session(number, reader, writer)
        except Exception as exc:  # one broken session must not stop the bridge
            log(f"bridge: connection {number}: {exc!r}")
            writer.transport.abort()

    async def session(self, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        method, target, fields = parse_request(head)
        key = fields.get("sec-websocket-key", "")
        if method != "GET" or "websocket" not in fields.get("upgrade", "").lower() or not key:
            await answer_status(writer, 400, "the bridge carries WebSocket upgrades only\n")
            return
        forwarded = [(name, fields[name]) for name in FORWARDED if name in fields]
        try:
            status, answer, tunnel = await self.transport.open(target or "/", forwarded)
        except (BridgeError, TunnelReset) as exc:
            log(f"bridge: connection {number}: no stream: {exc}")
            await answer_status(writer, 502, f"{exc}\n")
            return
        if status != 200:
            self.counts.non_200 += 1
            log(f"bridge: connection {number} (stream {tunnel.stream_id}): the server answered {status}")
            tunnel.reset()
            await answer_status(writer, status)
            return
        extra = "".join(f"{spelled}: {answer[name]}\r\n" for name, spelled in ANSWERED.items() if name in answer)
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(key)}\r\n{extra}\r\n").encode("latin-1"))
        self.counts.open_now += 1
        self.counts.most_at_once = max(self.counts.most_at_once, self.counts.open_now)
        try:
            await self.relay(number, reader, writer, tunnel)
        finally:
            self.counts.open_now -= 1

    async def relay(self, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    tunnel: Tunnel) -> None:
        async def upstream() -> None:  # Autobahn -> server
            try:
                while data := await reader.read(READ_CHUNK):
                    await tunnel.send(data)
            except ConnectionError:
                tunnel.reset()  # Autobahn reset its socket: reset the stream
                return
            except TunnelReset:
                return
            tunnel.end()  # Autobahn closed its socket: END_STREAM

        async def downstream() -> None:  # server -> Autobahn
            autobahn_gone = False
            try:
                while (data := await tunnel.receive()) is not None:
                    if not autobahn_gone:
                        try:
                            writer.write(data)
                            await writer.drain()
                        except ConnectionError:
                            autobahn_gone = True  # keep taking the server's bytes until it ends the stream
                    tunnel.consumed(len(data))
            except TunnelReset:
                writer.transport.abort()  # RST_STREAM: close Autobahn's socket at once
                return
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()  # the server ended the stream: close after the bytes before it

        up = asyncio.create_task(upstream())
        down = asyncio.create_task(downstream())
        await up
        try:
            await asyncio.wait_for(asyncio.shield(down), END_GRACE)
        except TimeoutError:
            note = (f"connection {number} (stream {tunnel.stream_id}): the server did not end the stream "
                    f"within {END_GRACE:.0f} s of the bridge's END_STREAM; reset")
            self.counts.notes.append(note)
            log(f"bridge: {note}")
            tunnel.reset()
            await down


async def main_async(args: argparse.Namespace) -> int:
    counts = Counts()
    transport = TRANSPORTS[args.via](args.server, counts)
    try:
        await transport.start()
    except BridgeError as exc:
        print(f"bridge: {args.via} to {args.server}: {exc}", file=sys.stderr, flush=True)
        await transport.close()
        return 2
    bridge = Bridge(transport)
    host, _, port = args.listen.rpartition(":")
    server = await asyncio.start_server(bridge.serve, host or "127.0.0.1", int(port), limit=1 << 16)
    bound = server.sockets[0].getsockname()
    path = urlsplit(args.server).path or "/"
    print(f"bridge: listening on ws://{bound[0]}:{bound[1]}{path}", flush=True)
    log(f"bridge: {args.via} to {args.server} (SETTINGS_ENABLE_CONNECT_PROTOCOL=1), "
        f"HTTP/1.1 on {bound[0]}:{bound[1]}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    log(counts.line(args.via))
    for note in counts.notes:
        log(f"bridge: note: {note}")
    await transport.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the server's WebSocket URL (ws:// for h2, wss:// for h3)")
    ap.add_argument("--via", choices=sorted(TRANSPORTS), default="h2", help="how to reach the server (default h2)")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT for Autobahn (default 127.0.0.1:0, any port)")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
