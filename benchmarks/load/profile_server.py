#!/usr/bin/env python3
"""Where a ringbolt server's CPU goes per request, under wrk load on one route.

Starts `ringbolt serve APP --threads 1 --workers 1` pinned to --server-cpu, warms it up,
then runs wrk (pinned to --load-cpu) for three separate windows:
  1. plain: per-thread CPU µs and context switches (voluntary, involuntary) per request,
     from /proc/<pid>/task/<tid>/{stat,status} before and after;
  2. `perf record -g` attached to the server (when perf is on PATH): top symbols by
     self time, with their shared object;
  3. `py-spy record --nonblocking` attached to the server (when --py-spy is given): Python
     functions by self and inclusive share of the samples.
The profiled windows slow the server down; their req/s are printed but only window 1
counts for the per-request figures.

    python benchmarks/load/profile_server.py --python build/venv/bin/python \\
        --app benchmarks.load.apps.uvicorn_asgi:app --path /plaintext --py-spy /path/to/py-spy
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from proc_util import add_pinning, free_port, stop

ROOT = Path(__file__).resolve().parents[2]
TCK = os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> dict[int, dict[str, float]]:
    """tid -> {name, cpu (s), vol, invol} for every thread of the process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        name = stat[stat.find("(") + 1:stat.rfind(")")]
        vol = int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", status, re.M).group(1))
        invol = int(re.search(r"^nonvoluntary_ctxt_switches:\s*(\d+)", status, re.M).group(1))
        out[int(tid)] = {"name": name, "cpu": (int(fields[11]) + int(fields[12])) / TCK,
                         "vol": vol, "invol": invol}
    return out


def wrk(args: argparse.Namespace, url: str, seconds: float) -> int:
    """Runs wrk; returns the requests completed."""
    headers = [x for h in args.header for x in ("-H", h)]
    out = subprocess.run(["taskset", "-c", args.load_cpu, "wrk", "-t1", f"-c{args.connections}",
                          f"-d{seconds:g}s", *headers, url], capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"(\d+) requests in", out)
    if not m:
        raise RuntimeError(f"wrk output not understood: {out[-300:]}")
    return int(m.group(1))


def top_perf(data: Path, n: int) -> str:
    """Self time by shared object, then by symbol."""
    out = []
    for sort, limit in (("dso", "0.5"), ("dso,sym", "0.4")):
        rep = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", sort,
                              "--stdio", "--percent-limit", limit, "-g", "none"],
                             capture_output=True, text=True).stdout
        rows = [line for line in rep.splitlines() if line.strip() and not line.startswith("#")]
        out += rows[:n] + [""]
    return "\n".join(out)


def top_pyspy(raw: Path, n: int) -> str:
    """Collapsed stacks ("frame;frame;... count") -> self and inclusive shares."""
    self_ct: collections.Counter[str] = collections.Counter()
    incl_ct: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        c = int(count)
        total += c
        frames = [re.sub(r" \(.*?:\d+\)$", "", f) for f in stack.split(";")]
        frames = [re.sub(r"\s+\(([^)]*)\)$", r" (\1)", f) for f in frames]
        self_ct[frames[-1]] += c
        for f in set(frames):
            incl_ct[f] += c
    lines = [f"py-spy: {total} samples", "", "self %  function"]
    lines += [f"{100 * c / total:5.1f}  {f}" for f, c in self_ct.most_common(n)]
    lines += ["", "incl % function"]
    lines += [f"{100 * c / total:5.1f}  {f}" for f, c in incl_ct.most_common(n + 10)]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", default=os.environ.get("RINGBOLT_PYTHON", "python3"))
    p.add_argument("--app", default="benchmarks.load.apps.uvicorn_asgi:app")
    p.add_argument("--path", default="/plaintext")
    add_pinning(p)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--py-spy", dest="py_spy", help="py-spy executable (window 3 is skipped without it)")
    p.add_argument("--out", default=str(ROOT / "benchmarks/load/results/profile"), help="directory for raw data")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--no-perf", action="store_true", help="skip window 2 (perf record)")
    p.add_argument("--header", action="append", default=[], help="a request header for wrk ('Name: value'), repeatable")
    p.add_argument("--serve-arg", action="append", default=[], dest="serve_args",
                   help="an extra argument for `ringbolt serve` (e.g. --serve-arg=--wsgi-threads=1), repeatable")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}{args.path}"
    server = subprocess.Popen(["taskset", "-c", args.server_cpu, args.python, "-m", "ringbolt", "serve", args.app,
                               "--host", "127.0.0.1", "--port", str(port), "--threads", "1", "--workers", "1",
                               "--log-level", "warning", *args.serve_args],
                              cwd=ROOT, stdout=open(out / "server.log", "wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not answer; see {out / 'server.log'}")
                time.sleep(0.1)
        wrk(args, url, 2)  # warm-up

        before = threads(server.pid)
        t0 = time.monotonic()
        n = wrk(args, url, args.seconds)
        elapsed = time.monotonic() - t0
        after = threads(server.pid)
        print(f"window 1 (no profiler): {n} requests, {n / args.seconds:,.0f} req/s\n")
        print("thread              CPU µs/req  vol cs/req  invol cs/req")
        tot = collections.Counter()
        for tid, a in sorted(after.items()):
            b = before.get(tid, {"cpu": 0.0, "vol": 0, "invol": 0})
            d = {k: a[k] - b[k] for k in ("cpu", "vol", "invol")}
            tot.update(d)
            print(f"{a['name'][:18]:18s} {1e6 * d['cpu'] / n:10.2f}  {d['vol'] / n:10.4f}  {d['invol'] / n:12.4f}")
        print(f"{'all threads':18s} {1e6 * tot['cpu'] / n:10.2f}  {tot['vol'] / n:10.4f}  {tot['invol'] / n:12.4f}")
        print(f"(window {elapsed:.1f}s; CPU from clock ticks of {1000 / TCK:.0f} ms)\n")

        if shutil.which("perf") and not args.no_perf:
            data = out / "perf.data"
            rec = subprocess.Popen(["perf", "record", "-g", "-F", "999", "-p", str(server.pid), "-o", str(data),
                                    "--", "sleep", f"{args.seconds:g}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            n = wrk(args, url, args.seconds)
            rec.wait()
            print(f"window 2 (perf record -g -F 999): {n / args.seconds:,.0f} req/s")
            print(top_perf(data, args.top), "\n")
        if args.py_spy:
            raw = out / "py-spy.txt"
            rec = subprocess.Popen([args.py_spy, "record", "--threads", "--nonblocking", "-r", "500",
                                    "-d", f"{args.seconds:g}", "-f", "raw", "-o", str(raw),
                                    "-p", str(server.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            n = wrk(args, url, args.seconds)
            rec.wait()
            print(f"window 3 (py-spy --nonblocking -r 500): {n / args.seconds:,.0f} req/s")
            if raw.exists():
                print(top_pyspy(raw, args.top))
    finally:
        if server.poll() is None:
            stop(server, 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
