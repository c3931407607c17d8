"""An HTTP/3 client for the end-to-end tests (tests/py/test_http3.py): aioquic's QUIC
connection and its H3Connection over a real UDP socket on 127.0.0.1, independent of
ringbolt's own libraries (ngtcp2, nghttp3). One connection carries any number of
concurrent requests; each answer is collected whole (status, fields, body, trailers), or
its stream reset is reported."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import Buffer, encode_uint_var
from aioquic.h3.connection import H3_ALPN, H3Connection, encode_frame
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.crypto import CryptoPair
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamReset
from aioquic.quic.packet import QuicPacketType, pull_quic_header
from cryptography.x509.oid import NameOID

T = TypeVar("T")


@dataclass
class H3Response:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    trailers: list[tuple[str, str]] = field(default_factory=list)
    reset: int | None = None  # the server's RESET_STREAM code, when it reset the stream

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None


class H3Client(QuicConnectionProtocol):
    """aioquic's protocol with HTTP/3 on top (create_protocol for aioquic's connect)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = H3Connection(self._quic)
        self._open: dict[int, tuple[H3Response, asyncio.Future[H3Response]]] = {}
        self.closed: ConnectionTerminated | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamReset) and event.stream_id in self._open:
            resp, fut = self._open.pop(event.stream_id)
            resp.reset = event.error_code
            if not fut.done():
                fut.set_result(resp)
        if isinstance(event, ConnectionTerminated):
            self.closed = event
            for resp, fut in self._open.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(f"connection closed: {event.error_code} {event.reason_phrase}"))
            self._open.clear()
        for ev in self._http.handle_event(event):
            entry = self._open.get(ev.stream_id) if hasattr(ev, "stream_id") else None
            if entry is None:
                continue
            resp, fut = entry
            if isinstance(ev, HeadersReceived):
                fields = [(k.decode(), v.decode()) for k, v in ev.headers]
                if resp.status == 0:
                    resp.status = int(dict(fields)[":status"])
                    resp.headers = [(k, v) for k, v in fields if not k.startswith(":")]
                else:
                    resp.trailers = fields
            elif isinstance(ev, DataReceived):
                resp.body += ev.data
            if getattr(ev, "stream_ended", False):
                self._open.pop(ev.stream_id, None)
                if not fut.done():
                    fut.set_result(resp)

    def priority_update(self, stream_id: int, value: str) -> None:
        """Send a PRIORITY_UPDATE frame for request stream `stream_id` on this client's
        control stream (RFC 9218 §7.1, type 0xF0700), as Chromium does with every request:
        `value` is the Priority field's value, e.g. "u=3, i". aioquic itself sends none."""
        frame = encode_frame(PRIORITY_UPDATE_REQUEST, encode_uint_var(stream_id) + value.encode())
        control = self._http._local_control_stream_id
        assert control is not None
        self._quic.send_stream_data(control, frame)

    def stream_limit(self) -> int:
        """The bidirectional streams the server lets this client open in all (MAX_STREAMS)."""
        return int(self._quic._remote_max_streams_bidi)

    async def when_a_stream_may_open(self) -> None:
        """Wait until the next request's stream is within MAX_STREAMS (as a browser holds a
        request back rather than open a stream it may not)."""
        while self._quic._local_next_stream_id_bidi // 4 >= self.stream_limit():
            if self.closed is not None:
                raise ConnectionError(f"connection closed: {self.closed.error_code} {self.closed.reason_phrase}")
            await asyncio.sleep(0.001)

    def cancel(self, stream_id: int, code: int = 0x10C, reset: bool = True) -> None:
        """Give up on a request as a browser does: STOP_SENDING (no answer wanted) and, with
        `reset`, RESET_STREAM (nothing more of the request comes); H3_REQUEST_CANCELLED."""
        self._quic.stop_stream(stream_id, code)
        if reset:
            self._quic.reset_stream(stream_id, code)
        entry = self._open.pop(stream_id, None)
        if entry is not None and not entry[1].done():
            entry[0].reset = code
            entry[1].set_result(entry[0])
        self.transmit()

    def send_head(self, method: str, path: str, end_stream: bool, body: bytes = b"",
                  headers: list[tuple[str, str]] | None = None) -> int:
        """A request's HEADERS (and `body`, unless empty) on a new stream, its end only with
        `end_stream`; its answer is not collected (see `track`). The stream id."""
        stream_id = self._quic.get_next_available_stream_id()
        fields = [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", b"localhost"),
                  (b":path", path.encode())]
        fields += [(k.lower().encode(), v.encode()) for k, v in (headers or [])]
        self._http.send_headers(stream_id, fields, end_stream=end_stream and not body)
        if body:
            self._http.send_data(stream_id, body, end_stream=end_stream)
        self.transmit()
        return stream_id

    def track(self, stream_id: int) -> asyncio.Future[H3Response]:
        """Collect the answer on a stream opened by hand (send_head, raw stream data)."""
        resp = H3Response()
        fut: asyncio.Future[H3Response] = asyncio.get_running_loop().create_future()
        self._open[stream_id] = (resp, fut)
        return fut

    @property
    def retried(self) -> bool:
        """Whether the server made this client prove its address with a Retry first."""
        return self._quic._retry_count > 0

    def start(self, method: str, path: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
              authority: str = "localhost",
              priority: str | None = None) -> tuple[H3Response, asyncio.Future[H3Response]]:
        """Send one request (the body in one go: aioquic paces it by flow control); the
        answer as it fills, and the future done when it is whole. `priority`: a
        PRIORITY_UPDATE for its stream goes first, on the control stream (so it may reach
        the server before the request's HEADERS, as Chromium's do)."""
        stream_id = self._quic.get_next_available_stream_id()
        if priority is not None:
            self.priority_update(stream_id, priority)
        resp = H3Response()
        fut: asyncio.Future[H3Response] = asyncio.get_running_loop().create_future()
        self._open[stream_id] = (resp, fut)
        fields = [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", authority.encode()),
                  (b":path", path.encode())]
        fields += [(k.lower().encode(), v.encode()) for k, v in (headers or [])]
        self._http.send_headers(stream_id, fields, end_stream=not body)
        if body:
            self._http.send_data(stream_id, body, end_stream=True)
        self.transmit()
        return resp, fut

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: list[tuple[str, str]] | None = None, authority: str = "localhost",
                      priority: str | None = None) -> H3Response:
        """Send one request and wait for its whole answer."""
        return await self.start(method, path, body, headers, authority, priority)[1]


