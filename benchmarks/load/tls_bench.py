#!/usr/bin/env python3
"""HTTPS/1.1 small-response req/s and TLS handshakes/s: ringbolt against nginx and Granian
with the same certificate. Self-contained and bounded: a P-256 certificate made here,
each server with one worker (ringbolt --threads 1; Granian --workers 1 --runtime-threads 1
--http 1, RSGI and ASGI; nginx worker_processes 1) pinned to --server-cpu, the load
generator to --load-cpu, rounds interleaved (A B C A B C...). The servers are started by
pymod/ringbolt_bench/servers.py (shared with h2_bench.py). Prints a Markdown table.

    python3 benchmarks/load/tls_bench.py --python build/venv311/bin/python \
        --granian build/venv-granian/bin/granian --rounds 3

Systems (--systems): ringbolt (a Python handler), ringbolt-const (a native const route),
granian-rsgi, granian-asgi, nginx (`return 200`); all answer /plaintext with
"Hello, World!" (13 bytes). Ratios are to the last system named (default nginx).

- req/s: `wrk -t1 -c64 -dSs https://127.0.0.1:PORT/plaintext` (keep-alive: handshakes once
  per connection, then records only).
- handshakes/s: `openssl s_time -new -time S` (a full handshake, TLS 1.3, one small GET
  and close per connection, sequentially: a latency-bound figure, client and server CPU
  both count), and `-reuse` (session resumption).
- server CPU µs/handshake: the same over the `-new` window, per connection (handshake,
  one GET, close).
- server CPU µs/req: user+system CPU of the server's processes over the wrk window, per
  request (less sensitive than req/s to other load on a shared machine).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"


def load_servers():
    """pymod/ringbolt_bench/servers.py by path: this interpreter need not have ringbolt."""
    spec = importlib.util.spec_from_file_location("ringbolt_bench_servers",
                                                  ROOT / "pymod" / "ringbolt_bench" / "servers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


servers = load_servers()


def wrk(args: argparse.Namespace, port: int, seconds: float) -> tuple[float, int]:
    out = subprocess.run(["taskset", "-c", args.load_cpu, "wrk", "-t1", f"-c{args.connections}",
                          f"-d{seconds:g}s", f"https://127.0.0.1:{port}/plaintext"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    n_err = (sum(int(x) for x in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)
    return rps, n_err


def s_time(args: argparse.Namespace, port: int, mode: str) -> tuple[float, int]:
    out = subprocess.run(["taskset", "-c", args.load_cpu, "openssl", "s_time", "-connect", f"127.0.0.1:{port}",
                          mode, "-time", str(args.handshake_seconds), "-www", "/plaintext"],
                         capture_output=True, text=True, timeout=args.handshake_seconds + 60).stdout
    m = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
    if m is None:
        return 0.0, 0
    return int(m.group(1)) / float(m.group(2)), int(m.group(1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--granian", default=shutil.which("granian") or "granian")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--load-cpu", default="1")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--handshake-seconds", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--systems", default="ringbolt-const,nginx")
    args = p.parse_args()
    systems = args.systems.split(",")
    results: dict[str, dict[str, list[float]]] = {s: {"rps": [], "err": [], "new": [], "reuse": [], "cpu": [], "hs": []}
                                                  for s in systems}
    print(f"load average before: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="rb-tls-bench-") as tmp:
        opts = servers.Options(apps=APPS, python=os.path.abspath(args.python) if os.sep in args.python else args.python,
                               granian=os.path.abspath(args.granian) if os.sep in args.granian else args.granian,
                               nginx=args.nginx, cpu=args.server_cpu, http="1", tls=servers.make_cert(Path(tmp)))
        for r in range(args.rounds):
            for system in systems:
                with tempfile.TemporaryDirectory(prefix="rb-tls-bench-srv-") as srv_tmp:
                    srv = servers.start(system, opts, Path(srv_tmp))
                    try:
                        wrk(args, srv.port, 2)  # warm-up
                        cpu0 = srv.cpu_seconds()
                        rps, err = wrk(args, srv.port, args.seconds)
                        cpu_us = 1e6 * (srv.cpu_seconds() - cpu0) / (rps * args.seconds)
                        cpu0 = srv.cpu_seconds()
                        new, count = s_time(args, srv.port, "-new")
                        hs_us = 1e6 * (srv.cpu_seconds() - cpu0) / max(count, 1)
                        reuse, _ = s_time(args, srv.port, "-reuse")
                    finally:
                        servers.stop(srv)
                results[system]["rps"].append(rps)
                results[system]["err"].append(err)
                results[system]["new"].append(new)
                results[system]["reuse"].append(reuse)
                results[system]["cpu"].append(cpu_us)
                results[system]["hs"].append(hs_us)
                print(f"round {r + 1} {system}: {rps:.0f} req/s ({err} errors, {cpu_us:.1f} CPU us/req), "
                      f"{new:.0f} new handshakes/s ({hs_us:.0f} server CPU us each), "
                      f"{reuse:.0f} resumed/s", file=sys.stderr, flush=True)
    print(f"load average after: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    base = systems[-1]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "-"

    print(f"| system | HTTPS req/s median | x {base} | server CPU µs/req | errors | full handshakes/s median | "
          f"x {base} | server CPU µs/handshake | resumed/s median | x {base} |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    med = {s: {k: statistics.median(v) for k, v in results[s].items()} for s in systems}
    for s in systems:
        m = med[s]
        print(f"| {s} | {m['rps']:.0f} | {ratio(m['rps'], med[base]['rps'])} | {m['cpu']:.1f} | "
              f"{sum(results[s]['err']):.0f} | "
              f"{m['new']:.0f} | {ratio(m['new'], med[base]['new'])} | {m['hs']:.0f} | {m['reuse']:.0f} | "
              f"{ratio(m['reuse'], med[base]['reuse'])} |")
    for other in systems[1:]:
        per_round = [ratio(results[systems[0]]["rps"][i], results[other]["rps"][i]) for i in range(args.rounds)]
        print(f"\nper-round req/s ratio {systems[0]}/{other}: " + ", ".join(per_round))
    return 0


if __name__ == "__main__":
    sys.exit(main())
