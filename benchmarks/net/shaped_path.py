"""A shaped IP path between two network namespaces, for TCP and UDP alike.

The kernel here has no netem qdisc, and tests/interop/relay.py shapes UDP datagrams only
(it relays a socket's payload, so it cannot carry TCP). This shapes at layer 3 instead:

    [client netns rbp-cl-PID]              [server netns rbp-sv-PID]
     10.77.0.1 on TUN rbp0  <-- forwarder -->  10.77.0.2 on TUN rbp0

Each namespace has a TUN device (MTU 1500, no packet-information header, no offloads: one
read is one IP packet of at most 1500 bytes) with its address and a /24 route through it.
One forwarder process reads the packets of each TUN and writes them to the other after
a seeded plan, per direction:

- loss: each packet is dropped with probability `loss` (before the bottleneck);
- rate: a bottleneck link of `rate_mbit` Mbit/s (serialisation at that rate) with a
  drop-tail queue of `queue_pkts` packets (a packet arriving at a full queue is dropped,
  as a router does); 0 means no rate limit;
- delay: `rtt_ms / 2` one way, plus `jitter_ms` (uniform in +-jitter, the order of the
  packets kept: a packet never leaves before the one ahead of it).

Every random draw comes from `seed` (one generator per direction), so a run's loss pattern
is the same packet for packet when the traffic is. The forwarder counts, per direction:
packets and bytes in, lost, dropped at the queue, delivered, the deepest queue, and write
errors; the TUN's own drops (its transmit ring full) are read from the kernel.

From Python:

    with ShapedPath(rtt_ms=50, loss=0.01, rate_mbit=100, seed=1) as path:
        subprocess.run(path.server_cmd(["python3", "-m", "http.server", "--bind", "10.77.0.2"]))
        ...
        print(path.stats())

From the shell (the command runs on the host, with the namespace names in RBP_CLIENT_NS
and RBP_SERVER_NS, or in one namespace with --netns):

    python3 benchmarks/net/shaped_path.py --rtt-ms 50 --loss 0.01 --rate-mbit 100 -- \\
        sh -c 'ip netns exec $RBP_CLIENT_NS ping -c 3 10.77.0.2'
    python3 benchmarks/net/shaped_path.py --rtt-ms 50 --netns client -- ping -c 3 10.77.0.2
    python3 benchmarks/net/shaped_path.py --bench-forwarder     # the forwarder's own packet rate

Needs root and /dev/net/tun. The namespaces are deleted on exit, on SIGINT and SIGTERM and
on an error; namespaces left by a process that was killed outright (SIGKILL) are deleted
by the next start (their names carry the pid of the process that made them).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import ctypes.util
import errno
import fcntl
import json
import mmap
import os
import random
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

CLIENT_ADDR, SERVER_ADDR = "10.77.0.1", "10.77.0.2"
PREFIX = 24
TUN_NAME = "rbp0"
MTU = 1500
TXQUEUELEN = 10000  # the TUN's transmit ring: deep enough that the kernel side never drops while we read
NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
PR_SET_PDEATHSIG = 1

C2S, S2C = 0, 1
DIR_NAMES = ("c2s", "s2c")  # client to server, server to client
COUNTERS = ("in_pkts", "in_bytes", "lost", "overflow", "out_pkts", "out_bytes", "max_queue", "write_errors")
_STATS = struct.Struct(f"<{2 * len(COUNTERS) + 1}q")  # both directions, then a sequence number


@dataclass
class Plan:
    rtt_ms: float = 50.0  # round-trip delay: half of it each way
    loss: float = 0.0  # per packet, each way
    rate_mbit: float = 0.0  # bottleneck rate each way; 0 = none
    queue_pkts: int = 0  # the bottleneck's queue; 0 = one bandwidth-delay product (at least 64 packets)
    jitter_ms: float = 0.0  # +- this, uniform, on the one-way delay (order kept)
    seed: int = 1

    def queue_limit(self) -> int:
        if self.queue_pkts > 0:
            return self.queue_pkts
        if self.rate_mbit <= 0:
            return 0
        bdp = self.rate_mbit * 1e6 / 8 * self.rtt_ms / 1000 / MTU
        return max(64, int(bdp))


# ---- namespaces ----

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace `fd` refers to."""
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, nstype)
        return
    if _libc.setns(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def _run(*cmd: str) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale() -> list[str]:
    """Delete the namespaces of earlier paths whose process is gone; returns their names."""
    gone: list[str] = []
    if not NETNS_DIR.is_dir():
        return gone
    for entry in NETNS_DIR.iterdir():
        m = re.fullmatch(r"rbp-(?:cl|sv)-(\d+)", entry.name)
        if m and not _pid_alive(int(m.group(1))):
            subprocess.run(["ip", "netns", "del", entry.name], capture_output=True)
            gone.append(entry.name)
    return gone


def open_tun_in(ns: str, name: str = TUN_NAME) -> int:
    """Create TUN `name` inside namespace `ns` (this thread enters it and comes back) and
    return its file descriptor; the device goes when the descriptor is closed."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(str(NETNS_DIR / ns), os.O_RDONLY)
    try:
        setns(target)
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
            try:
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
            except OSError:
                os.close(fd)
                raise
        finally:
            setns(home)
    finally:
        os.close(target)
        os.close(home)
    return fd


def prereq_problem() -> str | None:
    """Why a shaped path cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and TUN devices)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no TUN driver)"
    if subprocess.run(["which", "ip"], capture_output=True).returncode != 0:
        return "the ip command (iproute2) is missing"
    return None


