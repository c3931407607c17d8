#!/usr/bin/env python3
"""User-space instructions and last-level cache misses per request of a ringbolt server
holding N busy keep-alive connections, counted by callgrind's cache model (this VM has no
hardware counters: `perf stat -e cache-misses` says <not supported>). The server runs
under `valgrind --tool=callgrind --cache-sim=yes` (L1d 48 KiB, LL 2 MiB: this CPU's L2)
on CPU 0 with `--threads 1`; this script, on CPU 1, opens N connections, keeps one request
in flight on each (closed loop; or --in-flight of them, below), and after 2N answers switches instrumentation on for
--requests answers. The once-a-second sweep (`reactor::tick`, inclusive) is left out:
under valgrind a run lasts seconds, so its share depends on the run's length, not on
the requests. Kernel work is not counted.

    python3 benchmarks/load/conns_cache_misses.py --conns 512,4096 ringbolt_many_conns:mixed_app
    PYTHONPATH=<a directory holding an old build's ringbolt package> python3 ...   (A/B: the
        server imports ringbolt from there before its venv's)

An ASGI app (`--serve-arg=--interface --serve-arg=asgi asgi_hello:app`) needs
RINGBOLT_IO=epoll: under valgrind its hosted loop on io_uring hangs (the reactor never
turns). The server gets RINGBOLT_STANDIN_AFTER_MS=3600000: under valgrind a hosted loop's
turn outlasts the stand-in's default 0.5 s, and before this the stand-in served most of
an ASGI run at 4096 connections (a run where it did is refused). The profile and the
server's log stay in the printed directory.

The last column is the requests a Python batch (`app_bridge::run_batch` calls), which the
misses follow: a turn's batch is what its requests allocate and touch at once. A real
server at 4096 connections runs batches of about 250 (one wait's completions); under
valgrind the client answers the server's synchronous read after each response, so with a
request on every connection the batches grow to 500-1000 and count another regime
(ASGI: 98-142 misses a request at batches of 546-993, 28 at 254). `--in-flight 256` keeps
256 requests out at once, the connections taking turns (each request on the connection
that waited longest), which bounds the batch at the real size while every connection's
state is still visited (the server's keep-alive timeout is an hour: a connection waits
its turn idle). Compare runs whose batches agree; medians of several runs.
"""
import argparse
import collections
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from proc_util import free_port, wait_listening  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def pump(sel: selectors.BaseSelector, pending: dict, idle: collections.deque, count: int) -> None:
    """Read answers (Content-Length framed) until `count` came; each answer's connection
    goes to the back of `idle`, and the next request goes out on the one at its front."""
    got = 0
    while got < count:
        for key, _ in sel.select(60):
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                raise SystemExit("the server closed a connection")
            b = pending[s] + data
            while (end := b.find(b"\r\n\r\n")) >= 0:
                m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", b[:end + 2])
                size = end + 4 + (int(m.group(1)) if m else 0)
                if len(b) < size:
                    break
                b = b[size:]
                got += 1
                idle.append(s)
                idle.popleft().send(REQUEST)
            pending[s] = b


def batches(profile: str) -> int:
    """Calls of app_bridge::run_batch in the profile: Python batches (0 if none)."""
    names: dict[str, str] = {}
    calls = 0
    target = None
    with open(profile, errors="replace") as f:
        for line in f:
            if line.startswith("cfn="):
                m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.strip())
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    target = names.get(m.group(1), "")
            elif line.startswith("fn="):
                m = re.match(r"fn=\((\d+)\)(?: (.*))?", line.strip())
                if m and m.group(2):
                    names[m.group(1)] = m.group(2)
            elif line.startswith("calls=") and target is not None and "app_bridge::run_batch(" in target:
                calls += int(line[6:].split()[0])
    return calls