PRIORITY_UPDATE_REQUEST = 0xF0700  # RFC 9218 §7.1


def configuration(window: int = 4 << 20) -> QuicConfiguration:
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    cfg.verify_mode = ssl.CERT_NONE  # the test certificate is self-made
    cfg.max_data = max(16 << 20, window)
    cfg.max_stream_data = window
    cfg.idle_timeout = 20.0
    return cfg


def run(port: int, session: Callable[[H3Client], Awaitable[T]], host: str = "127.0.0.1",
        timeout: float = 60.0) -> T:
    """Connect to host:port over QUIC, run `session` with the client, close; bounded by
    `timeout` (a hang is a failure, not a stuck test)."""

    async def main() -> T:
        async with connect(host, port, configuration=configuration(), create_protocol=H3Client,
                           wait_connected=True) as client:
            assert isinstance(client, H3Client)
            return await session(client)

    return asyncio.run(asyncio.wait_for(main(), timeout))


def get(port: int, path: str, **kw: Any) -> H3Response:
    """One GET on a connection of its own."""
    return run(port, lambda c: c.request("GET", path, **kw))


def initial_datagrams(port: int, n: int, host: str = "127.0.0.1") -> list[bytes]:
    """The first datagram of n fresh aioquic client connections: real QUIC v1 Initials
    (a ClientHello each, padded to 1200 bytes), for a flood from a raw UDP socket."""
    out = []
    for _ in range(n):
        conn = QuicConnection(configuration=configuration())
        now = time.time()
        conn.connect((host, port), now=now)
        out += [data for data, _ in conn.datagrams_to_send(now=now)]
    return out


