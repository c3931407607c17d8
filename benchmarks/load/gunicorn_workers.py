#!/usr/bin/env python3
"""gunicorn's worker classes on the same small app: gunicorn's own sync and gthread workers
and ringbolt's worker on the plain WSGI app (apps/wsgi_app.py), uvicorn's worker
(uvicorn_worker.UvicornWorker) and ringbolt's worker on its ASGI twin (apps/uvicorn_asgi.py),
and the C io_uring floor (c_uring_hello.c, one thread: what this machine's kernel charges
for a request with no framework) in the same run. One gunicorn arbiter with one worker
each, pinned to --server-cpu (arbiter and worker), wrk (-t1) pinned to --load-cpu;
systems interleave, round after round, each run a fresh server. Per request: CPU µs of
the server's process tree (arbiter + worker, every thread, utime+stime from /proc) over
the measured window, and req/s. Every system must answer GET /plaintext with 200 and
"Hello, World!" before it is measured.

    python -m pip install gunicorn uvicorn-worker "uvicorn[standard]"   # beside ringbolt
    python benchmarks/load/gunicorn_workers.py --server-cpu 1 --load-cpu 0 --rounds 3

--c-floor names the floor's binary (built from c_uring_hello.c with cc when it is
missing; liburing >= 2.3); --systems without c-uring leaves it out.

--python (default: this interpreter) runs every gunicorn; it needs ringbolt, gunicorn and
uvicorn-worker. Load goes to 127.0.0.1 only, each run bounded by --duration (and wrk's own
timeout). Prints a Markdown table of medians and each system's CPU per request against
gunicorn's sync worker.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from proc_util import add_pinning, cpu, free_port, stop, wait_for_200

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")

# name: (worker class and its flags, app); "c-uring" is not gunicorn: the floor
SYSTEMS: dict[str, tuple[list[str], str]] = {
    "sync": (["-k", "sync"], "wsgi_app:app"),
    "gthread": (["-k", "gthread", "--threads", "4"], "wsgi_app:app"),
    "uvicorn": (["-k", "uvicorn_worker.UvicornWorker"], "uvicorn_asgi:app"),
    "ringbolt-wsgi": (["-k", "ringbolt.workers.RingboltWorker"], "wsgi_app:app"),
    "ringbolt-asgi": (["-k", "ringbolt.workers.RingboltWorker"], "uvicorn_asgi:app"),
    "c-uring": (["(the C io_uring floor, no gunicorn)"], "c_uring_hello.c"),
}
FLOOR = "c-uring"
PLAINTEXT = b"Hello, World!"
NEEDS = {"gunicorn": "gunicorn", "uvicorn_worker": "uvicorn-worker", "ringbolt": "ringbolt (make install)"}


def check_python(python: str) -> None:
    code = "import importlib.util, sys; sys.stdout.write(' '.join(m for m in sys.argv[1:] if not importlib.util.find_spec(m)))"
    missing = subprocess.run([python, "-c", code, *NEEDS], capture_output=True, text=True, timeout=60).stdout.split()
    if missing:
        sys.exit(f"{python} lacks {', '.join(NEEDS[m] for m in missing)}: pip install them beside ringbolt")


def build_floor(binary: str) -> None:
    """The C floor's binary, compiled from c_uring_hello.c when it is not there."""
    if os.path.exists(binary):
        return
    os.makedirs(os.path.dirname(binary) or ".", exist_ok=True)
    cc = ["cc", "-O2", "-o", binary, os.path.join(HERE, "c_uring_hello.c"), "-luring"]
    done = subprocess.run(cc, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cc)} failed (liburing >= 2.3 needed; or leave c-uring out of --systems):\n"
                 f"{done.stderr[-2000:]}")


def check_answer(url: str, system: str) -> None:
    """A system that answers wrongly is reported, not measured."""
    with urllib.request.urlopen(url, timeout=5) as r:
        body = r.read()
    if r.status != 200 or body != PLAINTEXT:
        raise RuntimeError(f"{system}: GET {url} answered {r.status} {body[:100]!r}, not 200 {PLAINTEXT!r}")


