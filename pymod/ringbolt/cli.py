"""The ``ringbolt`` command: ``serve`` an app (uvicorn-style flags), ``doctor``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Sequence


def load_app(spec: str, app_dir: str = ".") -> Any:
    """Load ``module:attr`` or ``path/to/file.py:attr`` (attr defaults to ``app``)."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "app"
    if not module_name:
        raise SystemExit(f"ringbolt: error: invalid app {spec!r} (expected module:attr)")
    sys.path.insert(0, os.path.abspath(app_dir))
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None:
                raise SystemExit(f"ringbolt: error: cannot load {module_name}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[path.stem] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise SystemExit(f"ringbolt: error: could not import {module_name!r}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit(f"ringbolt: error: {module_name!r} has no attribute {attr!r}") from None
    return obj


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve an App", description="Serve a ringbolt App.")
    p.add_argument("app", help="module:attr or path/to/file.py:attr")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes under a supervisor (default: $WEB_CONCURRENCY or 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="reactor threads per worker (default: CPUs available // workers, at least 1)")
    p.add_argument("--limit-max-requests", type=int, default=None,
                   help="a worker drains and is replaced after this many requests (+ up to 10%% jitter)")
    p.add_argument("--app-dir", default=".", help="directory added to sys.path (default: .)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--max-body-size", type=int, default=None, help="bytes (default 16 MiB) -> 413")
    p.add_argument("--max-request-line", type=int, default=None, help="bytes (default 8192) -> 414")
    p.add_argument("--max-header-size", type=int, default=None, help="bytes (default 16384) -> 431")
    p.add_argument("--max-headers", type=int, default=None, help="fields (default 100) -> 431")
    p.add_argument("--header-timeout", type=int, default=None, help="seconds (default 10) -> 408")
    p.add_argument("--body-timeout", type=int, default=None, help="seconds between body reads (default 30)")
    p.add_argument(
        "--min-body-rate",
        type=int,
        default=None,
        help="bytes/s a request body must average once it has taken longer than --body-timeout; "
        "below it: 408 (default 1024, 0 = no floor)",
    )
    p.add_argument("--keep-alive-timeout", "--timeout-keep-alive", type=int, default=None, help="seconds (default 5)")
    p.add_argument("--write-timeout", type=int, default=None, help="seconds (default 30)")
    p.add_argument("--timeout-graceful-shutdown", type=int, default=None, help="drain deadline, seconds (default 30)")
    p.add_argument("--backlog", type=int, default=None)
    p.add_argument("--no-pin", action="store_true", help="do not pin reactor threads to CPUs")
    p.add_argument("--io", choices=["auto", "io_uring", "epoll"], default=None,
                   help="kernel interface (default auto: io_uring, else epoll; env RINGBOLT_IO)")
    p.add_argument("--limit-connections", type=int, default=None,
                   help="per worker; accepting pauses at the cap and resumes below it")
    p.add_argument("--limit-concurrency", type=int, default=None,
                   help="requests waiting for Python per worker; above it answer 503 with Retry-After")
    p.add_argument("--handler-threads", type=int, default=None,
                   help="run handlers on N Python threads instead of inline on the reactors "
                        "(for handlers that block; default 0 = inline)")
    p.add_argument("--lifespan", choices=["auto", "on", "off"], default="auto",
                   help="ASGI lifespan: auto (used if the app supports it), on (a failure is fatal), off")
    p.add_argument("--wsgi-threads", type=int, default=None, metavar="N",
                   help="WSGI app: threads per worker it runs on (default 2x CPUs available, 4..32)")
    p.add_argument("--metrics", nargs="?", const="/metrics", default=None, metavar="PATH",
                   help="serve Prometheus metrics natively at PATH (default /metrics)")


def _serve(args: argparse.Namespace) -> int:
    from .app import App

    app = load_app(args.app, args.app_dir)
    if not isinstance(app, App):
        from .asgi import asgi_app, is_asgi_app
        from .wsgi import is_wsgi_app, wsgi_app

        if is_asgi_app(app):
            app = asgi_app(app, lifespan=getattr(args, "lifespan", "auto"))
        elif is_wsgi_app(app):
            app = wsgi_app(app, threads=getattr(args, "wsgi_threads", None))
        else:
            print(f"ringbolt: error: {args.app} is a {type(app).__name__}: neither a ringbolt.App nor an "
                  f"ASGI 3 or WSGI application", file=sys.stderr)
            return 2
    options = {
        "max_body_size": args.max_body_size,
        "max_request_line": args.max_request_line,
        "max_header_size": args.max_header_size,
        "max_headers": args.max_headers,
        "header_timeout": args.header_timeout,
        "body_timeout": args.body_timeout,
        "min_body_rate": args.min_body_rate,
        "keep_alive_timeout": args.keep_alive_timeout,
        "write_timeout": args.write_timeout,
        "graceful_timeout": args.timeout_graceful_shutdown,
        "backlog": args.backlog,
        "io": args.io,
        "limit_connections": args.limit_connections,
        "limit_concurrency": args.limit_concurrency,
        "metrics": args.metrics,
        "handler_threads": args.handler_threads,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if args.no_pin:
        options["pin_threads"] = False
    try:
        app.run(host=args.host, port=args.port, threads=args.threads, log_level=args.log_level,
                workers=args.workers, limit_max_requests=args.limit_max_requests, **options)
    except OSError as exc:
        print(f"ringbolt: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as exc:
        print(f"ringbolt: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import resource

    from . import _native

    probe = _native.probe_io_uring()
    print(f"kernel:            {os.uname().release}")
    print(f"io_uring:          {'available' if probe['available'] else 'unavailable'}")
    if probe["available"]:
        for key in ("tier", "defer_taskrun", "coop_taskrun", "ext_arg", "multishot_accept", "multishot_recv", "buf_ring"):
            print(f"  {key + ':':17}{probe[key]}")
    else:
        print(f"  reason:          {probe['error']}")
    try:
        disabled = Path("/proc/sys/kernel/io_uring_disabled").read_text().strip()
    except OSError:
        disabled = "n/a"
    print(f"io_uring_disabled: {disabled}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(f"RLIMIT_NOFILE:     {soft} (hard {hard})")
    try:
        somax = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    except OSError:
        somax = "n/a"
    print(f"somaxconn:         {somax}")
    print(f"CPUs available:    {len(os.sched_getaffinity(0))}")
    print(f"will use:          {probe['tier'] if probe['available'] else 'nothing (io_uring required)'}")
    return 0 if probe["available"] else 1


def _find_harness() -> Path | None:
    env = os.environ.get("RINGBOLT_HARNESS")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        candidate = d / "benchmarks" / "load" / "harness.py"
        if candidate.is_file():
            return candidate
    return None


def _bench(args: argparse.Namespace) -> int:
    import subprocess

    harness = _find_harness()
    if harness is None:
        print("ringbolt: error: `ringbolt bench` drives benchmarks/load/harness.py from a ringbolt source "
              "checkout: run it inside one, or set RINGBOLT_HARNESS=/path/to/harness.py", file=sys.stderr)
        return 2
    venv_python = harness.parent / ".venv-peers" / "bin" / "python"  # has matplotlib for the charts
    python = str(venv_python) if venv_python.exists() else sys.executable
    cmd = [python, str(harness), "--app", args.app, "--path", args.path, "--method", args.method,
           "--duration", args.duration, "--connections", args.connections, "--rounds", args.rounds,
           "--server-cpus", args.server_cpus, "--load-cpus", args.load_cpus, "--generator", args.generator,
           "--out", args.out]
    if args.compare:
        cmd += ["--compare", args.compare]
    env = {**os.environ, "RINGBOLT_PYTHON": sys.executable}
    return subprocess.call(cmd, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ringbolt", description="ringbolt: a Linux web runtime for Python on io_uring")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    b = sub.add_parser("bench", help="load-test an app with the peer-comparison harness (source checkout)",
                       description="Serve APP pinned to one CPU, load it with wrk pinned to another, "
                                   "interleave with --compare peers, report medians (benchmarks/load/harness.py).")
    b.add_argument("app", help="module:attr or path/to/file.py:attr")
    b.add_argument("--path", default="/")
    b.add_argument("--method", default="GET")
    b.add_argument("--compare", default="", help="uvicorn=module:asgi_app,granian=module:asgi_app")
    b.add_argument("--duration", default="10")
    b.add_argument("--connections", default="64")
    b.add_argument("--rounds", default="3")
    b.add_argument("--server-cpus", default="0")
    b.add_argument("--load-cpus", default="1")
    b.add_argument("--generator", default="wrk")
    b.add_argument("--out", default="ringbolt-bench.md")
    sub.add_parser("doctor", help="show what the kernel offers and what ringbolt will use")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "bench":
        return _bench(args)
    from . import __version__

    print(f"ringbolt {__version__}")
    return 0
