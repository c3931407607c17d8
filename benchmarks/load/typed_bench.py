#!/usr/bin/env python3
"""The typed API's speed (docs/typed.md; BENCHMARKS.md, "The typed API"): server CPU µs
per request of the same endpoints written with ringbolt's typed API (pydantic and msgspec
models), by hand on ``req`` (apps/ringbolt_typed.py), in FastAPI (apps/fastapi_typed.py,
``async def``) on uvicorn and on ringbolt, and in Litestar with msgspec
(apps/litestar_typed.py) on uvicorn and on Granian; the C io_uring floor
(c_uring_hello.c: a fixed answer, no HTTP parsing to speak of) in the same run says what
a request's TCP work costs on this kernel. Each server runs one worker (one thread)
pinned to --server-cpu, wrk -t1 to --load-cpu; systems interleave round after round,
each run a fresh server. Per request: server CPU µs (utime+stime, every thread, /proc).

    bash benchmarks/load/setup_peers.sh      # uvicorn, granian, fastapi, litestar, the C floor
    python benchmarks/load/typed_bench.py --rounds 3

Scenarios: ``get`` (GET /q?limit=20&offset=5&q=abc: three query parameters, two
constrained), ``post`` (POST /items?limit=5&verbose=true, a 6-field body with a nested
model and a list, a header dependency, a response model: 201) and ``bad`` (the same POST
with two invalid fields: 422), the bodies of requests/typed_post{,_bad}.raw. wrk's
non-2xx count is checked against what the scenario expects.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from fastapi_bench import add_run_arguments, wrk
from proc_util import cpu, free_port, stop, wait_for_200

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
FLOOR = os.path.join(HERE, ".bin", "c_uring_hello")

UVICORN = ["-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
GRANIAN = ["-m", "granian", "--interface", "asgi", "--workers", "1", "--runtime-threads", "1", "--runtime-mode",
           "st", "--http", "1", "--no-ws", "--log-level", "warning"]
RINGBOLT = ["-m", "ringbolt", "serve", "--threads", "1", "--workers", "1", "--log-level", "warning"]

# system -> (python: "rb" or "peers", arguments after the interpreter, with {port} and {app})
Systems = dict[str, tuple[str | None, list[str]]]
# scenario -> (method, path, body, expected status[, the request's headers: X-User if not given])
Scenarios = dict[str, tuple[Any, ...]]
SYSTEMS: Systems = {
    "c-uring": (None, [FLOOR, "{port}"]),
    "ringbolt-hand": ("rb", [*RINGBOLT, "ringbolt_typed:hand_app", "--port", "{port}"]),
    "ringbolt-typed": ("rb", [*RINGBOLT, "ringbolt_typed:typed_app", "--port", "{port}"]),
    "ringbolt-msgspec": ("rb", [*RINGBOLT, "ringbolt_typed:msgspec_app", "--port", "{port}"]),
    "fastapi-uvicorn": ("peers", [*UVICORN, "fastapi_typed:app", "--port", "{port}"]),
    "fastapi-ringbolt": ("rb", [*RINGBOLT, "fastapi_typed:app", "--port", "{port}"]),  # its routes planned
    "fastapi-ringbolt-noplan": ("rb", [*RINGBOLT, "fastapi_typed:app", "--no-plan", "--port", "{port}"]),  # ASGI
    "litestar-uvicorn": ("peers", [*UVICORN, "litestar_typed:app", "--port", "{port}"]),
    "litestar-granian": ("peers", [*GRANIAN, "--port", "{port}", "litestar_typed:app"]),
}


def _body(name: str) -> bytes:
    with open(os.path.join(HERE, "requests", name), "rb") as f:
        raw = f.read()
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[1].rstrip(b"\n")


# scenario -> (method, path, body: a file of requests/, the bytes, or None; expected status)
SCENARIOS: Scenarios = {
    "get": ("GET", "/q?limit=20&offset=5&q=abc", None, 200),
    "post": ("POST", "/items?limit=5&verbose=true", "typed_post.raw", 201),
    "bad": ("POST", "/items?limit=5&verbose=true", "typed_post_bad.raw", 422),
}


def _lua(method: str, body: bytes | None, headers: dict[str, str] | None = None) -> str:
    """A wrk script sending ``method`` with ``body`` (a JSON body) and ``headers`` (the
    header the typed endpoints' dependency reads, unless given)."""
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in (headers if headers is not None else {"X-User": "alice"}).items()]
    if body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append("wrk.body = " + "[==[" + body.decode() + "]==]")  # a body may end in "]"
    return "\n".join(lines) + "\n"