def flood_initials(port: int, n: int, host: str = "127.0.0.1") -> list[bytes]:
    """n real client Initials, each of a connection of its own: aioquic's first datagram
    re-sealed under n random destination connection IDs (the Initial keys derive from the
    DCID, RFC 9001 §5.2). The same ClientHello in each, which the server cannot tell; some
    50 µs each where a fresh aioquic connection takes 1 ms, so a flood of 30,000 is made in
    about a second and a half."""
    first = initial_datagrams(port, 1, host)[0]
    buf = Buffer(data=first)
    hdr = pull_quic_header(buf, host_cid_length=8)
    assert hdr.packet_type == QuicPacketType.INITIAL and hdr.packet_length is not None
    rx = CryptoPair()
    rx.setup_initial(hdr.destination_cid, is_client=False, version=hdr.version)
    plain_header, payload, pn = rx.decrypt_packet(first[:hdr.packet_length], buf.tell(), 0)
    padding = first[hdr.packet_length:]  # (zeros after the packet, to 1200 bytes)
    at, size = 6, len(hdr.destination_cid)  # the DCID's place: first byte, version, its length
    out = []
    for _ in range(n):
        dcid = os.urandom(size)
        tx = CryptoPair()
        tx.setup_initial(dcid, is_client=True, version=hdr.version)
        out.append(tx.encrypt_packet(plain_header[:at] + dcid + plain_header[at + size:], payload, pn) + padding)
    return out


def initial_flood(port: int, rate: int, seconds: float, sockets: int = 128,
                  host: str = "127.0.0.1") -> dict[str, float]:
    """Send rate x seconds Initials (flood_initials: each a new connection) at `rate` a
    second, round robin from `sockets` UDP sockets (as many source ports), reading what
    comes back as it goes. Stops once all are sent, or at `seconds` + 5 whatever was sent.
    Returns sent, the seconds it took, and the server's answers: `retries` (Retry packets:
    no state made) and `initials` (datagrams opening with a server Initial: a connection's
    first flight or its retransmission)."""
    packets = flood_initials(port, int(rate * seconds), host)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(sockets)]
    seen = {"sent": 0, "retries": 0, "initials": 0}
    try:
        for u in socks:
            u.setblocking(False)
        start = time.monotonic()
        stop_at = start + seconds + 5
        i = 0
        while i < len(packets) and time.monotonic() < stop_at:
            due = min(len(packets), int((time.monotonic() - start) * rate))
            used = set()
            while i < due:
                u = socks[i % sockets]
                try:
                    u.sendto(packets[i], (host, port))
                except BlockingIOError:
                    pass  # (counted as sent: the flood does not wait)
                used.add(u)
                i += 1
            for u in used:
                try:
                    while True:
                        answer = u.recv(2048)
                        if answer[0] & 0xF0 == 0xF0:  # long header, type 3: Retry (QUIC v1)
                            seen["retries"] += 1
                        elif answer[0] & 0xF0 == 0xC0:  # long header, type 0: Initial
                            seen["initials"] += 1
                except BlockingIOError:
                    pass
            time.sleep(0.002)
        seen["sent"] = i
        seen["seconds"] = time.monotonic() - start
    finally:
        for u in socks:
            u.close()
    return seen


