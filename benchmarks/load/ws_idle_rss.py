#!/usr/bin/env python3
"""Server memory per idle WebSocket on each protocol: ringbolt (one worker, one reactor
thread) serving the echo app (benchmarks/load/ws/ringbolt_echo.py); `ringbolt-ws-load
--hold` opens N WebSockets, each echoes one message and then sits idle:

  http1  N TCP connections (Upgrade)
  h2     N/S h2c connections of S WebSocket streams each (RFC 8441)
  h3     N/S HTTP/3 connections of S WebSocket streams each (RFC 9220, TLS inside QUIC)

Once the server's own counter (ringbolt_websockets_opened_total) shows all N open and a
second has passed, its RSS growth (/proc/PID/status VmRSS, after a short warm-up run of
the same protocol) is divided by N. Server pings are off (--ws-ping-interval 0), so
nothing moves while it is read.

    python3 benchmarks/load/ws_idle_rss.py --websockets 2000 --streams 100
"""
from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOADGEN = ROOT / "tools" / "load" / "ringbolt-ws-load"
sys.path.insert(0, str(HERE))
from proc_util import free_port, insecure_tls, wait_answering  # noqa: E402
from ws_bench import make_cert  # noqa: E402

PROTOCOLS = {"http1": "", "h2": "--http2", "h3": "--http3"}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Server:
    def __init__(self, python: str, tls: tuple[str, str] | None, cpu: str, log: Path) -> None:
        self.port = free_port()
        self.tls = tls is not None
        cmd = ["taskset", "-c", cpu, python, "-m", "ringbolt", "serve", "benchmarks.load.ws.ringbolt_echo:app",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1", "--threads", "1",
               "--ws-ping-interval", "0", "--metrics", "/metrics", "--log-level", "warning"]
        if tls is not None:
            cmd += ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1], "--http3"]
        self.log = log
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._ctx = insecure_tls()
        wait_answering(self.proc, log, self.opened)

    def opened(self) -> int:
        """ringbolt_websockets_opened_total, over every core."""
        scheme = "https" if self.tls else "http"
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{self.port}/metrics", timeout=5,
                                    context=self._ctx if self.tls else None) as resp:
            text = resp.read().decode()
        return sum(int(float(v)) for v in re.findall(r"^ringbolt_websockets_opened_total\{[^}]*\} (\S+)$", text,
                                                     re.M))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # the server this script started
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def loadgen(proto: str, port: int, websockets: int, streams: int, cpu: str, extra: list[str]) -> list[str]:
    flag = PROTOCOLS[proto]
    spread = [flag, "-c", str(max(1, websockets // streams)), "-m", str(streams)] if flag else ["-c", str(websockets)]
    return ["taskset", "-c", cpu, str(LOADGEN), *spread, "--timeout", "20000", *extra, f"ws://127.0.0.1:{port}/"]


def measure(proto: str, args: argparse.Namespace, tls: tuple[str, str] | None, logs: Path) -> dict:
    server = Server(args.ringbolt_python, tls if proto == "h3" else None, args.server_cpu, logs / f"{proto}.log")
    holder = None
    try:
        # warm-up: the same protocol's code paths and buffers used once, then let go
        subprocess.run(loadgen(proto, server.port, min(200, args.websockets), min(args.streams, 100),
                               args.load_cpu, ["-n", "2000"]), check=True, capture_output=True, timeout=60)
        time.sleep(1)
        opened_before, rss_before = server.opened(), rss_kib(server.proc.pid)
        holder = subprocess.Popen(loadgen(proto, server.port, args.websockets, args.streams, args.load_cpu,
                                          ["--hold", "-d", "600", "--json"]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while server.opened() - opened_before < args.websockets:
            if holder.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"only {server.opened() - opened_before} of {args.websockets} WebSockets opened "
                                   f"({holder.stderr.read() if holder.poll() is not None else 'timeout'})")
            time.sleep(0.2)
        time.sleep(1)
        rss_after = rss_kib(server.proc.pid)
        time.sleep(1)
        rss_later = rss_kib(server.proc.pid)
        conns = args.websockets if proto == "http1" else max(1, args.websockets // args.streams)
        return {"protocol": proto, "websockets": args.websockets, "connections": conns,
                "rss_before_kib": rss_before, "rss_open_kib": rss_after, "rss_1s_later_kib": rss_later,
                "bytes_per_websocket": (rss_after - rss_before) * 1024 / args.websockets}
    finally:
        if holder is not None and holder.poll() is None:
            holder.send_signal(signal.SIGINT)  # the generator this script started: it reports and exits
            holder.communicate(timeout=30)
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--websockets", type=int, default=2000)
    ap.add_argument("--streams", type=int, default=100, help="WebSockets per HTTP/2 or HTTP/3 connection")
    ap.add_argument("--protocols", default="http1,h2,h3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--ringbolt-python", default=sys.executable)
    args = ap.parse_args()
    protos = [p for p in args.protocols.split(",") if p]
    if not LOADGEN.exists():
        subprocess.run(["make", "-C", str(LOADGEN.parent), "ringbolt-ws-load"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        tls = make_cert(logs / "certs") if "h3" in protos else None
        rows: dict[str, list[dict]] = {p: [] for p in protos}
        for rnd in range(1, args.rounds + 1):
            for proto in protos:  # interleaved
                r = measure(proto, args, tls, logs)
                rows[proto].append(r)
                print(f"round {rnd} {proto:5s} {r['websockets']} WebSockets on {r['connections']} connection(s): "
                      f"RSS {r['rss_before_kib']} -> {r['rss_open_kib']} KiB ({r['rss_1s_later_kib']} 1 s later), "
                      f"{r['bytes_per_websocket']:,.0f} B per WebSocket", flush=True)
    print()
    print("| protocol | WebSockets | connections | server RSS per idle WebSocket (median) | rounds |")
    print("|---|---:|---:|---:|---|")
    for proto, runs in rows.items():
        per = sorted(r["bytes_per_websocket"] for r in runs)
        print(f"| {proto} | {runs[0]['websockets']} | {runs[0]['connections']} | {per[len(per) // 2]:,.0f} B | "
              + ", ".join(f"{x:,.0f}" for x in per) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
