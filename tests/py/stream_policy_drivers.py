"""The clients of the stream-policy matrix (tests/py/test_stream_policy.py): one driver per
protocol, each playing every abuse or fault the way a real client of that protocol would
(raw sockets and frames where a library will not misbehave, python-h2, aioquic), and
saying what the server did as a class of outcome that is the same word on every protocol:

- "answered": the request got its whole answer;
- "timeout": the request was ended for being too slow (HTTP/1.1 408; HTTP/2 RST_STREAM
  CANCEL; HTTP/3 RESET_STREAM H3_REQUEST_CANCELLED; or a 408 on the stream);
- "cut": a response the client stopped taking was ended (HTTP/1.1 the connection closed
  before the body's end; HTTP/2 GOAWAY ENHANCE_YOUR_CALM; HTTP/3 CONNECTION_CLOSE
  H3_EXCESSIVE_LOAD);
- "abuse": the connection was closed for abuse (the same codes, for resets);
- "bounded": more requests than the cap at once were all answered or refused explicitly,
  never more than the cap in the app at once (WebSockets: more than the cap held open on
  one connection, the rest refused or held back until one closes);
- "error": a protocol error ended the connection with an error (HTTP/1.1 400 then close;
  HTTP/2 GOAWAY with an error code; HTTP/3 CONNECTION_CLOSE with an H3 code).

Anything else is said as it happened ("closed", "no answer", ...), so a failure names it."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Callable

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from aioquic.quic.packet_builder import QuicPacketBuilder
from aioquic.quic.packet import QuicFrameType
from aioquic.quic.stream import QuicStream

import h3_client
from conftest import Reader, ServerProcess
from h2_tls_helpers import client_ctx

# The server's clocks in these tests (test_stream_policy.py starts it with them).
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
WRITE_TIMEOUT = 2
CAP = 100  # --http3-max-streams and HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS
MiB = 1 << 20
# How long a driver waits for the server's verdict on a stall: the clock, the sweep's
# second, and room for a loaded machine.
VERDICT_S = max(HEADER_TIMEOUT, BODY_TIMEOUT, WRITE_TIMEOUT) + 8


def big_path(n: int) -> str:
    return f"/big/{n}"


# ---- HTTP/1.1, plain or TLS ----

class H1:
    def __init__(self, srv: ServerProcess, tls: bool) -> None:
        self.srv = srv
        self.tls = tls

    def connect(self, rcvbuf: int | None = None) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(VERDICT_S + 10)
        s.connect((self.srv.host, self.srv.port))
        if self.tls:
            s = client_ctx(alpn=["http/1.1"]).wrap_socket(s, server_hostname="localhost")
        return s

    def answer(self, s: socket.socket) -> str:
        try:
            r = Reader(s).read()
        except (ConnectionError, OSError) as e:
            return f"no answer ({e})"
        return {408: "timeout", 400: "error"}.get(r.status, f"status {r.status}")

    def slow_head(self) -> str:
        with self.connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # ... and the rest never comes
            return self.answer(s)

    def stalled_body(self) -> str:
        with self.connect() as s:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
            return self.answer(s)

    def trickled_body(self) -> str:
        with self.connect() as s:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            end = time.monotonic() + VERDICT_S + 5
            while time.monotonic() < end:  # 100 bytes every half second: 200 bytes/s
                if select.select([s], [], [], 0.5)[0]:
                    return self.answer(s)
                s.sendall(b"y" * 100)
            return "never cut"

    def read_body(self, s: socket.socket, total: int, rate: float | None = None, stop_after: int | None = None) -> int:
        """Read a response to GET /big/total: its head, then the body at most `rate` bytes
        a second; with `stop_after`, stop reading there for the write timeout and more. The
        body bytes that came before EOF (or all of them)."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = s.recv(65536)
            if not data:
                return 0
            buf += data
        got = len(buf.split(b"\r\n\r\n", 1)[1])
        paused = False
        start = time.monotonic()
        while got < total:
            if stop_after is not None and got >= stop_after and not paused:
                time.sleep(WRITE_TIMEOUT + 4)  # the client takes nothing now
                paused = True
            try:
                data = s.recv(65536)
            except OSError:
                break
            if not data:
                break
            got += len(data)
            if rate is not None:
                time.sleep(max(0.0, got / rate - (time.monotonic() - start)))
        return got

    def slow_reader(self) -> str:
        with self.connect(rcvbuf=64 * 1024) as s:
            s.sendall(f"GET {big_path(4 * MiB)} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            got = self.read_body(s, 4 * MiB, rate=1.3 * MiB)  # about 3 s: past the write timeout
            return "answered" if got == 4 * MiB else f"{got} of {4 * MiB} bytes"

    def reader_stops(self, at: int = MiB) -> str:
        with self.connect(rcvbuf=64 * 1024) as s:
            s.sendall(f"GET {big_path(64 * MiB)} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            got = self.read_body(s, 64 * MiB, stop_after=at)
            return "cut" if got < 64 * MiB else "answered"

    def window_never_granted(self) -> str:
        return self.reader_stops(at=0)  # TCP's window: a client that never reads

    def get_json(self, path: str) -> Any:
        with self.connect() as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            return json.loads(Reader(s).read().body)

    def too_many_streams(self) -> str:
        n = CAP + 50
        start_peak(self.get_json)
        with self.connect() as s:
            s.sendall(b"".join(b"GET /work?s=0.02 HTTP/1.1\r\nHost: t\r\n\r\n" for _ in range(n)))  # pipelined
            reader = Reader(s)
            statuses = [reader.read().status for _ in range(n)]
        peak = self.get_json("/peak")["peak"]
        ok = statuses == [200] * n and peak <= 64  # (http::max_outstanding_per_connection)
        return "bounded" if ok else f"statuses {sorted(set(statuses))}, peak {peak}"

    def protocol_error(self) -> str:
        with self.connect() as s:
            s.sendall(b"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n")  # a control character in the target
            verdict = self.answer(s)
            return verdict if verdict != "error" or Reader(s).closed(VERDICT_S) else "400 without the close"

    def request_during_block(self) -> str:
        with self.connect() as s:
            reader = Reader(s)
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert reader.read().status == 200
            blocker = block_reactor(self.srv)
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # while the reactor is held
            r = reader.read()
            blocker.join(30)
            return "answered" if r.status == 200 else f"status {r.status}"


def start_peak(get_json: Callable[[str], Any]) -> None:
    """Wait until no handler of an earlier row's connections still runs, then count anew."""
    for _ in range(100):
        if get_json("/peak")["now"] == 0:
            break
        time.sleep(0.1)
    get_json("/peak?reset=1")


async def start_peak_h3(c: h3_client.H3Client) -> None:
    """start_peak over an HTTP/3 connection's own streams."""
    for _ in range(100):  # handlers of an earlier row's connections may still run
        if json.loads((await c.request("GET", "/peak")).body)["now"] == 0:
            break
        await asyncio.sleep(0.1)
    await c.request("GET", "/peak?reset=1")


def block_reactor(srv: ServerProcess, seconds: float = 3.0) -> threading.Thread:
    """A request on a connection of its own to a sync handler that holds the server's only
    reactor for `seconds` (longer than the keep-alive timeout); returns once it holds it."""
    def run() -> None:
        with socket.create_connection((srv.host, srv.port), timeout=30) as b:
            if getattr(srv, "tls", False):
                b = client_ctx(alpn=["http/1.1"]).wrap_socket(b, server_hostname="localhost")
            b.sendall(f"GET /block?s={seconds} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            Reader(b).read()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.0)  # the handler sleeps now
    return t


# ---- HTTP/2 (h2c by prior knowledge, or TLS with ALPN h2), python-h2 ----

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CANCEL, ENHANCE_YOUR_CALM, REFUSED_STREAM = 0x8, 0xB, 0x7


def h2_frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def recv_before(s: socket.socket, end: float) -> bytes | None:
    """What the socket has for us by monotonic time `end`: b"" at EOF or an error, None
    when nothing came yet."""
    s.settimeout(max(0.05, end - time.monotonic()))
    try:
        return s.recv(65536)
    except (socket.timeout, ssl.SSLError):
        return None
    except OSError:
        return b""


def read_h2_frames(s: socket.socket, until: Callable[[tuple[int, int, int, bytes]], bool],
                   timeout: float = VERDICT_S) -> list[tuple[int, int, int, bytes]]:
    """Raw frames (type, flags, stream, payload) until one satisfies `until`, EOF or `timeout`."""
    buf = b""
    frames: list[tuple[int, int, int, bytes]] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            f = (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n])
            buf = buf[9 + n:]
            frames.append(f)
            if until(f):
                return frames
        data = recv_before(s, end)
        if data is None:
            continue
        if not data:
            break
        buf += data
    return frames


class H2:
    # an extended CONNECT (RFC 8441) to the WebSocket route
    WS_HEAD = [(":method", "CONNECT"), (":path", "/ws"), (":scheme", "https"), (":authority", "localhost"),
               (":protocol", "websocket"), ("sec-websocket-version", "13")]

    def __init__(self, srv: ServerProcess, tls: bool) -> None:
        self.srv = srv
        self.tls = tls

    def open(self, settings: dict[int, int] | None = None) -> tuple[socket.socket, h2.connection.H2Connection]:
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=VERDICT_S + 10)
        if self.tls:
            s = client_ctx(alpn=["h2"]).wrap_socket(s, server_hostname="localhost")
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        c = h2.connection.H2Connection(config=cfg)
        c.initiate_connection()
        if settings:
            c.update_settings(settings)
        s.sendall(c.data_to_send())
        return s, c

    @staticmethod
    def headers(path: str, method: str = "GET", extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        return [(":method", method), (":path", path), (":scheme", "https"), (":authority", "localhost"),
                *(extra or [])]

    @staticmethod
    def events(s: socket.socket, c: h2.connection.H2Connection, timeout: float,
               settled: Callable[[list[Any]], bool] = lambda evs: False) -> list[Any]:
        """Read until EOF, a GOAWAY, `settled(events so far)` or `timeout`, acknowledging
        DATA. All the events."""
        out: list[Any] = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            data = recv_before(s, end)
            if data is None:
                continue
            if not data:
                break
            for ev in c.receive_data(data):
                out.append(ev)
                if isinstance(ev, h2.events.DataReceived):
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            s.sendall(c.data_to_send())
            if any(isinstance(e, h2.events.ConnectionTerminated) for e in out) or settled(out):
                break
        return out

    @staticmethod
    def verdict(evs: list[Any], sid: int, stall: str = "timeout") -> str:
        for ev in evs:
            if isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                return "timeout" if ev.error_code == CANCEL else f"reset {ev.error_code}"
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                status = int(dict(ev.headers)[":status"])
                return "timeout" if status == 408 else f"status {status}"
            if isinstance(ev, h2.events.ConnectionTerminated):
                return stall if ev.error_code == ENHANCE_YOUR_CALM else f"goaway {ev.error_code}"
        return "no answer"

    def until(self, sid: int) -> Callable[[list[Any]], bool]:
        return lambda evs: any(getattr(e, "stream_id", None) == sid and isinstance(
            e, (h2.events.StreamReset, h2.events.ResponseReceived)) for e in evs)

    def slow_head(self) -> str:
        # Raw frames: a client in the middle of a header block may send nothing else (RFC
        # 9113 §6.10), not even a SETTINGS acknowledgement, which python-h2 would.
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=VERDICT_S + 10)
        if self.tls:
            s = client_ctx(alpn=["h2"]).wrap_socket(s, server_hostname="localhost")
        with s:
            s.sendall(PREFACE + h2_frame(0x4, 0, 0))
            frames = read_h2_frames(s, lambda f: f[0] == 0x4 and not f[1] & 1)  # the server's SETTINGS
            block = hpack.Encoder().encode(self.headers("/"))
            # SETTINGS ACK, then HEADERS without END_HEADERS and no CONTINUATION ever.
            s.sendall(h2_frame(0x4, 0x1, 0) + h2_frame(0x1, 0x1, 1, block[: len(block) // 2]))
            frames = read_h2_frames(s, lambda f: (f[0] == 0x3 and f[2] == 1) or f[0] == 0x7)
            for ftype, _, sid, payload in frames:
                if ftype == 0x3 and sid == 1:
                    code = int.from_bytes(payload[:4], "big")
                    return "timeout" if code == CANCEL else f"reset {code}"
                if ftype == 0x7:
                    return f"goaway {int.from_bytes(payload[4:8], 'big')}"
            return "no answer"

    def upload(self, body_pieces: Callable[[socket.socket, h2.connection.H2Connection, int], None]) -> str:
        s, c = self.open()
        with s:
            sid = c.get_next_available_stream_id()
            c.send_headers(sid, self.headers("/upload", "POST", [("content-length", "100000")]))
            s.sendall(c.data_to_send())
            body_pieces(s, c, sid)
            return self.verdict(self.events(s, c, VERDICT_S, self.until(sid)), sid)

    def stalled_body(self) -> str:
        def pieces(s: socket.socket, c: h2.connection.H2Connection, sid: int) -> None:
            c.send_data(sid, b"x" * 1000)
            s.sendall(c.data_to_send())
        return self.upload(pieces)

    def trickled_body(self) -> str:
        def pieces(s: socket.socket, c: h2.connection.H2Connection, sid: int) -> None:
            end = time.monotonic() + VERDICT_S
            while time.monotonic() < end:  # 200 bytes/s, until the stream is ended
                c.send_data(sid, b"y" * 100)
                s.sendall(c.data_to_send())
                if select.select([s], [], [], 0.5)[0]:
                    return
        return self.upload(pieces)

    def get_big(self, total: int, settings: dict[int, int] | None = None, rate: float | None = None,
                ack: Callable[[int], bool] = lambda got: True) -> tuple[str, int]:
        s, c = self.open(settings)
        with s:
            sid = c.get_next_available_stream_id()
            c.send_headers(sid, self.headers(big_path(total)), end_stream=True)
            s.sendall(c.data_to_send())
            got = 0
            start = time.monotonic()
            end = start + VERDICT_S + 30
            while time.monotonic() < end:
                if rate is not None:
                    time.sleep(max(0.0, got / rate - (time.monotonic() - start)))
                s.settimeout(VERDICT_S + 5)
                try:
                    data = s.recv(65536)
                except OSError:
                    return "closed", got
                if not data:
                    return "closed", got
                for ev in c.receive_data(data):
                    if isinstance(ev, h2.events.DataReceived):
                        got += len(ev.data)
                        if ack(got):
                            c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                        return ("answered" if got == total else f"ended at {got}"), got
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        return ("cut" if ev.error_code == ENHANCE_YOUR_CALM else f"goaway {ev.error_code}"), got
                s.sendall(c.data_to_send())
            return "no verdict", got

    def slow_reader(self) -> str:
        return self.get_big(4 * MiB, rate=1.3 * MiB)[0]  # about 3 s: past the write timeout

    def reader_stops(self) -> str:
        return self.get_big(16 * MiB, ack=lambda got: got < MiB)[0]  # no WINDOW_UPDATE after 1 MiB

    def window_never_granted(self) -> str:
        return self.get_big(MiB, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})[0]

    def rapid_reset(self, head: list[tuple[str, str]] | None = None) -> str:
        """1000 streams (a GET, or `head` left open), each reset at once."""
        s, c = self.open()
        with s:
            for _ in range(1000):
                sid = c.get_next_available_stream_id()
                c.send_headers(sid, head or self.headers("/work?s=0.5"), end_stream=head is None)
                c.reset_stream(sid, CANCEL)
            try:
                s.sendall(c.data_to_send())
            except OSError:
                pass
            evs = self.events(s, c, VERDICT_S)
            codes = [e.error_code for e in evs if isinstance(e, h2.events.ConnectionTerminated)]
            return "abuse" if codes == [ENHANCE_YOUR_CALM] else f"goaways {codes}"

    def get_json(self, path: str) -> Any:
        s, c = self.open()
        with s:
            sid = c.get_next_available_stream_id()
            c.send_headers(sid, self.headers(path), end_stream=True)
            s.sendall(c.data_to_send())
            evs = self.events(s, c, 10, lambda evs: any(isinstance(e, h2.events.StreamEnded) for e in evs))
            return json.loads(b"".join(e.data for e in evs if isinstance(e, h2.events.DataReceived)))

    def open_many(self, head: list[tuple[str, str]], end_stream: bool) -> tuple[dict[int, str], int] | str:
        """CAP + 50 streams opened at once on one connection (before the server's SETTINGS
        arrive, so the client does not hold any back): what became of each (its status, or
        "refused" for REFUSED_STREAM), and the most handlers at once (/peak); or the GOAWAY."""
        start_peak(self.get_json)
        s, c = self.open()
        n = CAP + 50
        with s:
            for _ in range(n):
                c.send_headers(c.get_next_available_stream_id(), head, end_stream=end_stream)
            s.sendall(c.data_to_send())
            done: dict[int, str] = {}
            end = time.monotonic() + VERDICT_S + 10
            while len(done) < n and time.monotonic() < end:
                for ev in self.events(s, c, 1):
                    if isinstance(ev, h2.events.ResponseReceived):
                        done[ev.stream_id] = dict(ev.headers)[":status"]
                    elif isinstance(ev, h2.events.StreamReset):
                        done[ev.stream_id] = "refused" if ev.error_code == REFUSED_STREAM else f"reset {ev.error_code}"
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        return f"goaway {ev.error_code}"
            return done, self.get_json("/peak")["peak"]

    def too_many_streams(self) -> str:
        got = self.open_many(self.headers("/work?s=0.5"), end_stream=True)
        if isinstance(got, str):
            return got
        done, peak = got
        kinds = sorted(set(done.values()))
        ok = len(done) == CAP + 50 and set(kinds) <= {"200", "refused"} and peak <= CAP
        return "bounded" if ok else f"{len(done)} of {CAP + 50}: {kinds}, peak {peak}"

    def ws_past_the_cap(self) -> str:
        """CAP + 50 WebSockets opened at once on one connection and held: each accepted
        (200) or refused (REFUSED_STREAM), never more than the cap open in the app."""
        got = self.open_many(self.WS_HEAD, end_stream=False)
        if isinstance(got, str):
            return got
        done, peak = got
        accepted = sum(1 for v in done.values() if v == "200")
        kinds = sorted(set(done.values()))
        ok = len(done) == CAP + 50 and set(kinds) == {"200", "refused"} and accepted <= CAP and peak <= CAP
        return "bounded" if ok else f"{len(done)} of {CAP + 50}: {kinds}, {accepted} accepted, peak {peak}"

    def ws_rapid_reset(self) -> str:
        """Extended CONNECTs (RFC 8441) to a WebSocket route, each reset at once."""
        return self.rapid_reset(self.WS_HEAD)

    def protocol_error(self) -> str:
        s, c = self.open()
        with s:
            s.sendall(h2_frame(0x0, 0x0, 0, b"x"))  # DATA on stream 0 (RFC 9113 §6.1: PROTOCOL_ERROR)
            for ev in self.events(s, c, VERDICT_S):
                if isinstance(ev, h2.events.ConnectionTerminated):
                    return "error" if ev.error_code not in (0, ENHANCE_YOUR_CALM) else f"goaway {ev.error_code}"
            return "no goaway"

    def request_during_block(self) -> str:
        s, c = self.open()
        with s:
            statuses = []
            for step in range(2):
                if step == 1:
                    blocker = block_reactor(self.srv)
                sid = c.get_next_available_stream_id()
                c.send_headers(sid, self.headers("/"), end_stream=True)
                s.sendall(c.data_to_send())
                evs = self.events(s, c, 30, self.until(sid))
                statuses += [int(dict(e.headers)[":status"]) for e in evs if isinstance(e, h2.events.ResponseReceived)]
            blocker.join(30)
            return "answered" if statuses == [200, 200] else f"statuses {statuses}"


# ---- HTTP/3, aioquic ----

H3_CANCELLED, H3_EXCESSIVE_LOAD = 0x10C, 0x107


def throttle(c: h3_client.H3Client, window: int, rate: float | None = None, stop_after: int | None = None) -> None:
    """The client's receive windows on request streams as a slow or stopping reader keeps
    them: `window` bytes ahead of what came, raised at most `rate` bytes a second, never
    again once `stop_after` bytes came (aioquic otherwise doubles a window as it fills,
    whatever its application reads)."""
    quic = c._quic
    start = time.monotonic()

    def limits(builder: QuicPacketBuilder, space: Any, stream: QuicStream) -> None:
        sid = stream.stream_id
        if sid is None or sid & 3 != 0 or not stream.max_stream_data_local:
            return
        came = stream.receiver.highest_offset
        want = came + window
        if rate is not None:
            want = min(want, window + int(rate * (time.monotonic() - start)))
        if stop_after is not None and came >= stop_after:
            want = stream.max_stream_data_local
        if want > stream.max_stream_data_local:
            stream.max_stream_data_local = want
        if stream.max_stream_data_local_sent != stream.max_stream_data_local:
            buf = builder.start_frame(QuicFrameType.MAX_STREAM_DATA, capacity=1 + 8 + 8,
                                      handler=quic._on_max_stream_data_delivery, handler_args=(stream,))
            buf.push_uint_var(sid)
            buf.push_uint_var(stream.max_stream_data_local)
            stream.max_stream_data_local_sent = stream.max_stream_data_local

    quic._write_stream_limits = limits  # type: ignore[method-assign]


class H3:
    def __init__(self, srv: ServerProcess) -> None:
        self.srv = srv

    def run(self, session: Callable[[h3_client.H3Client], Any], timeout: float = 60,
            window: int | None = None) -> Any:
        if window is None:
            return h3_client.run(self.srv.port, session, timeout=timeout)

        async def main() -> Any:
            cfg = h3_client.configuration()
            client = await h3_client.open_client(self.srv.port, configuration=cfg, stream_window=window)
            try:
                return await session(client)
            finally:
                await h3_client.close_client(client)

        return asyncio.run(asyncio.wait_for(main(), timeout))

    @staticmethod
    async def verdict(c: h3_client.H3Client, fut: asyncio.Future[h3_client.H3Response], stall: str = "timeout") -> str:
        try:
            r = await asyncio.wait_for(asyncio.shield(fut), VERDICT_S)
        except asyncio.TimeoutError:
            return "no answer"
        except ConnectionError:
            code = c.closed.error_code if c.closed else None
            return stall if code == H3_EXCESSIVE_LOAD else f"closed {code}"
        if r.reset is not None:
            return "timeout" if r.reset == H3_CANCELLED else f"reset {r.reset:#x}"
        return "timeout" if r.status == 408 else ("answered" if r.status == 200 else f"status {r.status}")

    def slow_head(self) -> str:
        async def session(c: h3_client.H3Client) -> str:
            sid = c._quic.get_next_available_stream_id()
            fut = c.track(sid)
            c._quic.send_stream_data(sid, b"\x01\x40\x40" + b"\x00\x00\xd1")  # HEADERS of 64 bytes, 3 sent
            c.transmit()
            return await self.verdict(c, fut)
        return str(self.run(session))

    def upload(self, more: Callable[[h3_client.H3Client, int, asyncio.Future[Any]], Any]) -> str:
        async def session(c: h3_client.H3Client) -> str:
            sid = c.send_head("POST", "/upload", end_stream=False, headers=[("content-length", "100000")])
            fut = c.track(sid)
            await more(c, sid, fut)
            return await self.verdict(c, fut)
        return str(self.run(session))

    def stalled_body(self) -> str:
        async def more(c: h3_client.H3Client, sid: int, fut: asyncio.Future[Any]) -> None:
            c._http.send_data(sid, b"x" * 1000, end_stream=False)
            c.transmit()
        return self.upload(more)

    def trickled_body(self) -> str:
        async def more(c: h3_client.H3Client, sid: int, fut: asyncio.Future[Any]) -> None:
            end = time.monotonic() + VERDICT_S
            while time.monotonic() < end and not fut.done():  # 200 bytes/s
                c._http.send_data(sid, b"y" * 100, end_stream=False)
                c.transmit()
                await asyncio.sleep(0.5)
        return self.upload(more)

    def get_big(self, total: int, window: int, rate: float | None = None, stop_after: int | None = None,
                stall: str = "cut") -> str:
        async def session(c: h3_client.H3Client) -> str:
            throttle(c, window, rate, stop_after)
            resp, fut = c.start("GET", big_path(total))
            verdict = await self.verdict(c, fut, stall)
            if verdict == "answered" and len(resp.body) != total:
                return f"{len(resp.body)} of {total} bytes"
            return verdict
        return str(self.run(session, window=window))

    def slow_reader(self) -> str:
        return self.get_big(4 * MiB, window=64 * 1024, rate=1.3 * MiB)  # about 3 s: past the write timeout

    def reader_stops(self) -> str:
        return self.get_big(16 * MiB, window=64 * 1024, stop_after=MiB)

    def window_never_granted(self) -> str:
        return self.get_big(MiB, window=0, stop_after=0)

    def rapid_reset(self, path: str = "/work?s=0.5", method: str | None = None,
                    headers: list[tuple[str, str]] | None = None) -> str:
        async def session(c: h3_client.H3Client) -> str:
            await h3_client.cancel_flood(c, path, False, VERDICT_S, method=method, headers=headers)
            for _ in range(100):
                if c.closed is not None:
                    break
                await asyncio.sleep(0.05)
            code = c.closed.error_code if c.closed else None
            return "abuse" if code == H3_EXCESSIVE_LOAD else f"closed {code}"
        return str(self.run(session))

    def too_many_streams(self) -> str:
        async def one(c: h3_client.H3Client) -> str:
            await c.when_a_stream_may_open()
            r = await c.request("GET", "/work?s=0.5")
            return str(r.status) if r.reset is None else f"reset {r.reset:#x}"

        async def session(c: h3_client.H3Client) -> list[str]:
            await start_peak_h3(c)
            out = await asyncio.gather(*(one(c) for _ in range(CAP + 50)))
            peak = json.loads((await c.request("GET", "/peak")).body)["peak"]
            return [*out, f"peak {peak}"]

        out = self.run(session)
        peak = int(out.pop().split()[1])
        kinds = sorted(set(out))
        return "bounded" if kinds == ["200"] and peak <= CAP else f"{kinds}, peak {peak}"

    WS = [(":protocol", "websocket"), ("sec-websocket-version", "13")]

    def ws_rapid_reset(self) -> str:
        """Extended CONNECTs (RFC 9220) to a WebSocket route, each reset at once."""
        return self.rapid_reset("/ws", "CONNECT", self.WS)

    def ws_past_the_cap(self) -> str:
        """CAP WebSockets held open on one connection: all accepted, and the client may
        open no stream more (MAX_STREAMS) until one of them ends; then it may."""
        async def session(c: h3_client.H3Client) -> str:
            await start_peak_h3(c)
            sids = []
            for _ in range(CAP):  # (the /peak requests above used streams that were given back)
                await c.when_a_stream_may_open()
                sid = c.send_head("CONNECT", "/ws", end_stream=False, headers=self.WS)
                c.track(sid)  # its answer never ends: the head is what is waited for
                sids.append(sid)
            heads = [c._open[sid][0] for sid in sids]
            end = time.monotonic() + VERDICT_S
            while any(r.status == 0 and r.reset is None for r in heads) and time.monotonic() < end:
                await asyncio.sleep(0.02)
            statuses = [str(r.status) if r.reset is None else f"reset {r.reset:#x}" for r in heads]
            try:
                await asyncio.wait_for(c.when_a_stream_may_open(), 2)
                return f"a stream past the cap could open ({sorted(set(statuses))})"
            except asyncio.TimeoutError:
                pass
            c.cancel(sids[0], reset=True)  # one WebSocket ends: its stream is given back
            try:
                await asyncio.wait_for(c.when_a_stream_may_open(), VERDICT_S)
            except asyncio.TimeoutError:
                return "no stream given back after a WebSocket ended"
            peak = json.loads((await c.request("GET", "/peak")).body)["peak"]
            ok = statuses == ["200"] * CAP and peak <= CAP
            return "bounded" if ok else f"{sorted(set(statuses))}, peak {peak}"
        return str(self.run(session))

    def protocol_error(self) -> str:
        async def session(c: h3_client.H3Client) -> str:
            control = c._http._local_control_stream_id
            assert control is not None
            c._quic.send_stream_data(control, b"\x00\x01x")  # DATA on the control stream: H3_FRAME_UNEXPECTED
            c.transmit()
            for _ in range(VERDICT_S * 20):
                if c.closed is not None:
                    code = c.closed.error_code
                    return "error" if 0x101 <= code <= 0x10E and code != H3_EXCESSIVE_LOAD else f"closed {code:#x}"
                await asyncio.sleep(0.05)
            return "no close"
        return str(self.run(session))

    def request_during_block(self) -> str:
        async def session(c: h3_client.H3Client) -> list[int]:
            statuses = [(await c.request("GET", "/")).status]
            blocker = await asyncio.to_thread(block_reactor, self.srv)
            statuses.append((await c.request("GET", "/")).status)
            await asyncio.to_thread(blocker.join, 30)
            return statuses
        statuses = self.run(session)
        return "answered" if statuses == [200, 200] else f"statuses {statuses}"


def drivers(plain: ServerProcess, tls: ServerProcess) -> dict[str, Any]:
    return {"h1": H1(plain, False), "h1-tls": H1(tls, True), "h2c": H2(plain, False), "h2-tls": H2(tls, True),
            "h3": H3(tls)}


__all__ = ["CAP", "H1", "H2", "H3", "Path", "drivers"]