# ---- the forwarder ----

class _Dir:
    __slots__ = ("src", "dst", "rng", "q", "departs", "link_free", "c")

    def __init__(self, src: int, dst: int, seed: int) -> None:
        self.src, self.dst = src, dst
        self.rng = random.Random(seed)
        self.q: collections.deque[tuple[float, bytes]] = collections.deque()  # (deliver_at, packet), in order
        self.departs: collections.deque[float] = collections.deque()  # departure times of the packets at the bottleneck
        self.link_free = 0.0
        self.c = [0] * len(COUNTERS)


def forward(fd_c: int, fd_s: int, plan: Plan, stats_fd: int | None = None, duration: float | None = None) -> list[list[int]]:
    """The forwarder's loop: until SIGTERM/SIGINT (or `duration` seconds), packets from
    fd_c go to fd_s and back, after `plan`. Counters go to the mmap'ed `stats_fd` every
    50 ms and at the end; also returned."""
    stop = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    mm = mmap.mmap(stats_fd, _STATS.size) if stats_fd is not None else None
    dirs = (_Dir(fd_c, fd_s, plan.seed * 2 + 1), _Dir(fd_s, fd_c, plan.seed * 2 + 2))
    by_fd = {fd_c: dirs[C2S], fd_s: dirs[S2C]}
    one_way = plan.rtt_ms / 2000.0
    jitter = plan.jitter_ms / 1000.0
    loss = plan.loss
    rate = plan.rate_mbit * 1e6 / 8  # bytes per second
    qlimit = plan.queue_limit()
    ep = select.epoll()
    for fd in (fd_c, fd_s):
        os.set_blocking(fd, False)
        ep.register(fd, select.EPOLLIN)
    read, write, monotonic = os.read, os.write, time.monotonic
    seq = 0
    last_stats = 0.0
    end = monotonic() + duration if duration else None

    def publish() -> None:
        nonlocal seq
        if mm is not None:
            seq += 1
            mm[:] = _STATS.pack(*dirs[0].c, *dirs[1].c, seq)

    while not stop:
        now = monotonic()
        # deliver what is due
        for d in dirs:
            q = d.q
            while q and q[0][0] <= now:
                pkt = q.popleft()[1]
                try:
                    write(d.dst, pkt)
                    d.c[4] += 1
                    d.c[5] += len(pkt)
                except OSError:
                    d.c[7] += 1
        nxt = min((d.q[0][0] for d in dirs if d.q), default=None)
        if end is not None and now >= end:
            break
        if now - last_stats > 0.05:
            publish()
            last_stats = now
        timeout = 0.2 if nxt is None else max(0.0, nxt - now)
        try:
            events = ep.poll(timeout)
        except InterruptedError:
            continue
        for fd, _ in events:
            d = by_fd[fd]
            c, q, rng = d.c, d.q, d.rng
            for _ in range(512):
                try:
                    pkt = read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno in (errno.EAGAIN, errno.EINTR):
                        break
                    raise
                n = len(pkt)
                c[0] += 1
                c[1] += n
                if loss and rng.random() < loss:
                    c[2] += 1
                    continue
                t = monotonic()
                if rate:
                    dq = d.departs
                    while dq and dq[0] <= t:
                        dq.popleft()
                    if len(dq) >= qlimit:
                        c[3] += 1
                        continue
                    start = d.link_free if d.link_free > t else t
                    d.link_free = start + n / rate
                    dq.append(d.link_free)
                    if len(dq) > c[6]:
                        c[6] = len(dq)
                    t = d.link_free
                t += one_way
                if jitter:
                    t += rng.uniform(-jitter, jitter)
                if q and t < q[-1][0]:
                    t = q[-1][0]  # order kept
                q.append((t, pkt))
                if not rate and len(q) > c[6]:
                    c[6] = len(q)
    publish()
    return [dirs[0].c, dirs[1].c]


