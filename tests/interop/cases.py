"""The interop matrix's cases: the QUIC interop runner's server test cases, run against one
server through the shaping relay (relay.py) with aioquic as the client, and Debian's
ngtcp2 example client (gtlsclient) where a case can use it.

A case starts its own server (servers.py) and relay, runs its client, and then checks both
what the client saw (status, every byte by sha256, the TLS and QUIC facts the case is about)
and what the relay counted (the impairment really happened: datagrams dropped, corrupted,
delayed, blackholed, a rebinding, a Retry on the wire...). `run_case` returns a `Result`:
pass or fail with the reason, wall time, the server's CPU time (all its processes) and the
relay's counters. Nothing is skipped: a case whose server side does not exist fails with
what was observed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import zlib
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite, Epoch, SessionTicket

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "py"))

from app import content  # noqa: E402
from h3_client import H3Client, H3Response  # noqa: E402
from relay import Plan, RelayProcess  # noqa: E402
from servers import CLIENT_ENV, Certs, Server, ServerFailed  # noqa: E402

MiB = 1 << 20
logging.getLogger("quic").setLevel(logging.CRITICAL)  # (what it logs, a case reports as its reason)
V1, V2 = int(QuicProtocolVersion.VERSION_1), int(QuicProtocolVersion.VERSION_2)
MAX_EARLY_DATA = 0xFFFFFFFF  # RFC 9001 §4.6.1: a QUIC ticket that allows 0-RTT says this


class CaseFailed(Exception):
    """The case failed; the message says what was observed."""


def expect(cond: bool, reason: str) -> None:
    if not cond:
        raise CaseFailed(reason)


# ---- what a case is ----

@dataclass
class Context:
    """What a running case has: where its client sends (the relay), its server, its
    notes (the facts reported), and the clients it opened (for a report on a hang)."""

    host: str
    port: int  # the relay's
    server: Server
    certs: Certs
    tmp: Path
    facts: dict[str, Any] = field(default_factory=dict)
    clients: list[H3Client] = field(default_factory=list)


@dataclass
class Case:
    name: str
    proves: str  # one line: what passing it shows (docs/http3.md takes these)
    run: Callable[[Context], Awaitable[None]] | Callable[[Context], None]
    plan: Plan = field(default_factory=Plan)
    check: Callable[[Context, dict[str, Any]], None] | None = None  # on the relay's counters
    host: str = "127.0.0.1"
    big_chain: bool = False
    retry: bool = False
    timeout: float = 60.0
    client: str = "aioquic"
    ringbolt_args: tuple[str, ...] = ()  # the ringbolt server's own options for this case


@dataclass
class Result:
    case: str
    client: str
    ok: bool
    reason: str
    wall: float
    cpu: float | None
    relay: dict[str, Any]
    facts: dict[str, Any]
    server_log: str = ""
    server_counters: dict[str, int] = field(default_factory=dict)

    def relay_summary(self) -> str:
        return summarize(self.relay)


# ---- the aioquic side ----

def config(**kw: Any) -> QuicConfiguration:
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    cfg.verify_mode = ssl.CERT_NONE  # the certificates are made by the runner
    cfg.max_data = 64 * MiB
    cfg.max_stream_data = 16 * MiB  # (so the client's flow control is never what limits)
    cfg.idle_timeout = 20.0
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@asynccontextmanager
async def h3(ctx: Context, cfg: QuicConfiguration | None = None, wait: bool = True,
             tickets: Callable[[SessionTicket], None] | None = None) -> AsyncIterator[H3Client]:
    """An HTTP/3 connection to the server through the relay, on a dual-stack socket as
    aioquic's own connect() makes (an IPv4 address v4-mapped). `wait`: return once the
    handshake is done (otherwise at once: what is sent first goes in 0-RTT when it can).
    On leaving, the client sends its CONNECTION_CLOSE and goes without the draining
    period (3 PTOs: 11 s at a 1.5 s round trip), which is not the server's time."""
    loop = asyncio.get_running_loop()
    addr: tuple[Any, ...] = (ctx.host, ctx.port, 0, 0) if ":" in ctx.host else ("::ffff:" + ctx.host, ctx.port, 0, 0)
    quic = QuicConnection(configuration=cfg or config(), session_ticket_handler=tickets)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 0, 0, 0))
    transport, c = await loop.create_datagram_endpoint(lambda: H3Client(quic), sock=sock)
    assert isinstance(c, H3Client)
    ctx.clients.append(c)
    try:
        c.connect(addr)
        if wait:
            try:
                await c.wait_connected()
            except ConnectionError:
                port = transport.get_extra_info("sockname")[1]
                raise CaseFailed(f"no handshake (client port {port}): {terminated(c)}") from None
        yield c
    finally:
        c.close()  # (CONNECTION_CLOSE goes out now)
        if c._timer is not None:
            c._timer.cancel()
            c._timer = None
        c.transmit = lambda: None  # type: ignore[method-assign,unused-ignore]
        transport.close()


