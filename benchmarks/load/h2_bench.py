"""HTTP/2 load comparison: ringbolt against Granian (RSGI and ASGI, --http 2) and nginx
(http2), one worker each, with h2load -c 100 -m 10; h2c with prior knowledge, or with
--tls h2 over TLS (ALPN h2, one throwaway P-256 certificate for every server).

The server runs on one CPU and h2load on another (taskset); servers are measured in
interleaved rounds and the median req/s of each is reported, with the ratios to the
first system's. A run with any failed or errored request is reported as such. The
servers are started by pymod/ringbolt_bench/servers.py (shared with tls_bench.py).
Usage (Granian from its own venv):

    python benchmarks/load/h2_bench.py --granian build/venv-granian/bin/granian \\
        --rounds 3 --duration 5 --path /plaintext [--tls]
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

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"


def load_servers():
    """pymod/ringbolt_bench/servers.py by path: this interpreter need not have ringbolt."""
    spec = importlib.util.spec_from_file_location("ringbolt_bench_servers",
                                                  HERE.parents[1] / "pymod" / "ringbolt_bench" / "servers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


servers = load_servers()


def h2load(port: int, cpu: str, args: argparse.Namespace) -> tuple[float, int, str]:
    """req/s, failed + errored requests, and the protocol h2load used."""
    scheme = "https" if args.tls else "http"
    cmd = ["taskset", "-c", cpu, "h2load", "-c", str(args.connections), "-m", str(args.streams), "-t", "1",
           "-D", str(args.duration), "--warm-up-time", "1", f"{scheme}://127.0.0.1:{port}{args.path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60).stdout
    m = re.search(r"finished in .*?, ([\d.]+) req/s", out)
    fails = re.search(r"requests: .* (\d+) failed, (\d+) errored", out)
    proto = re.search(r"Application protocol: (\S+)", out)
    if m is None or fails is None:
        raise RuntimeError(out)
    return float(m.group(1)), int(fails.group(1)) + int(fails.group(2)), proto.group(1) if proto else "?"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="the Python with ringbolt installed")
    p.add_argument("--granian", default=shutil.which("granian") or "granian")
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--servers", default="ringbolt,granian-rsgi,granian-asgi,nginx")
    p.add_argument("--tls", action="store_true", help="h2 over TLS (ALPN) instead of h2c")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--streams", type=int, default=10)
    p.add_argument("--path", default="/plaintext")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    args = p.parse_args()
    names = args.servers.split(",")
    results: dict[str, list[float]] = {n: [] for n in names}
    errors: dict[str, int] = {n: 0 for n in names}
    print(f"load average before: {open('/proc/loadavg').read().strip()}")
    with tempfile.TemporaryDirectory(prefix="rb-h2-bench-") as tmp:
        opts = servers.Options(apps=APPS, python=os.path.abspath(args.python) if os.sep in args.python else args.python,
                               granian=os.path.abspath(args.granian) if os.sep in args.granian else args.granian,
                               nginx=args.nginx, cpu=args.server_cpu, http="2",
                               tls=servers.make_cert(Path(tmp)) if args.tls else None)
        for r in range(args.rounds):
            for name in names:
                with tempfile.TemporaryDirectory(prefix="rb-h2-bench-srv-") as srv_tmp:
                    srv = servers.start(name, opts, Path(srv_tmp))
                    try:
                        rps, failed, proto = h2load(srv.port, args.client_cpu, args)
                    finally:
                        servers.stop(srv)
                results[name].append(rps)
                errors[name] += failed
                note = f" ({failed} failed/errored)" if failed else ""
                print(f"round {r + 1} {name:14s} {rps:10.0f} req/s over {proto}{note}", flush=True)
                if proto != "h2" and proto != "h2c":
                    raise RuntimeError(f"{name}: h2load did not speak HTTP/2 ({proto})")
    print(f"load average after: {open('/proc/loadavg').read().strip()}")
    base = statistics.median(results[names[0]])
    print(f"\n| server | median req/s | runs | {names[0]} / server | failed+errored |\n|---|---|---|---|---|")
    for name in names:
        med = statistics.median(results[name])
        runs = ", ".join(f"{v:.0f}" for v in results[name])
        print(f"| {name} | {med:.0f} | {runs} | {base / med:.2f}x | {errors[name]} |")


if __name__ == "__main__":
    main()
