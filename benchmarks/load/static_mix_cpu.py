#!/usr/bin/env python3
"""Server CPU µs per request of app.static under HttpArena's static request mix, for
several ringbolt builds in one interleaved run (old, new, old, new, ...).

    python3 benchmarks/load/static_mix_cpu.py --arena-dir /work/httparena \\
        --build old=build/venv-old/bin/python --build new=build/venv311/bin/python --rounds 3

Each build serves `app.static("/static", <arena>/data/static)` (precompressed siblings on,
as the entry does) with `ringbolt serve --threads 1` pinned to --server-cpu; wrk -t1 runs
on --load-cpu with HttpArena's `requests/static-rotate.lua` (20 files in turn, every
request with `Accept-Encoding: br;q=1, gzip;q=0.8`), or with --path one file with that
header. After a 1 s warm-up, the server's CPU time (utime+stime of its processes) over
--duration seconds is divided by wrk's requests. Prints each run and the medians, with
the load average (the figure is only comparable within one run on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from proc_util import add_pinning, cpu, free_port, stop, wait_for_200

APP = """from ringbolt import App

app = App()
app.static("/static", {directory!r})
"""


def run_once(python: str, app_dir: str, args: argparse.Namespace) -> tuple[int, float]:
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", args.server_cpu, python, "-m", "ringbolt", "serve", "static_mix_app:app", "--app-dir",
         app_dir, "--host", "127.0.0.1", "--port", str(port), "--threads", "1", "--workers", "1", "--log-level",
         "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_200(f"http://127.0.0.1:{port}/static/manifest.json", python)
        if args.path:
            wrk = ["wrk", "-H", "Accept-Encoding: br;q=1, gzip;q=0.8", f"http://127.0.0.1:{port}{args.path}"]
        else:
            lua = os.path.join(args.arena_dir, "requests", "static-rotate.lua")
            wrk = ["wrk", "-s", lua, f"http://127.0.0.1:{port}"]
        wrk = ["taskset", "-c", args.load_cpu] + wrk[:1] + ["-t1", f"-c{args.connections}"] + wrk[1:]
        subprocess.run(wrk + ["-d1s"], capture_output=True, check=True)
        before = sum(cpu(server.pid))
        out = subprocess.run(wrk + [f"-d{args.duration}s"], capture_output=True, text=True, check=True).stdout
        used = sum(cpu(server.pid)) - before
    finally:
        stop(server, 10)
    m = re.search(r"(\d+) requests in", out)
    if m is None:
        raise RuntimeError(f"wrk printed no request count:\n{out}")
    n = int(m.group(1))
    return n, used * 1e6 / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arena-dir", required=True, help="an HttpArena checkout (data/static, requests/)")
    ap.add_argument("--build", action="append", required=True, metavar="LABEL=PYTHON",
                    help="a ringbolt build: its label and the interpreter it is installed in (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--path", help="one file (e.g. /static/router.js) instead of the 20-file mix")
    add_pinning(ap)
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.build]
    results: dict[str, list[float]] = {label: [] for label, _ in builds}
    with tempfile.TemporaryDirectory() as app_dir:
        with open(os.path.join(app_dir, "static_mix_app.py"), "w") as f:
            f.write(APP.format(directory=os.path.join(os.path.abspath(args.arena_dir), "data", "static")))
        for r in range(args.rounds):
            for label, python in builds:
                n, us = run_once(python, app_dir, args)
                results[label].append(us)
                load = open("/proc/loadavg").read().split()[0]
                print(f"round {r + 1} {label}: {n} requests in {args.duration} s, {us:.2f} µs/req, load {load}",
                      flush=True)
                time.sleep(0.5)
    print(f"\n| build | server CPU µs/request, median of {args.rounds} | runs |\n|---|---:|---|")
    for label, values in results.items():
        print(f"| {label} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
