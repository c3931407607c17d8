"""Download throughput over a shaped path (issue 41): HTTP/3 against HTTP/2 over TLS.

One ringbolt server in the server namespace of benchmarks/net/shaped_path.py serves
tests/interop/app.py (`GET /bytes/N`: N bytes, made once and kept) over HTTPS (h2 and
HTTP/1.1) and HTTP/3 on one port number. From the client namespace, each round downloads
the body once over HTTP/3 (Debian's ngtcp2 client, gtlsclient, into a tmpfs directory,
its size checked) and once over HTTP/2 over TLS (curl --http2: the kernel's TCP, CUBIC),
the order alternating from round to round. TCP's congestion controller would be the
namespace's default, which a new namespace takes from the host (here BBR): so it is set
on the path's route (`congctl`) before each HTTP/2 transfer, cubic by default; with
several --tcp-cc each is a column of its own, on the same server process. Per transfer: Mbit/s (the body's bits over
the client process's wall time, connection set-up included), the server's CPU seconds
(utime + stime of its processes from /proc/PID/stat, before and after), what the path
lost, and the load average. Then medians, minimum and maximum per column.

    sudo python3 benchmarks/net/throughput.py --rtt-ms 50 --loss 0.01 --rate-mbit 100 --size-mib 16
    sudo python3 benchmarks/net/throughput.py --rtt-ms 50 --loss 0 --rate-mbit 100 --size-mib 64   # the control
    # one server per congestion controller, each a column pair (a server with --http3-cc):
    sudo python3 benchmarks/net/throughput.py --cc cubic --cc bbr ...
    # any other server option:
    sudo python3 benchmarks/net/throughput.py --server-arg=--http3-stream-window=8388608 ...

By default the server is pinned to CPU 0 (taskset), the clients and the forwarder to
CPU 1. The server is `--python -m ringbolt serve` (default: the python running this).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INTEROP = REPO / "tests" / "interop"
sys.path.insert(0, str(HERE))

from shaped_path import SERVER_ADDR, ShapedPath, stats_delta  # noqa: E402

sys.path.insert(0, str(HERE.parent.parent / "tests" / "interop"))
from servers import tree_cpu_seconds  # noqa: E402  (the interop matrix's: a server and its workers)

CLIENT_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def make_cert(d: Path) -> tuple[Path, Path]:
    cert, key = d / "server.crt", d / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", f"subjectAltName=DNS:localhost,IP:{SERVER_ADDR}"],
                   check=True, capture_output=True, env=CLIENT_ENV)
    return cert, key


def build_id(python: str) -> str:
    """The server's native module: its mtime and the start of its sha256 (a build can be
    replaced while a run goes on; each server says which it started with)."""
    code = ("import hashlib, os, time, ringbolt._native as n; f = n.__file__; "
            "print(time.strftime('%H:%M:%S', time.gmtime(os.stat(f).st_mtime)), "
            "hashlib.sha256(open(f, 'rb').read()).hexdigest()[:12])")
    r = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return "_native built " + r.stdout.strip().replace(" ", " UTC, sha256 ") if r.returncode == 0 else "unknown build"


class Server:
    def __init__(self, path: ShapedPath, python: str, port: int, cert: Path, key: Path, cpu: str | None,
                 extra: list[str], log: Path) -> None:
        cmd = [python, "-m", "ringbolt", "serve", "app:app", "--app-dir", str(INTEROP), "--host", SERVER_ADDR,
               "--port", str(port), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--http3",
               "--threads", "1", "--log-level", "warning", *extra]
        if cpu is not None:
            cmd = ["taskset", "-c", cpu, *cmd]
        self.cmd = path.server_cmd(cmd)  # ip netns exec and taskset exec: the pid is the server's
        self.log = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT)
        self.path, self.port = path, port

    def wait_serving(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        probe = ("import socket,sys\ns=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1)\n")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            r = subprocess.run(self.path.client_cmd([sys.executable, "-c", probe, SERVER_ADDR, str(self.port)]),
                               capture_output=True)
            if r.returncode == 0:
                time.sleep(0.3)  # (the HTTP/3 listener comes with the TCP one; a moment for it)
                return
            time.sleep(0.2)
        raise RuntimeError(f"server did not start in {timeout} s: {self.log.read_text()[-2000:]}")

    def cpu(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def run_h3(path: ShapedPath, port: int, size: int, cpu: str | None, tmp: Path, timeout: float,
           client_cc: str) -> dict[str, Any]:
    d = Path(tempfile.mkdtemp(dir=tmp))
    cmd = ["gtlsclient", "--quiet", "--exit-on-all-streams-close", "--timeout=30s", "--max-data=64M",
           "--max-stream-data-bidi-local=16M", f"--cc={client_cc}", "--download", str(d), SERVER_ADDR, str(port),
           f"https://{SERVER_ADDR}:{port}/bytes/{size}"]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    t0 = time.monotonic()
    try:
        r = subprocess.run(path.client_cmd(cmd), capture_output=True, env=CLIENT_ENV, timeout=timeout)
        wall = time.monotonic() - t0
        rc, err = r.returncode, (r.stderr + r.stdout).decode(errors="replace")[-300:]
    except subprocess.TimeoutExpired:
        wall, rc, err = time.monotonic() - t0, -1, f"timed out after {timeout} s"
    f = d / str(size)
    got = f.stat().st_size if f.exists() else 0
    shutil.rmtree(d, ignore_errors=True)
    ok = rc == 0 and got == size
    return {"ok": ok, "wall": wall, "bytes": got, "error": None if ok else f"rc {rc}, {got} bytes: {err}"}


def run_h2(path: ShapedPath, port: int, size: int, cpu: str | None, timeout: float) -> dict[str, Any]:
    cmd = ["curl", "--http2", "-k", "-sS", "-o", "/dev/null", "--max-time", str(int(timeout)), "-w",
           "%{http_version} %{size_download} %{time_appconnect} %{time_starttransfer} %{time_total}",
           f"https://{SERVER_ADDR}:{port}/bytes/{size}"]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    t0 = time.monotonic()
    r = subprocess.run(path.client_cmd(cmd), capture_output=True, text=True, env=CLIENT_ENV, timeout=timeout + 10)
    wall = time.monotonic() - t0
    parts = r.stdout.split()
    got = int(parts[1]) if len(parts) == 5 else 0
    ok = r.returncode == 0 and got == size and parts[0] == "2"
    return {"ok": ok, "wall": wall, "bytes": got, "curl_total": float(parts[4]) if len(parts) == 5 else None,
            "error": None if ok else f"rc {r.returncode}: {r.stdout} {r.stderr[-300:]}"}


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rtt-ms", type=float, default=50.0)
    p.add_argument("--loss", type=float, default=0.01)
    p.add_argument("--rate-mbit", type=float, default=100.0, help="bottleneck each way; 0 = none (default 100)")
    p.add_argument("--queue-pkts", type=int, default=0, help="bottleneck queue (default one BDP, at least 64)")
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size-mib", type=float, default=16.0, help="the body (default 16 MiB)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--python", default=sys.executable, help="the python whose ringbolt serves")
    p.add_argument("--port", type=int, default=8443)
    p.add_argument("--server-cpu", default="0", help="taskset CPU list for the server ('' = not pinned)")
    p.add_argument("--client-cpu", default="1", help="taskset CPU list for the clients ('' = not pinned)")
    p.add_argument("--forwarder-cpu", type=int, default=1, help="CPU of the path's forwarder (-1 = not pinned)")
    p.add_argument("--server-arg", action="append", default=[], help="an extra server option (repeatable)")
    p.add_argument("--cc", action="append", default=[],
                   help="run a server per HTTP/3 congestion controller (passes --http3-cc=CC; repeatable)")
    p.add_argument("--tcp-cc", action="append", default=[],
                   help="TCP congestion controller(s) of the HTTP/2 transfers (repeatable; default cubic)")
    p.add_argument("--client-cc", default="cubic", help="gtlsclient's --cc (it only sends ACKs here)")
    p.add_argument("--only", choices=("h3", "h2"), action="append", default=[], help="one protocol only")
    p.add_argument("--timeout", type=float, default=120.0, help="per transfer, seconds")
    p.add_argument("--json", type=Path, help="write every transfer here")
    args = p.parse_args()
    if shutil.which("gtlsclient") is None:
        sys.exit("gtlsclient is needed (apt-get install ngtcp2-client)")
    size = int(args.size_mib * (1 << 20))
    if args.cc:
        helptext = subprocess.run([args.python, "-m", "ringbolt", "serve", "--help"], capture_output=True,
                                  text=True).stdout
        if "--http3-cc" not in helptext:
            sys.exit(f"--cc: this ringbolt ({args.python}) has no --http3-cc option")
    tcp_ccs = args.tcp_cc or ["cubic"]
    protos = [p_ for p_ in (["h3"] + [f"h2-{cc}" for cc in tcp_ccs]) if not args.only or p_.split("-")[0] in args.only]
    variants = [[f"--http3-cc={cc}"] for cc in args.cc] or [[]]
    scpu = args.server_cpu or None
    ccpu = args.client_cpu or None
    results: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="rbp-tput-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    cert, key = make_cert(tmp)
    t_start = time.time()
    host_cc = Path("/proc/sys/net/ipv4/tcp_congestion_control").read_text().strip()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, load {Path('/proc/loadavg').read_text().strip()}",
          flush=True)
    with ShapedPath(rtt_ms=args.rtt_ms, loss=args.loss, rate_mbit=args.rate_mbit, queue_pkts=args.queue_pkts,
                    jitter_ms=args.jitter_ms, seed=args.seed,
                    forwarder_cpu=None if args.forwarder_cpu < 0 else args.forwarder_cpu) as path:
        print(f"# path: rtt {args.rtt_ms} ms, loss {args.loss}, rate {args.rate_mbit} Mbit/s, queue "
              f"{path.plan.queue_limit()} packets, seed {args.seed}; body {size} B; server {args.python}; the host's TCP "
              f"congestion control {host_cc}, each HTTP/2 column sets its own in the namespaces", flush=True)
        try:
            for extra in variants:
                label = extra[0].split("=", 1)[1] if extra else "default"
                log = tmp / f"server-{label}.log"
                server = Server(path, args.python, args.port, cert, key, scpu, [*args.server_arg, *extra], log)
                try:
                    server.wait_serving()
                    print(f"# server {label}: {' '.join(server.cmd)}; {build_id(args.python)}", flush=True)
                    # a warm-up per protocol (the body is made on the first request; the TLS session set up)
                    if any(p_.startswith("h2") for p_ in protos):
                        run_h2(path, args.port, size, ccpu, args.timeout)
                    if "h3" in protos:
                        run_h3(path, args.port, 1 << 20, ccpu, tmp, args.timeout, args.client_cc)
                    for rnd in range(args.rounds):
                        order = protos if rnd % 2 == 0 else protos[::-1]
                        for proto in order:
                            la0, st0, cpu0 = loadavg(), path.stats(), server.cpu()
                            ccpu0, fcpu0 = children_cpu(), tree_cpu_seconds(path.forwarder_pid())
                            if proto == "h3":
                                r = run_h3(path, args.port, size, ccpu, tmp, args.timeout, args.client_cc)
                            else:
                                cc = proto.split("-", 1)[1]
                                path.set_tcp_cc(cc)
                                if path.tcp_cc_of_route("server") != cc:
                                    raise RuntimeError(f"could not set TCP congestion control {cc}")
                                la0, st0, cpu0, ccpu0 = loadavg(), path.stats(), server.cpu(), children_cpu()
                                fcpu0 = tree_cpu_seconds(path.forwarder_pid())
                                r = run_h2(path, args.port, size, ccpu, args.timeout)
                            r["client_cpu_s"] = children_cpu() - ccpu0
                            r["forwarder_cpu_s"] = tree_cpu_seconds(path.forwarder_pid()) - fcpu0
                            time.sleep(0.15)  # the path's counters are published every 50 ms
                            cpu1, st1 = server.cpu(), path.stats()
                            d = stats_delta(st0, st1)
                            r.update(variant=label, proto=proto, round=rnd + 1, size=size,
                                     mbit_s=size * 8 / r["wall"] / 1e6 if r["ok"] else None,
                                     server_cpu_s=cpu1 - cpu0, load=la0,
                                     s2c_in=d["s2c"]["in_pkts"], s2c_bytes=d["s2c"]["in_bytes"], s2c_lost=d["s2c"]["lost"],
                                     s2c_overflow=d["s2c"]["overflow"], c2s_in=d["c2s"]["in_pkts"],
                                     c2s_lost=d["c2s"]["lost"], max_queue=d["s2c"]["max_queue"],
                                     tun_drops=(d.get("client_tun_tx_dropped") or 0) + (d.get("server_tun_tx_dropped") or 0))
                            results.append(r)
                            mb = f"{r['mbit_s']:.1f}" if r["ok"] else "FAIL"
                            print(f"{label:>8} round {rnd + 1} {proto}: {mb} Mbit/s, wall {r['wall']:.2f} s, server CPU "
                                  f"{r['server_cpu_s']:.2f} s, client CPU {r['client_cpu_s']:.2f} s, forwarder CPU "
                                  f"{r['forwarder_cpu_s']:.2f} s, s2c {r['s2c_in']} pkts ({r['s2c_lost']} lost, "
                                  f"{r['s2c_overflow']} queue drops, {r['s2c_bytes'] / max(1, r['s2c_in']):.0f} B mean), c2s {r['c2s_in']} ({r['c2s_lost']} lost), "
                                  f"load {r['load']:.2f}" + ("" if r["ok"] else f" -- {r['error']}"), flush=True)
                finally:
                    server.stop()
        finally:
            final = path.stats()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n# {time.strftime('%H:%M:%S', time.gmtime())} UTC, {time.time() - t_start:.0f} s, load "
          f"{Path('/proc/loadavg').read_text().strip()}; path totals: {json.dumps(final)}")
    print("\n| server | protocol | Mbit/s median (min-max) | server CPU s per transfer, median (min-max) | "
          "server CPU ms per MiB | client CPU s, median | s2c lost/queue-dropped (sum) | load avg |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for extra in variants:
        label = extra[0].split("=", 1)[1] if extra else "default"
        for proto in protos:
            rs = [r for r in results if r["variant"] == label and r["proto"] == proto]
            okr = [r for r in rs if r["ok"]]
            mbits = [r["mbit_s"] for r in okr]
            cpus = [r["server_cpu_s"] for r in okr]
            per_mib = statistics.median(cpus) * 1000 / (size / (1 << 20)) if cpus else float("nan")
            name = "HTTP/3 (ngtcp2)" if proto == "h3" else f"HTTP/2 over TLS (TCP {proto[3:]})"
            fails = len(rs) - len(okr)
            print(f"| {label} | {name} | {summary(mbits)}{f', {fails} failed' if fails else ''} | "
                  f"{statistics.median(cpus) if cpus else float('nan'):.2f} ({min(cpus, default=0):.2f}-"
                  f"{max(cpus, default=0):.2f}) | {per_mib:.1f} | "
                  f"{statistics.median([r['client_cpu_s'] for r in okr]) if okr else float('nan'):.2f} | {sum(r['s2c_lost'] for r in rs)}/"
                  f"{sum(r['s2c_overflow'] for r in rs)} | {min(r['load'] for r in rs):.1f}-{max(r['load'] for r in rs):.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "transfers": results,
                                         "path_totals": final, "host_tcp_cc": host_cc}, indent=1))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
