"""``ringbolt bench APP [options]``: install the peers asked for (``peers.py``), then run
the harness beside this file with the peers' interpreter. ``ringbolt``'s command line
hands everything after ``bench`` to ``main`` by module name."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from . import peers

EXIT_USAGE = 2  # bad arguments (as argparse, and as ringbolt's other commands)


class _Parser(argparse.ArgumentParser):
    """Errors are one line, like every other ``ringbolt: error:``."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"ringbolt: error: {message} (see {self.prog} --help)\n")


def find_harness() -> Path:
    """The harness that ships beside this file (RINGBOLT_HARNESS: another one, by path)."""
    env = os.environ.get("RINGBOLT_HARNESS")
    return Path(env) if env else Path(__file__).resolve().parent / "harness.py"


def parser(prog: str = "ringbolt bench") -> argparse.ArgumentParser:
    b = _Parser(prog=prog,
                description="Serve APP pinned to one CPU, load it with wrk pinned to another, "
                            "interleave with --compare peers, report medians (ringbolt_bench/harness.py). "
                            "Peers are installed on first use into ~/.cache/ringbolt/bench-peers "
                            "(RINGBOLT_BENCH_PEERS: another virtualenv).")
    b.add_argument("app", help="module:attr or path/to/file.py:attr")
    b.add_argument("--path", default="/")
    b.add_argument("--method", default="GET")
    b.add_argument("--compare", default="", help="peers serving an ASGI version of the app: "
                   "uvicorn=module:asgi_app,granian=module:asgi_app (also fastpysgi)")
    b.add_argument("--duration", default="10")
    b.add_argument("--connections", default="64")
    b.add_argument("--rounds", default="3")
    b.add_argument("--server-cpus", default="0")
    b.add_argument("--load-cpus", default="1")
    b.add_argument("--generator", default="wrk")
    b.add_argument("--out", default="ringbolt-bench.md", help="the Markdown report")
    b.add_argument("--results", help="per-round logs, raw JSON and charts (default: OUT's name + -results/)")
    b.add_argument("--charts", action="store_true", help="draw charts (installs matplotlib into the peers' venv)")
    return b


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    harness = find_harness()
    venv = peers.cache_dir()
    names = [item.partition("=")[0].strip() for item in args.compare.split(",") if item.strip()]
    try:
        peers.ensure(names, venv, charts=args.charts)
    except peers.PeerError as exc:
        print(f"ringbolt: error: {exc}", file=sys.stderr)
        return 1
    venv_python = venv / "bin" / "python"  # matplotlib, when installed there, draws the charts
    python = str(venv_python) if venv_python.exists() else sys.executable
    out = Path(args.out).absolute()
    cmd = [python, str(harness), "--app", args.app, "--path", args.path, "--method", args.method,
           "--duration", args.duration, "--connections", args.connections, "--rounds", args.rounds,
           "--server-cpus", args.server_cpus, "--load-cpus", args.load_cpus, "--generator", args.generator,
           "--out", str(out), "--peers-venv", str(venv),
           "--results", args.results or str(out.parent / f"{out.stem}-results")]
    if args.compare:
        cmd += ["--compare", args.compare]
    env = {**os.environ, "RINGBOLT_PYTHON": sys.executable}
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
