#!/usr/bin/env python3
"""Load comparison harness: ringbolt against its peers, one scenario at a time.

For each round and each system (interleaved: A B C A B C ...), the harness starts the
server pinned with `taskset -c SERVER_CPUS`, waits until the scenario URL answers
correctly, warms it up, then runs the load generator pinned with `taskset -c LOAD_CPUS`
and measures requests/s, p50/p99 latency, errors, server CPU time per request and
peak RSS. The report holds the medians over rounds and ratios to a baseline system.

This file owns the command line, one measured round and the loop over scenarios, rounds
and systems; the modules beside it own the rest: scenarios.py (what is requested, what
answer is correct), systems.py (how each system starts), processes.py (starting,
measuring and stopping processes), load_generators.py (wrk, ringbolt-load, h2load, oha)
and reporting.py (the Markdown report and the charts).

Standard library only, and runnable by path: `ringbolt bench` runs it with the peers'
interpreter, which has no ringbolt (this folder is then loaded as the package
ringbolt_bench) and where matplotlib draws the charts when it is importable.
It ships in ringbolt's wheel as the top-level package ringbolt_bench (with the wrk
scripts and the nginx template), beside the ringbolt package and never imported by it;
in a source checkout it is pymod/ringbolt_bench/, the one copy.
Usage: see benchmarks/load/README.md, or `python pymod/ringbolt_bench/harness.py --help`.

Adding a system is one entry in SYSTEMS (systems.py); adding a scenario is one entry in
SCENARIOS (scenarios.py).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

if not __package__:
    # Run by path (python .../ringbolt_bench/harness.py): load this folder as the package
    # ringbolt_bench, so the modules beside this file import as they do from the package,
    # whatever the interpreter has installed (putting the folder's parent on sys.path
    # instead would put ringbolt's site-packages in front of the peers' own).
    import importlib.util

    _here = Path(__file__).resolve().parent
    if "ringbolt_bench" not in sys.modules:
        _spec = importlib.util.spec_from_file_location("ringbolt_bench", _here / "__init__.py",
                                                       submodule_search_locations=[str(_here)])
        assert _spec is not None and _spec.loader is not None
        sys.modules["ringbolt_bench"] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules["ringbolt_bench"])
    __package__ = "ringbolt_bench"

from .load_generators import LoadSpec, RINGBOLT_LOAD_DIR, cpu_count_of, ringbolt_load_binary, run_load  # noqa: E402
from .processes import cpu_seconds, free_port, log_tail, peak_rss_kib, process_tree, start_process  # noqa: E402
from .processes import stop_all, stop_process  # noqa: E402
from .reporting import RoundResult, draw_charts, fmt, machine_info, render_markdown  # noqa: E402
from .scenarios import SCENARIOS, Scenario, wait_ready  # noqa: E402
from .systems import RESULTS, SYSTEMS, VENV, System, add_user_app, expand, template_vars  # noqa: E402
from .systems import unavailable_reason  # noqa: E402

PROG = Path(__file__)  # what the report's command line names


class Interrupted(Exception):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:  # turn SIGTERM into an exception so finally blocks run
    raise Interrupted(f"signal {signum}")


def run_round(name: str, system: System, scenario: Scenario, rnd: int, args: Any, venv: Path,
              results_dir: Path) -> RoundResult:
    """One measured round of one system: started, checked, warmed up, loaded, stopped.
    Its log goes to results_dir/logs/; the peers are in `venv`."""
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix=f"ringbolt-load-{name}-"))
    logs = results_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}-{scenario.name}-r{rnd}.log"
    tvars = template_vars(port, tmp, venv)
    result = RoundResult(name, scenario.name, rnd, ok=False)
    proc = None
    try:
        if system.prepare:
            system.prepare(tmp, port)
        cmd = ["taskset", "-c", args.server_cpus, *expand(system.cmd, tvars)]
        env = {**os.environ, **{k: v.format(**tvars) for k, v in system.env.items()}}
        proc = start_process(cmd, system.cwd.format(**tvars), env, log_path)
        err = wait_ready(proc, port, scenario, system.ready_timeout)
        if err:
            result.error = f"failed to start: {err}; log: {log_tail(log_path)}"
            return result
        spec = LoadSpec(args.generator, port, scenario, args.warmup, args.connections,
                        cpu_count_of(args.load_cpus), args.pipeline, tmp)
        if args.warmup > 0:
            run_load(spec, args.load_cpus)
        spec.duration = args.duration
        tree = process_tree(proc.pid)
        cpu_before = cpu_seconds(tree)
        load = run_load(spec, args.load_cpus)
        tree_after = process_tree(proc.pid)
        # a process born during the window counts fully; one that died in it is lost
        cpu_after = cpu_seconds(tree_after)
        result.peak_rss_mib = peak_rss_kib(tree_after) / 1024
        if proc.poll() is not None:
            result.error = f"server exited during the run (code {proc.returncode})"
            return result
        result.ok = True
        result.rps, result.p50_ms, result.p99_ms = load.rps, load.p50_ms, load.p99_ms
        result.non_2xx, result.socket_errors, result.requests = load.non_2xx, load.socket_errors, load.requests
        if load.requests:
            result.cpu_us_per_req = (cpu_after - cpu_before) / load.requests * 1e6
        return result
    except (RuntimeError, ValueError, OSError) as exc:
        result.error = str(exc)
        return result
    finally:
        if proc is not None:
            stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="systems: " + ", ".join(SYSTEMS) +
                                       "; scenarios: " + ", ".join(SCENARIOS))
    p.add_argument("--systems", default="c-uring,nginx,uvicorn,granian-rsgi,socketify,robyn",
                   help="comma-separated names from the systems table")
    p.add_argument("--scenario", default="plaintext", help="one scenario or a comma-separated list")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per system and round")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each measurement")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--server-cpus", default="0", help="taskset list for the server")
    p.add_argument("--load-cpus", default="1", help="taskset list for the load generator")
    p.add_argument("--baseline", default="c-uring,nginx",
                   help="system the ratios are relative to; a comma-separated list gives "
                        "fallbacks (the first one measured in each scenario is used)")
    p.add_argument("--pipeline", type=int, default=1, help="HTTP/1.1 pipelining depth (1 = none)")
    p.add_argument("--generator", default="wrk", choices=["wrk", "ringbolt-load", "h2load", "oha"],
                   help="load generator (ringbolt-load: tools/load/, built with make if missing, "
                        "or $RINGBOLT_LOAD)")
    p.add_argument("--out", default="BENCHMARKS-run.md", help="Markdown report path")
    p.add_argument("--results", type=Path, default=None,
                   help=f"per-round logs, raw JSON and charts (default {RESULTS})")
    p.add_argument("--peers-venv", type=Path, default=None,
                   help=f"the virtualenv with the Python peers (default {VENV})")
    p.add_argument("--list", action="store_true", help="list systems and whether they can run, then exit")
    p.add_argument("--app", help="benchmark your own ringbolt app (module:attr or file.py:attr) instead of "
                                 "the reference systems; scenario = --method --path")
    p.add_argument("--path", default="/", help="with --app: the path to load")
    p.add_argument("--method", default="GET", help="with --app: the method")
    p.add_argument("--body-file", help="with --app: request body")
    p.add_argument("--compare", default="", help="with --app: peers serving an ASGI version of the app, "
                                                 "e.g. uvicorn=myapp_asgi:app,granian=myapp_asgi:app")
    args = p.parse_args(argv)
    if args.app:
        body = Path(args.body_file).read_bytes() if args.body_file else None
        names = add_user_app(args.app, args.path, args.method.upper(), body,
                             [c.strip() for c in args.compare.split(",") if c.strip()])
        args.systems = ",".join(names)
        args.scenario = "app"
        args.baseline = "app"
    if args.pipeline < 1 or args.rounds < 1 or args.connections < 1 or args.duration <= 0:
        p.error("pipeline, rounds and connections must be >= 1, duration > 0")
    if args.generator == "wrk" and not (float(args.duration).is_integer() and float(args.warmup).is_integer()):
        p.error("wrk takes whole seconds: --duration and --warmup must be integers")  # "-d 1.5s" is refused
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    results_dir = (args.results or RESULTS).resolve()
    venv = (args.peers_venv or VENV).absolute()  # not resolved: a venv's python is a symlink
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    scenarios = [s.strip() for s in args.scenario.split(",") if s.strip()]
    for name in systems:
        if name not in SYSTEMS:
            sys.exit(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    for scen in scenarios:
        if scen not in SCENARIOS:
            sys.exit(f"unknown scenario {scen!r}; known: {', '.join(SCENARIOS)}")
    if args.list:
        for name, system in SYSTEMS.items():
            why = unavailable_reason(name, system, scenarios[0], venv)
            print(f"{name:16s} {'ok' if why is None else 'unavailable: ' + why}")
        return 0
    if args.generator == "ringbolt-load":
        if not ringbolt_load_binary():
            sys.exit(f"ringbolt-load not built: run make -C {RINGBOLT_LOAD_DIR}")
    elif not shutil.which(args.generator):
        sys.exit(f"load generator {args.generator} not on PATH" + (" (Debian: apt-get install wrk)"
                                                                  if args.generator == "wrk" else ""))
    if args.generator == "oha" and args.pipeline > 1:
        sys.exit("oha cannot pipeline: use wrk or h2load")
    if not shutil.which("taskset"):
        sys.exit("taskset not found (util-linux)")

    command_line = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(PROG)] + argv)
    info = machine_info()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    per_scenario: dict[str, tuple[list[str], list[RoundResult], dict[str, str]]] = {}
    stem = Path(args.out).stem
    interrupted = False
    try:
        for scen_name in scenarios:
            scenario = SCENARIOS[scen_name]
            unavailable: dict[str, str] = {}
            runnable = []
            for name in systems:
                why = unavailable_reason(name, SYSTEMS[name], scen_name, venv)
                if why:
                    unavailable[name] = why
                    print(f"[{scen_name}] {name}: unavailable: {why}", flush=True)
                else:
                    runnable.append(name)
            results: list[RoundResult] = []
            per_scenario[scen_name] = (systems, results, unavailable)
            for rnd in range(1, args.rounds + 1):
                for name in runnable:  # interleaved: every system once per round
                    print(f"[{scen_name}] round {rnd}/{args.rounds} {name} ...", end=" ", flush=True)
                    r = run_round(name, SYSTEMS[name], scenario, rnd, args, venv, results_dir)
                    results.append(r)
                    if r.ok:
                        print(f"{r.rps:,.0f} req/s, p99 {fmt(r.p99_ms, '.2f')} ms, "
                              f"{fmt(r.cpu_us_per_req, '.2f')} CPU µs/req", flush=True)
                    else:
                        print(f"FAILED: {r.error}", flush=True)
    except (KeyboardInterrupt, Interrupted):
        interrupted = True
        print("\ninterrupted: stopping servers, writing a partial report", file=sys.stderr)
    finally:
        stop_all()

    charts = {}
    for scen_name, (systems_, results, _) in per_scenario.items():
        charts[scen_name] = draw_charts(stem, scen_name, systems_, results, results_dir)
    report = render_markdown(args, command_line, info, per_scenario, charts)
    Path(args.out).write_text(report)
    results_dir.mkdir(parents=True, exist_ok=True)
    raw = {"command": command_line, "machine": info, "args": vars(args),
           "results": [r.__dict__ for _, (_, res, _) in per_scenario.items() for r in res],
           "unavailable": {s: u for s, (_, _, u) in per_scenario.items()}}
    (results_dir / f"{stem}.json").write_text(json.dumps(raw, indent=1, default=str))
    print(f"report: {args.out}; raw data: {results_dir / (stem + '.json')}"
          + (f"; charts: {results_dir}" if any(charts.values()) else "; no charts (nothing measured, or matplotlib not importable)"))
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
