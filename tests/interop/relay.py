"""A UDP relay between QUIC clients and a server on the loopback, that shapes the path as
a seeded plan says: drop, delay with jitter (reordering), corrupt, a blackhole window, and
a NAT rebinding of its upstream side (a new source port, or a new source address). The
kernel here has no netem, so the path is shaped in user space.

Each client address gets an upstream socket of its own (as a NAT gives each flow a
mapping). Every datagram is classified (long header: Initial, 0-RTT, Handshake, Retry or
Version Negotiation, by its version; short header), counted per direction, and its ECN
codepoint (IP_RECVTOS / IPV6_RECVTCLASS) is read and kept when it is forwarded. What the
relay did (forwarded, dropped, delayed, reordered, corrupted, blackholed, rebound) is
counted per direction, so that a case can show that its impairment really happened; the
relay's own socket overflows (SO_RXQ_OVFL) are counted too, so an unplanned loss shows.

Run as a program (what tests/interop/run.py does):

    python3 relay.py --upstream 127.0.0.1:8443 --plan '{"seed": 1, "drop": 0.03}'

It prints {"port": N} (the port clients send to), then answers each line on its standard
input: "stats" with the counters as one JSON line, "stop" (or the end of its input) with
the counters and exits. It exits by itself after the plan's `lifetime` seconds. The same
class runs in a thread (`Relay`), for the relay's own tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import json
import os
import random
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
C2S, S2C = "c2s", "s2c"  # client to server, server to client
ECN_NAMES = ("not-ect", "ect1", "ect0", "ce")  # the codepoint's value 0..3
QUIC_V1, QUIC_V2 = 0x00000001, 0x6B3343CF


@dataclass
class Plan:
    """What the relay does to the datagrams; every random choice comes from `seed`."""

    seed: int = 0
    lifetime: float = 120.0  # seconds after which the relay stops by itself
    trace: str | None = None  # a file to write one line per datagram to (time, client, direction, kind, size, fate)

    # drop: each datagram in scope with this probability
    drop: float = 0.0
    drop_scope: str = "all"  # "all", "long" (long-header datagrams: the handshake), "first" (drop_first each way)
    drop_first: int = 0
    drop_dirs: str = "both"  # "both", "c2s", "s2c"

    # delay: each way, plus a jitter drawn per datagram (uniform in [-jitter, +jitter]): reorders
    delay_ms: float = 0.0
    jitter_ms: float = 0.0

    # corrupt: this fraction of the datagrams in scope get corrupt_bytes bytes flipped (any
    # byte but a long header's version; Version Negotiation packets are left alone)
    corrupt: float = 0.0
    corrupt_scope: str = "all"  # as drop_scope
    corrupt_first: int = 0
    corrupt_bytes: int = 1

    # blackhole: everything both ways dropped for blackhole_seconds, from blackhole_at
    # seconds after the first datagram, or once blackhole_after_bytes went to the clients
    blackhole_seconds: float = 0.0
    blackhole_at: float | None = None
    blackhole_after_bytes: int | None = None

    # rebind: the upstream socket of each client is replaced by a new one (a new source
    # port; on rebind_addr, a new address), rebind_at seconds after the first datagram or
    # once rebind_after_bytes went to the clients; the old one is closed (its NAT mapping
    # is gone: what the server sends there is lost)
    rebind_at: float | None = None
    rebind_after_bytes: int | None = None
    rebind_addr: str | None = None

    # amplification: the client's datagrams after its first hold_first_flight are dropped
    # for hold_seconds, while what the server sends is counted (and forwarded): the server
    # has received only the client's first flight meanwhile (RFC 9000 §8.1: 3x at most)
    hold_first_flight: int = 0
    hold_seconds: float = 0.0

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text) if text else {}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown plan keys: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in dataclasses.asdict(self).items() if v != getattr(Plan(), k)})

    def describe(self) -> str:
        """The plan in a few words (for the report)."""
        parts = []
        if self.drop:
            scope = {"all": "", "long": " of long-header", "first": f" of the first {self.drop_first}"}[self.drop_scope]
            dirs = "" if self.drop_dirs == "both" else f" {self.drop_dirs}"
            parts.append(f"drop {self.drop:.0%}{scope}{dirs}")
        if self.delay_ms:
            parts.append(f"delay {self.delay_ms:g} ms" + (f" ±{self.jitter_ms:g}" if self.jitter_ms else ""))
        if self.corrupt:
            scope = {"all": "", "long": " of long-header", "first": f" of the first {self.corrupt_first}"}[
                self.corrupt_scope]
            parts.append(f"corrupt {self.corrupt:.0%}{scope}")
        if self.blackhole_seconds:
            when = (f"after {self.blackhole_after_bytes >> 10} KiB" if self.blackhole_after_bytes is not None
                    else f"at {self.blackhole_at:g} s")
            parts.append(f"blackhole {self.blackhole_seconds:g} s {when}")
        if self.rebind_at is not None or self.rebind_after_bytes is not None:
            when = (f"after {self.rebind_after_bytes >> 10} KiB" if self.rebind_after_bytes is not None
                    else f"at {self.rebind_at:g} s")
            parts.append(f"rebind {'to ' + self.rebind_addr if self.rebind_addr else 'port'} {when}")
        if self.hold_seconds:
            parts.append(f"hold client after {self.hold_first_flight} dgram {self.hold_seconds:g} s")
        return ", ".join(parts) or "clean"


def classify(data: bytes) -> tuple[str, int | None]:
    """The first packet's kind in a datagram ("initial", "0rtt", "handshake", "retry", "vn",
    "short", "empty") and its version (None for a short header)."""
    if not data:
        return "empty", None
    first = data[0]
    if not first & 0x80:
        return "short", None
    if len(data) < 5:
        return "truncated", None
    version = int.from_bytes(data[1:5], "big")
    if version == 0:
        return "vn", 0
    kind = (first >> 4) & 0x3
    if version == QUIC_V2:  # RFC 9369 §3.2: the long header types rotated
        names = ("retry", "initial", "0rtt", "handshake")
    else:
        names = ("initial", "0rtt", "handshake", "retry")
    return names[kind], version


def vn_versions(data: bytes) -> list[str]:
    """The versions a Version Negotiation packet offers (RFC 9000 §17.2.1), GREASE left out."""
    at = 5
    for _ in range(2):  # the destination, then the source connection ID
        if at >= len(data):
            return []
        at += 1 + data[at]
    out = []
    for i in range(at, len(data) - 3, 4):
        v = int.from_bytes(data[i:i + 4], "big")
        if v & 0x0F0F0F0F != 0x0A0A0A0A:
            out.append({QUIC_V1: "v1", QUIC_V2: "v2"}.get(v, f"0x{v:08x}"))
    return out


def _new_counts() -> dict[str, Any]:
    return {"datagrams": 0, "bytes": 0, "forwarded": 0, "forwarded_bytes": 0, "dropped": 0, "dropped_bytes": 0,
            "blackholed": 0, "held": 0, "corrupted": 0, "delayed": 0, "reordered": 0, "max_delay_ms": 0.0,
            "kinds": {}, "versions": {}, "ecn": {}, "send_errors": 0}


@dataclass(order=True)
class _Due:
    when: float
    seq: int
    direction: str = field(compare=False)
    session: _Session = field(compare=False)
    data: bytes = field(compare=False)
    ecn: int = field(compare=False)


class _Session:
    """One client's flow: its address and its upstream socket (replaced on a rebind). Each
    direction draws from a random stream of its own, seeded by the plan's seed and the
    flow's number: the n-th datagram of the m-th flow meets the same fate on every run,
    however the flows' datagrams interleave."""

    def __init__(self, client: Any, upstream: socket.socket, seed: int, number: int) -> None:
        self.client = client
        self.upstream = upstream
        self.rng = {C2S: random.Random(f"{seed}:{number}:{C2S}"), S2C: random.Random(f"{seed}:{number}:{S2C}")}
        self.c2s_seen = 0  # datagrams from the client so far
        self.s2c_seen = 0
        self.first_flight_bytes = 0  # (hold: what the server got before the window ends)
        self.server_bytes_in_hold = 0
        self.hold_until: float | None = None
        self.ports: list[Any] = [upstream.getsockname()]
        self.rebind: dict[str, Any] | None = None  # (after a rebind: its record)


