#!/usr/bin/env python3
"""TechEmpower's "fortunes" (a PostgreSQL query, a sort, an escaped HTML table rendered
by Jinja2) on ringbolt (apps/ringbolt_fortunes.py: ringbolt.templating), FastAPI
(apps/fastapi_fortunes.py: Jinja2Templates) and Litestar (apps/litestar_fortunes.py: its
JinjaTemplateEngine), FastAPI and Litestar each under uvicorn (uvloop + httptools) and
Granian (ASGI). All use asyncpg with a pool of --db-pool connections and the same template
(apps/templates/fortunes.html). PostgreSQL is a cluster of the run's own
(fortunes_db.py), pinned with wrk to --load-cpu; each server runs one worker pinned to
--server-cpu. Systems interleave, round after round, each run a fresh server, which is
checked first (every row, escaped, in order). Per request: server CPU µs (utime+stime,
every thread, /proc) and context switches.

    bash benchmarks/load/setup_peers.sh     # fastapi, litestar, uvicorn, granian, jinja2, asyncpg
    python benchmarks/load/fortunes_bench.py --rounds 3

RINGBOLT_PYTHON (default: this interpreter, with asyncpg and Jinja2) runs ringbolt;
PEERS_PYTHON (default: benchmarks/load/.venv-peers/bin/python) the peers. Prints the
command, the machine's load (/proc/loadavg) before and after, and a Markdown table of
medians with each system's CPU ratio to ringbolt.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import urllib.request

from fastapi_bench import add_run_arguments, command, launch, measure, shutdown
from fortunes_db import fortunes_db
from fortunes_expected import check_table
from proc_util import free_port, wait_for_200

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
# system -> (server, app module)
SYSTEMS = {
    "ringbolt": ("ringbolt", "ringbolt_fortunes"),
    "uvicorn-fastapi": ("uvicorn", "fastapi_fortunes"),
    "granian-fastapi": ("granian", "fastapi_fortunes"),
    "uvicorn-litestar": ("uvicorn", "litestar_fortunes"),
    "granian-litestar": ("granian", "litestar_fortunes"),
}


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().strip()


def one(args: argparse.Namespace, system: str, db_url: str) -> dict[str, float]:
    server, module = SYSTEMS[system]
    port = free_port()
    env = dict(os.environ, PYTHONPATH=APPS, DATABASE_URL=db_url, DB_POOL=str(args.db_pool))
    srv = launch(args, command(server, module, port, args.ringbolt_python, args.peers_python), env)
    try:
        url = f"http://127.0.0.1:{port}/fortunes"
        wait_for_200(url, system, 300)
        with urllib.request.urlopen(url, timeout=5) as r:
            check_table(r.read().decode("utf-8"), r.headers.get("content-type", ""))  # a wrong answer is not measured
        return measure(args, srv, system, url)
    finally:
        shutdown(srv)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--db-pool", type=int, default=8, help="asyncpg pool size of every system")
    add_run_arguments(ap, connections=64)
    args = ap.parse_args()
    systems = args.systems.split(",")
    for s in systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r} (known: {', '.join(SYSTEMS)})")
    res: dict[str, list[dict[str, float]]] = {}
    load0 = loadavg()
    with fortunes_db(free_port(), cpus=args.load_cpu) as db_url:
        for rnd in range(args.rounds):
            for system in (systems if rnd % 2 == 0 else systems[::-1]):
                r = one(args, system, db_url)
                res.setdefault(system, []).append(r)
                print(f"round {rnd} {system}: {r['rps']:,.0f} req/s, {r['cpu_us']:.1f} CPU µs/req "
                      f"({r['sys_us']:.1f} system), {r['cs']:.3f} switches/req", file=sys.stderr, flush=True)
    load1 = loadavg()
    print(f"command: `{' '.join(sys.argv)}`\n\n/proc/loadavg before: `{load0}`  \n/proc/loadavg after: `{load1}`\n")
    print(f"GET /fortunes, wrk -t1 -c{args.connections} -d{args.duration}s, asyncpg pool {args.db_pool}, server on "
          f"CPU {args.server_cpu}, wrk and PostgreSQL on CPU {args.load_cpu}, {args.rounds} rounds, medians:\n")
    print("| system | req/s | CPU µs/req | system µs/req | switches/req | CPU / ringbolt's |")
    print("|---|---:|---:|---:|---:|---:|")
    med = {s: {k: statistics.median(r[k] for r in res[s]) for k in ("rps", "cpu_us", "sys_us", "cs")} for s in systems}
    for s in systems:
        m = med[s]
        ratio = f"{m['cpu_us'] / med['ringbolt']['cpu_us']:.2f}x" if "ringbolt" in med else ""
        print(f"| {s} | {m['rps']:,.0f} | {m['cpu_us']:.1f} | {m['sys_us']:.1f} | {m['cs']:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