def digest(data: bytes | bytearray) -> str:
    return hashlib.sha256(data).hexdigest()


_expected: dict[int, str] = {}


def expected_digest(n: int) -> str:
    if n not in _expected:
        _expected[n] = digest(content(n))
    return _expected[n]


def check_body(r: H3Response, n: int, what: str) -> None:
    expect(r.reset is None, f"{what}: stream reset by the server (code 0x{r.reset or 0:x})")
    expect(r.status == 200, f"{what}: status {r.status}")
    expect(len(r.body) == n, f"{what}: {len(r.body)} bytes, not {n}")
    expect(digest(r.body) == expected_digest(n), f"{what}: {n} bytes but the sha256 differs")


async def download(c: H3Client, n: int) -> None:
    check_body(await c.request("GET", f"/bytes/{n}"), n, f"GET /bytes/{n}")


async def upload(c: H3Client, n: int) -> None:
    body = content(n)[::-1]  # (not the download's bytes: an echo of those would pass unseen)
    r = await c.request("POST", "/echo-hash", body=body)
    expect(r.reset is None and r.status == 200, f"POST /echo-hash ({n} bytes): status {r.status}, reset {r.reset}")
    answer = json.loads(r.body)
    expect(answer == {"sha256": digest(body), "length": n},
           f"POST /echo-hash ({n} bytes): the server saw {answer.get('length')} bytes, sha256 "
           f"{'equal' if answer.get('sha256') == digest(body) else 'different'}")


def terminated(c: H3Client) -> str:
    ev = c.closed
    if ev is None:
        return "connection open"
    return f"connection closed: error 0x{ev.error_code:x} frame {ev.frame_type} '{ev.reason_phrase}'"


# ---- the cases' clients ----

async def handshake(ctx: Context) -> None:
    async with h3(ctx) as c:
        r = await c.request("GET", "/")
        expect(r.status == 200, f"GET /: status {r.status}")
        ctx.facts["alpn"] = c._quic.tls.alpn_negotiated
        expect(ctx.facts["alpn"] == "h3", f"ALPN {ctx.facts['alpn']!r}")


def transfer_of(down: list[int], up: list[int]) -> Callable[[Context], Awaitable[None]]:
    async def transfer(ctx: Context) -> None:
        async with h3(ctx) as c:
            await asyncio.gather(*(download(c, n) for n in down), *(upload(c, n) for n in up))
        ctx.facts["down"] = sum(down)
        ctx.facts["up"] = sum(up)

    return transfer


