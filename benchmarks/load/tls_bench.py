#!/usr/bin/env python3
"""HTTPS/1.1 small-response req/s and TLS handshakes/s: ringbolt against nginx with the
same certificate. Self-contained and bounded: a P-256 certificate made here (openssl req),
nginx (1 worker) and ringbolt (1 worker, 1 thread, a const route) each pinned to
--server-cpu, the load generator to --load-cpu, rounds interleaved (ringbolt, nginx,
ringbolt, nginx...). Prints a Markdown table.

    python3 benchmarks/load/tls_bench.py --python build/venv311/bin/python --rounds 3

- req/s: `wrk -t1 -c64 -dSs https://127.0.0.1:PORT/plaintext` (keep-alive: handshakes once
  per connection, then records only), "Hello, World!" (13 bytes) from both servers.
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
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NGINX_CONF = """worker_processes 1;
daemon off;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    keepalive_requests 10000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        location = /plaintext {{
            default_type text/plain;
            return 200 "Hello, World!";
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def start(args: argparse.Namespace, system: str, tmp: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    if system == "nginx":
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        cmd = ["taskset", "-c", args.server_cpu, "nginx", "-c", str(conf), "-p", tmp]
    else:
        cmd = ["taskset", "-c", args.server_cpu, args.python, "-m", "ringbolt", "serve",
               "benchmarks.load.apps.ringbolt_const:app", "--port", str(port), "--threads", "1", "--workers", "1",
               "--ssl-certfile", f"{tmp}/cert.pem", "--ssl-keyfile", f"{tmp}/key.pem", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_port(port, proc)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: nginx's worker too
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


TCK = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every process in the server's process group."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / TCK
    return total


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
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--load-cpu", default="1")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--handshake-seconds", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--systems", default="ringbolt,nginx")
    args = p.parse_args()
    systems = args.systems.split(",")
    results: dict[str, dict[str, list[float]]] = {s: {"rps": [], "err": [], "new": [], "reuse": [], "cpu": [], "hs": []}
                                                  for s in systems}
    with tempfile.TemporaryDirectory(prefix="rb-tls-bench-") as tmp:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem", "-days", "2", "-subj",
                        "/CN=localhost"], check=True, capture_output=True)
        for r in range(args.rounds):
            for system in systems:
                proc, port = start(args, system, tmp)
                try:
                    wrk(args, port, 2)  # warm-up
                    cpu0 = group_cpu(proc.pid)
                    rps, err = wrk(args, port, args.seconds)
                    cpu_us = 1e6 * (group_cpu(proc.pid) - cpu0) / (rps * args.seconds)
                    cpu0 = group_cpu(proc.pid)
                    new, count = s_time(args, port, "-new")
                    hs_us = 1e6 * (group_cpu(proc.pid) - cpu0) / max(count, 1)
                    reuse, _ = s_time(args, port, "-reuse")
                finally:
                    stop(proc)
                results[system]["rps"].append(rps)
                results[system]["err"].append(err)
                results[system]["new"].append(new)
                results[system]["reuse"].append(reuse)
                results[system]["cpu"].append(cpu_us)
                results[system]["hs"].append(hs_us)
                print(f"round {r + 1} {system}: {rps:.0f} req/s ({err} errors, {cpu_us:.1f} CPU us/req), "
                      f"{new:.0f} new handshakes/s ({hs_us:.0f} server CPU us each), "
                      f"{reuse:.0f} resumed/s", file=sys.stderr)
    base = systems[-1]
    print(f"| system | HTTPS req/s median | x {base} | server CPU µs/req | errors | full handshakes/s median | "
          f"x {base} | server CPU µs/handshake | resumed/s median | x {base} |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    med = {s: {k: statistics.median(v) for k, v in results[s].items()} for s in systems}
    for s in systems:
        m = med[s]
        print(f"| {s} | {m['rps']:.0f} | {m['rps'] / med[base]['rps']:.2f} | {m['cpu']:.1f} | "
              f"{sum(results[s]['err']):.0f} | "
              f"{m['new']:.0f} | {m['new'] / med[base]['new']:.2f} | {m['hs']:.0f} | {m['reuse']:.0f} | "
              f"{m['reuse'] / med[base]['reuse']:.2f} |")
    per_round = [results[systems[0]]["rps"][i] / results[base]["rps"][i] for i in range(args.rounds)]
    print(f"\nper-round req/s ratio {systems[0]}/{base}: " + ", ".join(f"{x:.2f}" for x in per_round))
    return 0


if __name__ == "__main__":
    sys.exit(main())
