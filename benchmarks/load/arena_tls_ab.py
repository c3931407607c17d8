#!/usr/bin/env python3
"""Server CPU µs per request of the HttpArena entry (benchmarks/httparena/ringbolt) on
the static, static-h2 and json-tls request mixes, two or more builds interleaved: each
build's `ringbolt serve` pinned to one CPU (--server-cpu), wrk or h2load pinned to
another (--load-cpu), the server's utime+stime (/proc, every thread) over the load
window divided by the requests answered. The mixes are HttpArena's own (its checkout's
requests/ files: static-rotate.lua, json-tls-rotate.lua, static-h2-uris.txt).

    python3 benchmarks/load/arena_tls_ab.py --arena-dir /work/httparena \\
        --build old=build/venv-old/bin/python --build new=build/venv311/bin/python \\
        --profile static-h2 --rounds 3 --seconds 8

--perf DIR records `perf record -g` of each build's server (the last round) into DIR.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proc_util import cpu, free_port, tree  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ENTRY = os.path.join(ROOT, "benchmarks", "httparena", "ringbolt")


def cpu_seconds(pid):
    return sum(cpu(pid))


def start_server(python, arena, port, tls, cpu):
    env = dict(os.environ, DATASET_PATH=os.path.join(arena, "data", "dataset.json"),
               STATIC_DIR=os.path.join(arena, "data", "static"), WEB_CONCURRENCY="1")
    cmd = ["taskset", "-c", str(cpu), python, "-m", "ringbolt", "serve", "app:app", "--app-dir", ENTRY,
           "--host", "127.0.0.1", "--port", str(port), "--threads", "1", "--log-level", "warning"]
    if tls:
        cmd += ["--ssl-certfile", os.path.join(arena, "certs", "server.crt"),
                "--ssl-keyfile", os.path.join(arena, "certs", "server.key")]
        if tls == "h1":
            cmd += ["--http", "1"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    deadline = time.time() + 30
    probe = ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
             f"{'https' if tls else 'http'}://127.0.0.1:{port}/static/reset.css"]
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {cmd}")
        if subprocess.run(probe, capture_output=True, text=True).stdout == "200":
            return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not answer")


def load_cmd(profile, arena, port, seconds, conns, cpu):
    req = os.path.join(arena, "requests")
    pin = ["taskset", "-c", str(cpu)]
    if profile == "static":
        return pin + ["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds}s", "-s",
                      os.path.join(req, "static-rotate.lua"), f"http://127.0.0.1:{port}"]
    if profile == "json-tls":
        return pin + ["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds}s", "-s",
                      os.path.join(req, "json-tls-rotate.lua"), f"https://127.0.0.1:{port}"]
    uris = os.path.join("/tmp", f"static-h2-uris-{port}.txt")
    with open(os.path.join(req, "static-h2-uris.txt")) as src, open(uris, "w") as dst:
        dst.write(re.sub(r"https://localhost:\d+", f"https://127.0.0.1:{port}", src.read()))
    return pin + ["h2load", "-i", uris, "-H", "Accept-Encoding: br;q=1, gzip;q=0.8", "-c", str(conns),
                  "-m", "32", "-t", "1", "-D", str(seconds)]


def requests_done(profile, out):
    if profile == "static-h2":
        m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
        return int(m.group(2)) if m else 0
    m = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(m.group(1)) - (int(errors.group(1)) if errors else 0) if m else 0


def one_run(label, python, args, perf_dir):
    port = free_port()
    tls = {"static": None, "static-h2": "h2", "json-tls": "h1"}[args.profile]
    proc = start_server(python, args.arena_dir, port, tls, args.server_cpu)
    perf = None
    try:
        time.sleep(0.5)
        before = cpu_seconds(proc.pid)
        if perf_dir:
            os.makedirs(perf_dir, exist_ok=True)
            perf = subprocess.Popen(["perf", "record", "-g", "-F", "2000", "-p", ",".join(map(str, tree(proc.pid))), "-o",
                                     os.path.join(perf_dir, f"{args.profile}-{label}.data")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(load_cmd(args.profile, args.arena_dir, port, args.seconds, args.connections,
                                      args.load_cpu), capture_output=True, text=True, timeout=args.seconds + 60).stdout
        used = cpu_seconds(proc.pid) - before
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    n = requests_done(args.profile, out)
    if n == 0:
        print(out, file=sys.stderr)
        raise SystemExit(f"{label}: no request answered")
    return used * 1e6 / n, n / args.seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arena-dir", required=True)
    ap.add_argument("--build", action="append", required=True, help="LABEL=PYTHON (repeatable)")
    ap.add_argument("--profile", choices=["static", "static-h2", "json-tls"], required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--load-cpu", type=int, default=1)
    ap.add_argument("--perf", metavar="DIR")
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.build]
    results = {label: [] for label, _ in builds}
    with open("/proc/loadavg") as f:
        print(f"loadavg before: {f.read().strip()}")
    for r in range(args.rounds):
        for label, python in builds:
            perf_dir = args.perf if args.perf and r == args.rounds - 1 else None
            us, rps = one_run(label, python, args, perf_dir)
            results[label].append(us)
            print(f"round {r + 1} {label:>8}: {us:7.2f} µs/req  {rps:9.0f} req/s", flush=True)
    with open("/proc/loadavg") as f:
        print(f"loadavg after: {f.read().strip()}")
    for label, values in results.items():
        print(f"{args.profile} {label:>8}: median {statistics.median(values):7.2f} µs/req  "
              f"({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