async def multiplexing(ctx: Context, total: int = 2000) -> None:
    """`total` requests on one connection, as many at once as the server's MAX_STREAMS
    allows, the next ones as it grants more; each answer's bytes checked."""
    async with h3(ctx) as c:
        first_limit = c.stream_limit()
        limits = {first_limit}
        sizes = [(i * 37) % 2000 + 1 for i in range(total)]
        pending = list(range(total))
        inflight: dict[asyncio.Future[H3Response], int] = {}
        peak = done = 0
        while pending or inflight:
            while pending and c._quic._local_next_stream_id_bidi // 4 < c.stream_limit():
                i = pending.pop(0)
                inflight[c.start("GET", f"/bytes/{sizes[i]}")[1]] = i
            peak = max(peak, len(inflight))
            limits.add(c.stream_limit())
            if c.closed is not None:
                raise CaseFailed(f"after {done} answers: {terminated(c)}")
            if not inflight:
                await asyncio.sleep(0.002)  # (MAX_STREAMS not in yet)
                continue
            finished, _ = await asyncio.wait(list(inflight), timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
            for fut in finished:
                i = inflight.pop(fut)
                check_body(fut.result(), sizes[i], f"request {i} (GET /bytes/{sizes[i]})")
                done += 1
        ctx.facts.update(streams=done, first_max_streams=first_limit, last_max_streams=c.stream_limit(),
                         peak_open=peak)
        expect(done >= 1000, f"only {done} streams")
        expect(c.stream_limit() > first_limit, f"MAX_STREAMS never grew past {first_limit}")


async def http3(ctx: Context) -> None:
    async with h3(ctx) as c:
        await asyncio.gather(download(c, 1024), download(c, 100_000), download(c, MiB))
        settings = c._http.received_settings
        ctx.facts["settings"] = {hex(k): v for k, v in (settings or {}).items()}
        expect(settings is not None, "no SETTINGS frame from the server")
        expect(c._quic.tls.alpn_negotiated == "h3", f"ALPN {c._quic.tls.alpn_negotiated!r}")


async def longrtt(ctx: Context) -> None:
    t0 = time.monotonic()
    async with h3(ctx) as c:
        ctx.facts["handshake_s"] = round(time.monotonic() - t0, 2)
        await download(c, 200_000)
        ctx.facts["download_s"] = round(time.monotonic() - t0, 2)
    ctx.facts["closed_s"] = round(time.monotonic() - t0, 2)


async def chacha20(ctx: Context) -> None:
    async with h3(ctx, config(cipher_suites=[CipherSuite.CHACHA20_POLY1305_SHA256])) as c:
        await download(c, MiB)
        suite = c._quic.tls.key_schedule.cipher_suite if c._quic.tls.key_schedule else None
        ctx.facts["cipher"] = getattr(suite, "name", suite)
        expect(suite == CipherSuite.CHACHA20_POLY1305_SHA256, f"negotiated {suite}")


async def retry(ctx: Context) -> None:
    async with h3(ctx) as c:
        r = await c.request("GET", "/")
        expect(r.status == 200, f"GET /: status {r.status}")
        ctx.facts["client_retried"] = c.retried
        expect(c.retried, "the client saw no Retry (the handshake went straight through)")


async def _ticket(ctx: Context) -> SessionTicket:
    """A first connection that makes a request and waits for a session ticket."""
    tickets: list[SessionTicket] = []
    async with h3(ctx, tickets=tickets.append) as c:
        r = await c.request("GET", "/")
        expect(r.status == 200, f"first connection: GET / status {r.status}")
        for _ in range(40):
            if tickets or c.closed is not None:
                break
            await asyncio.sleep(0.05)
        if c.closed is not None:
            raise CaseFailed(f"first connection: {terminated(c)}")
    expect(bool(tickets), "the server sent no session ticket (no NewSessionTicket within 2 s of an answered "
                          "request on the first connection): nothing to resume with")
    ctx.facts["ticket_valid_s"] = (tickets[-1].not_valid_after - tickets[-1].not_valid_before).total_seconds()
    ctx.facts["ticket_max_early_data"] = tickets[-1].max_early_data_size
    return tickets[-1]


async def resumption(ctx: Context) -> None:
    ticket = await _ticket(ctx)
    async with h3(ctx, config(session_ticket=ticket)) as c:
        r = await c.request("GET", "/")
        expect(r.status == 200, f"second connection: GET / status {r.status}")
        ctx.facts["resumed"] = c._quic.tls.session_resumed
        expect(c._quic.tls.session_resumed, "the second connection did a full handshake (the ticket was not taken)")


async def zerortt(ctx: Context) -> None:
    ticket = await _ticket(ctx)
    expect(ticket.max_early_data_size == MAX_EARLY_DATA,
           f"the ticket allows no 0-RTT (max_early_data {ticket.max_early_data_size})")
    async with h3(ctx, config(session_ticket=ticket), wait=False) as c:
        _, fut = c.start("GET", "/bytes/1000")  # before the handshake: in 0-RTT packets
        check_body(await asyncio.wait_for(fut, 20), 1000, "0-RTT GET /bytes/1000")
        ctx.facts["early_data_accepted"] = c._quic.tls.early_data_accepted
        ctx.facts["resumed"] = c._quic.tls.session_resumed
        expect(c._quic.tls.early_data_accepted, "the server refused the early data (answered after the handshake)")


def zerortt_saves_a_round_trip(rtt_s: float) -> Callable[[Context], Awaitable[None]]:
    """A GET on a new connection, timed from the client's first datagram to the whole
    answer: with a full handshake (the request goes with the client's Finished: two round
    trips) and resumed with the request in 0-RTT (answered in the server's first flight,
    0.5-RTT data: one round trip). The difference must be one round trip of the path."""

    async def timed(ctx: Context, cfg: QuicConfiguration) -> tuple[float, bool]:
        t0 = time.monotonic()
        async with h3(ctx, cfg, wait=False) as c:
            _, fut = c.start("GET", "/bytes/1000")  # before the handshake: 0-RTT when the ticket allows
            check_body(await asyncio.wait_for(fut, 30), 1000, "GET /bytes/1000")
            return time.monotonic() - t0, bool(c._quic.tls.early_data_accepted)

    async def run(ctx: Context) -> None:
        ticket = await _ticket(ctx)
        full, early = [], []
        for _ in range(3):  # interleaved rounds; the quickest of each kind
            t, took = await timed(ctx, config())
            expect(not took, "a connection without a ticket sent 0-RTT")
            full.append(t)
            t, took = await timed(ctx, config(session_ticket=ticket))
            expect(took, "the server refused the early data")
            early.append(t)
        saved = min(full) - min(early)
        ctx.facts.update(rtt_s=rtt_s, full_handshake_get_s=round(min(full), 3), zerortt_get_s=round(min(early), 3),
                         saved_s=round(saved, 3))
        # (the client's own time, aioquic's in Python, counts on a busy machine, CI's five
        # lanes at once: 50 ms of slack)
        slack = 0.05
        expect(min(early) < 1.5 * rtt_s + slack, f"the 0-RTT GET took {min(early):.3f} s on a {rtt_s:g} s round "
                                                 "trip: not answered in the server's first flight")
        expect(0.75 * rtt_s - slack <= saved <= 1.25 * rtt_s + slack,
               f"0-RTT saved {saved:.3f} s (full handshake {min(full):.3f} s, 0-RTT {min(early):.3f} s), "
               f"not one {rtt_s:g} s round trip")

    return run


async def keyupdate(ctx: Context, total: int = 8 * MiB) -> None:
    async with h3(ctx) as c:
        resp, fut = c.start("GET", f"/bytes/{total}")
        while len(resp.body) < MiB and not fut.done():
            await asyncio.sleep(0.002)
        at = len(resp.body)
        c._quic.request_key_update()
        c.transmit()
        check_body(await fut, total, f"GET /bytes/{total}")
        phase = c._quic._cryptos[Epoch.ONE_RTT].recv.key_phase
        ctx.facts.update(updated_at=at, after_update=total - at, key_phase=phase)
        expect(at < total, "the answer was whole before the key update")
        expect(phase == 1, f"key phase {phase} after the update")
        r = await c.request("GET", "/")
        expect(r.status == 200, "no answer after the key update")


async def amplificationlimit(ctx: Context) -> None:
    ctx.facts["chain_der_bytes"] = ctx.certs.chain_der_bytes(big=True)
    async with h3(ctx) as c:
        r = await c.request("GET", "/")
        expect(r.status == 200, f"GET /: status {r.status}")


# The server's idle timeout as long as the clients' (60 s, many_connections): with its
# default 30 s an aioquic client that had the server's transport parameters idled out
# at 30 s, its PTO backed off past that by a run of losses (1 of 50 connections once, in
# a CI rehearsal: the loss is seeded per datagram, so the machine's load moves it).
LOSSY_HANDSHAKES = ("--http3-idle-timeout", "60")


def many_connections(count: int, at_once: int) -> Callable[[Context], Awaitable[None]]:
    """`count` connections, `at_once` at a time, each a GET of 1,000 bytes. The clients'
    idle timeout is 60 s: at 30% loss a client whose first five Initials are lost has
    backed off its PTO to 6.4 s, and its next try came after aioquic's usual 20 s (a run
    where the server's three answers to the sixth were lost too: nothing more could come
    from a server held at 3x by the amplification limit)."""

    async def run(ctx: Context) -> None:
        times: list[float] = []
        failures: list[str] = []

        async def one() -> None:
            t0 = time.monotonic()
            try:
                async with h3(ctx, config(idle_timeout=60.0)) as c:
                    await asyncio.wait_for(download(c, 1000), 30)
                times.append(time.monotonic() - t0)
            except (CaseFailed, ConnectionError, asyncio.TimeoutError) as e:
                failures.append(f"{type(e).__name__}: {e}")

        async def worker(n: int) -> None:
            for _ in range(n):
                await one()

        await asyncio.gather(*(worker(count // at_once) for _ in range(at_once)))
        times.sort()
        ctx.facts.update(connections=len(times), median_s=round(times[len(times) // 2], 2) if times else None,
                         slowest_s=round(max(times, default=0), 2))
        expect(not failures, f"{len(failures)} of {count} connections failed: {failures[:3]}")

    return run


async def blackhole(ctx: Context) -> None:
    async with h3(ctx) as c:
        t0 = time.monotonic()
        await download(c, 8 * MiB)
        ctx.facts["transfer_s"] = round(time.monotonic() - t0, 2)
        r = await c.request("GET", "/")
        expect(r.status == 200, "no answer after the blackhole")


async def rebind(ctx: Context) -> None:
    async with h3(ctx) as c:
        await download(c, 8 * MiB)
        r = await c.request("GET", "/")  # on the new path
        expect(r.status == 200, "no answer after the rebinding")
        expect(c.closed is None, terminated(c))


async def v2(ctx: Context) -> None:
    """RFC 9369 by compatible version negotiation (RFC 9368), as the interop runner's v2
    case: the client starts in v1 and offers v2 in its version_information; a server that
    speaks v2 switches. Then a client that starts in v2 directly."""
    async with h3(ctx, config(supported_versions=[V2, V1], original_version=V1)) as c:
        await download(c, 100_000)
        ctx.facts["negotiated"] = "v2" if c._quic._version == V2 else f"0x{c._quic._version:x}"
    try:
        async with h3(ctx, config(supported_versions=[V2], idle_timeout=5.0)) as c2:
            await asyncio.wait_for(download(c2, 1000), 10)
            direct = "served in v2"
    except (ConnectionError, asyncio.TimeoutError, CaseFailed) as e:
        direct = str(e) or type(e).__name__
    ctx.facts["v2_first"] = direct
    expect(ctx.facts["negotiated"] == "v2",
           f"the connection stayed on QUIC v1 (v2 offered in version_information); a v2 Initial: {direct}")


# ---- gtlsclient (ngtcp2's example client over GnuTLS) ----

def gtlsclient(ctx: Context, *args: str, paths: list[str], timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("gtlsclient") is None:
        raise CaseFailed("gtlsclient is needed (apt-get install ngtcp2-client)")
    authority = f"[{ctx.host}]:{ctx.port}" if ":" in ctx.host else f"{ctx.host}:{ctx.port}"
    cmd = ["gtlsclient", "--quiet", "--exit-on-all-streams-close", "--timeout=15s", "--max-data=64M",
           "--max-stream-data-bidi-local=16M", *args, ctx.host, str(ctx.port),
           *(f"https://{authority}{p}" for p in paths)]
    try:
        out = subprocess.run(cmd, capture_output=True, env=CLIENT_ENV, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CaseFailed(f"gtlsclient did not finish in {timeout:g} s") from None
    if out.returncode != 0:
        raise CaseFailed(f"gtlsclient exited {out.returncode}: {(out.stderr + out.stdout).decode()[-300:]}")
    return out


def gtls_download(ctx: Context, n: int, *args: str) -> None:
    d = Path(tempfile.mkdtemp(dir=ctx.tmp))
    gtlsclient(ctx, "--download", str(d), *args, paths=[f"/bytes/{n}"])
    got = (d / str(n)).read_bytes() if (d / str(n)).exists() else b""
    expect(len(got) == n and digest(got) == expected_digest(n),
           f"gtlsclient GET /bytes/{n}: {len(got)} bytes" + (", sha256 differs" if len(got) == n else ""))


def gtls_upload(ctx: Context, n: int) -> None:
    d = Path(tempfile.mkdtemp(dir=ctx.tmp))
    body = content(n)[::-1]
    (d / "body").write_bytes(body)
    gtlsclient(ctx, "--download", str(d), "-d", str(d / "body"), "-m", "POST", paths=["/echo-hash"])
    answer = json.loads((d / "echo-hash").read_bytes() or b"{}") if (d / "echo-hash").exists() else {}
    expect(answer == {"sha256": digest(body), "length": n}, f"gtlsclient POST /echo-hash ({n} bytes): {answer}")


def gtls_handshake(ctx: Context) -> None:
    gtls_download(ctx, 1000)


def gtls_transfer(ctx: Context) -> None:
    gtls_download(ctx, 4 * MiB)
    gtls_upload(ctx, 3 * MiB)
    ctx.facts.update(down=4 * MiB, up=3 * MiB)


def gtls_ecn(ctx: Context) -> None:
    gtls_download(ctx, 2 * MiB)


# ---- the checks on what the relay counted ----

def _n(stats: dict[str, Any], direction: str, key: str) -> int:
    return int(stats.get(direction, {}).get(key, 0))


def _kind(stats: dict[str, Any], direction: str, kind: str) -> int:
    return int(stats.get(direction, {}).get("kinds", {}).get(kind, 0))


def saw_traffic(ctx: Context, stats: dict[str, Any]) -> None:
    expect(_n(stats, "c2s", "forwarded") > 0 and _n(stats, "s2c", "forwarded") > 0, "no traffic through the relay")


def both_ways(key: str) -> Callable[[Context, dict[str, Any]], None]:
    def check(ctx: Context, stats: dict[str, Any]) -> None:
        expect(_n(stats, "c2s", key) > 0 and _n(stats, "s2c", key) > 0,
               f"the relay {key} nothing one way (c2s {_n(stats, 'c2s', key)}, s2c {_n(stats, 's2c', key)})")

    return check


def check_longrtt(ctx: Context, stats: dict[str, Any]) -> None:
    expect(stats["s2c"]["max_delay_ms"] >= 700 and stats["c2s"]["max_delay_ms"] >= 700, "the relay delayed nothing")
    expect(_kind(stats, "c2s", "initial") >= 2, "the client never retransmitted its Initial (PTO < RTT expected)")


def check_retry(ctx: Context, stats: dict[str, Any]) -> None:
    expect(_kind(stats, "s2c", "retry") >= 1, "no Retry packet went through the relay")


def check_zerortt(ctx: Context, stats: dict[str, Any]) -> None:
    expect(_kind(stats, "c2s", "0rtt") >= 1, "no 0-RTT packet went through the relay")


def check_amplification(ctx: Context, stats: dict[str, Any]) -> None:
    holds = stats.get("holds") or []
    expect(bool(holds), "the relay held no client")
    h = holds[0]
    first, sent = h["client_first_flight_bytes"], h["server_bytes_during_hold"]
    ctx.facts.update(client_first_flight=first, server_sent_unvalidated=sent, ratio=h["ratio"])
    expect(_n(stats, "c2s", "held") > 0, "the client sent nothing during the hold: nothing was held back")
    expect(ctx.facts["chain_der_bytes"] > 3 * first,
           f"the chain ({ctx.facts['chain_der_bytes']} bytes) fits in 3x the first flight ({first}): proves nothing")
    expect(sent > 0, "the server sent nothing before the client's second flight")
    expect(sent <= 3 * first, f"the server sent {sent} bytes on {first} received before validating the address "
                              f"({sent / first:.2f}x, the limit is 3x)")


def check_rebind(ctx: Context, stats: dict[str, Any]) -> None:
    rebinds = stats.get("rebinds") or []
    expect(len(rebinds) == 1, f"{len(rebinds)} rebinds")
    old, new = rebinds[0]["from"], rebinds[0]["to"]
    ctx.facts["rebind"] = f"{old[0]}:{old[1]} -> {new[0]}:{new[1]}"
    expect(rebinds[0]["s2c_datagrams_on_new"] > 0, "the server sent nothing to the new address")


def check_blackhole(ctx: Context, stats: dict[str, Any]) -> None:
    expect(stats.get("blackhole") is not None, "the blackhole never started")
    expect(_n(stats, "s2c", "blackholed") > 0, "nothing fell into the blackhole")


def check_ecn(ctx: Context, stats: dict[str, Any]) -> None:
    s2c = stats["s2c"]["ecn"]
    c2s = stats["c2s"]["ecn"]
    marked_s2c = s2c.get("ect0", 0) + s2c.get("ect1", 0) + s2c.get("ce", 0)
    marked_c2s = c2s.get("ect0", 0) + c2s.get("ect1", 0) + c2s.get("ce", 0)
    ctx.facts.update(ecn_s2c=s2c, ecn_c2s=c2s)
    expect(marked_c2s > 0, f"the client marked nothing ({c2s}): the check cannot work")
    expect(marked_s2c > 0, f"the server sent no datagram with an ECN mark ({s2c})")
    # ngtcp2 marks its first 10 packets while it tests the path, and all of them only once
    # the peer's ACK_ECN counts validated it (RFC 9000 §13.4.2)
    expect(marked_s2c > 10, f"the server marked only {marked_s2c} datagrams, then stopped ({s2c}): "
                            "its ECN validation failed")


def check_v2(ctx: Context, stats: dict[str, Any]) -> None:
    ctx.facts["s2c_versions"] = stats["s2c"]["versions"]
    ctx.facts["s2c_vn_offers"] = stats["s2c"].get("vn_offers", [])


# ---- the list ----

def cases() -> list[Case]:
    xfer = transfer_of([4 * MiB, MiB], [3 * MiB])
    lossy = transfer_of([4 * MiB], [2 * MiB])
    return [
        Case("handshake", "a connection is set up and a request answered (ALPN h3)", handshake, check=saw_traffic),
        Case("handshake/gtlsclient", "the same with ngtcp2's client over GnuTLS", gtls_handshake, check=saw_traffic,
             client="gtlsclient"),
        Case("transfer", "4 MiB and 1 MiB down and 3 MiB up at once on one connection, every byte checked "
             "(flow control both ways)", xfer, check=saw_traffic),
        Case("transfer/gtlsclient", "4 MiB down, 3 MiB up with ngtcp2's client", gtls_transfer, check=saw_traffic,
             client="gtlsclient"),
        Case("multiplexing", "2,000 requests on one connection, as many open as MAX_STREAMS allows, the rest as "
             "the server grants more", multiplexing, check=saw_traffic),
        Case("http3", "three files at once; the server's SETTINGS arrive", http3, check=saw_traffic),
        Case("longrtt", "a 1.5 s round trip: the client's Initial is retransmitted before the answer, the "
             "connection completes", longrtt, Plan(delay_ms=750), check=check_longrtt),
        Case("chacha20", "a client offering only TLS_CHACHA20_POLY1305_SHA256 is served with it", chacha20,
             check=saw_traffic),
        Case("retry", "a server that must validate addresses sends a Retry and serves the client that comes "
             "back with its token", retry, check=check_retry, retry=True),
        Case("resumption", "a second connection resumes the first's TLS session with a ticket", resumption,
             check=saw_traffic),
        Case("zerortt", "a request in 0-RTT on a resumed connection is answered from the early data", zerortt,
             check=check_zerortt),
        Case("zerortt-100ms", "on a 100 ms round trip a resumed GET sent in 0-RTT is answered one round trip "
             "sooner than with a full handshake (in the server's first flight)", zerortt_saves_a_round_trip(0.1),
             Plan(delay_ms=50), check=check_zerortt),
        Case("zerortt-1500ms", "the same on a 1.5 s round trip", zerortt_saves_a_round_trip(1.5),
             Plan(delay_ms=750), check=check_zerortt, timeout=90),
        Case("keyupdate", "the client updates its keys mid-download (8 MiB); the server follows and the "
             "transfer completes", keyupdate, check=saw_traffic),
        Case("amplificationlimit", "before the client's address is validated the server sends at most 3x what "
             "it received (a 6-certificate chain, the client's second flight held back 2 s)", amplificationlimit,
             Plan(hold_first_flight=1, hold_seconds=2.0), check=check_amplification, big_chain=True),
        Case("handshakeloss", "50 connections with 30% of the handshake's (long-header) datagrams lost each way",
             many_connections(50, 10), Plan(drop=0.3, drop_scope="long"), check=both_ways("dropped"), timeout=90,
             ringbolt_args=LOSSY_HANDSHAKES),
        Case("transferloss", "4 MiB down and 2 MiB up with 3% of datagrams lost each way", lossy,
             Plan(drop=0.03), check=both_ways("dropped"), timeout=90),
        Case("handshakecorruption", "50 connections with 30% of the handshake's datagrams corrupted (one byte "
             "flipped) each way", many_connections(50, 10), Plan(corrupt=0.3, corrupt_scope="long"),
             check=both_ways("corrupted"), timeout=90, ringbolt_args=LOSSY_HANDSHAKES),
        Case("transfercorruption", "4 MiB down and 2 MiB up with 3% of datagrams corrupted each way", lossy,
             Plan(corrupt=0.03), check=both_ways("corrupted"), timeout=90),
        Case("blackhole", "the path goes dark for 3 s after 1 MiB of an 8 MiB download, then comes back: the "
             "transfer resumes on the same connection", blackhole,
             Plan(blackhole_seconds=3.0, blackhole_after_bytes=MiB), check=check_blackhole, timeout=90),
        Case("ipv6", "the transfer case's work over ::1 (1 MiB each way)", transfer_of([MiB], [MiB]),
             check=saw_traffic, host="::1"),
        Case("rebind-port", "mid-download the client's source port changes (a NAT rebinding): the server "
             "validates the new path and the download completes there", rebind,
             Plan(rebind_after_bytes=MiB), check=check_rebind),
        Case("rebind-addr", "mid-download the client's source address changes (127.0.0.1 to 127.0.0.2)", rebind,
             Plan(rebind_after_bytes=MiB, rebind_addr="127.0.0.2"), check=check_rebind),
        Case("ecn", "the server marks its datagrams ECT and keeps marking once ngtcp2's client echoes the counts "
             "(ECN validated)", gtls_ecn, check=check_ecn, client="gtlsclient"),
        Case("v2", "QUIC v2 (RFC 9369) by compatible version negotiation from v1", v2, check=check_v2),
    ]


def case_names() -> list[str]:
    return [c.name for c in cases()]


# ---- running one ----

def summarize(stats: dict[str, Any]) -> str:
    """What the relay did, in a few words."""
    if not stats or "c2s" not in stats:
        return str(stats.get("error", "no relay")) if stats else ""
    parts = []
    for d in ("c2s", "s2c"):
        c = stats[d]
        bits = [f"{c['datagrams']}"]
        for key in ("dropped", "corrupted", "blackholed", "held", "reordered"):
            if c.get(key):
                bits.append(f"{c[key]} {key}")
        if c.get("delayed"):
            bits.append(f"delayed ≤{c['max_delay_ms']:g} ms")
        if c["kinds"].get("retry"):
            bits.append(f"{c['kinds']['retry']} Retry")
        if c["kinds"].get("0rtt"):
            bits.append(f"{c['kinds']['0rtt']} 0-RTT")
        marked = sum(v for k, v in c["ecn"].items() if k != "not-ect")
        if marked:
            bits.append(f"{marked} ECN-marked")
        if c.get("vn_offers"):
            bits.append("Version Negotiation offering " + "/".join(c["vn_offers"]))
        if len(c["versions"]) > 1 or (c["versions"] and "v1" not in c["versions"]):
            bits.append("versions " + "/".join(f"{k}:{v}" for k, v in c["versions"].items()))
        parts.append(f"{d} " + ", ".join(bits))
    for r in stats.get("rebinds") or []:
        where = f" on {r['to'][0]}" if r["to"][0] != r["from"][0] else ""
        parts.append(f"rebound at {r['t']:g} s to port {r['to'][1]}{where}")
    for h in stats.get("holds") or []:
        parts.append(f"server sent {h['server_bytes_during_hold']} B on {h['client_first_flight_bytes']} B "
                     f"before validation ({h['ratio']}x)")
    if stats.get("relay_socket_overflows"):
        parts.append(f"{stats['relay_socket_overflows']} lost in the relay's own sockets")
    return "; ".join(parts)


def seed_for(name: str, seed: int) -> int:
    return (zlib.crc32(name.encode()) ^ seed) & 0x7FFFFFFF


def run_case(case: Case, kind: str, certs: Certs, workdir: Path, io: str = "io_uring", workers: int = 1,
             threads: int = 1, seed: int = 1) -> Result:
    """Start a server and a relay for `case`, run its client, check; stop both."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{kind}-{io}-{case.name.replace('/', '-')}.log"
    plan = Plan(**{**case.plan.__dict__, "seed": seed_for(case.name, seed), "lifetime": case.timeout + 60})
    t0 = time.monotonic()
    try:
        server = Server(kind, case.host, certs, log, io=io, workers=workers, threads=threads,
                        big_chain=case.big_chain, retry_always=case.retry,
                        extra=list(case.ringbolt_args) if kind == "ringbolt" else None)
    except (ServerFailed, OSError) as e:
        return Result(case.name, case.client, False, f"the server did not start on {case.host}: {e}",
                      time.monotonic() - t0, None, {}, {})
    try:
        relay = RelayProcess((case.host, server.port), plan)
    except (RuntimeError, OSError, ValueError) as e:  # (no address to bind on the host: the case's failure)
        server.stop()
        return Result(case.name, case.client, False, f"the relay did not start on {case.host}: {e}",
                      time.monotonic() - t0, None, {}, {})
    except BaseException:
        server.stop()
        raise
    tmp = Path(tempfile.mkdtemp(prefix="interop-", dir=workdir))
    try:
        return _run(case, kind, server, relay, Context(case.host, relay.port, server, certs, tmp))
    finally:  # (on an interrupt too: nothing of the case is left running)
        relay.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _run(case: Case, kind: str, server: Server, relay: RelayProcess, ctx: Context) -> Result:
    ok, reason = True, ""
    cpu0 = server.cpu_seconds()
    t0 = time.monotonic()
    try:
        if asyncio.iscoroutinefunction(case.run):
            asyncio.run(asyncio.wait_for(case.run(ctx), case.timeout))
        else:
            case.run(ctx)
    except CaseFailed as e:
        ok, reason = False, str(e)
    except (asyncio.TimeoutError, TimeoutError):
        states = "; ".join(sorted({terminated(c) for c in ctx.clients})) or "no connection made"
        ok, reason = False, f"no result in {case.timeout:g} s ({states})"
    except ConnectionError as e:
        ok, reason = False, f"{e}"
    except Exception as e:  # a client library's error is the case's result, with its name
        ok, reason = False, f"{type(e).__name__}: {e}"
    wall = time.monotonic() - t0
    cpu = server.cpu_seconds() - cpu0
    stats = relay.stop()
    alive = server.alive()
    if case.check is not None:
        try:  # (after a failure too: the facts a check adds help to read it)
            case.check(ctx, stats)
        except CaseFailed as e:
            if ok:
                ok, reason = False, str(e)
        except (KeyError, TypeError):
            if ok:
                raise
    counters = server.counters() if not ok else {}
    code = server.stop()
    if not alive:
        ok, reason = False, f"the server died during the case (exit {code}); " + reason
    elif kind == "ringbolt" and code != 0:
        ok, reason = False, f"the server exited {code} after SIGTERM; " + reason
    server_log = "" if ok else server.tail(12, grep=("QUIC", "HTTP/3", "ERROR", "WARNING", "rror", "Traceback",
                                                     "draining"))
    return Result(case.name, case.client, ok, reason, wall, cpu, stats, ctx.facts, server_log, counters)
