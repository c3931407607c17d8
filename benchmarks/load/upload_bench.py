#!/usr/bin/env python3
"""Server CPU per upload request: ringbolt builds against Granian, interleaved rounds.

Each system serves POST /upload with an async handler that counts the body's bytes
(ringbolt: `async for chunk in req.stream()`, benchmarks/load/apps/ringbolt_stream.py;
Granian: HttpArena's uvicorn upload endpoint, benchmarks/load/apps/asgi_upload.py, one
worker, single-threaded runtime, uvloop, as the HttpArena runner starts it). The server
runs under `taskset -c SERVER_CPU`, tools/load/ringbolt-load under `taskset -c LOAD_CPU`
sends --n bodies of --size bytes (Content-Length) over --conns keep-alive connections
after a warm-up of 2 requests per connection. Server CPU is utime+stime of the server's
processes over the measured run; µs/req = that / n. Rounds interleave the systems.

    python3 benchmarks/load/upload_bench.py --ringbolt new=build/venv311/bin/python \
        --ringbolt old=build/venv-old/bin/python --granian build/venv-granian/bin/granian \
        --size 10000000 --n 60 --rounds 3

--floor BIN[:BUF_SIZE[:BUF_COUNT]] (repeatable) adds benchmarks/load/c_uring_hello.c built
as BIN (cc -O2 -o BIN benchmarks/load/c_uring_hello.c -luring), run in its drain mode
(`BIN --drain PORT [BUF_SIZE [BUF_COUNT]]`): a C io_uring server that drains the body without looking at it and answers its length, so the kernel's cost of
receiving N bytes on loopback shows beside the servers (BUF_SIZE: its receive buffers;
4096 by default, ringbolt's). --size takes a comma-separated list: each size is its own
set of interleaved rounds, in one run.

--perf DIR: each system's first round also runs under `perf stat` (task-clock, page faults, context
switches, syscalls) attached to the server; the outputs go to DIR/<label>.perf.txt.
--record DIR: each system's first round also runs under `perf record -g` (DIR/<label>-<size>.perf.data,
read with `perf report -i FILE --no-children --sort sym`).
--metrics: ringbolt serves its counters (`--metrics`); each round prints their change per upload
(completions, receives into the body, bytes read: where the body's bytes went).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proc_util import cpu, free_port, tree  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LOAD = os.path.join(ROOT, "tools", "load", "ringbolt-load")


def start(kind, exe, port, cpu_id, env_extra):
    env = dict(os.environ, **env_extra)
    if kind == "ringbolt":
        argv = [exe, "-m", "ringbolt", "serve", "benchmarks.load.apps.ringbolt_stream:app", "--host", "127.0.0.1",
                "--port", str(port), "--threads", "1", "--max-body-size", str(1 << 30), "--log-level", "warning"]
        if env_extra.pop("_metrics", None):
            argv.append("--metrics")
    elif kind == "floor":
        binary, *bufs = exe.split(":")
        argv = [os.path.abspath(binary), "--drain", str(port)] + bufs
    else:
        argv = [exe, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--runtime-threads", "1", "--runtime-mode", "st", "--loop", "uvloop", "--log-level", "error",
                "benchmarks.load.apps.asgi_upload:app"]
    p = subprocess.Popen(["taskset", "-c", str(cpu_id)] + argv, cwd=ROOT, env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return p


def wait_ready(port, body_file, load_cpu):
    for _ in range(300):
        r = subprocess.run(["taskset", "-c", str(load_cpu), LOAD, "-c", "1", "-n", "1", "-m", "POST",
                            "--body-file", body_file, "--timeout", "10000", "--json",
                            f"http://127.0.0.1:{port}/upload"], capture_output=True, text=True)
        if r.returncode == 0:
            try:
                if json.loads(r.stdout)["status"].get("200", 0) == 1:
                    return
            except (ValueError, KeyError):
                pass
        time.sleep(0.1)
    raise RuntimeError(f"no server on port {port}")


def server_cpu(pid):
    return sum(cpu(pid))


COUNTERS = ["cqes_reaped", "submit_calls", "sqes_submitted", "recvs_into_body", "bytes_in",
            "enobufs", "python_batches"]


def counters(port):
    """ringbolt's counters (summed over cores) from its /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        for name in COUNTERS:
            if line.startswith(f"ringbolt_{name}_total{{") or line.startswith(f"ringbolt_{name}{{"):
                out[name] = out.get(name, 0) + int(float(line.rsplit(" ", 1)[1]))
    return out


