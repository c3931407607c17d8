#!/usr/bin/env python3
"""Static files: ringbolt's app.static against nginx, in one interleaved run (issue 10).

    python3 benchmarks/load/static_bench.py --python build/venv311/bin/python --rounds 3

Both servers run at once, each with one worker/thread pinned to the same CPU
(--server-cpu); wrk runs pinned to another (--load-cpu). Per round, every case runs
against every system in turn (ringbolt nginx, ringbolt nginx, ...), so a change in the
machine's load hits both. Cases:
  4k    GET of a 4096-byte text file            (200, body read or sent from the file)
  1m    GET of a 1 MiB binary file              (200, sendfile)
  304   GET of the 4 KB file with If-None-Match (the server's own ETag, fetched first): 304
nginx: 1 worker, `sendfile on`, default etag/if_modified_since, no open_file_cache (its
defaults), access log off, keepalive_requests high (wrk keeps connections). ringbolt:
`app.static("/", dir)` (precompressed lookups on; wrk sends no Accept-Encoding), 1 thread.
Prints a Markdown table: req/s median and range per case and system, the ratio to nginx,
and the server's CPU µs per request (utime+stime over the measured window / requests).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from proc_util import add_pinning, cpu, free_port, nginx_conf, wait_listening

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

NGINX_HTTP = """    keepalive_timeout 65;
    types { text/plain txt; application/octet-stream bin; }"""

CASES = {"4k": "/file4k.txt", "1m": "/file1m.bin", "304": "/file4k.txt"}


def etag_of(port: int, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    m = re.search(rb"(?im)^etag:\s*(.+?)\r$", data)
    if not m:
        raise RuntimeError(f"no ETag from port {port}: {data!r}")
    return m.group(1).decode()


def run_wrk(args, port: int, path: str, headers: list[str]) -> tuple[float, int, str]:
    cmd = ["taskset", "-c", args.load_cpu, args.wrk, "-t1", f"-c{args.connections}", f"-d{args.duration}s"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"(\d+) requests in", out)
    n = int(m.group(1)) if m else 0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.+)", out)
    note = (f"non-2xx/3xx {bad.group(1)} " if bad else "") + (errs.group(1) if errs else "")
    return rps, n, note


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="the interpreter with ringbolt installed")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    add_pinning(ap)
    ap.add_argument("--cases", default="4k,1m,304")
    ap.add_argument("--systems", default="ringbolt,nginx")
    args = ap.parse_args()
    args.python = os.path.abspath(args.python) if os.sep in args.python else args.python
    cases = args.cases.split(",")
    systems = args.systems.split(",")

    tmp = tempfile.mkdtemp(prefix="static_bench.")
    os.chmod(tmp, 0o755)  # nginx started as root drops its worker to nobody, which must read the files
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    with open(os.path.join(root, "file4k.txt"), "wb") as f:
        f.write((b"0123456789abcdef" * 256)[:4096])
    with open(os.path.join(root, "file1m.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    procs: dict[str, subprocess.Popen] = {}
    ports: dict[str, int] = {}
    try:
        if "ringbolt" in systems:
            ports["ringbolt"] = free_port()
            procs["ringbolt"] = subprocess.Popen(
                ["taskset", "-c", args.server_cpu, args.python, "-m", "ringbolt", "serve",
                 "benchmarks.load.apps.ringbolt_static:app", "--port", str(ports["ringbolt"]), "--threads", "1",
                 "--log-level", "warning"],
                cwd=ROOT, env={**os.environ, "RINGBOLT_BENCH_STATIC": root},
                stdout=open(os.path.join(tmp, "ringbolt.log"), "w"), stderr=subprocess.STDOUT)
        if "nginx" in systems:
            ports["nginx"] = free_port()
            for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                os.makedirs(os.path.join(tmp, d), exist_ok=True)
            with open(os.path.join(tmp, "nginx.conf"), "w") as f:
                f.write(nginx_conf(tmp, ports["nginx"], f"        root {root};", connections=4096, http=NGINX_HTTP,
                                   listen=" backlog=4096"))
            procs["nginx"] = subprocess.Popen(
                ["taskset", "-c", args.server_cpu, args.nginx, "-p", tmp, "-c", os.path.join(tmp, "nginx.conf"),
                 "-e", os.path.join(tmp, "error.log")],
                stdout=open(os.path.join(tmp, "nginx.log"), "w"), stderr=subprocess.STDOUT)
        for name in systems:
            try:
                wait_listening("127.0.0.1", ports[name], 60.0, procs[name])
            except RuntimeError as e:
                with open(os.path.join(tmp, f"{name}.log")) as f:
                    raise RuntimeError(f"{name} did not start ({e}): {f.read()[-2000:]}") from None
        etags = {name: etag_of(ports[name], CASES["304"]) for name in systems}
        results: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
        load_before = os.getloadavg()
        for rnd in range(args.rounds):
            for case in cases:
                for name in systems:
                    headers = [f"If-None-Match: {etags[name]}"] if case == "304" else []
                    run_wrk(argparse.Namespace(**{**vars(args), "duration": 1}), ports[name], CASES[case], headers)
                    u0, s0 = cpu(procs[name].pid)
                    rps, n, note = run_wrk(args, ports[name], CASES[case], headers)
                    u1, s1 = cpu(procs[name].pid)
                    us = (u1 - u0 + s1 - s0) * 1e6 / n if n else float("nan")
                    results.setdefault((case, name), []).append((rps, us, note))
                    print(f"round {rnd + 1} {case:>4} {name:>8}: {rps:10.0f} req/s {us:6.2f} CPU us/req {note}",
                          file=sys.stderr, flush=True)
        load_after = os.getloadavg()
    finally:
        for name, p in procs.items():
            p.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average before "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after "
          f"{load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; {args.rounds} rounds x {args.duration} s, "
          f"wrk -t1 -c{args.connections}, servers on CPU {args.server_cpu}, wrk on CPU {args.load_cpu}\n")
    print("| case | system | req/s median | req/s range | x nginx (medians) | x nginx per round (median; each round) "
          "| server CPU µs/req (median) | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        ng = statistics.median([r[0] for r in results.get((case, "nginx"), [(float("nan"), 0, "")])])
        for name in systems:
            rs = results[(case, name)]
            med = statistics.median([r[0] for r in rs])
            lo, hi = min(r[0] for r in rs), max(r[0] for r in rs)
            ratio = f"{med / ng:.2f}" if name != "nginx" and ng == ng else ""
            per_round = ""
            if name != "nginx" and (case, "nginx") in results:
                rr = [a[0] / b[0] for a, b in zip(rs, results[(case, "nginx")])]
                per_round = f"{statistics.median(rr):.2f} ({', '.join(f'{x:.2f}' for x in rr)})"
            us = statistics.median([r[1] for r in rs])
            notes = "; ".join(sorted({r[2] for r in rs if r[2]}))
            print(f"| {case} | {name} | {med:.0f} | {lo:.0f}-{hi:.0f} | {ratio} | {per_round} | {us:.2f} | {notes} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
