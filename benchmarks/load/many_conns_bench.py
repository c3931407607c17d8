#!/usr/bin/env python3
"""Many keep-alive connections on one saturated core: ringbolt's const, sync, mixed and
raw ASGI apps (apps/ringbolt_many_conns.py, apps/asgi_hello.py) next to uvicorn, Granian
and fastpysgi on the raw ASGI app and the C io_uring floor (c_uring_hello.c). Each server runs alone on
CPU 0 (`--threads 1`, fresh for each run), tools/load/ringbolt-load (CPU 1; one thread per
4096 connections)
keeps it saturated for --duration seconds at each connection count; the systems are
interleaved within each count. Per run: req/s, server CPU µs per request (user+system of
its process tree), latency p50/p99/p99.9/max and the mean, and the RSS of the process
tree with the connections open and idle (each answered once, then left open).

    make -C tools/load && cc -O2 -o benchmarks/load/.bin/c_uring_hello benchmarks/load/c_uring_hello.c -luring
    python3 benchmarks/load/many_conns_bench.py --python build/venv311/bin/python \
        --peers benchmarks/load/.venv-peers --conns 64,512,4096,8192 --json results.jsonl
"""
import argparse
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from proc_util import free_port, stop, wait_listening  # noqa: E402


def systems(py: str, peers: str, c_floor: str) -> dict[str, list[str]]:
    rb = [py, "-m", "ringbolt", "serve"]
    tail = ["--threads", "1", "--host", "127.0.0.1", "--port", "{port}"]
    app = "ringbolt_many_conns"
    return {
        "ringbolt const": rb + [f"{app}:const_app"] + tail,
        "ringbolt sync": rb + [f"{app}:sync_app"] + tail,
        "ringbolt mixed": rb + [f"{app}:mixed_app"] + tail,
        "ringbolt ASGI": rb + ["asgi_hello:app", "--interface", "asgi"] + tail,
        "uvicorn ASGI": [f"{peers}/bin/uvicorn", "asgi_hello:app", "--loop", "uvloop", "--http", "httptools",
                         "--no-access-log", "--log-level", "warning", "--host", "127.0.0.1", "--port", "{port}"],
        "Granian ASGI": [f"{peers}/bin/granian", "--interface", "asgi", "--http", "1", "--workers", "1",
                         "--runtime-threads", "1", "--runtime-mode", "st", "--no-ws", "--log-level", "warning",
                         "--no-access-log", "--host", "127.0.0.1", "--port", "{port}", "asgi_hello:app"],
        "fastpysgi ASGI": [f"{peers}/bin/fastpysgi", "asgi_hello:app", "--host", "127.0.0.1", "-p", "{port}",
                           "-l", "1"],
        "C io_uring floor": [c_floor, "{port}"],
    }


def tree(pid: int) -> list[int]:
    out = [pid]
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return out
    for k in kids:
        out += tree(int(k))
    return out


def cpu_ticks(pid: int) -> tuple[int, int]:
    """User and system clock ticks of the process tree."""
    user = system = 0
    for p in tree(pid):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            user += int(f[11])
            system += int(f[12])
        except OSError:
            pass
    return user, system


def cq_depths(pid: int) -> list[int]:
    """The completions waiting in each io_uring of the process (fdinfo's `CQEs:`)."""
    out = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[io_uring]":
                continue
            for line in open(f"/proc/{pid}/fdinfo/{fd}"):
                if line.startswith("CQEs:"):
                    out.append(int(line.split()[1]))
                    break
        except OSError:
            pass
    return out


