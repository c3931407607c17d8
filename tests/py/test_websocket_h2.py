"""WebSocket over HTTP/2 (RFC 8441) end to end, on both io backends: the Python `h2`
library opens extended CONNECT streams on h2c by prior knowledge, and the WebSocket
frames inside their DATA are written and read here (RFC 6455 §5, client frames masked).
The same app code serves HTTP/1.1's Upgrade and these streams: the native
`@app.websocket` API (apps/ws_app.py) and an ASGI app (apps/ws_asgi_app.py)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from conftest import ServerProcess
from h2_tls_helpers import BACKENDS, certs, client_ctx, env_io, running, tls_args  # noqa: F401  (certs: a fixture)
from ws_wire import BINARY, CLOSE, PING, PONG, TEXT, FrameWait, client_frame, close_payload



class Client:
    """An HTTP/2 connection whose streams may carry WebSockets (extended CONNECT)."""

    def __init__(self, srv: ServerProcess, sock: socket.socket | None = None) -> None:
        self.sock = sock if sock is not None else srv.connect(timeout=20)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.server_settings: dict[int, int] = {}
        self.headers: dict[int, dict[str, str]] = {}
        self.data: dict[int, bytearray] = defaultdict(bytearray)
        self.ended: set[int] = set()
        self.resets: dict[int, int] = {}
        self.goaway: int | None = None

    def close(self) -> None:
        self.sock.close()

    def flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, done: Callable[[], bool], timeout: float = 20.0) -> bool:
        """Read and handle frames until `done()` holds (True), EOF or `timeout` (False)."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return done()
            if not chunk:
                return done()
            for ev in self.conn.receive_data(chunk):
                self.handle(ev)
            self.flush()
        return True

    def handle(self, ev: Any) -> None:
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.server_settings.update({int(k): v.new_value for k, v in ev.changed_settings.items()})
        elif isinstance(ev, h2.events.ResponseReceived):
            self.headers[ev.stream_id] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            self.data[ev.stream_id] += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.ended.add(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self.resets[ev.stream_id] = int(ev.error_code)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = int(ev.error_code)

    def connect(self, path: str, protocol: str = "websocket", extra: list[tuple[str, str]] | None = None) -> int:
        """Open an extended CONNECT stream to `path`; its id."""
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "http"),
                                     (":path", path), (":authority", "localhost"),
                                     ("sec-websocket-version", "13"), *(extra or [])])
        self.flush()
        return sid

    def accepted(self, sid: int) -> dict[str, str]:
        """The answer's fields once they came (fails the test when they did not)."""
        assert self.pump(lambda: sid in self.headers or sid in self.resets), "no answer to the CONNECT"
        return self.headers[sid]

    def get(self, path: str) -> int:
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"),
                                     (":authority", "localhost")], end_stream=True)
        self.flush()
        return sid

    def send_bytes(self, sid: int, data: bytes, end_stream: bool = False) -> None:
        """`data` as DATA frames, as the stream's and the connection's windows let it go
        (reading the server's WINDOW_UPDATEs, and its frames, while they are shut)."""
        view = memoryview(data)
        while view:
            def room() -> bool:
                return self.conn.local_flow_control_window(sid) > 0

            assert self.pump(room, timeout=30), "the server gave no window back"
            n = min(len(view), self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            self.conn.send_data(sid, bytes(view[:n]), end_stream=end_stream and n == len(view))
            view = view[n:]
            self.flush()
        if end_stream and not data:
            self.conn.end_stream(sid)
            self.flush()

    def send(self, sid: int, op: int, payload: bytes, end_stream: bool = False) -> None:
        self.send_bytes(sid, client_frame(op, payload), end_stream)

    def frame(self, sid: int, timeout: float = 20.0, pings: bool = False) -> tuple[int, bool, bytes]:
        """The next WebSocket frame from the server on stream `sid`; the server's
        keep-alive pings (--ws-ping-interval) are skipped unless `pings`."""
        wait = FrameWait(self.data[sid], pings)
        assert self.pump(wait, timeout) and wait.frame is not None, f"no WebSocket frame on stream {sid}"
        return wait.frame


@pytest.fixture(scope="module", params=BACKENDS)
def native(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    # A long keep-alive: a client may keep its side open that long after a close handshake.
    s = ServerProcess("ws_app:app", "--threads", "1", "--ws-ping-interval", "1", "--ws-ping-timeout", "30",
                      "--timeout-keep-alive", "30", env=env_io(request.param))
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture(scope="module", params=BACKENDS)
def asgi(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    s = ServerProcess("ws_asgi_app:app", "--threads", "1", env=env_io(request.param))
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture
def client(native: ServerProcess) -> Iterator[Client]:
    c = Client(native)
    yield c
    c.close()


def events(c: Client) -> list[str]:
    """What the native app's handlers saw (GET /events on the same connection)."""
    sid = c.get("/events")
    assert c.pump(lambda: sid in c.ended)
    return list(json.loads(bytes(c.data[sid]))["events"])


def wait_event(c: Client, text: str, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    seen = events(c)
    while not any(text in e for e in seen) and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = events(c)
    return seen


def test_settings_advertise_extended_connect(client: Client) -> None:
    # RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8) = 1 from a server with WebSocket routes.
    assert client.pump(lambda: h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL in client.server_settings)
    assert client.server_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] == 1


def test_echo_text_and_binary(client: Client) -> None:
    sid = client.connect("/echo")
    h = client.accepted(sid)
    assert h[":status"] == "200"  # RFC 8441 §5: 200, not 101
    assert "sec-websocket-accept" not in h and "upgrade" not in h and "connection" not in h
    client.send(sid, TEXT, "héllo".encode())
    assert client.frame(sid) == (TEXT, True, "héllo".encode())
    blob = os.urandom(70000)  # over the 16-bit length and over one DATA frame
    client.send(sid, BINARY, blob)
    assert client.frame(sid) == (BINARY, True, blob)
    # A message in two frames comes back whole.
    client.send_bytes(sid, client_frame(TEXT, b"two ", fin=False) + client_frame(0x0, b"parts"))
    assert client.frame(sid) == (TEXT, True, b"two parts")
    client.send(sid, CLOSE, close_payload(1000))
    assert client.frame(sid) == (CLOSE, True, close_payload(1000))


def test_ping_pong_both_ways(client: Client) -> None:
    sid = client.connect("/echo")
    client.accepted(sid)
    client.send(sid, PING, b"are you there")
    assert client.frame(sid) == (PONG, True, b"are you there")
    # --ws-ping-interval 1: an idle WebSocket is pinged by the server.
    op, _, _ = client.frame(sid, timeout=10, pings=True)
    assert op == PING
    client.send(sid, CLOSE, close_payload(1000))
    assert client.frame(sid)[0] == CLOSE


def test_client_close_handshake_ends_the_stream(client: Client) -> None:
    sid = client.connect("/room/a")
    client.accepted(sid)
    assert client.frame(sid)[0] == TEXT  # the room's greeting
    client.send(sid, CLOSE, close_payload(1000, "bye"))
    assert client.frame(sid) == (CLOSE, True, close_payload(1000))
    # The server ends its side once its close frame is out (RFC 8441 §5: the stream closes).
    assert client.pump(lambda: sid in client.ended)
    client.conn.end_stream(sid)
    client.flush()
    seen = wait_event(client, "room a closed")
    assert "room a closed 1000 bye" in seen


def test_server_close_handshake(client: Client) -> None:
    sid = client.connect("/close/4001")
    client.accepted(sid)
    assert client.frame(sid) == (CLOSE, True, close_payload(4001, "bye now"))
    client.send(sid, CLOSE, close_payload(4001), end_stream=True)
    assert client.pump(lambda: sid in client.ended or sid in client.resets)
    assert sid not in client.resets


def test_reset_stream_tells_the_app_1006(client: Client) -> None:
    sid = client.connect("/room/r")
    client.accepted(sid)
    assert client.frame(sid)[0] == TEXT
    client.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    client.flush()
    seen = wait_event(client, "room r closed")
    assert any(e.startswith("room r closed 1006") for e in seen), seen


def test_ended_stream_without_close_is_1006(client: Client) -> None:
    sid = client.connect("/room/e")
    client.accepted(sid)
    assert client.frame(sid)[0] == TEXT
    client.conn.end_stream(sid)
    client.flush()
    seen = wait_event(client, "room e closed")
    assert any(e.startswith("room e closed 1006") for e in seen), seen


@pytest.mark.parametrize("goaway", [True, False], ids=["goaway-then-close", "close"])
def test_lost_connection_tells_the_app_1006(native: ServerProcess, goaway: bool) -> None:
    """The client's connection ends with a WebSocket open on it (GOAWAY and its socket
    closed, or only the socket): no frame can come on the stream any more, so the app
    hears 1006 at once, not once a ping goes unanswered (--ws-ping-timeout 30 here)."""
    room = f"lost-{int(goaway)}"
    c = Client(native)
    sid = c.connect(f"/room/{room}")
    c.accepted(sid)
    assert c.frame(sid)[0] == TEXT
    if goaway:
        c.conn.close_connection()
        c.flush()
    c.close()
    other = Client(native)
    try:
        seen = wait_event(other, f"room {room} closed", timeout=5)
    finally:
        other.close()
    assert any(e.startswith(f"room {room} closed 1006") for e in seen), seen


def test_unknown_protocol_is_501(client: Client) -> None:
    sid = client.connect("/echo", protocol="not-a-websocket")
    assert client.accepted(sid)[":status"] == "501"
    assert client.pump(lambda: sid in client.ended)
    # The connection goes on.
    sid = client.get("/")
    assert client.pump(lambda: sid in client.ended) and client.headers[sid][":status"] == "200"


def test_refused_handshake_answers_on_the_stream(client: Client) -> None:
    sid = client.connect("/deny")  # the handler returns without accepting: 403
    assert client.accepted(sid)[":status"] == "403"
    sid = client.connect("/echo")
    assert client.accepted(sid)[":status"] == "200"
    client.send(sid, CLOSE, close_payload(1000))
    assert client.frame(sid)[0] == CLOSE
    # A wrong WebSocket version is refused as over HTTP/1.1 (RFC 6455 §4.4).
    old = client.conn.get_next_available_stream_id()
    client.conn.send_headers(old, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                                   (":path", "/echo"), (":authority", "localhost"), ("sec-websocket-version", "8")])
    client.flush()
    h = client.accepted(old)
    assert h[":status"] == "426" and h["sec-websocket-version"] == "13"


def test_websocket_and_requests_share_the_connection(client: Client) -> None:
    ws = [client.connect("/echo") for _ in range(3)]
    for sid in ws:
        assert client.accepted(sid)[":status"] == "200"
    gets = [client.get("/") for _ in range(5)]
    for i, sid in enumerate(ws):
        client.send(sid, TEXT, f"stream {i}".encode())
    assert client.pump(lambda: all(g in client.ended for g in gets))
    for g in gets:
        assert client.headers[g][":status"] == "200" and json.loads(bytes(client.data[g])) == {"ok": True}
    for i, sid in enumerate(ws):
        assert client.frame(sid) == (TEXT, True, f"stream {i}".encode())
    for sid in ws:
        client.send(sid, CLOSE, close_payload(1000))
        assert client.frame(sid)[0] == CLOSE


def test_large_messages_flow_through_the_windows(client: Client) -> None:
    # More than the stream's and the connection's windows both ways: WINDOW_UPDATEs follow
    # what the session parsed and what the client read.
    sid = client.connect("/echo")
    client.accepted(sid)
    blob = os.urandom(900_000)
    client.send(sid, BINARY, blob)
    assert client.frame(sid, timeout=60) == (BINARY, True, blob)
    client.send(sid, CLOSE, close_payload(1000))
    assert client.frame(sid)[0] == CLOSE


def test_permessage_deflate_negotiated_in_the_headers(client: Client) -> None:
    sid = client.connect("/echo", extra=[("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")])
    h = client.accepted(sid)
    assert h[":status"] == "200" and h["sec-websocket-extensions"].startswith("permessage-deflate")
    text = ("compress me, " * 400).encode()
    co = zlib.compressobj(wbits=-15)
    wire = (co.compress(text) + co.flush(zlib.Z_SYNC_FLUSH))[:-4]  # RFC 7692 §7.2.1: the tail goes
    client.send_bytes(sid, client_frame(TEXT, wire, rsv1=True))
    op, fin, payload = client.frame(sid)
    assert op == 0x40 | TEXT and fin  # the echo comes back compressed too
    assert zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff") == text
    client.send(sid, CLOSE, close_payload(1000))
    assert client.frame(sid)[0] == CLOSE


def test_asgi_websocket_over_h2(asgi: ServerProcess) -> None:
    c = Client(asgi)
    try:
        assert c.pump(lambda: h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL in c.server_settings)
        assert c.server_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] == 1
        sid = c.connect("/scope", extra=[("sec-websocket-protocol", "chat")])
        h = c.accepted(sid)
        assert h[":status"] == "200" and h["x-asgi"] == "yes" and h["sec-websocket-protocol"] == "chat"
        op, _, payload = c.frame(sid)
        scope = json.loads(payload)
        assert op == TEXT and scope["type"] == "websocket" and scope["http_version"] == "2"
        assert scope["path"] == "/scope" and scope["subprotocols"] == ["chat"]
        c.send(sid, TEXT, b"echo me")
        assert c.frame(sid) == (TEXT, True, b"echo me")
        # The denial extension answers on its own stream, the WebSocket goes on.
        deny = c.connect("/deny")
        assert c.accepted(deny)[":status"] == "401"
        assert c.pump(lambda: deny in c.ended) and bytes(c.data[deny]) == b"no token"
        c.send(sid, TEXT, b"still here")
        assert c.frame(sid) == (TEXT, True, b"still here")
        c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        c.flush()
        deadline = time.monotonic() + 20
        log = ""
        while "/scope disconnect 1006" not in log and time.monotonic() < deadline:
            g = c.get("/log")
            assert c.pump(lambda: g in c.ended)
            log = bytes(c.data[g]).decode()
            time.sleep(0.1)
        assert "/scope disconnect 1006" in log
    finally:
        c.close()


def test_websocket_over_h2_with_tls(certs: Path) -> None:  # noqa: F811
    # How browsers open one (RFC 8441 over ALPN "h2"): TLS, then the same stream exchange.
    with running("ws_app:app", *tls_args(certs), "--threads", "1") as srv:
        raw = srv.connect(timeout=20)
        sock = client_ctx(alpn=["h2"]).wrap_socket(raw, server_hostname="localhost")
        assert isinstance(sock, ssl.SSLSocket) and sock.selected_alpn_protocol() == "h2"
        c = Client(srv, sock=sock)
        try:
            assert c.pump(lambda: h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL in c.server_settings)
            sid = c.connect("/echo")
            assert c.accepted(sid)[":status"] == "200"
            c.send(sid, TEXT, b"over tls")
            assert c.frame(sid) == (TEXT, True, b"over tls")
            c.send(sid, CLOSE, close_payload(1000), end_stream=True)
            assert c.frame(sid) == (CLOSE, True, close_payload(1000))
            assert c.pump(lambda: sid in c.ended)
        finally:
            c.close()