def command(args: argparse.Namespace, system: str, port: int) -> list[str]:
    if system == FLOOR:
        return ["taskset", "-c", args.server_cpu, args.c_floor, str(port)]
    worker, app = SYSTEMS[system]
    control = ["--no-control-socket"] if args.no_control_socket else []
    return ["taskset", "-c", args.server_cpu, args.python, "-m", "gunicorn", *worker, "--workers", "1",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning", *control, app]


def wrk(args: argparse.Namespace, url: str, seconds: int) -> str:
    cmd = ["taskset", "-c", args.load_cpu, "wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout


def one(args: argparse.Namespace, system: str) -> dict[str, Any]:
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"gunicorn-{system}-", suffix=".log", delete=False)
    srv = subprocess.Popen(command(args, system, port), cwd=APPS, start_new_session=True,
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/plaintext"
        wait_for_200(url, system, 300)
        check_answer(url, system)
        wrk(args, url, args.warmup)
        c0 = cpu(srv.pid)
        out = wrk(args, url, args.duration)
        c1 = cpu(srv.pid)
        total_m = re.search(r"(\d+) requests in", out)
        rps_m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if total_m is None or rps_m is None or int(total_m.group(1)) == 0:
            raise RuntimeError(f"{system}: wrk measured nothing (server log {log.name}):\n{out[-2000:]}")
        total = int(total_m.group(1))
        errors = re.search(r"Socket errors:.*|Non-2xx.*", out)
        if errors:  # what the server said meanwhile (its log stays for a look)
            print(f"{system}: wrk: {errors.group(0)}; server log {log.name}:\n"
                  f"{open(log.name, errors='replace').read()[-3000:]}", file=sys.stderr)
        else:
            os.unlink(log.name)
        return {"rps": float(rps_m.group(1)),
                "cpu_us": (c1[0] + c1[1] - c0[0] - c0[1]) * 1e6 / total,
                "sys_us": (c1[1] - c0[1]) * 1e6 / total, "requests": total,
                "errors": errors.group(0) if errors else ""}
    finally:
        log.close()
        try:
            stop(srv, 20, group=True)  # TERM to the arbiter and its worker (their own session)
        except ProcessLookupError:  # the whole group had exited already
            srv.wait()
        time.sleep(0.3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"from {', '.join(SYSTEMS)}")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="measured seconds per run")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--python", default=sys.executable, help="the interpreter running gunicorn (default: this one)")
    ap.add_argument("--c-floor", default=os.path.join(HERE, ".bin", "c_uring_hello"),
                    help="the C io_uring floor's binary (built from c_uring_hello.c when missing)")
    add_pinning(ap)
    args = ap.parse_args()
    systems = args.systems.split(",")
    for s in systems:
        if s not in SYSTEMS:
            sys.exit(f"unknown system {s!r} (known: {', '.join(SYSTEMS)})")
    check_python(args.python)
    if FLOOR in systems:
        args.c_floor = os.path.abspath(args.c_floor)
        build_floor(args.c_floor)
    probe = subprocess.run([args.python, "-c", "import gunicorn, gunicorn.config as c; print(gunicorn.__version__, "
                            "'control_socket_disable' in c.Config().settings)"], capture_output=True, text=True,
                           timeout=60).stdout.split()
    version, args.no_control_socket = probe[0], probe[1] == "True"
    res: dict[str, list[dict[str, float]]] = {}
    up0 = os.popen("uptime").read().strip()
    for rnd in range(args.rounds):
        for system in systems if rnd % 2 == 0 else systems[::-1]:
            r = one(args, system)
            res.setdefault(system, []).append(r)
            print(f"round {rnd} {system}: {r['rps']:,.0f} req/s, {r['cpu_us']:.1f} CPU µs/req "
                  f"({r['sys_us']:.1f} system) {r['errors']}", file=sys.stderr, flush=True)
    up1 = os.popen("uptime").read().strip()
    print(f"command: `{' '.join(sys.argv)}`\n\ngunicorn {version}; machine load before: `{up0}`  \n"
          f"machine load after: `{up1}`\n")
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s GET /plaintext, server (arbiter + 1 worker; the floor: "
          f"one thread) on CPU {args.server_cpu}, wrk on CPU {args.load_cpu}, {args.rounds} rounds, medians:\n")
    print("| worker | app | req/s | CPU µs/req (rounds) | system µs/req | sync's CPU / this | this / the floor's "
          "| wrk errors |")
    print("|---|---|---:|---|---:|---:|---:|---|")
    med = {s: {k: statistics.median(float(r[k]) for r in res[s]) for k in ("rps", "cpu_us", "sys_us")}
           for s in systems}
    for s in systems:
        m = med[s]
        rounds = ", ".join(f"{r['cpu_us']:.1f}" for r in res[s])
        ratio = f"{med['sync']['cpu_us'] / m['cpu_us']:.2f}x" if "sync" in med else ""
        floor = f"{m['cpu_us'] / med[FLOOR]['cpu_us']:.2f}x" if FLOOR in med else ""
        errs = "; ".join(sorted({str(r["errors"]) for r in res[s] if r["errors"]})) or "none"
        print(f"| {' '.join(SYSTEMS[s][0])} | {SYSTEMS[s][1]} | {m['rps']:,.0f} | {m['cpu_us']:.1f} ({rounds}) "
              f"| {m['sys_us']:.1f} | {ratio} | {floor} | {errs} |")


if __name__ == "__main__":
    main()