def totals(profile: str) -> tuple[list[int], list[int]]:
    """(Ir, DLmr, DLmw, ILmr) of the whole profile and of reactor::tick inclusive."""
    def row(text: str, pred) -> list[int]:
        for line in text.splitlines():
            if pred(line):
                nums = re.findall(r"([\d,]+|\.)(?: \([^)]*\))?", line.split("/")[0].split("[")[0])
                vals = [int(n.replace(",", "")) if n != "." else 0 for n in nums]
                if len(vals) >= 9:
                    return [vals[0], vals[7], vals[8], vals[6]]
        return [0, 0, 0, 0]
    flat = subprocess.run(["callgrind_annotate", "--auto=no", profile], capture_output=True, text=True).stdout
    incl = subprocess.run(["callgrind_annotate", "--auto=no", "--inclusive=yes", profile], capture_output=True,
                          text=True).stdout
    return (row(flat, lambda l: "PROGRAM TOTALS" in l),
            row(incl, lambda l: "reactor_timers.cpp:ringbolt::uring::reactor::tick()" in l and "=>" not in l))


def run(app: str, conns: int, requests: int, python: str, extra: list[str],
        in_flight: int) -> tuple[float, float, float]:
    port = free_port()
    out = os.path.join(tempfile.mkdtemp(prefix="conns-cg-"), "callgrind.out")
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p] + [os.path.join(HERE, "apps")]
    # Under valgrind a hosted loop's turn of a few hundred requests lasts longer than the
    # stand-in's default 0.5 s: the stand-in would serve the connections and stage every
    # async request for the loop's next turn, not the path a real server runs.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), RINGBOLT_STANDIN_AFTER_MS="3600000")
    log = open(out + ".log", "w")
    srv = subprocess.Popen(["taskset", "-c", "0", "valgrind", "--tool=callgrind", "--cache-sim=yes",
                            "--D1=49152,12,64", "--LL=2097152,16,64", "--instr-atstart=no",
                            f"--callgrind-out-file={out}", python, "-m", "ringbolt", "serve", app, *extra,
                            "--threads", "1", "--host", "127.0.0.1", "--port", str(port),
                            "--timeout-keep-alive", "3600"],
                           cwd=os.path.join(HERE, "apps"), env=env, stdout=subprocess.DEVNULL,
                           stderr=log)
    try:
        try:
            wait_listening("127.0.0.1", port, 180, srv)
        except RuntimeError as e:
            raise SystemExit(f"the server did not start: {e}") from None
        sel = selectors.DefaultSelector()
        pending = {}
        for _ in range(conns):
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            pending[s] = b""
        socks = list(pending)
        for s in socks[:in_flight]:
            s.send(REQUEST)
        idle = collections.deque(socks[in_flight:])
        pump(sel, pending, idle, 2 * conns)
        subprocess.run(["callgrind_control", "-i", "on", str(srv.pid)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        pump(sel, pending, idle, requests)
        subprocess.run(["callgrind_control", "-d", str(srv.pid)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for s in pending:
            s.close()
    finally:
        srv.terminate()
        srv.wait(120)
        log.close()
    with open(out + ".log") as f:
        if "a stand-in thread serves" in f.read():
            raise SystemExit(f"the loop's stand-in served during the run (see {out}.log): not counted")
    print(f"profile: {out}.1", file=sys.stderr, flush=True)
    whole, tick = totals(out + ".1")
    ir = (whole[0] - tick[0]) / requests
    misses = (sum(whole[1:]) - sum(tick[1:])) / requests
    n = batches(out + ".1")
    return ir, misses, requests / n if n else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("app", help="module:attr in benchmarks/load/apps (e.g. ringbolt_many_conns:mixed_app)")
    ap.add_argument("--conns", default="512,4096")
    ap.add_argument("--requests", type=int, default=32768, help="answers counted (default 32768)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--in-flight", type=int, default=0,
                    help="requests in flight at once, the connections taking turns (default: one on each)")
    ap.add_argument("--python", default=os.path.join(ROOT, "build/venv311/bin/python"))
    ap.add_argument("--serve-arg", action="append", default=[], help="extra argument to `ringbolt serve`")
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})
    print("| app | conns | run | instructions per request | LL misses per request | requests per Python batch |")
    print("|---|---:|---:|---:|---:|---:|")
    for conns in [int(c) for c in a.conns.split(",")]:
        for i in range(a.runs):
            ir, misses, per_batch = run(a.app, conns, a.requests, a.python, a.serve_arg,
                                       a.in_flight or conns)
            print(f"| {a.app} | {conns} | {i + 1} | {ir:,.0f} | {misses:.2f} | {per_batch:.0f} |", flush=True)


if __name__ == "__main__":
    main()