async def vanish_during(port: int, path: str, after_bytes: int, window: int = 64 << 20,
                        host: str = "127.0.0.1") -> H3Response:
    """Open a connection, GET `path`, and once `after_bytes` of its body came, go silent:
    close the UDP socket without a CONNECTION_CLOSE (a peer that stops acknowledging).
    `window`: the flow-control credit given, so that it is not what holds the server back.
    The answer as far as it came."""
    loop = asyncio.get_running_loop()
    quic = QuicConnection(configuration=configuration(window))
    transport, client = await loop.create_datagram_endpoint(lambda: H3Client(quic), remote_addr=(host, port))
    assert isinstance(client, H3Client)
    client.connect((host, port))
    await client.wait_connected()
    resp, fut = client.start("GET", path)
    while len(resp.body) < after_bytes and not fut.done():
        await asyncio.sleep(0.001)
    transport.abort()  # the socket goes, and with it every acknowledgement
    client.transmit = lambda: None  # type: ignore[method-assign]  (nothing more: no close, no probe)
    if client._timer is not None:
        client._timer.cancel()
        client._timer = None
    return resp


async def connect_at(port: int, first_byte: int, host: str = "127.0.0.1") -> H3Client:
    """A connection (handshake done) whose client Initial carries a destination connection
    ID starting with `first_byte` (aioquic picks it at random otherwise): the server's
    steering program sends it to the socket at that position of the port's group. Close it
    with `close_client`."""
    return await open_client(port, host, first_byte)


async def open_client(port: int, host: str = "127.0.0.1", first_byte: int | None = None,
                      configuration: QuicConfiguration | None = None, stream_window: int | None = None) -> H3Client:
    """A connection whose handshake is done, on the running loop (see `connect_at` for
    `first_byte`). `stream_window`: what the server may send ahead on each request stream
    the client opens (0: nothing). Close it with `close_client`."""
    loop = asyncio.get_running_loop()
    quic = QuicConnection(configuration=configuration or globals()["configuration"]())
    if stream_window is not None:
        quic._local_max_stream_data_bidi_local = stream_window  # (aioquic's one knob sets all three)
    if first_byte is not None:
        dcid = bytes([first_byte]) + os.urandom(7)
        quic._peer_cid.cid = dcid  # (aioquic's attributes: its Initial DCID, and what the
        quic._original_destination_connection_id = dcid  # transport parameters check against)
    _, client = await loop.create_datagram_endpoint(lambda: H3Client(quic), remote_addr=(host, port))
    assert isinstance(client, H3Client)
    client.connect((host, port))
    await client.wait_connected()
    return client


def peer_cn(client: H3Client) -> str:
    """The common name of the certificate the server gave this connection."""
    cert = client._quic.tls._peer_certificate
    assert cert is not None
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def server_cid(client: H3Client) -> bytes:
    """The connection ID the server gave this client (what its packets are sent to)."""
    return bytes(client._quic._peer_cid.cid)


async def close_client(client: H3Client) -> None:
    client.close()
    await client.wait_closed()


async def cancel_flood(c: H3Client, path: str, upload: bool, seconds: float, method: str | None = None,
                       headers: list[tuple[str, str]] | None = None) -> int:
    """Open request streams and cancel each at once (CVE-2023-44487's HTTP/3 twin) for up to
    `seconds` or until the server closes the connection: GETs stopped and reset, or uploads
    reset mid-body (or `method` with `headers`, its stream left open: an extended CONNECT).
    The cancels sent."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    sent = 0
    while loop.time() < end and c.closed is None:
        try:
            await asyncio.wait_for(c.when_a_stream_may_open(), max(0.01, end - loop.time()))
        except (asyncio.TimeoutError, ConnectionError):
            break
        if method is not None:
            sid = c.send_head(method, path, end_stream=False, headers=headers)
        else:
            sid = c.send_head("POST" if upload else "GET", path, end_stream=not upload,
                              body=b"x" * 1000 if upload else b"")
        c.cancel(sid, reset=True)
        sent += 1
        if sent % 20 == 0:
            await asyncio.sleep(0)  # let acknowledgements and MAX_STREAMS in
    return sent