class sampler(threading.Thread):
    """Samples the server's CQ depths every 50 ms while the load runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.halt = pid, [], threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.05):
            self.samples += cq_depths(self.pid)


def rss_kib(pid: int) -> int:
    t = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    t += int(line.split()[1])
        except OSError:
            pass
    return t


def idle_rss(port: int, pid: int, n: int) -> int:
    """Open n connections, one request answered on each, then the RSS with them idle
    (-1 when the server did not take them all: its listen backlog overflowed)."""
    sel = selectors.DefaultSelector()
    socks = []
    try:
        for i in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=3)
            except OSError:
                return -1
            s.setblocking(False)
            s.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            sel.register(s, selectors.EVENT_READ, i)
            socks.append(s)
        left = set(range(n))
        deadline = time.monotonic() + 30
        while left and time.monotonic() < deadline:
            for key, _ in sel.select(1.0):
                try:
                    if key.fileobj.recv(65536):
                        left.discard(key.data)
                except BlockingIOError:
                    pass
        time.sleep(0.3)
        return rss_kib(pid)
    finally:
        for s in socks:
            s.close()


def run_one(name: str, cmd: list[str], conns: int, duration: float, load: str, perf: str | None = None,
            cq: bool = False) -> dict:
    port = free_port()
    argv = [c.replace("{port}", str(port)) for c in cmd]
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "apps"))
    srv = subprocess.Popen(["taskset", "-c", "0"] + argv, env=env, cwd=os.path.join(HERE, "apps"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_listening("127.0.0.1", port, 60, srv)
        except RuntimeError as e:
            raise RuntimeError(f"{name} did not start: {e}") from None
        rss = idle_rss(port, srv.pid, conns)
        t0 = cpu_ticks(srv.pid)
        # One load thread drives up to 4096 connections (its ring's limit); more threads
        # share CPU 1 with it.
        threads = str(max(1, (conns + 4095) // 4096))
        gen = subprocess.Popen(["taskset", "-c", "1", load, "-c", str(conns), "-t", threads, "-d", f"{duration}s",
                                "--timeout", "20000", "--json", f"http://127.0.0.1:{port}/"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        depth = sampler(srv.pid) if cq else None
        rec = None
        if perf:
            # The middle of the run: 1 s in, for half of it (perf's own CPU is on CPU 1's side
            # only in part; its figures are shares, not µs).
            time.sleep(1.0)
            data = os.path.join(perf, f"{name.replace(' ', '_')}-{conns}.data")
            rec = subprocess.Popen(["taskset", "-c", "1", "perf", "record", "-g", "-F", "2000", "-o", data,
                                    "-p", str(srv.pid), "--", "sleep", f"{duration / 2:g}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if depth:
            depth.start()
        try:
            stdout, stderr = gen.communicate(timeout=duration + 120)
        finally:
            if depth:
                depth.halt.set()
            if rec:
                rec.wait(timeout=60)
        t1 = cpu_ticks(srv.pid)
    finally:
        stop(srv, 10)
    if gen.returncode != 0 or not stdout.strip():
        raise RuntimeError(f"{name}, {conns} connections: the load generator failed: {stderr[-2000:]}")
    d = json.loads(stdout)
    lat = d["latency_us"]
    hz = os.sysconf("SC_CLK_TCK")
    per_req = 1e6 / hz / max(d["requests"], 1)
    user, system = (t1[0] - t0[0]) * per_req, (t1[1] - t0[1]) * per_req
    depths = sorted(depth.samples) if depth and depth.samples else []
    return {"system": name, "conns": conns, "rps": d["requests_per_s"], "requests": d["requests"],
            "cpu_us_per_req": user + system, "user_us_per_req": user, "sys_us_per_req": system,
            "cq_depth_p50": depths[len(depths) // 2] if depths else None,
            "cq_depth_max": depths[-1] if depths else None,
            "mean_ms": lat["mean"] / 1e3, "p50_ms": lat["p50"] / 1e3, "p99_ms": lat["p99"] / 1e3,
            "p999_ms": lat["p99_9"] / 1e3, "max_ms": lat["max"] / 1e3, "errors": d["errors"]["total"],
            "idle_rss_mib": rss / 1024 if rss >= 0 else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=os.path.join(ROOT, "build/venv311/bin/python"))
    ap.add_argument("--peers", default=os.path.join(HERE, ".venv-peers"))
    ap.add_argument("--c-floor", default=os.path.join(HERE, ".bin/c_uring_hello"))
    ap.add_argument("--load", default=os.path.join(ROOT, "tools/load/ringbolt-load"))
    ap.add_argument("--conns", default="64,512,4096,8192")
    ap.add_argument("--systems", default="", help="comma-separated names (default: all)")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--json", help="append each run as a JSON line to this file")
    ap.add_argument("--perf", metavar="DIR", help="perf record -g the server in each run's middle, into DIR")
    ap.add_argument("--cq", action="store_true",
                    help="sample the server's CQ depths (fdinfo) every 50 ms: a user/system column and p50/max")
    a = ap.parse_args()
    if a.perf:
        os.makedirs(a.perf, exist_ok=True)
    if a.perf or a.cq:
        os.sched_setaffinity(0, {1})  # the sampler and perf stay off the server's CPU
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    table = systems(os.path.abspath(a.python), os.path.abspath(a.peers), os.path.abspath(a.c_floor))
    a.load = os.path.abspath(a.load)
    names = [s for s in a.systems.split(",") if s] or list(table)
    print("| system | conns | req/s | CPU µs/req (user + sys) | mean | p50 | p99 | p99.9 | max | p99.9/mean "
          "| idle RSS |" + (" CQ depth p50 / max |" if a.cq else ""))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if a.cq else ""))
    for conns in [int(c) for c in a.conns.split(",")]:
        if 2 * conns + 100 > hard:
            print(f"skipping {conns} connections: the descriptor limit is {hard}", file=sys.stderr)
            continue
        for name in names:
            r = run_one(name, table[name], conns, a.duration, a.load, a.perf, a.cq)
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
            print(f"| {name} | {conns} | {r['rps']:,.0f} | {r['cpu_us_per_req']:.1f} ({r['user_us_per_req']:.1f} + "
                  f"{r['sys_us_per_req']:.1f}) | {r['mean_ms']:.0f} ms "
                  f"| {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['p999_ms']:.0f} | {r['max_ms']:.0f} "
                  f"| {r['p999_ms'] / max(r['mean_ms'], 1e-9):.1f} | """
                  + (f"{r['idle_rss_mib']:.0f} MiB |" if r["idle_rss_mib"] is not None else "not all accepted |")
                  + (f" {r['cq_depth_p50']} / {r['cq_depth_max']} |" if a.cq else "")
                  + (f" errors {r['errors']}" if r["errors"] else ""), flush=True)


if __name__ == "__main__":
    main()
