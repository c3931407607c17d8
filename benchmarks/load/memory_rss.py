#!/usr/bin/env python3
"""A worker's resident memory (VmRSS) after a load and with 10,000 idle keep-alive
connections, ringbolt builds beside uvicorn, on the JSON hello app and a FastAPI app
(issue 64). Each run: a fresh server pinned to --server-cpu, its first 200, `wrk -t1 -c50
-d3s` pinned to --load-cpu, a second's rest, VmRSS ("after load"); then --idle keep-alive
connections each make one request and stay open, VmRSS again ("idle conns"). Systems
interleaved round after round (the order reversed every other round), medians.

    OLD_PYTHON=/tmp/venv-old/bin/python NEW_PYTHON=python3 \\
        PEERS_PYTHON=benchmarks/load/.venv-peers/bin/python python3 benchmarks/load/memory_rss.py --rounds 2

Systems (--systems): ringbolt-old, ringbolt (NEW_PYTHON), ringbolt-t2 (two reactors:
the second's cost is its difference), uvicorn (uvloop, httptools; PEERS_PYTHON), uvicorn-here
(the same, run by NEW_PYTHON: the same site-packages as ringbolt, so the optional packages
FastAPI and pydantic import when they are installed, ujson and Cython here, load in both);
apps (--apps): hello
(apps/ringbolt_app.py, uvicorn: apps/uvicorn_asgi.py) and fastapi (apps/fastapi_app.py on
both). Prints a Markdown table of medians in MB (10^6 bytes) and every run.
"""
from __future__ import annotations

import argparse
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time

from proc_util import free_port, stop, wait_for_200

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
APPS = os.path.join(ROOT, "benchmarks", "load", "apps")

RINGBOLT_APPS = {"hello": "ringbolt_app:app", "fastapi": "fastapi_app:app"}
UVICORN_APPS = {"hello": "uvicorn_asgi:app", "fastapi": "fastapi_app:app"}


def command(system: str, app: str, port: int) -> list[str]:
    if system.startswith("ringbolt"):
        py = os.environ.get("OLD_PYTHON", "python3") if system == "ringbolt-old" else os.environ.get("NEW_PYTHON",
                                                                                                       sys.executable)
        threads = "2" if system.endswith("-t2") else "1"
        return [py, "-m", "ringbolt", "serve", RINGBOLT_APPS[app], "--app-dir", APPS, "--port", str(port),
                "--threads", threads, "--log-level", "warning", "--keep-alive-timeout", "600"]
    if system in ("uvicorn", "uvicorn-here"):
        py = os.environ.get("PEERS_PYTHON", sys.executable) if system == "uvicorn" else os.environ.get(
            "NEW_PYTHON", sys.executable)
        return [py, "-m", "uvicorn", UVICORN_APPS[app], "--app-dir", APPS, "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "600"]
    raise SystemExit(f"unknown system {system}")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmRSS")


def idle_connections(port: int, n: int) -> list[socket.socket]:
    """`n` keep-alive connections, each answered once; returned open."""
    socks = []
    sel = selectors.DefaultSelector()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    pending = len(socks)
    deadline = time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(1):
            if b"\r\n\r\n" in key.fileobj.recv(4096):
                sel.unregister(key.fileobj)
                pending -= 1
    if pending:
        raise RuntimeError(f"{pending} of {n} connections unanswered")
    return socks


def run(system: str, app: str, args: argparse.Namespace) -> tuple[float, float]:
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", args.server_cpu, *command(system, app, port)], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_200(f"http://127.0.0.1:{port}/json", system, 1200)
        subprocess.run(["taskset", "-c", args.load_cpu, "wrk", "-t1", "-c50", "-d3s", f"http://127.0.0.1:{port}/json"],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        time.sleep(1)
        after_load = rss_mb(srv.pid)
        socks = idle_connections(port, args.idle)
        time.sleep(1)
        idle = rss_mb(srv.pid)
        for s in socks:
            s.close()
        return after_load, idle
    finally:
        stop(srv, 15)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="ringbolt-old,ringbolt,ringbolt-t2,uvicorn")
    ap.add_argument("--apps", default="hello,fastapi")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    systems = args.systems.split(",")
    apps = args.apps.split(",")
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in range(args.rounds):
        order = [(s, a) for a in apps for s in systems]
        for system, app in (order if r % 2 == 0 else order[::-1]):
            got = run(system, app, args)
            results.setdefault((system, app), []).append(got)
            print(f"round {r + 1}: {system} {app}: {got[0]:.1f} MB after load, {got[1]:.1f} MB with "
                  f"{args.idle} idle connections", flush=True)
    print(f"\n| system | app | VmRSS after load, MB | with {args.idle:,} idle keep-alive connections, MB |")
    print("|---|---|---:|---:|")
    for app in apps:
        for system in systems:
            runs = results[(system, app)]
            print(f"| {system} | {app} | {statistics.median(x[0] for x in runs):.1f} | "
                  f"{statistics.median(x[1] for x in runs):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