def start(system: str, port: int, ringbolt_python: str, peers_python: str, systems: Systems = SYSTEMS,
          apps: str = APPS, prefix: list[str] | None = None, **popen: Any) -> subprocess.Popen[bytes]:
    """``system``'s server on 127.0.0.1:``port`` (its own session: stop it with
    ``proc_util.stop(p, ..., group=True)``), ``apps`` its folder and import path,
    ``prefix`` (``taskset -c N``) before its command."""
    py, argv = systems[system]
    # "rb-old": the interpreter of an older ringbolt build (OLD_PYTHON), beside the peers in one run
    pythons = {"rb": ringbolt_python, "peers": peers_python, "rb-old": os.environ.get("OLD_PYTHON", ringbolt_python)}
    interp = [] if py is None else [pythons[py]]
    cmd = [*interp, *(a.replace("{port}", str(port)) for a in argv)]
    if "uvicorn" in system:
        cmd += ["--app-dir", apps]
    env = dict(os.environ, PYTHONPATH=apps)
    return subprocess.Popen([*(prefix or []), *cmd], cwd=apps, env=env, start_new_session=True, **popen)


def one(args: argparse.Namespace, system: str, scenario: str, systems: Systems = SYSTEMS,
        scenarios: Scenarios = SCENARIOS, apps: str = APPS, ready: str = "/plain") -> dict[str, float]:
    """One run of ``system`` (a fresh server, ``apps`` its folder, ``ready`` a path that
    answers 200 once it is up) on ``scenario``: req/s and server CPU µs per request."""
    method, path, body, status, *more = scenarios[scenario]
    headers = more[0] if more else None
    if system == "c-uring":
        method, path, body, status, headers = "GET", "/plaintext", None, 200, {}  # the floor answers one thing
        ready = "/plaintext"
    port = free_port()
    srv = start(system, port, args.ringbolt_python, args.peers_python, systems, apps,
                ["taskset", "-c", args.server_cpu], stdout=subprocess.DEVNULL)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(method, _body(body) if isinstance(body, str) else body, headers))
    try:
        url = f"http://127.0.0.1:{port}{path}"
        wait_for_200(f"http://127.0.0.1:{port}{ready}", system, 300)
        extra = ["-s", script.name, "--timeout", f"{args.timeout:g}s"]
        wrk(args, url, args.warmup, extra)
        c0 = cpu(srv.pid)
        out = wrk(args, url, args.duration, extra)
        c1 = cpu(srv.pid)
        found = re.search(r"(\d+) requests in", out)
        total = int(found.group(1)) if found else 0
        if not total:
            raise SystemExit(f"{system} {scenario}: no answer in {args.duration} s:\n{out}")
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        non2xx = int(bad.group(1)) if bad else 0
        if (status < 300 and non2xx) or (status >= 300 and non2xx != total):
            raise SystemExit(f"{system} {scenario}: not every answer was {status}:\n{out}")
        if "Socket errors" in out:  # (wrk's 2 s timeouts on a slow peer: said, not fatal)
            print(f"{system} {scenario}: {re.search(r'Socket errors.*', out).group(0)}", file=sys.stderr)
        return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                "cpu_us": (c1[0] + c1[1] - c0[0] - c0[1]) * 1e6 / total}
    finally:
        os.unlink(script.name)
        stop(srv, 15, group=True)
        time.sleep(0.2)
        try:
            os.killpg(srv.pid, signal.SIGKILL)  # what is left of the group (Granian's worker)
        except OSError:
            pass


