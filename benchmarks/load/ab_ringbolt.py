#!/usr/bin/env python3
"""A/B of two ringbolt builds on the same app and route: interleaved rounds, a fresh
server each time pinned to --server-cpu, wrk (-t1) pinned to --load-cpu; req/s and
server CPU µs per request (utime+stime of the server's processes, all threads, /proc).
The order alternates per round (old new, new old, ...) so that slow drift cancels.

OLD_PYTHON and NEW_PYTHON are interpreters, each with one build installed, e.g.
    git worktree add /tmp/wt-old REV && python3 -m venv --system-site-packages /tmp/venv-old
    /tmp/venv-old/bin/pip install --no-build-isolation /tmp/wt-old
    OLD_PYTHON=/tmp/venv-old/bin/python NEW_PYTHON=python3 python3 benchmarks/load/ab_ringbolt.py \
        --app benchmarks.load.apps.ringbolt_app:app --path /json --rounds 5
Prints a Markdown table (medians, new/old ratios) and every round.

OLD_ARGS and NEW_ARGS (optional) add `ringbolt serve` flags to one side, so one build
can be compared with itself under two settings, e.g.
    OLD_PYTHON=python3 NEW_PYTHON=python3 OLD_ARGS='--reactor-sched normal' \
        NEW_ARGS='--reactor-sched batch' python3 benchmarks/load/ab_ringbolt.py ...
"""
import argparse
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from proc_util import add_pinning, cpu, free_port, stop, wait_for_200

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))








def wrk(args, url, seconds):
    cmd = ["taskset", "-c", args.load_cpu, "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout


def one(args, py, label, extra=()):
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", args.server_cpu, py, "-m", "ringbolt", "serve", args.app, "--port", str(port),
                            "--threads", "1", "--log-level", "warning", *extra], cwd=ROOT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}{args.path}"
        wait_for_200(url, label, 200)
        wrk(args, url, args.warmup)
        c0 = cpu(srv.pid)
        out = wrk(args, url, args.duration)
        c1 = cpu(srv.pid)
        total = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = "Non-2xx" in out or "Socket errors" in out
        return {"rps": rps, "cpu_us": (c1[0] + c1[1] - c0[0] - c0[1]) * 1e6 / total,
                "user_us": (c1[0] - c0[0]) * 1e6 / total, "sys_us": (c1[1] - c0[1]) * 1e6 / total, "errors": errors}
    finally:
        stop(srv, 15)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", default="benchmarks.load.apps.ringbolt_app:app", help="module:attr, imported from the repo root")
    ap.add_argument("--path", default="/json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=6, help="measured seconds per run")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    add_pinning(ap)
    args = ap.parse_args()
    py = {"old": os.environ.get("OLD_PYTHON", "/tmp/venv-old/bin/python"), "new": os.environ.get("NEW_PYTHON", "python3")}
    extra = {v: shlex.split(os.environ.get(f"{v.upper()}_ARGS", "")) for v in py}
    up0 = os.popen("uptime").read().strip()
    res = {"old": [], "new": []}
    for rnd in range(args.rounds):
        for v in (("old", "new") if rnd % 2 == 0 else ("new", "old")):
            r = one(args, py[v], v, extra[v])
            res[v].append(r)
            print(f"round {rnd} {v}: {r['rps']:,.0f} req/s, {r['cpu_us']:.2f} CPU µs/req "
                  f"({r['user_us']:.2f} user, {r['sys_us']:.2f} system)"
                  f"{' (errors)' if r['errors'] else ''}", file=sys.stderr, flush=True)
    up1 = os.popen("uptime").read().strip()
    med = {v: (statistics.median(r["rps"] for r in res[v]), statistics.median(r["cpu_us"] for r in res[v]),
               statistics.median(r["user_us"] for r in res[v]), statistics.median(r["sys_us"] for r in res[v]))
           for v in res}
    flags = "".join(f"{v.upper()}_ARGS='{' '.join(extra[v])}' " for v in py if extra[v])
    print(f"command: `OLD_PYTHON={py['old']} NEW_PYTHON={py['new']} {flags}python3 benchmarks/load/ab_ringbolt.py "
          f"{' '.join(sys.argv[1:])}`\n")
    print(f"machine load before: `{up0}`  \nmachine load after: `{up1}`\n")
    print(f"{args.app} `GET {args.path}`, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
          f"{args.rounds} rounds, medians:\n")
    print("| build | req/s | CPU µs/req | user µs/req | system µs/req | req/s per round | CPU µs/req per round |")
    print("|---|---:|---:|---:|---:|---|---|")
    for v in ("old", "new"):
        rps = ", ".join(f"{r['rps']:,.0f}" for r in res[v])
        cus = ", ".join(f"{r['cpu_us']:.2f}" for r in res[v])
        print(f"| {v} | {med[v][0]:,.0f} | {med[v][1]:.2f} | {med[v][2]:.2f} | {med[v][3]:.2f} | {rps} | {cus} |")
    print(f"| new/old | {med['new'][0] / med['old'][0]:.3f} | {med['new'][1] / med['old'][1]:.3f} "
          f"| {med['new'][2] / med['old'][2]:.3f} | {med['new'][3] / med['old'][3]:.3f} | | |")
    # Each round ran old and new back to back: the ratio within a round cancels drift
    # slower than a round; its median is the least noisy single figure.
    pr = [n["rps"] / o["rps"] for o, n in zip(res["old"], res["new"])]
    pc = [n["cpu_us"] / o["cpu_us"] for o, n in zip(res["old"], res["new"])]
    pu = [n["user_us"] / o["user_us"] for o, n in zip(res["old"], res["new"])]
    ps = [n["sys_us"] / o["sys_us"] for o, n in zip(res["old"], res["new"])]
    print(f"| new/old, median of per-round ratios | {statistics.median(pr):.3f} | {statistics.median(pc):.3f} "
          f"| {statistics.median(pu):.3f} | {statistics.median(ps):.3f} "
          f"| {', '.join(f'{x:.2f}' for x in pr)} | {', '.join(f'{x:.2f}' for x in pc)} |")
    if any(r["errors"] for v in res for r in res[v]):
        print("\nwrk reported non-2xx responses or socket errors in some rounds.")


if __name__ == "__main__":
    main()