class Relay:
    def __init__(self, upstream: tuple[str, int], plan: Plan, listen_host: str | None = None) -> None:
        self.plan = plan
        self.upstream_addr = upstream
        self.family = socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET
        self.sel = selectors.DefaultSelector()
        self.listen = self._socket(listen_host or upstream[0])
        self.port: int = self.listen.getsockname()[1]
        self.sel.register(self.listen, selectors.EVENT_READ, None)
        self.sessions: dict[Any, _Session] = {}
        self.by_sock: dict[socket.socket, _Session] = {}
        self.queue: list[_Due] = []
        self.seq = 0
        self.sent_seq = {C2S: -1, S2C: -1}
        self.counts = {C2S: _new_counts(), S2C: _new_counts()}
        self.start: float | None = None  # the first datagram's time
        self.blackhole: tuple[float, float] | None = None
        self.rebinds: list[dict[str, Any]] = []
        self.rebound = False
        self.overflow: dict[int, int] = {}  # the kernel's drop count per relay socket (SO_RXQ_OVFL)
        self.closed_overflow = 0
        self.holds: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._control_ready = False
        self._trace = open(plan.trace, "w") if plan.trace else None

    # ---- sockets ----

    def _socket(self, host: str, port: int = 0) -> socket.socket:
        s = socket.socket(self.family, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        if self.family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
        else:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
        s.bind((host, port))
        s.setblocking(False)
        return s

    def _upstream_socket(self) -> socket.socket:
        host = self.plan.rebind_addr if self.rebound and self.plan.rebind_addr else self.upstream_addr[0]
        s = self._socket(host)
        self.sel.register(s, selectors.EVENT_READ, None)
        return s

    def _recv(self, s: socket.socket) -> tuple[bytes, Any, int] | None:
        try:
            data, anc, _, addr = s.recvmsg(65535, 256)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b"", None, -1  # (ICMP errors from a closed peer port: nothing to read)
        ecn = 0
        for level, kind, payload in anc:
            if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TOS), (socket.IPPROTO_IPV6, socket.IPV6_TCLASS)):
                value = payload[0] if len(payload) == 1 else struct.unpack("i", payload[:4])[0]
                ecn = value & 0x3
            elif level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(payload) >= 4:
                self.overflow[id(s)] = struct.unpack("I", payload[:4])[0]
        return data, addr, ecn

    def _send(self, s: socket.socket, data: bytes, addr: Any, ecn: int) -> bool:
        anc = []
        if ecn:
            if self.family == socket.AF_INET6:
                anc = [(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, struct.pack("i", ecn))]
            else:
                anc = [(socket.IPPROTO_IP, socket.IP_TOS, struct.pack("i", ecn))]
        try:
            s.sendmsg([data], anc, 0, addr)
            return True
        except OSError:
            return False

    # ---- the plan ----

    def _in_scope(self, scope: str, first: int, data: bytes, index: int) -> bool:
        if scope == "long":
            return bool(data) and bool(data[0] & 0x80)
        if scope == "first":
            return index < first
        return True

    def _trigger(self, now: float) -> None:
        p = self.plan
        assert self.start is not None
        s2c_bytes = self.counts[S2C]["forwarded_bytes"]
        if p.blackhole_seconds and self.blackhole is None:
            if (p.blackhole_at is not None and now - self.start >= p.blackhole_at) or (
                    p.blackhole_after_bytes is not None and s2c_bytes >= p.blackhole_after_bytes):
                self.blackhole = (now, now + p.blackhole_seconds)
        if not self.rebound and ((p.rebind_at is not None and now - self.start >= p.rebind_at) or (
                p.rebind_after_bytes is not None and s2c_bytes >= p.rebind_after_bytes)):
            self.rebound = True
            for session in self.sessions.values():
                old = session.upstream
                new = self._upstream_socket()
                session.upstream = new
                session.ports.append(new.getsockname())
                del self.by_sock[old]
                self.by_sock[new] = session
                self.sel.unregister(old)
                self.closed_overflow += self.overflow.pop(id(old), 0)
                old.close()
                session.rebind = {"t": round(now - self.start, 3), "from": list(session.ports[-2][:2]),
                                  "to": list(new.getsockname()[:2]), "s2c_datagrams_on_new": 0}
                self.rebinds.append(session.rebind)

    def _arrive(self, direction: str, session: _Session, data: bytes, ecn: int, now: float) -> None:
        fate = self._fate(direction, session, data, ecn, now)
        if self._trace is not None:
            assert self.start is not None
            kind, _ = classify(data)
            self._trace.write(f"{now - self.start:9.4f} {session.client[1]:5d} {direction} {kind:9s} {len(data):5d} "
                              f"{fate}\n")

    def _fate(self, direction: str, session: _Session, data: bytes, ecn: int, now: float) -> str:
        p = self.plan
        c = self.counts[direction]
        rng = session.rng[direction]
        index = session.c2s_seen if direction == C2S else session.s2c_seen
        if direction == C2S:
            session.c2s_seen += 1
        else:
            session.s2c_seen += 1
        c["datagrams"] += 1
        c["bytes"] += len(data)
        kind, version = classify(data)
        c["kinds"][kind] = c["kinds"].get(kind, 0) + 1
        if version is not None:
            name = {QUIC_V1: "v1", QUIC_V2: "v2", 0: "vn"}.get(version, f"0x{version:08x}")
            c["versions"][name] = c["versions"].get(name, 0) + 1
        if kind == "vn":
            c["vn_offers"] = sorted(set(c.get("vn_offers", [])) | set(vn_versions(data)))
        c["ecn"][ECN_NAMES[ecn]] = c["ecn"].get(ECN_NAMES[ecn], 0) + 1
        if direction == S2C and session.rebind is not None:
            session.rebind["s2c_datagrams_on_new"] += 1
        self._trigger(now)

        if self.blackhole is not None and self.blackhole[0] <= now < self.blackhole[1]:
            c["blackholed"] += 1
            return "blackholed"
        if p.hold_seconds:
            if direction == C2S:
                if index < p.hold_first_flight:
                    session.first_flight_bytes += len(data)
                    if session.hold_until is None:
                        session.hold_until = now + p.hold_seconds
                elif session.hold_until is not None and now < session.hold_until:
                    c["held"] += 1
                    return "held"
            elif session.hold_until is not None and now < session.hold_until:
                session.server_bytes_in_hold += len(data)
        if p.drop and (p.drop_dirs in ("both", direction)) and self._in_scope(p.drop_scope, p.drop_first, data, index):
            if rng.random() < p.drop:
                c["dropped"] += 1
                c["dropped_bytes"] += len(data)
                return "dropped"
        fate = "forwarded"
        if p.corrupt and len(data) > 5 and kind != "vn" and self._in_scope(p.corrupt_scope, p.corrupt_first, data,
                                                                             index):
            if rng.random() < p.corrupt:
                # Not the version field of a long header, nor a Version Negotiation packet:
                # neither is integrity-protected (a changed version is answered with Version
                # Negotiation, and a client rightly gives up on one that offers nothing it
                # speaks: RFC 9000 §6.2), so corrupting them tests the path, not the peer.
                buf = bytearray(data)
                long_header = bool(buf[0] & 0x80)
                for _ in range(max(1, p.corrupt_bytes)):
                    at = rng.randrange(len(buf) - 4 if long_header else len(buf))
                    if long_header and at >= 1:
                        at += 4
                    buf[at] ^= rng.randrange(1, 256)
                data = bytes(buf)
                c["corrupted"] += 1
                fate = "corrupted"
        delay = p.delay_ms
        if p.jitter_ms:
            delay += rng.uniform(-p.jitter_ms, p.jitter_ms)
        delay = max(0.0, delay) / 1000
        self.seq += 1
        due = _Due(now + delay, self.seq, direction, session, data, ecn)
        if delay > 0:
            c["delayed"] += 1
            c["max_delay_ms"] = max(c["max_delay_ms"], round(delay * 1000, 1))
            heapq.heappush(self.queue, due)
            fate += f" +{delay * 1000:.0f}ms"
        else:
            self._forward(due)
        return fate

    def _forward(self, due: _Due) -> None:
        c = self.counts[due.direction]
        if due.seq < self.sent_seq[due.direction]:
            c["reordered"] += 1
        self.sent_seq[due.direction] = max(self.sent_seq[due.direction], due.seq)
        if due.direction == C2S:
            ok = self._send(due.session.upstream, due.data, self.upstream_addr, due.ecn)
        else:
            ok = self._send(self.listen, due.data, due.session.client, due.ecn)
        if ok:
            c["forwarded"] += 1
            c["forwarded_bytes"] += len(due.data)
        else:
            c["send_errors"] += 1

    # ---- the loop ----

    def step(self, timeout: float) -> None:
        """Wait up to `timeout` s for datagrams, take them in, send what is due."""
        if self.queue:
            timeout = max(0.0, min(timeout, self.queue[0].when - time.monotonic()))
        for key, _ in self.sel.select(timeout):
            if key.data == "control":
                self._control_ready = True
                continue
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            for _ in range(256):
                got = self._recv(sock)
                if got is None:
                    break
                data, addr, ecn = got
                if ecn < 0:
                    continue
                now = time.monotonic()
                if self.start is None:
                    self.start = now
                if sock is self.listen:
                    session = self.sessions.get(addr)
                    if session is None:
                        session = _Session(addr, self._upstream_socket(), self.plan.seed, len(self.sessions))
                        self.sessions[addr] = session
                        self.by_sock[session.upstream] = session
                    self._arrive(C2S, session, data, ecn, now)
                else:
                    upstream_session = self.by_sock.get(sock)
                    if upstream_session is not None:
                        self._arrive(S2C, upstream_session, data, ecn, now)
        now = time.monotonic()
        while self.queue and self.queue[0].when <= now:
            self._forward(heapq.heappop(self.queue))
        if self.start is not None:
            self._trigger(now)

    def stats(self) -> dict[str, Any]:
        holds = [{"client_first_flight_bytes": s.first_flight_bytes,
                  "server_bytes_during_hold": s.server_bytes_in_hold,
                  "ratio": round(s.server_bytes_in_hold / s.first_flight_bytes, 2) if s.first_flight_bytes else None}
                 for s in self.sessions.values() if self.plan.hold_seconds]
        bh = None
        if self.blackhole is not None and self.start is not None:
            bh = [round(self.blackhole[0] - self.start, 3), round(self.blackhole[1] - self.start, 3)]
        return {"plan": self.plan.describe(), "sessions": len(self.sessions), C2S: self.counts[C2S],
                S2C: self.counts[S2C], "blackhole": bh, "rebinds": self.rebinds, "holds": holds,
                "relay_socket_overflows": self.closed_overflow + sum(self.overflow.values()),
                "seconds": round(time.monotonic() - self.start, 3) if self.start is not None else 0.0}

    def serve(self, control: Any = None) -> dict[str, Any]:
        """Relay until stop() or the plan's lifetime; `control`: a text stream of commands
        ("stats", "stop") answered on standard output. The final counters."""
        born = time.monotonic()
        if control is not None:
            os.set_blocking(control.fileno(), False)
            self.sel.register(control, selectors.EVENT_READ, "control")
        pending = ""
        while not self._stop.is_set() and time.monotonic() - born < self.plan.lifetime:
            self.step(0.05)
            if self._control_ready:
                self._control_ready = False
                try:
                    chunk = os.read(control.fileno(), 4096).decode()
                except BlockingIOError:
                    continue
                if not chunk:
                    break
                pending += chunk
                while "\n" in pending:
                    line, pending = pending.split("\n", 1)
                    if line.strip() == "stats":
                        print(json.dumps(self.stats()), flush=True)
                    elif line.strip() == "stop":
                        self._stop.set()
        # What is still in flight is delivered (a client's CONNECTION_CLOSE on a long path
        # among it), for at most 3 s.
        end = time.monotonic() + 3.0
        while self.queue and time.monotonic() < end:
            self.step(0.05)
        return self.stats()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
        for key in list(self.sel.get_map().values()):
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        self.sel.close()