def one(kind, label, exe, args, body_file, perf_dir):
    port = free_port()
    metrics = args.metrics and kind == "ringbolt"
    p = start(kind, exe, port, args.server_cpu, {"_metrics": "1"} if metrics else {})
    try:
        wait_ready(port, body_file, args.load_cpu)
        warm = ["taskset", "-c", str(args.load_cpu), LOAD, "-c", str(args.conns), "-n", str(2 * args.conns),
                "-m", "POST", "--body-file", body_file, "--timeout", "20000", "--json", f"http://127.0.0.1:{port}/upload"]
        subprocess.run(warm, capture_output=True, check=True)
        perf = None
        pids = tree(p.pid)
        if perf_dir:
            out = os.path.join(perf_dir, f"{label.replace(' ', '_')}-{args.size_now}.perf.txt")
            perf = subprocess.Popen(["perf", "stat", "-e", "task-clock,context-switches,page-faults,raw_syscalls:sys_enter",
                                     "-p", ",".join(map(str, pids)), "-o", out])
            time.sleep(0.3)
        record = None
        if args.record and perf_dir is not None:
            data = os.path.join(args.record, f"{label.replace(' ', '_')}-{args.size_now}.perf.data")
            record = subprocess.Popen(["perf", "record", "-g", "-F", "1999", "-o", data, "-p", ",".join(map(str, pids))],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
        m0 = counters(port) if metrics else None
        c0 = server_cpu(p.pid)
        t0 = time.monotonic()
        r = subprocess.run(["taskset", "-c", str(args.load_cpu), LOAD, "-c", str(args.conns), "-n", str(args.n),
                            "-m", "POST", "--body-file", body_file, "--timeout", "20000", "--json",
                            f"http://127.0.0.1:{port}/upload"], capture_output=True, text=True, check=True)
        wall = time.monotonic() - t0
        c1 = server_cpu(p.pid)
        for watcher in (perf, record):
            if watcher:
                watcher.send_signal(signal.SIGINT)
                watcher.wait(30)
        if m0 is not None:
            m1 = counters(port)
            print("    per upload: " + ", ".join(f"{k} {(m1.get(k, 0) - m0.get(k, 0)) / args.n:,.1f}" for k in COUNTERS),
                  flush=True)
        rep = json.loads(r.stdout)
        return (c1 - c0) * 1e6 / args.n, wall, rep
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringbolt", action="append", default=[], help="LABEL=PYTHON (repeatable)")
    ap.add_argument("--granian", help="the granian executable")
    ap.add_argument("--floor", action="append", default=[], help="BIN[:BUF_SIZE[:BUF_COUNT]] (repeatable)")
    ap.add_argument("--size", default="10000000", help="body bytes; a comma-separated list runs each in turn")
    ap.add_argument("--n", type=int, help="uploads per round (default: 1 GB worth, at least 40)")
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--load-cpu", type=int, default=1)
    ap.add_argument("--perf", help="a directory for perf stat outputs (first round)")
    ap.add_argument("--record", help="a directory for perf record -g outputs (first round; needs --perf)")
    ap.add_argument("--metrics", action="store_true", help="ringbolt's counters per upload, each round")
    args = ap.parse_args()
    systems = [("ringbolt", *spec.split("=", 1)) for spec in args.ringbolt]
    if args.granian:
        systems.append(("granian", "granian", args.granian))
    for spec in args.floor:
        bufs = spec.split(":")[1:]
        systems.append(("floor", f"C floor {int(bufs[0]) // 1024 if bufs else 4}K", spec))
    sizes = [int(x) for x in args.size.split(",")]
    n_given = args.n
    tables = []
    for size in sizes:
        args.size_now = size
        args.n = n_given or max(40, 1_000_000_000 // size)
        tables.append(run_size(args, systems, size))
    for t in tables:
        print(t)


def run_size(args, systems, size):
    with tempfile.NamedTemporaryFile(prefix="upload-body-", delete=False) as f:
        f.write(os.urandom(1 << 20) * (size >> 20) + os.urandom(size & ((1 << 20) - 1)))
        body_file = f.name
    results = {label: [] for _, label, _ in systems}
    loads = []
    try:
        for rnd in range(args.rounds):
            for kind, label, exe in systems:
                loads.append(open("/proc/loadavg").read().split()[0])
                us, wall, rep = one(kind, label, exe, args, body_file, args.perf if rnd == 0 else None)
                results[label].append(us)
                print(f"size {size} round {rnd + 1} {label:10s} {us:9.0f} us/req  wall {wall:5.2f}s  "
                      f"status {rep['status']} errors {rep['errors']['total']}  load {loads[-1]}", flush=True)
    finally:
        os.unlink(body_file)
    lines = [f"\nsize {size} B, n {args.n}, conns {args.conns}, load average 1 min during the run: "
             f"{min(loads)}-{max(loads)}",
             "| system | server CPU µs/req (median) | rounds |",
             "|---|---:|---|"]
    for _, label, _ in systems:
        v = results[label]
        lines.append(f"| {label} | {statistics.median(v):,.0f} | {', '.join(f'{x:,.0f}' for x in v)} |")
    return "\n".join(lines)

if __name__ == "__main__":
    main()
