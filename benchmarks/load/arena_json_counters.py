#!/usr/bin/env python3
"""ringbolt's HttpArena entry under the json profile's request mix, with the server's own
counters: the entry served by `ringbolt serve` (one worker, one reactor, metrics on)
pinned to --server-cpu, gcannon (the arena runner's build) on --load-cpu with HttpArena's
json requests, 64 connections, `-r 25`, as `benchmarks/httparena/run bench --profiles json`
runs it; /metrics is read before and after the measured seconds. One line per run: req/s,
p50, p99, server CPU µs per request and busy share (every thread, /proc), requests per
`handle_batch` call (`python_requests / python_batches`), submits per request, and the
load average. Several --python give interleaved rounds (A, B, A, B, ...):

    python3 benchmarks/load/arena_json_counters.py --arena-dir /work/httparena \
        --python old=build/venv-old/bin/python --python new=build/venv311/bin/python \
        --python new-epoll=build/venv311/bin/python,RINGBOLT_IO=epoll --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time

from proc_util import add_pinning, cpu, free_port, stop

HERE = os.path.dirname(os.path.abspath(__file__))
ENTRY = os.path.normpath(os.path.join(HERE, "..", "httparena", "ringbolt"))
COUNTS = (1, 5, 10, 15, 25, 40, 50)  # HttpArena's json-<n>.raw requests


def metrics(port: int) -> dict[str, int]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    out: dict[str, int] = {}
    for line in data.decode().splitlines():
        m = re.match(r"ringbolt_(\w+?)(?:_total)?\{core=\"\d+\"\} (\d+)", line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def one_run(args: argparse.Namespace, python: str, env_extra: dict[str, str]) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "DATASET_PATH": os.path.join(args.arena_dir, "data", "dataset.json"),
           "STATIC_DIR": os.path.join(args.arena_dir, "data", "static"), "RINGBOLT_METRICS": "/metrics", **env_extra}
    srv = subprocess.Popen(["taskset", "-c", args.server_cpu, os.path.abspath(python), "-m", "ringbolt", "serve",
                            "app:app", "--port", str(port), "--threads", "1", "--workers", "1",
                            "--log-level", "warning"], cwd=ENTRY, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                metrics(port)
                break
            except OSError:
                time.sleep(0.05)
        raws = ",".join(os.path.join(args.arena_dir, "requests", f"json-{n}.raw") for n in COUNTS)
        load = ["taskset", "-c", args.load_cpu, args.gcannon, f"http://127.0.0.1:{port}", "--raw", raws,
                "-c", str(args.connections), "-t", "1", "-p", "1", "-r", "25", "--json"]
        subprocess.run([*load, "-d", f"{args.warmup}s"], capture_output=True, timeout=60)
        loadavg = float(open("/proc/loadavg").read().split()[0])
        m0, c0, t0 = metrics(port), sum(cpu(srv.pid)), time.monotonic()
        out = subprocess.run([*load, "-d", f"{args.duration}s"], capture_output=True, text=True,
                             timeout=args.duration + 60)
        m1, c1, t1 = metrics(port), sum(cpu(srv.pid)), time.monotonic()
    finally:
        stop(srv, 10)
    res = json.loads(out.stdout[out.stdout.index("{"):])
    ok = res["status"]["2xx"]
    d = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1}
    cpu_s = c1 - c0
    return {"rps": ok / res["elapsed_sec"], "p50_ms": res["latency_us"]["p50"] / 1000,
            "p99_ms": res["latency_us"]["p99"] / 1000,
            "cpu_us": cpu_s * 1e6 / ok, "busy": cpu_s / (t1 - t0) * 100,
            "per_batch": d["python_requests"] / max(1, d["python_batches"]),
            "submits": d["submit_calls"] / max(1, d["python_requests"]), "load": loadavg}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arena-dir", default=os.environ.get("ARENA_DIR"), help="the HttpArena checkout")
    ap.add_argument("--python", action="append", required=True, metavar="LABEL=PYTHON[,KEY=VALUE...]",
                    help="a build: its Python, and environment for its server (repeatable)")
    ap.add_argument("--gcannon", default=os.path.expanduser("~/.cache/ringbolt-arena/bin/gcannon"))
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    add_pinning(ap)
    args = ap.parse_args()
    if not args.arena_dir:
        ap.error("--arena-dir (or $ARENA_DIR) is required")
    builds = []
    for spec in args.python:
        label, _, rest = spec.partition("=")
        python, *pairs = rest.split(",")
        builds.append((label, python, dict(p.split("=", 1) for p in pairs)))
    rows: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in builds}
    for r in range(1, args.rounds + 1):
        for label, python, env in builds:
            row = one_run(args, python, env)
            rows[label].append(row)
            print(f"{label} round {r}: {row['rps']:,.0f} req/s, p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
                  f"{row['cpu_us']:.1f} CPU µs/req, {row['busy']:.0f}% busy, {row['per_batch']:.1f} requests per "
                  f"handle_batch, {row['submits']:.3f} submits/request, load {row['load']:.2f}", flush=True)
    print(f"\ncommand: `python3 benchmarks/load/arena_json_counters.py {' '.join(sys.argv[1:])}`, medians of "
          f"{args.rounds} rounds\n")
    print("| build | req/s | p50 ms | p99 ms | server CPU µs/req | server busy | requests / handle_batch | submits / request "
          "| load average |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, runs in rows.items():
        med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
        print(f"| {label} | {med['rps']:,.0f} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} | {med['cpu_us']:.1f} | {med['busy']:.0f}% | "
              f"{med['per_batch']:.1f} | {med['submits']:.3f} | {med['load']:.1f} |")


if __name__ == "__main__":
    main()