def _forwarder_main(args: argparse.Namespace) -> int:
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != args.parent:  # the parent went before the line above took effect
        return 1
    plan = Plan(**json.loads(args.plan))
    forward(args.fd_c, args.fd_s, plan, args.stats_fd)
    return 0


# ---- the path ----

class ShapedPath:
    """Two namespaces joined by the forwarder; a context manager (see the module's text)."""

    def __init__(self, rtt_ms: float = 50.0, loss: float = 0.0, rate_mbit: float = 0.0, queue_pkts: int = 0,
                 jitter_ms: float = 0.0, seed: int = 1, forwarder_cpu: int | None = None) -> None:
        self.plan = Plan(rtt_ms=rtt_ms, loss=loss, rate_mbit=rate_mbit, queue_pkts=queue_pkts, jitter_ms=jitter_ms,
                         seed=seed)
        self.forwarder_cpu = forwarder_cpu
        self.client_ns = f"rbp-cl-{os.getpid()}"
        self.server_ns = f"rbp-sv-{os.getpid()}"
        self.client_addr, self.server_addr = CLIENT_ADDR, SERVER_ADDR
        self.forwarder: subprocess.Popen[bytes] | None = None
        self._made: list[str] = []
        self._stats_file: Any = None
        self._stats_mm: mmap.mmap | None = None
        self._old_handlers: dict[int, Any] = {}
        self.final: dict[str, Any] | None = None

    # -- set up and tear down --

    def start(self) -> "ShapedPath":
        problem = prereq_problem()
        if problem:
            raise RuntimeError(f"shaped path: {problem}")
        clean_stale()
        try:
            fds = []
            for ns, addr in ((self.client_ns, CLIENT_ADDR), (self.server_ns, SERVER_ADDR)):
                if (NETNS_DIR / ns).exists():
                    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
                _run("ip", "netns", "add", ns)
                self._made.append(ns)
                fds.append(open_tun_in(ns))
                _run("ip", "-n", ns, "link", "set", "lo", "up")
                _run("ip", "-n", ns, "link", "set", "dev", TUN_NAME, "mtu", str(MTU), "txqueuelen", str(TXQUEUELEN))
                _run("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{TUN_NAME}.disable_ipv6=1")
                _run("ip", "-n", ns, "addr", "add", f"{addr}/{PREFIX}", "dev", TUN_NAME)
                _run("ip", "-n", ns, "link", "set", "dev", TUN_NAME, "up")
            self._stats_file = tempfile.TemporaryFile()
            self._stats_file.write(b"\0" * _STATS.size)
            self._stats_file.flush()
            self._stats_mm = mmap.mmap(self._stats_file.fileno(), _STATS.size)
            sfd = self._stats_file.fileno()
            cmd = [sys.executable, str(Path(__file__).resolve()), "--_forwarder", "--fd-c", str(fds[0]), "--fd-s",
                   str(fds[1]), "--stats-fd", str(sfd), "--parent", str(os.getpid()), "--plan",
                   json.dumps(asdict(self.plan))]
            if self.forwarder_cpu is not None:
                cmd += ["--cpu", str(self.forwarder_cpu)]
            self.forwarder = subprocess.Popen(cmd, pass_fds=(fds[0], fds[1], sfd))
            for fd in fds:
                os.close(fd)  # the forwarder holds them now: the devices go when it does
            self._install_signals()
            return self
        except BaseException:
            self.close()
            raise

    def _install_signals(self) -> None:
        import threading

        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")  # unwinds through __exit__/finally: close() runs

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[sig] = signal.signal(sig, on_signal)

    def close(self) -> None:
        if self.forwarder is not None and self.forwarder.poll() is None:
            self.forwarder.terminate()
            try:
                self.forwarder.wait(5)
            except subprocess.TimeoutExpired:
                self.forwarder.kill()
                self.forwarder.wait()
        if self._stats_mm is not None:
            try:
                self.final = self.stats()
            except Exception:
                pass
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._made.clear()
        if self._stats_mm is not None:
            self._stats_mm.close()
            self._stats_mm = None
        if self._stats_file is not None:
            self._stats_file.close()
            self._stats_file = None
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)
        self._old_handlers.clear()

    def __enter__(self) -> "ShapedPath":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- use --

    def client_cmd(self, cmd: Sequence[str]) -> list[str]:
        """`cmd` to run in the client's namespace."""
        return ["ip", "netns", "exec", self.client_ns, *cmd]

    def server_cmd(self, cmd: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.server_ns, *cmd]

    def set_tcp_cc(self, cc: str | None) -> None:
        """TCP's congestion controller on the path, both ends: the route's `congctl`
        (a new namespace takes the host's default, and its sysctl may only name one of
        net.ipv4.tcp_allowed_congestion_control, which a route attribute need not be);
        None: the namespace's default again. Connections opened after it take it."""
        for ns, addr in ((self.client_ns, CLIENT_ADDR), (self.server_ns, SERVER_ADDR)):
            net = ".".join(addr.split(".")[:3]) + ".0"
            _run("ip", "-n", ns, "route", "replace", f"{net}/{PREFIX}", "dev", TUN_NAME, "proto", "kernel", "scope",
                 "link", "src", addr, *(["congctl", cc] if cc else []))

    def tcp_cc_of_route(self, side: str = "server") -> str:
        ns = {"client": self.client_ns, "server": self.server_ns}[side]
        out = subprocess.run(["ip", "-n", ns, "route", "show", "dev", TUN_NAME], capture_output=True,
                             text=True).stdout
        m = re.search(r"congctl (\w+)", out)
        if m:
            return m.group(1)
        return "default " + subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.tcp_congestion_control"],
                                           capture_output=True, text=True).stdout.strip()

    def forwarder_pid(self) -> int:
        if self.forwarder is None:
            raise RuntimeError("the path is not running")
        return self.forwarder.pid

    def stats(self) -> dict[str, Any]:
        """The forwarder's counters (at most 50 ms old while it runs), per direction, and
        the TUNs' own transmit drops (the kernel's: a full ring, not the plan)."""
        if self._stats_mm is None:
            if self.final is not None:
                return self.final
            raise RuntimeError("the path is not running")
        vals = _STATS.unpack(self._stats_mm[:])
        n = len(COUNTERS)
        out: dict[str, Any] = {name: dict(zip(COUNTERS, vals[i * n:(i + 1) * n])) for i, name in enumerate(DIR_NAMES)}
        for name, ns in (("client_tun_tx_dropped", self.client_ns), ("server_tun_tx_dropped", self.server_ns)):
            r = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", TUN_NAME], capture_output=True,
                               text=True)
            try:
                out[name] = json.loads(r.stdout)[0]["stats64"]["tx"]["dropped"]
            except (ValueError, KeyError, IndexError):
                out[name] = None
        return out