class RelayThread:
    """A relay in a thread of this process (for the relay's own tests)."""

    def __init__(self, upstream: tuple[str, int], plan: Plan) -> None:
        self.relay = Relay(upstream, plan)
        self.port = self.relay.port
        self.result: dict[str, Any] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.result = self.relay.serve()

    def stop(self) -> dict[str, Any]:
        self.relay.stop()
        self.thread.join(10)
        self.relay.close()
        assert self.result is not None
        return self.result


class RelayProcess:
    """A relay in a process of its own (what the matrix uses: its timing is not held up by
    the client's work in this process)."""

    def __init__(self, upstream: tuple[str, int], plan: Plan) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--upstream", f"[{upstream[0]}]:{upstream[1]}", "--plan", plan.to_json()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise RuntimeError(f"the relay exited {self.proc.returncode} at start")
        self.port: int = json.loads(line)["port"]
        self.result: dict[str, Any] | None = None

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        data: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return data

    def stop(self) -> dict[str, Any]:
        if self.result is not None:
            return self.result
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        out = self.proc.stdout.read()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        lines = [x for x in out.splitlines() if x.strip()]
        self.result = json.loads(lines[-1]) if lines else {"error": "the relay printed nothing"}
        return self.result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="the server: HOST:PORT ([::1]:PORT for IPv6)")
    ap.add_argument("--listen-host", default=None, help="where clients send to (default: the server's host)")
    ap.add_argument("--plan", default="{}", help="the plan as JSON (see Plan)")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    relay = Relay((host.strip("[]"), int(port)), Plan.from_json(args.plan), args.listen_host)
    print(json.dumps({"port": relay.port}), flush=True)
    result = relay.serve(sys.stdin)
    relay.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
