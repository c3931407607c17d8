"""benchmarks/httparena/run: HttpArena's profiles on one machine, without docker.

    run deps  [--systems ...]             install what the systems and profiles need
    run bench [--profiles ...] [...]      validate, load, measure; print, write JSON (+ plot)
    run list                              the profiles and systems, and what runs here
    run report RESULTS.json               the tables of a run again
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time

from . import deps
from .bench import Run, Settings
from .checkout import RUNNABLE_TOOLS, Checkout
from .systems import NOT_MEASURED, SYSTEMS, Context, cpu_list

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H3_LOAD = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "load", "ringbolt-h3-load")
DEFAULT_SYSTEMS = ["ringbolt", "ringbolt-psycopg", "ringbolt-fastapi", "fastpysgi-wsgi", "fastpysgi-asgi", "uvicorn", "fastapi",
                   "robyn", "granian", "bjoern", "bottle", "flask", "ringzero"]


def default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ringbolt-arena")


def ringbolt_profiles() -> list[str]:
    import json
    with open(os.path.join(HERE, "ringbolt", "meta.json")) as f:
        return list(json.load(f)["tests"])


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arena-dir", default=os.environ.get("ARENA_DIR"),
                   help="the HttpArena checkout (default: $ARENA_DIR)")
    p.add_argument("--cache", default=default_cache(), help="built tools and peer virtualenvs (default %(default)s)")
    p.add_argument("--ringbolt-python", default=sys.executable,
                   help="the Python with ringbolt installed that serves ringbolt's entries (default: this one)")
    p.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                   help=f"comma-separated, from: {', '.join(SYSTEMS)} (default: all)")
    p.add_argument("--github-mirror", default=os.environ.get("ARENA_GITHUB_MIRROR"),
                   help="offline: a directory holding OWNER/NAME git repositories served for https://github.com/")


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="benchmarks/httparena/run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deps", help="install what the runner needs (apt, pip, builds, peer virtualenvs)")
    _common(d)
    d.add_argument("--no-apt", action="store_true", help="do not run apt-get")
    d.add_argument("--arena-git", default=None, metavar="GITDIR",
                   help="when --arena-dir does not exist: export the pinned HttpArena commit into it from this git "
                        "directory (a clone or bare mirror; files whose blobs it lacks are left out) instead of "
                        "cloning from GitHub")
    b = sub.add_parser("bench", help="validate and measure")
    _common(b)
    b.add_argument("--profiles", default=",".join(ringbolt_profiles()),
                   help="comma-separated HttpArena profiles (default: every profile ringbolt's entry serves)")
    b.add_argument("--connections", default="64",
                   help="comma-separated counts; 'profile' adds the profile's own counts (default 64)")
    b.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    b.add_argument("--duration", type=int, default=5, help="measured seconds per run (default 5, HttpArena's)")
    b.add_argument("--warmup", type=int, default=1, help="seconds of load before each measurement (default 1)")
    b.add_argument("--db-warmup", type=int, default=5,
                   help="database profiles: warm-ups until one during which PostgreSQL receives no "
                        "connection (the pools have opened theirs), the first of this many seconds, each after one "
                        "that opened connections twice as long, at most 60 s in all (default 5)")
    b.add_argument("--server-cpus", default="0", help="taskset list for the server (default 0)")
    b.add_argument("--load-cpus", default="1", help="taskset list for the load generator (default 1)")
    b.add_argument("--db-cpus", default=None, help="taskset list for PostgreSQL and Redis (default: --load-cpus)")
    b.add_argument("--pg-driver", choices=("asyncpg", "psycopg"), default="asyncpg",
                   help="the driver of the `ringbolt` system (PG_DRIVER; default asyncpg; the system "
                        "ringbolt-psycopg always uses psycopg)")
    b.add_argument("--measure-invalid", action="store_true",
                   help="also measure a system that failed HttpArena's validation (flagged in the table)")
    b.add_argument("--out", default=None, help="the JSON (default: benchmarks/httparena/results/arena-<time>.json)")
    b.add_argument("--plot", action="store_true", help="also a PNG next to the JSON (needs matplotlib)")
    b.add_argument("--gcannon", default=None, help="the gcannon binary (default: the cache's, then PATH)")
    b.add_argument("--h3-load", default=None,
                   help="the HTTP/3 load generator standing for h2load-h3: ringbolt-h3-load (default: "
                        "tools/load/ringbolt-h3-load, then PATH)")
    b.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="an environment variable for ringbolt's entries (repeatable; e.g. RINGBOLT_HOST_LOOP=0 "
                        "for an A/B run: the runner does not pass its own RINGBOLT_* variables on)")
    ls = sub.add_parser("list", help="profiles and systems")
    _common(ls)
    again = sub.add_parser("report", help="print the tables of a run's JSON again")
    again.add_argument("json")
    args = ap.parse_args(argv)
    if args.command == "report":
        return args
    # absolute, not resolved: a virtualenv's python is a symlink to the base interpreter
    rp = args.ringbolt_python
    args.ringbolt_python = os.path.abspath(rp) if os.sep in rp else (shutil.which(rp) or rp)
    args.systems = [s for s in args.systems.split(",") if s]
    for s in args.systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}: choose from {', '.join(SYSTEMS)}")
    if not args.arena_dir:
        ap.error("give the HttpArena checkout: --arena-dir DIR or ARENA_DIR (`run deps --arena-dir DIR` clones it)")
    return args


def tools(cache: str, gcannon: str | None, h3load: str | None = None) -> dict[str, str]:
    found = {}
    g = gcannon or (os.path.join(cache, "bin", "gcannon") if os.path.exists(os.path.join(cache, "bin", "gcannon"))
                    else shutil.which("gcannon"))
    if g:
        found["gcannon"] = g
        if deps.gcannon_fixes(g) != deps.gcannon_fixes_line().strip():
            print(f"[arena] warning: {g} was not built with the gcannon fixes `run deps` applies "
                  f"({', '.join(name for name, _, _, _ in deps.GCANNON_FIXES)}; its {g}.fixes names them): "
                  "without buffer-ring-offset, connections stall for good under load and req/s, p99 and the "
                  "server's idle share are wrong; `run deps` builds a fixed one into the cache", file=sys.stderr)
    for t in ("wrk", "h2load"):
        path = shutil.which(t)
        if path:
            found[t] = path
    # HTTP/3: the project's load generator stands for h2load built with ngtcp2
    # (loadgen.h3_equivalent); `run deps` builds it
    h3 = h3load or (H3_LOAD if os.access(H3_LOAD, os.X_OK) else shutil.which("ringbolt-h3-load"))
    if h3:
        found["h2load-h3"] = h3
    return found


def need_tools(profiles: list[str], checkout: Checkout, found: dict[str, str]) -> None:
    """Fail before anything starts when a profile's load generator is missing."""
    missing = {}
    for p in profiles:
        tool = checkout.profiles[p].tool if p in checkout.profiles else None
        if tool in RUNNABLE_TOOLS and tool not in found:
            missing.setdefault(tool, []).append(p)
    if missing:
        hints = {"gcannon": "`run deps` builds it into the cache (or give --gcannon)",
                 "wrk": "apt-get install wrk", "h2load": "apt-get install nghttp2-client",
                 "h2load-h3": "ringbolt-h3-load stands for it: `run deps` builds it (make -C tools/load "
                              "ringbolt-h3-load), or give --h3-load"}
        raise SystemExit("missing load generators: " + "; ".join(
            f"{t} for {', '.join(ps)} ({hints[t]})" for t, ps in missing.items()))


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.command == "report":
        import json
        from . import report
        with open(args.json) as f:
            data = json.load(f)
        print(f"{data['date']}, HttpArena {data['arena']['commit'][:12]}, {data['machine']}, load average "
              f"{data['load_average']}\n{data['command']}")
        print(report.table(data["summary"], data["validation"]))
        print("\nserver CPU µs per request (req/s), medians; ✗: failed HttpArena's validation\n")
        print(report.matrix(data["summary"], data["validation"]))
        return 0
    if args.command == "deps":
        deps.main(args.arena_dir, args.cache, args.ringbolt_python, args.systems, args.github_mirror, args.no_apt,
                  args.arena_git)
        return 0
    checkout = Checkout(args.arena_dir)
    if args.command == "list":
        for name, p in checkout.profiles.items():
            serving = [s for s in args.systems if name in SYSTEMS[s].tests(_ctx(args, checkout, {}))]
            print(f"{name:18} {p.tool:9} conns {','.join(map(str, p.connections)):16} {' '.join(serving)}")
        for entry, why in NOT_MEASURED.items():
            print(f"not measured: HttpArena's {entry} entry: {why}")
        return 0
    # As HttpArena's common.sh does (ulimit -n $HARD_NOFILE): thousands of connections
    # need as many descriptors, in the servers and the load generators (inherited).
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    found = tools(args.cache, args.gcannon, args.h3_load)
    profiles = [p for p in args.profiles.split(",") if p]
    need_tools(profiles, checkout, found)
    if len(cpu_list(args.server_cpus)) < 1 or set(cpu_list(args.server_cpus)) & set(cpu_list(args.load_cpus)):
        print("[arena] warning: the server and the load generator share CPUs", file=sys.stderr)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = args.out or os.path.join(HERE, "results", f"arena-{stamp}.json")
    run_dir = os.path.splitext(os.path.abspath(results))[0] + "-run"
    os.makedirs(run_dir, exist_ok=True)
    settings = Settings(profiles=profiles, systems=args.systems, connections=args.connections.split(","),
                        rounds=args.rounds, duration=args.duration, warmup=args.warmup, db_warmup=args.db_warmup,
                        server_cpus=args.server_cpus, load_cpus=args.load_cpus,
                        db_cpus=args.db_cpus or args.load_cpus, pg_driver=args.pg_driver,
                        measure_invalid=args.measure_invalid, results=os.path.abspath(results), plot=args.plot,
                        server_env=dict(kv.split("=", 1) for kv in args.server_env),
                        command=" ".join(shlex.quote(a) for a in ["benchmarks/httparena/run", *sys.argv[1:]]))
    run = Run(_ctx(args, checkout, found), settings, run_dir)
    print(f"[arena] HttpArena {checkout.commit[:12]} at {checkout.path}; results: {results}", flush=True)
    try:
        data = run.execute()
    except KeyboardInterrupt as exc:
        print(f"[arena] interrupted ({exc or 'Ctrl-C'}): everything started was stopped; partial results in " + results, file=sys.stderr)
        return 130
    from . import report
    print(report.table(data["summary"], data["validation"]))
    print("\nserver CPU µs per request (req/s), medians; ✗: failed HttpArena's validation\n")
    print(report.matrix(data["summary"], data["validation"]))
    for note in data["notes"]:
        print(f"note: {note}")
    if args.plot:
        png = report.plot(os.path.splitext(results)[0] + ".png", data["summary"])
        print(f"plot: {png}" if png else "plot: matplotlib is not installed (pip install matplotlib)")
    print(f"JSON: {results}")
    return 0 if all(r.get("error") is None for r in data["runs"]) else 1


def _ctx(args: argparse.Namespace, checkout: Checkout, found: dict[str, str]) -> Context:
    return Context(checkout=checkout, cache=args.cache, ringbolt_python=args.ringbolt_python,
                   server_cpus=getattr(args, "server_cpus", "0"), tools=found)