def stats_delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """b - a for the counting counters (max_queue: b's)."""
    out: dict[str, Any] = {}
    for k, v in b.items():
        if isinstance(v, dict):
            out[k] = {c: (v[c] if c == "max_queue" else v[c] - a[k][c]) for c in v}
        elif isinstance(v, int) and isinstance(a.get(k), int):
            out[k] = v - a[k]
        else:
            out[k] = v
    return out


def bench_forwarder(seconds: float = 3.0, size: int = 1400, forwarder_cpu: int | None = None) -> dict[str, float]:
    """The forwarder's own rate: a UDP socket in the client namespace sends `size`-byte
    datagrams to one in the server namespace as fast as it can for `seconds` (no loss, no
    delay, no rate limit); what the forwarder moved in that time, per second. The sender,
    the receiver and the forwarder share the machine's CPUs; the TUN's drops (its ring
    full: the forwarder did not keep up) are counted by the kernel."""
    with ShapedPath(rtt_ms=0, loss=0, forwarder_cpu=forwarder_cpu) as path:
        # a UDP sink in the server namespace that counts
        sink = subprocess.Popen(path.server_cmd([sys.executable, "-c", _SINK, str(seconds + 1.5)]),
                                stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        src = subprocess.Popen(path.client_cmd([sys.executable, "-c", _SOURCE, str(seconds), str(size)]),
                               stdout=subprocess.PIPE, text=True)
        sent = int(src.communicate()[0].strip() or 0)
        got = int(sink.communicate()[0].strip() or 0)
        st = path.stats()
    fwd = st["c2s"]["out_pkts"]
    return {"seconds": seconds, "payload": size, "sent": sent, "forwarded": fwd, "received": got,
            "forwarded_pps": round(fwd / seconds), "forwarded_mbit_s": round(fwd * (size + 28) * 8 / seconds / 1e6, 1),
            "client_tun_tx_dropped": st["client_tun_tx_dropped"]}


_SOURCE = """
import socket, sys, time
secs, size = float(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("10.77.0.2", 9))
buf = b"x" * size
n = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    for _ in range(64):
        try:
            s.send(buf); n += 1
        except OSError:
            pass
print(n)
"""

_SINK = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("10.77.0.2", 9))
s.settimeout(0.5)
n = 0
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        s.recv(65536); n += 1
    except socket.timeout:
        pass
