#!/usr/bin/env python3
"""Server RSS cost of idle keep-alive connections: start ringbolt (one reactor thread),
open N connections, make one request on each (so each has been fully used once), let
them sit idle, and report the RSS growth per connection from /proc.

    python3 benchmarks/load/idle_rss.py --connections 10000
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "load"))
from proc_util import wait_listening  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--port", type=int, default=8799)
    ap.add_argument("--io", default="auto")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = subprocess.Popen(
        [sys.executable, "-m", "ringbolt", "serve", "benchmarks.load.apps.ringbolt_app:app", "--port", str(args.port),
         "--threads", "1", "--io", args.io, "--keep-alive-timeout", "600", "--log-level", "warning"],
        cwd=ROOT,
    )
    try:
        wait_listening("127.0.0.1", args.port, 30, server)
        time.sleep(0.5)
        before = rss_kib(server.pid)
        socks = []
        sel = selectors.DefaultSelector()
        for i in range(args.connections):
            s = socket.create_connection(("127.0.0.1", args.port))
            s.sendall(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
            socks.append(s)
        pending = {s.fileno(): s for s in socks}
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(1):
                data = key.fileobj.recv(4096)
                if b"\r\n\r\n" in data:
                    sel.unregister(key.fileobj)
                    pending.pop(key.fileobj.fileno(), None)
        time.sleep(1.0)
        after = rss_kib(server.pid)
        per = (after - before) * 1024 / args.connections
        print(f"connections: {args.connections} (answered: {args.connections - len(pending)})")
        print(f"server RSS before: {before} KiB, after: {after} KiB, growth: {after - before} KiB")
        print(f"per idle keep-alive connection: {per:.0f} bytes")
        for s in socks:
            s.close()
    finally:
        server.terminate()
        server.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