def parser(doc: str | None, systems: str, scenarios: str) -> argparse.ArgumentParser:
    """The options of a run (``systems``, ``scenarios``: the default lists)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default=systems)
    ap.add_argument("--scenarios", default=scenarios)
    ap.add_argument("--timeout", type=float, default=2, help="wrk's timeout per request, seconds")
    ap.add_argument("--by-case", action="store_true", help="the table with a row per scenario")
    add_run_arguments(ap, connections=64)
    return ap


def run(args: argparse.Namespace, table: Systems = SYSTEMS, cases: Scenarios = SCENARIOS, apps: str = APPS,
        ready: str = "/plain") -> None:
    """Every system of ``args.systems`` on every scenario of ``args.scenarios``, round after
    round, interleaved (the order reversed every other round); then the table of medians."""
    systems, scenarios = args.systems.split(","), args.scenarios.split(",")
    for name in systems:
        if name not in table:
            raise SystemExit(f"unknown system {name!r}: {', '.join(table)}")
    for name in scenarios:
        if name not in cases:
            raise SystemExit(f"unknown scenario {name!r}: {', '.join(cases)}")
    res: dict[tuple[str, str], list[dict[str, float]]] = {}
    load0 = open("/proc/loadavg").read().strip()
    for rnd in range(args.rounds):
        for scen in scenarios:
            order = systems if rnd % 2 == 0 else systems[::-1]
            for system in order:
                if system == "c-uring" and scen != scenarios[0]:
                    continue  # one floor per round
                r = one(args, system, scen, table, cases, apps, ready)
                res.setdefault((system, scen), []).append(r)
                print(f"round {rnd} {scen} {system}: {r['rps']:,.0f} req/s, {r['cpu_us']:.1f} CPU µs/req",
                      file=sys.stderr, flush=True)
    load1 = open("/proc/loadavg").read().strip()
    print(f"command: `{' '.join(sys.argv)}`\n\n/proc/loadavg before: `{load0}`, after: `{load1}`\n")
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s, server on CPU {args.server_cpu}, wrk on CPU "
          f"{args.load_cpu}, {args.rounds} rounds, medians (CPU µs per request; x: over the C floor):\n")
    floor = statistics.median(r["cpu_us"] for r in res[("c-uring", scenarios[0])]) if "c-uring" in systems else None
    if args.by_case:
        _by_case(res, [s for s in systems if s != "c-uring"], scenarios, floor)
        return
    print("| system | " + " | ".join(f"{s} CPU µs/req | {s} req/s" for s in scenarios) + " |")
    print("|---|" + "---:|---:|" * len(scenarios))
    for system in systems:
        cells = []
        for scen in scenarios:
            runs = res.get((system, scen))
            if not runs:
                cells += ["", ""]
                continue
            c = statistics.median(r["cpu_us"] for r in runs)
            x = f" ({c / floor:.2f}x)" if floor else ""
            cells += [f"{c:.1f}{x}", f"{statistics.median(r['rps'] for r in runs):,.0f}"]
        print(f"| {system} | " + " | ".join(cells) + " |")


def _by_case(res: dict[tuple[str, str], list[dict[str, float]]], systems: list[str], scenarios: list[str],
             floor: float | None) -> None:
    """The medians with a row per scenario: CPU µs per request (req/s) of each system."""
    if floor is not None:
        print(f"The C floor (GET /plaintext): {floor:.1f} CPU µs/req.\n")
    print("| case | " + " | ".join(f"{s} CPU µs/req (req/s)" for s in systems) + " |")
    print("|---|" + "---:|" * len(systems))
    for scen in scenarios:
        cells = []
        for system in systems:
            runs = res.get((system, scen), [])
            cells.append(f"{statistics.median(r['cpu_us'] for r in runs):.1f} "
                         f"({statistics.median(r['rps'] for r in runs):,.0f})" if runs else "")
        print(f"| {scen} | " + " | ".join(cells) + " |")


def main() -> None:
    run(parser(__doc__, ",".join(SYSTEMS), ",".join(SCENARIOS)).parse_args())


if __name__ == "__main__":
    main()
