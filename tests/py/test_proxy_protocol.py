"""Behind a load balancer that speaks HAProxy's PROXY protocol (--proxy-protocol, issue 43):
version 1 and 2 headers sent by a test balancer over real sockets and by HAProxy itself
(send-proxy, send-proxy-v2, send-proxy-v2-ssl in front of a TLS listener). The client the
header names is what every interface shows (the native request, ASGI, WSGI, the access
log); a balancer's health check (LOCAL) is served as the balancer; bad input closes the
connection before anything is read as HTTP, counted, while others are served; a peer that
is no balancer is served as itself and may not claim another address."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import struct
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from balancer import start_haproxy
from conftest import LoggedServer, Reader, ServerProcess, metric_totals
from h2_tls_helpers import BACKENDS, certs, client_ctx, env_io, running, tls_args  # noqa: F401  (certs: a fixture)
from keepalive_clients import KeepAliveClient, assert_every_request_answered

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src: str, sport: int, dport: int = 443) -> bytes:
    family, dst = ("TCP6", "::1") if ":" in src else ("TCP4", "127.0.0.1")
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + struct.pack(">H", len(value)) + value


def v2(src: str, sport: int, tlvs: bytes = b"", command: int = 0x21) -> bytes:
    body = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack(">HH", sport, 443) + tlvs
    return V2_SIGNATURE + bytes([command, 0x11]) + struct.pack(">H", len(body)) + body


def ask(port: int, preface: bytes, path: str = "/who", pieces: int = 0) -> Any:
    """A connection from this process (127.0.0.1, a balancer by default): `preface`, then
    a request; its JSON answer, or the status and text of whatever else came."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = preface + f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        if pieces:
            for i in range(0, len(wire), pieces):
                s.sendall(wire[i:i + pieces])
                time.sleep(0.002)
        else:
            s.sendall(wire)
        r = Reader(s).read()
        return json.loads(r.body) if r.status == 200 else (r.status, r.body)