print(n)
"""


def run_command(cmd: list[str], env: dict[str, str]) -> int:
    """Run `cmd` to its end; its exit status. A SIGTERM or SIGINT of ours (KeyboardInterrupt,
    from the path's handlers) is passed on to it (SIGKILL 5 s later), and raised again once
    it has gone. The two signals are blocked while the child is made: one that came between
    the fork and Popen's return would leave a child no one knows of, holding our stderr
    open (subprocess.run had that race)."""
    stop = {signal.SIGTERM, signal.SIGINT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    try:
        proc = subprocess.Popen(cmd, env=env, preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, old))
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a signal that waited is raised here, proc known
        return proc.wait()
    except KeyboardInterrupt:
        if proc.poll() is None:
            proc.terminate()  # the command this function started
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        raise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rtt-ms", type=float, default=50.0, help="round-trip delay, half each way (default 50)")
    p.add_argument("--loss", type=float, default=0.0, help="loss probability per packet, each way")
    p.add_argument("--rate-mbit", type=float, default=0.0, help="bottleneck rate each way; 0 = none")
    p.add_argument("--queue-pkts", type=int, default=0, help="bottleneck queue (default one BDP, >= 64)")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="+- this on the one-way delay (order kept)")
    p.add_argument("--seed", type=int, default=1, help="seed of every random draw")
    p.add_argument("--forwarder-cpu", type=int, default=None, help="pin the forwarder to this CPU")
    p.add_argument("--netns", choices=("host", "client", "server"), default="host",
                   help="where the command runs (default: on the host, with RBP_CLIENT_NS and RBP_SERVER_NS set)")
    p.add_argument("--bench-forwarder", action="store_true", help="measure the forwarder's packet rate and exit")
    p.add_argument("--_forwarder", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--fd-c", type=int, help=argparse.SUPPRESS)
    p.add_argument("--fd-s", type=int, help=argparse.SUPPRESS)
    p.add_argument("--stats-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    p.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    p.add_argument("--plan", help=argparse.SUPPRESS)
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command ...")
    args = p.parse_args(argv)
    if args._forwarder:
        return _forwarder_main(args)
    if args.bench_forwarder:
        print(json.dumps(bench_forwarder(forwarder_cpu=args.forwarder_cpu)))
        return 0
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    path = ShapedPath(rtt_ms=args.rtt_ms, loss=args.loss, rate_mbit=args.rate_mbit, queue_pkts=args.queue_pkts,
                      jitter_ms=args.jitter_ms, seed=args.seed, forwarder_cpu=args.forwarder_cpu)
    rc = 0
    with path:
        # The line a caller waits for is printed inside the try: a signal that comes right
        # after it (a caller that stops the path as soon as it is up) still ends here, with
        # the stats printed (it once came between the two, on a busy machine).
        try:
            print(f"shaped path: {path.client_ns} {CLIENT_ADDR} <-> {path.server_ns} {SERVER_ADDR}, "
                  f"{json.dumps(asdict(path.plan))}", file=sys.stderr, flush=True)
            env = {**os.environ, "RBP_CLIENT_NS": path.client_ns, "RBP_SERVER_NS": path.server_ns,
                   "RBP_CLIENT_ADDR": CLIENT_ADDR, "RBP_SERVER_ADDR": SERVER_ADDR}
            if cmd:
                full = {"host": list(cmd), "client": path.client_cmd(cmd), "server": path.server_cmd(cmd)}[args.netns]
                rc = run_command(full, env)
            else:
                print("no command: waiting for SIGINT or SIGTERM", file=sys.stderr, flush=True)
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            rc = 130
        st = path.stats()
    print(json.dumps({"plan": asdict(path.plan), "stats": st}), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
