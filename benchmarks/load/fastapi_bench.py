#!/usr/bin/env python3
"""FastAPI on ringbolt, uvicorn (uvloop + httptools) and Granian (ASGI), with ``async def``
endpoints (apps/fastapi_app.py) and plain ``def`` ones (apps/fastapi_sync_app.py, run on
FastAPI's thread pool). Each server runs one worker pinned to --server-cpu, wrk (-t1)
to --load-cpu; systems interleave, round after round, each run a fresh server. Per
request: server CPU µs (utime+stime, every thread, /proc) and context switches
(voluntary + involuntary, every thread, /proc/<pid>/task/*/status).

    bash benchmarks/load/setup_peers.sh          # uvicorn, uvloop, httptools, granian, fastapi
    build/venv311/bin/python benchmarks/load/fastapi_bench.py --rounds 3

--systems may add ringbolt-nofreeze: ringbolt with RINGBOLT_GC_FREEZE=0 (docs/architecture.md,
"The heap the app was loaded with"), for an A/B in the same run; ringbolt-noplan: the app
whole through ASGI (``--no-plan``; ``ringbolt`` plans its routes, docs/asgi.md); c-uring: the
C io_uring floor (benchmarks/load/.bin/c_uring_hello, setup_peers.sh), its one answer. RINGBOLT_PYTHON (default:
this interpreter) runs ringbolt; PEERS_PYTHON (default:
benchmarks/load/.venv-peers/bin/python) runs uvicorn and Granian. Prints a Markdown table
of medians and each system's ratio to uvicorn.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

from proc_util import add_pinning, cpu, free_port, stop, tree, wait_for_200

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
APPS = os.path.join(HERE, "apps")
MODULES = {"async": "fastapi_app", "sync": "fastapi_sync_app"}


def command(system: str, module: str, port: int, rb_py: str, peers_py: str) -> list[str]:
    if system == "c-uring":  # the floor: its one answer to every path
        return [os.path.join(HERE, ".bin", "c_uring_hello"), str(port)]
    if system in ("ringbolt", "ringbolt-nofreeze", "ringbolt-noplan"):
        return [rb_py, "-m", "ringbolt", "serve", f"{module}:app", "--host", "127.0.0.1", "--port", str(port),
                "--threads", "1", "--workers", "1", "--log-level", "warning",
                *(["--no-plan"] if system == "ringbolt-noplan" else [])]
    if system == "uvicorn":
        return [peers_py, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port),
                "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
    if system == "granian":
        return [peers_py, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", "1", "--runtime-threads", "1", "--runtime-mode", "st", "--http", "1",
                "--no-ws", "--log-level", "warning", f"{module}:app"]
    raise ValueError(system)


def switches(pid: int) -> int:
    n = 0
    for p in tree(pid):
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/status") as f:
                    n += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
            except OSError:
                pass
    return n


def wrk(args: argparse.Namespace, url: str, seconds: int, extra: tuple[str, ...] | list[str] = ()) -> str:
    cmd = ["taskset", "-c", args.load_cpu, "wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout


def launch(args: argparse.Namespace, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``cmd`` pinned to --server-cpu, in a session of its own (see ``shutdown``)."""
    return subprocess.Popen(["taskset", "-c", args.server_cpu, *cmd], cwd=APPS, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL)


def measure(args: argparse.Namespace, srv: subprocess.Popen[bytes], label: str, url: str) -> dict[str, float]:
    """A --warmup run of wrk at ``url``, then a measured one of --duration: requests a
    second, and per request the server's CPU and system µs and context switches."""
    wrk(args, url, args.warmup)
    c0, s0 = cpu(srv.pid), switches(srv.pid)
    out = wrk(args, url, args.duration)
    c1, s1 = cpu(srv.pid), switches(srv.pid)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"{label}: wrk reported errors\n{out}", file=sys.stderr)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "cpu_us": (c1[0] + c1[1] - c0[0] - c0[1]) * 1e6 / total,
            "sys_us": (c1[1] - c0[1]) * 1e6 / total, "cs": (s1 - s0) / total}


def shutdown(srv: subprocess.Popen[bytes]) -> None:
    """The whole session: Granian's worker is a child process that outlives its parent."""
    stop(srv, 15, group=True)
    time.sleep(0.2)
    try:
        os.killpg(srv.pid, signal.SIGKILL)  # whatever is left of the group
    except OSError:
        pass


def one(args: argparse.Namespace, system: str, variant: str, path: str) -> dict[str, float]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=APPS)
    if system == "ringbolt-nofreeze":  # A/B: the heap the app was loaded with not frozen
        env["RINGBOLT_GC_FREEZE"] = "0"
    srv = launch(args, command(system, MODULES[variant], port, args.ringbolt_python, args.peers_python), env)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        wait_for_200(url, system, 300)
        return measure(args, srv, f"{system} {variant} {path}", url)
    finally:
        shutdown(srv)


def add_run_arguments(ap: argparse.ArgumentParser, connections: int) -> None:
    """The options every interleaved load run here takes (this script's, typed_bench's):
    rounds, durations, wrk's connections, the CPUs, the two interpreters."""
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="measured seconds per run")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=connections)
    add_pinning(ap)
    ap.add_argument("--ringbolt-python", default=os.environ.get("RINGBOLT_PYTHON", sys.executable))
    ap.add_argument("--peers-python", default=os.environ.get("PEERS_PYTHON", os.path.join(HERE, ".venv-peers/bin/python")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="ringbolt,uvicorn,granian")
    ap.add_argument("--variants", default="sync,async")
    ap.add_argument("--paths", default="/json,/users/12345")
    add_run_arguments(ap, connections=100)
    args = ap.parse_args()
    systems, variants, paths = args.systems.split(","), args.variants.split(","), args.paths.split(",")
    res: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    up0 = os.popen("uptime").read().strip()
    for rnd in range(args.rounds):
        for variant in variants:
            for path in paths:
                order = systems if rnd % 2 == 0 else systems[::-1]
                for system in order:
                    r = one(args, system, variant, path)
                    res.setdefault((system, variant, path), []).append(r)
                    print(f"round {rnd} {system} {variant} {path}: {r['rps']:,.0f} req/s, {r['cpu_us']:.1f} CPU µs/req "
                          f"({r['sys_us']:.1f} system), {r['cs']:.3f} switches/req", file=sys.stderr, flush=True)
    up1 = os.popen("uptime").read().strip()
    print(f"command: `{' '.join(sys.argv)}`\n\nmachine load before: `{up0}`  \nmachine load after: `{up1}`\n")
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s, server on CPU {args.server_cpu}, wrk on CPU "
          f"{args.load_cpu}, {args.rounds} rounds, medians:\n")
    print("| endpoints | path | system | req/s | CPU µs/req | system µs/req | switches/req | uvicorn's CPU / this |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for variant in variants:
        for path in paths:
            med = {s: {k: statistics.median(r[k] for r in res[(s, variant, path)]) for k in ("rps", "cpu_us", "sys_us", "cs")}
                   for s in systems}
            for s in systems:
                m = med[s]
                ratio = f"{med['uvicorn']['cpu_us'] / m['cpu_us']:.2f}x" if "uvicorn" in med else ""
                print(f"| `{'def' if variant == 'sync' else 'async def'}` | {path} | {s} | {m['rps']:,.0f} "
                      f"| {m['cpu_us']:.1f} | {m['sys_us']:.1f} | {m['cs']:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