def closed_without_answer(port: int, preface: bytes, then_eof: bool = False) -> bool:
    """True when the server closes the connection having sent nothing at all."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(preface)
        if then_eof:
            s.shutdown(socket.SHUT_WR)
        else:
            s.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        got = b""
        try:
            while chunk := s.recv(4096):
                got += chunk
        except ConnectionResetError:
            pass
        return got == b""


def counters(port: int) -> dict[str, int]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(v2("127.0.0.1", 1, command=0x20) + b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return metric_totals(Reader(s).read().body.decode())


@pytest.fixture(params=BACKENDS)
def proxied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LoggedServer]:
    s = LoggedServer("proxied_apps:native", tmp_path / "server.log", "--proxy-protocol", "any", "--threads", "1",
                     "--metrics", "--access-log", "--header-timeout", "2", env=env_io(request.param))
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("preface, client", [
    (v1("192.0.2.7", 51000), ["192.0.2.7", 51000]),
    (v1("2001:db8::7", 51001), ["2001:db8::7", 51001]),
    (v2("198.51.100.9", 51002), ["198.51.100.9", 51002]),
], ids=["v1-tcp4", "v1-tcp6", "v2-tcp4"])
def test_the_client_the_header_names_is_the_requests(proxied: LoggedServer, preface: bytes, client: list) -> None:
    for pieces in (0, 1):  # in one write, and a byte at a time
        got = ask(proxied.port, preface, pieces=pieces)
        assert got == {"client": client, "scheme": "http"}, got
    proxied.wait_log(f'ACCESS: {client[0]}:{client[1]} - "GET /who')  # the access log says who, too


def test_a_balancers_tls_tlv_makes_the_scheme_https(proxied: LoggedServer) -> None:
    ssl_tlv = tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x21, b"TLSv1.3"))
    got = ask(proxied.port, v2("192.0.2.8", 40000, tlv(0x01, b"http/1.1") + tlv(0x02, b"example.com") + ssl_tlv))
    assert got == {"client": ["192.0.2.8", 40000], "scheme": "https"}, got


def test_the_largest_v2_header_the_spec_allows_is_read(proxied: LoggedServer) -> None:
    """A length of 65,535 (the most its 16 bits say): the addresses, an authority and
    PP2_TYPE_NOOP padding (HAProxy pads with it) to the end, in one write and in pieces."""
    authority = tlv(0x02, b"example.com")
    padding = 65535 - 12 - len(authority) - 3  # after the IPv4 addresses and ports, and the NOOP's own 3 bytes
    preface = v2("192.0.2.10", 40001, authority + tlv(0x04, b"\0" * padding))
    assert len(preface) == 16 + 65535
    for pieces in (0, 1400):
        got = ask(proxied.port, preface, pieces=pieces)
        assert got == {"client": ["192.0.2.10", 40001], "scheme": "http"}, (pieces, got)


def test_a_health_checks_local_header_is_the_balancers_own(proxied: LoggedServer) -> None:
    for preface in (b"PROXY UNKNOWN\r\n", v2("0.0.0.0", 0, command=0x20)):
        got = ask(proxied.port, preface)
        assert got["client"][0] == "127.0.0.1" and got["client"][1] > 0, got


@pytest.mark.parametrize("preface, eof", [
    (b"", False),  # no header from a balancer: the request itself is refused
    (b"GARBAGE " + v1("192.0.2.7", 1), False),
    (v1("192.0.2.7", 1)[:20], True),  # cut, then the connection ends
    (v1("192.0.2.777", 1), False),
    (b"PROXY TCP4 192.0.2.7 127.0.0.1 1 443\n", False),  # LF without CR
    (V2_SIGNATURE + b"\x21\x11\xff\xff" + b"\x00" * 100, True),  # announces 64 KiB, ends before them
    (V2_SIGNATURE + b"\x21\x11\x00\x04" + b"\x00" * 4, False),  # too short for its addresses
], ids=["missing", "garbage-before", "truncated", "bad-address", "bare-lf", "v2-cut", "v2-short"])
def test_a_bad_header_closes_the_connection_and_others_are_served(proxied: LoggedServer, preface: bytes,
                                                                   eof: bool) -> None:
    before = counters(proxied.port)["proxy_refused"]
    assert closed_without_answer(proxied.port, preface, then_eof=eof)
    assert ask(proxied.port, v1("192.0.2.9", 2)) == {"client": ["192.0.2.9", 2], "scheme": "http"}
    assert counters(proxied.port)["proxy_refused"] == before + 1
    proxied.wait_log("the counter proxy_refused counts every such connection")  # said once


def test_a_header_that_never_ends_is_cut_at_the_header_timeout(proxied: LoggedServer) -> None:
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=10) as s:
        s.sendall(b"PROXY TCP4 192.0.2.7")
        t0 = time.monotonic()
        s.settimeout(10)
        assert s.recv(4096) == b""
        assert 1.5 < time.monotonic() - t0 < 5  # --header-timeout 2


@pytest.mark.parametrize("io", BACKENDS)
def test_a_peer_that_is_no_balancer_is_served_as_itself_and_may_not_claim_another(io: str) -> None:
    with running("proxied_apps:native", "--proxy-protocol", "any", "--forwarded-allow-ips", "10.0.0.1", io=io) as s:
        got = ask(s.port, b"")
        assert got["client"][0] == "127.0.0.1", got  # a direct client: its own address
        assert closed_without_answer(s.port, v1("192.0.2.7", 51000))  # it may not say it is someone else
        assert ask(s.port, b"")["client"][0] == "127.0.0.1"


@pytest.mark.parametrize("app", ["proxied_apps:asgi", "proxied_apps:wsgi"])
def test_asgi_and_wsgi_see_the_proxied_client(app: str) -> None:
    with running(app, "--proxy-protocol", "v2") as s:
        assert ask(s.port, v2("192.0.2.10", 41000)) == {"client": ["192.0.2.10", 41000], "scheme": "http"}


def test_the_header_comes_before_tls(certs: Path) -> None:  # noqa: F811
    with running("proxied_apps:native", "--proxy-protocol", "v1", *tls_args(certs)) as s:
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
            raw.sendall(v1("192.0.2.11", 42000))
            with client_ctx().wrap_socket(raw, server_hostname="localhost") as t:
                t.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = json.loads(Reader(t).read().body)
        assert got == {"client": ["192.0.2.11", 42000], "scheme": "https"}, got


def facts_over(port: int, preface: bytes) -> Any:
    return ask(port, preface, path="/facts")["proxy_protocol"]


SSL_TLV = tlv(0x20, b"\x03\x00\x00\x00\x00"  # PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN, verified (0)
              + tlv(0x21, b"TLSv1.3") + tlv(0x22, b"client.example") + tlv(0x23, b"TLS_AES_128_GCM_SHA256"))
ALL_TLVS = tlv(0x01, b"h2") + tlv(0x02, b"example.com") + tlv(0x05, bytes(range(16))) + SSL_TLV


@pytest.mark.parametrize("app", ["proxied_apps:native", "proxied_apps:asgi", "proxied_apps:wsgi"])
def test_what_the_header_said_reaches_every_interface(app: str) -> None:
    with running(app, "--proxy-protocol", "any") as s:
        got = facts_over(s.port, v2("192.0.2.12", 43000, ALL_TLVS))
        balancer = got.pop("balancer")
        assert balancer[0] == "127.0.0.1" and balancer[1] > 0, balancer  # the socket's peer: this test
        assert got == {
            "version": 2, "destination": ["127.0.0.1", 443], "alpn": "h2", "authority": "example.com",
            "unique_id": bytes(range(16)).hex(),
            "ssl": {"version": "TLSv1.3", "cipher": "TLS_AES_128_GCM_SHA256", "cn": "client.example",
                    "verified": True},
        }, got
        # Version 1 says addresses only; an unverified certificate is not called verified.
        got = facts_over(s.port, v1("192.0.2.13", 43001))
        assert (got["version"], got["destination"], got["alpn"], got["ssl"]) == (1, ["127.0.0.1", 443], None, None)
        unverified = tlv(0x20, b"\x03\x00\x00\x00\x01" + tlv(0x21, b"TLSv1.2"))
        assert facts_over(s.port, v2("192.0.2.14", 43002, unverified))["ssl"] == {
            "version": "TLSv1.2", "cipher": None, "cn": None, "verified": False}
        # A health check (LOCAL) names no client: nothing to tell.
        assert facts_over(s.port, v2("0.0.0.0", 0, command=0x20)) is None


def test_a_direct_clients_requests_have_no_header_facts() -> None:
    with running("proxied_apps:native", "--proxy-protocol", "any", "--forwarded-allow-ips", "10.0.0.1") as s:
        assert facts_over(s.port, b"") is None


def test_every_http2_stream_of_a_proxied_connection_serves_its_client() -> None:
    import h2.config
    import h2.connection
    import h2.events

    with running("proxied_apps:native", "--proxy-protocol", "v2") as s:
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(v2("192.0.2.15", 44000, tlv(0x02, b"h2.example")))
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            streams = {}
            for path in ("/who", "/facts", "/who"):
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"),
                                        (":authority", "x")], end_stream=True)
                streams[sid] = b""
            c.sendall(conn.data_to_send())
            done: set[int] = set()
            while len(done) < len(streams):
                data = c.recv(65536)
                assert data, "the connection closed before every stream ended"
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        done.add(ev.stream_id)
                c.sendall(conn.data_to_send())
        answers = [json.loads(streams[sid]) for sid in sorted(streams)]
        assert answers[0] == answers[2] == {"client": ["192.0.2.15", 44000], "scheme": "http"}, answers
        assert answers[1]["proxy_protocol"]["authority"] == "h2.example", answers


def test_forwarding_headers_are_believed_only_from_a_trusted_client_the_header_names() -> None:
    """--proxy-headers on top: the header names who wrote the HTTP request; its forwarding
    headers count only when that client is itself a trusted proxy (an HTTP proxy behind
    the TCP balancer), never because the balancer is trusted."""
    with running("proxied_apps:native", "--proxy-protocol", "v1", "--proxy-headers",
                 "--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8") as s:
        def who(client: str) -> Any:
            with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
                c.sendall(v1(client, 45000) + b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          b"X-Forwarded-For: 203.0.113.1\r\nX-Forwarded-Proto: https\r\n\r\n")
                return json.loads(Reader(c).read().body)

        assert who("192.0.2.16") == {"client": ["192.0.2.16", 45000], "scheme": "http"}  # a client's own claim
        assert who("10.1.2.3") == {"client": ["203.0.113.1", 0], "scheme": "https"}  # an HTTP proxy in 10/8


# ---- HAProxy in front (Debian's haproxy) ----

@contextmanager
def logged(app: str, log: Path, *args: str, io: str) -> Iterator[LoggedServer]:
    s = LoggedServer(app, log, *args, env=env_io(io))
    try:
        yield s
    finally:
        assert s.stop() == 0, s.output()


@pytest.mark.parametrize("io", BACKENDS)
@pytest.mark.parametrize("mode", ["send-proxy", "send-proxy-v2", "send-proxy-v2-ssl"])
def test_behind_haproxy_the_app_sees_the_client(certs: Path, tmp_path: Path, io: str, mode: str) -> None:  # noqa: F811
    tls = mode == "send-proxy-v2-ssl"
    extra = tls_args(certs) if tls else []
    log = tmp_path / "server.log"
    with logged("proxied_apps:native", log, "--proxy-protocol", "any", "--metrics", *extra, io=io) as s:
        # TCP passthrough to ringbolt; with the TLS listener HAProxy speaks TLS to it as well
        # (ssl verify none) and says so in the header (send-proxy-v2-ssl).
        server = f"server r 127.0.0.1:{s.port} {mode}" + (" ssl verify none" if tls else "") + " check inter 200"
        proc, ports = start_haproxy(tmp_path, {"back": server})
        port = ports["back"]
        try:
            for _ in range(3):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                    mine = c.getsockname()
                    c.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    got = json.loads(Reader(c).read().body)
                assert got["client"] == [mine[0], mine[1]], (got, mine)  # the client's own address and port
                assert got["scheme"] == ("https" if tls else "http")
            time.sleep(0.5)  # a couple of health checks (every 200 ms)
            assert proc.poll() is None
        finally:
            proc.terminate()
            out = proc.communicate(timeout=10)[0].decode(errors="replace")
        assert "DOWN" not in out, out  # the health checks passed
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as m:
            m.sendall(v2("127.0.0.1", 1, command=0x20))  # (the header before TLS, as a balancer's)
            if tls:
                m = client_ctx().wrap_socket(m, server_hostname="localhost")
            m.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            totals = metric_totals(Reader(m).read().body.decode())
        assert totals["proxy_refused"] == 0 and totals["proxy_headers"] >= 4, (totals, s.output())


def test_a_backend_drained_behind_haproxy_under_load_loses_nothing(tmp_path: Path) -> None:
    """Two ringbolt backends behind HAProxy (send-proxy-v2, health checks every 100 ms),
    keep-alive clients through it; one backend is stopped (SIGTERM: a drain). Every request
    a client sent is answered 200: the draining backend ends its connections after an
    answer with Connection: close, HAProxy sends new connections to the other (redispatch
    while its check has not yet seen the first go), and each client's reconnections go on."""
    backends = [ServerProcess("drain_app:app", "--proxy-protocol", "v2", "--threads", "1") for _ in range(2)]
    proc = None
    clients: list[KeepAliveClient] = []
    try:
        pids = [b.proc.pid for b in backends]
        servers = "\n    ".join(f"server b{i} 127.0.0.1:{b.port} send-proxy-v2 check inter 100 fall 1 rise 2"
                                  for i, b in enumerate(backends))
        proc, ports = start_haproxy(tmp_path, {"back": "balance roundrobin\n    " + servers})
        port = ports["back"]
        clients = [KeepAliveClient(port, reconnect=True, run_for=5) for _ in range(6)]
        for c in clients:
            c.start()
        time.sleep(1.0)
        served_by = {pid for c in clients for _, pid in c.pids}
        assert served_by == set(pids), f"before the drain both backends serve: {served_by} vs {pids}"
        stopped_at = time.monotonic()
        backends[0].proc.send_signal(signal.SIGTERM)
        assert backends[0].proc.wait(15) == 0, backends[0].output()
        exited_at = time.monotonic()
        for c in clients:
            c.join(15)
        assert not any(c.is_alive() for c in clients), "a client still runs 15 s after its end"
        assert_every_request_answered(clients, "a backend drained behind HAProxy")
        after = {pid for c in clients for t, pid in c.pids if t > exited_at}
        assert after == {pids[1]}, f"after the drain only the other backend serves: {after}"
        assert sum(1 for c in clients for t, _ in c.pids if t > exited_at) > 100, "the load went on"
        assert exited_at - stopped_at < 10
    finally:
        for c in clients:
            c.halt.set()
        if proc is not None:
            proc.terminate()
            proc.communicate(timeout=10)
        for b in backends:
            b.stop()
