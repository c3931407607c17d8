"""WebSocket over HTTP/3 (RFC 9220) end to end, on both io backends: aioquic (a QUIC and
HTTP/3 stack no one here wrote) opens extended CONNECT streams on one QUIC connection,
and the WebSocket frames inside their DATA are written and read here (RFC 6455 §5,
client frames masked). The same app code serves HTTP/1.1's Upgrade, HTTP/2's streams
(RFC 8441) and these: the native `@app.websocket` API (apps/ws_app.py) and an ASGI app
(apps/ws_asgi_app.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.events import QuicEvent, StreamReset

import h3_client
from conftest import ServerProcess
from h2_tls_helpers import BACKENDS, certs, env_io, tls_args  # noqa: F401  (certs: a fixture)
from ws_wire import BINARY, CLOSE, PING, PONG, TEXT, FrameWait, client_frame, close_payload

ENABLE_CONNECT_PROTOCOL = 0x8  # RFC 9220 §3 (the setting of RFC 8441 §3, in HTTP/3's registry)
H3_REQUEST_CANCELLED = 0x10C


class WsClient(h3_client.H3Client):
    """An HTTP/3 connection whose request streams may carry WebSockets (extended CONNECT)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heads: dict[int, dict[str, str]] = {}
        self.data: dict[int, bytearray] = defaultdict(bytearray)
        self.ended: set[int] = set()
        self.resets: dict[int, int] = {}
        self.changed = asyncio.Event()

    def quic_event_received(self, event: QuicEvent) -> None:
        sid = getattr(event, "stream_id", None)
        if sid is None or sid not in self.heads:
            super().quic_event_received(event)  # plain requests, the control streams, the connection's end
        else:
            if isinstance(event, StreamReset):
                self.resets[sid] = event.error_code
            for ev in self._http.handle_event(event):
                if isinstance(ev, HeadersReceived):
                    self.heads[sid] = {k.decode(): v.decode() for k, v in ev.headers}
                elif isinstance(ev, DataReceived):
                    self.data[sid] += ev.data
                if getattr(ev, "stream_ended", False):
                    self.ended.add(sid)
        self.changed.set()

    async def until(self, done: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                return done()
        return True

    def settings(self) -> dict[int, int]:
        return self._http.received_settings or {}

    def open_ws(self, path: str, protocol: str = "websocket", extra: list[tuple[str, str]] | None = None,
                version: str = "13") -> int:
        """Open an extended CONNECT stream to `path`; its id."""
        sid = self._quic.get_next_available_stream_id()
        self.heads[sid] = {}
        fields = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "https"), (":path", path),
                  (":authority", "localhost"), ("sec-websocket-version", version), *(extra or [])]
        self._http.send_headers(sid, [(k.encode(), v.encode()) for k, v in fields], end_stream=False)
        self.transmit()
        return sid

    async def accepted(self, sid: int) -> dict[str, str]:
        assert await self.until(lambda: bool(self.heads[sid]) or sid in self.resets), "no answer to the CONNECT"
        return self.heads[sid]

    def send_bytes(self, sid: int, data: bytes, end: bool = False) -> None:
        self._http.send_data(sid, data, end_stream=end)  # (aioquic paces it by flow control)
        self.transmit()

    def send(self, sid: int, op: int, payload: bytes, end: bool = False) -> None:
        self.send_bytes(sid, client_frame(op, payload), end)

    def reset(self, sid: int) -> None:
        self._quic.reset_stream(sid, H3_REQUEST_CANCELLED)
        self.transmit()

    async def frame(self, sid: int, timeout: float = 20.0, pings: bool = False) -> tuple[int, bool, bytes]:
        """The next WebSocket frame from the server on stream `sid`; the server's
        keep-alive pings are skipped unless `pings`."""
        wait = FrameWait(self.data[sid], pings)
        assert await self.until(wait, timeout) and wait.frame is not None, f"no WebSocket frame on stream {sid}"
        return wait.frame

    async def events(self) -> list[str]:
        """What the native app's handlers saw (GET /events on the same connection)."""
        r = await self.request("GET", "/events")
        assert r.status == 200, r
        return list(json.loads(bytes(r.body))["events"])

    async def wait_event(self, text: str, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        seen = await self.events()
        while not any(text in e for e in seen) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            seen = await self.events()
        return seen


def run(srv: ServerProcess, session: Callable[[WsClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with h3_client.connect("127.0.0.1", srv.port, configuration=h3_client.configuration(),
                                     create_protocol=WsClient, wait_connected=True) as c:
            assert isinstance(c, WsClient)
            assert await c.until(lambda: ENABLE_CONNECT_PROTOCOL in c.settings()), c.settings()
            await session(c)

    asyncio.run(asyncio.wait_for(main(), 90))


def h3_args(certs: Path, *extra: str) -> list[str]:  # noqa: F811
    return [*tls_args(certs), "--http3", "--threads", "1", *extra]


@pytest.fixture(scope="module", params=BACKENDS)
def native(request: pytest.FixtureRequest, certs: Path) -> Iterator[ServerProcess]:  # noqa: F811
    # A long keep-alive: a client may keep its side open that long after a close handshake.
    s = ServerProcess("ws_app:app", *h3_args(certs, "--ws-ping-interval", "1", "--ws-ping-timeout", "30",
                                               "--timeout-keep-alive", "30"), env=env_io(request.param))
    yield s
    assert s.stop() == 0, s.output()


def test_settings_advertise_extended_connect(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        assert c.settings()[ENABLE_CONNECT_PROTOCOL] == 1

    run(native, session)


def test_no_websocket_routes_no_extended_connect(certs: Path) -> None:  # noqa: F811
    s = ServerProcess("h2_app:app", *h3_args(certs))
    try:
        async def main() -> None:
            async with h3_client.connect("127.0.0.1", s.port, configuration=h3_client.configuration(),
                                         create_protocol=WsClient, wait_connected=True) as c:
                assert isinstance(c, WsClient)
                assert await c.until(lambda: bool(c.settings()))
                assert c.settings().get(ENABLE_CONNECT_PROTOCOL, 0) == 0, c.settings()

        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        assert s.stop() == 0, s.output()


def test_echo_text_binary_and_fragments(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        sid = c.open_ws("/echo")
        h = await c.accepted(sid)
        assert h[":status"] == "200"  # RFC 9220 §3: 200, not 101
        assert "sec-websocket-accept" not in h and "upgrade" not in h and "connection" not in h
        c.send(sid, TEXT, "héllo".encode())
        assert await c.frame(sid) == (TEXT, True, "héllo".encode())
        blob = os.urandom(70000)  # over the 16-bit length and over one QUIC packet
        c.send(sid, BINARY, blob)
        assert await c.frame(sid) == (BINARY, True, blob)
        c.send_bytes(sid, client_frame(TEXT, b"two ", fin=False) + client_frame(0x0, b"parts"))
        assert await c.frame(sid) == (TEXT, True, b"two parts")
        c.send(sid, CLOSE, close_payload(1000))
        assert await c.frame(sid) == (CLOSE, True, close_payload(1000))
        # The server ends its side once its close frame is out (the stream's FIN).
        assert await c.until(lambda: sid in c.ended)

    run(native, session)


def test_ping_pong_both_ways(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        sid = c.open_ws("/echo")
        await c.accepted(sid)
        c.send(sid, PING, b"are you there")
        assert await c.frame(sid) == (PONG, True, b"are you there")
        op, _, _ = await c.frame(sid, timeout=10, pings=True)  # --ws-ping-interval 1
        assert op == PING
        c.send(sid, CLOSE, close_payload(1000))
        assert (await c.frame(sid))[0] == CLOSE

    run(native, session)


def test_close_handshake_and_ends_reach_the_app(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        closing = c.open_ws("/room/a")
        await c.accepted(closing)
        assert (await c.frame(closing))[0] == TEXT  # the room's greeting
        c.send(closing, CLOSE, close_payload(1000, "bye"), end=True)
        assert await c.frame(closing) == (CLOSE, True, close_payload(1000))
        reset = c.open_ws("/room/r")
        await c.accepted(reset)
        assert (await c.frame(reset))[0] == TEXT
        c.reset(reset)  # RFC 9220 §3: a reset stream is an abnormal close
        ended = c.open_ws("/room/e")
        await c.accepted(ended)
        assert (await c.frame(ended))[0] == TEXT
        c.send_bytes(ended, b"", end=True)  # FIN without a close frame
        seen = await c.wait_event("room e closed")
        seen = await c.wait_event("room r closed")
        assert "room a closed 1000 bye" in seen, seen
        assert any(e.startswith("room r closed 1006") for e in seen), seen
        assert any(e.startswith("room e closed 1006") for e in seen), seen
        assert await c.until(lambda: closing in c.ended and closing not in c.resets)

    run(native, session)


def test_server_close_handshake(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        sid = c.open_ws("/close/4001")
        await c.accepted(sid)
        assert await c.frame(sid) == (CLOSE, True, close_payload(4001, "bye now"))
        c.send(sid, CLOSE, close_payload(4001), end=True)
        assert await c.until(lambda: sid in c.ended or sid in c.resets)
        assert sid not in c.resets

    run(native, session)


def test_unknown_protocol_and_refusals_answer_on_the_stream(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        other = c.open_ws("/echo", protocol="not-a-websocket")
        assert (await c.accepted(other))[":status"] == "501"
        deny = c.open_ws("/deny")  # the handler returns without accepting: 403
        assert (await c.accepted(deny))[":status"] == "403"
        old = c.open_ws("/echo", version="8")  # refused as over HTTP/1.1 (RFC 6455 §4.4)
        h = await c.accepted(old)
        assert h[":status"] == "426" and h["sec-websocket-version"] == "13"
        assert await c.until(lambda: {other, deny, old} <= c.ended)
        # The connection goes on.
        r = await c.request("GET", "/")
        assert r.status == 200

    run(native, session)


def test_websockets_and_requests_share_the_connection(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        ws = [c.open_ws("/echo") for _ in range(3)]
        for sid in ws:
            assert (await c.accepted(sid))[":status"] == "200"
        gets = [c.start("GET", "/")[1] for _ in range(5)]
        for i, sid in enumerate(ws):
            c.send(sid, TEXT, f"stream {i}".encode())
        for r in await asyncio.gather(*gets):
            assert r.status == 200 and json.loads(bytes(r.body)) == {"ok": True}
        for i, sid in enumerate(ws):
            assert await c.frame(sid) == (TEXT, True, f"stream {i}".encode())
        for sid in ws:
            c.send(sid, CLOSE, close_payload(1000))
            assert (await c.frame(sid))[0] == CLOSE

    run(native, session)


def test_large_messages_flow_through_flow_control(native: ServerProcess) -> None:
    # More than the stream's window both ways: the server credits what its session parsed,
    # and sends as the client acknowledges.
    async def session(c: WsClient) -> None:
        sid = c.open_ws("/echo")
        await c.accepted(sid)
        blob = os.urandom(900_000)
        c.send(sid, BINARY, blob)
        assert await c.frame(sid, timeout=60) == (BINARY, True, blob)
        c.send(sid, CLOSE, close_payload(1000))
        assert (await c.frame(sid))[0] == CLOSE

    run(native, session)


def test_permessage_deflate_negotiated_in_the_headers(native: ServerProcess) -> None:
    async def session(c: WsClient) -> None:
        sid = c.open_ws("/echo", extra=[("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")])
        h = await c.accepted(sid)
        assert h[":status"] == "200" and h["sec-websocket-extensions"].startswith("permessage-deflate")
        text = ("compress me, " * 400).encode()
        co = zlib.compressobj(wbits=-15)
        wire = (co.compress(text) + co.flush(zlib.Z_SYNC_FLUSH))[:-4]  # RFC 7692 §7.2.1: the tail goes
        c.send_bytes(sid, client_frame(TEXT, wire, rsv1=True))
        op, fin, payload = await c.frame(sid)
        assert op == 0x40 | TEXT and fin  # the echo comes back compressed too
        assert zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff") == text
        c.send(sid, CLOSE, close_payload(1000))
        assert (await c.frame(sid))[0] == CLOSE

    run(native, session)


@pytest.mark.parametrize("io", BACKENDS)
def test_asgi_websocket_over_h3(certs: Path, io: str) -> None:  # noqa: F811
    s = ServerProcess("ws_asgi_app:app", *h3_args(certs), env=env_io(io))
    try:
        async def session(c: WsClient) -> None:
            sid = c.open_ws("/scope", extra=[("sec-websocket-protocol", "chat")])
            h = await c.accepted(sid)
            assert h[":status"] == "200" and h["x-asgi"] == "yes" and h["sec-websocket-protocol"] == "chat"
            op, _, payload = await c.frame(sid)
            scope = json.loads(payload)
            assert op == TEXT and scope["type"] == "websocket" and scope["http_version"] == "3"
            assert scope["path"] == "/scope" and scope["subprotocols"] == ["chat"]
            c.send(sid, TEXT, b"echo me")
            assert await c.frame(sid) == (TEXT, True, b"echo me")
            deny = c.open_ws("/deny")  # the denial extension answers on its own stream
            assert (await c.accepted(deny))[":status"] == "401"
            assert await c.until(lambda: deny in c.ended) and bytes(c.data[deny]) == b"no token"
            c.send(sid, TEXT, b"still here")
            assert await c.frame(sid) == (TEXT, True, b"still here")
            c.reset(sid)
            deadline = time.monotonic() + 20
            log = ""
            while "/scope disconnect 1006" not in log and time.monotonic() < deadline:
                r = await c.request("GET", "/log")
                log = bytes(r.body).decode()
                await asyncio.sleep(0.1)
            assert "/scope disconnect 1006" in log

        run(s, session)
    finally:
        assert s.stop() == 0, s.output()
