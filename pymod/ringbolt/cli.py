"""The ``ringbolt`` command: ``serve`` an app (uvicorn names and defaults), ``doctor``,
``bench``. ``ringbolt module:attr`` is ``ringbolt serve module:attr``. Options and their
``RINGBOLT_*`` variables are in ``ringbolt.config``."""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import logging
import os
import socket
import stat
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

from . import config
from .options import run_options

COMMANDS = ("serve", "bench", "doctor", "version")
EXIT_USAGE = 2  # bad arguments, an app that cannot be imported (as argparse)


class CliError(Exception):
    """Printed as one line ``ringbolt: error: ...``; exits ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """Errors are one line, like every other ``ringbolt: error:``."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"ringbolt: error: {message} (see {self.prog} --help)\n")


def _version_text() -> str:
    import platform

    from . import __version__

    return f"ringbolt {__version__} with {platform.python_implementation()} {platform.python_version()} on Linux"


def _where(exc: BaseException) -> str:
    """`` (file.py:12)``: the innermost frame of the app's traceback, if any."""
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if "importlib" not in f.filename and not f.filename.endswith("ringbolt/cli.py")]
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {os.path.relpath(last.filename) if not last.filename.startswith('<') else last.filename}:{last.lineno})"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc}"  # names the file and line itself
    text = str(exc)
    return f"{type(exc).__name__}{': ' + text if text else ''}{_where(exc)}"


def load_app(spec: str, app_dir: str = ".", *, show_traceback: bool = False) -> Any:
    """Load ``module:attr`` or ``path/to/file.py:attr`` (attr defaults to ``app``;
    ``attr`` may be dotted). Raises ``CliError`` (exit 2) with one line naming the cause."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "app"
    if not module_name:
        raise CliError(f"invalid app {spec!r} (expected module:attr)")
    sys.path.insert(0, os.path.abspath(app_dir))
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            if not path.is_file():
                raise CliError(f"could not import {module_name!r}: no such file")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None:
                raise CliError(f"cannot load {module_name}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[path.stem] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except CliError:
        raise
    except ModuleNotFoundError as exc:
        if show_traceback:
            traceback.print_exc()
        if exc.name is not None and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            raise CliError(f"could not import {module_name!r}: no module named {exc.name!r} "
                           f"(looked in {os.path.abspath(app_dir)} and sys.path)") from None
        raise CliError(f"importing {module_name!r} failed: {_describe(exc)}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of the app's import is one line
        if show_traceback:
            traceback.print_exc()
        raise CliError(f"importing {module_name!r} failed: {_describe(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CliError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _kind(obj: Any) -> str:
    """What ``--interface auto`` sees: native, asgi, wsgi, or "" (not an app)."""
    from .app import App
    from .asgi import is_asgi_app

    if isinstance(obj, App):
        return "native"
    if is_asgi_app(obj):
        return "asgi"
    if callable(obj):
        return "wsgi"
    return ""


_KIND_NAMES = {"native": "a ringbolt.App", "asgi": "an ASGI 3 application", "wsgi": "a WSGI callable"}


def _as_app(obj: Any, spec: str, args: argparse.Namespace) -> Any:
    """The ringbolt ``App`` to run for ``obj``, by ``--interface`` (auto: detect)."""
    kind = _kind(obj)
    if not kind:
        raise CliError(f"{spec} is {_a(type(obj).__name__)}, not an application "
                       f"(a ringbolt.App, an ASGI 3 app or a WSGI callable)")
    interface = kind if args.interface == "auto" else args.interface
    # An explicit --interface must match what the object is: an ASGI app served as WSGI
    # (or the reverse) would fail on every request instead of at start-up.
    if interface != kind:
        raise CliError(f"--interface {interface}: {spec} is {_KIND_NAMES[kind]}, not "
                       f"{_KIND_NAMES[interface]} (use --interface {kind} or auto)")
    if interface != "native" and args.root_path and not args.root_path.startswith("/"):
        raise CliError(f"--root-path must start with '/': {args.root_path!r}")
    if interface == "native":
        if args.root_path:
            logging.getLogger("ringbolt").warning("--root-path is for ASGI and WSGI apps: %s is a ringbolt.App, "
                                                  "whose routes do not use it", spec)
        return obj
    if interface == "asgi":
        from .asgi import asgi_app

        return asgi_app(obj, lifespan=args.lifespan, root_path=args.root_path.rstrip("/"))
    try:
        from .wsgi import wsgi_app
    except ImportError:
        raise CliError(f"{spec} is a WSGI callable, and WSGI mode is not available in this ringbolt "
                       f"(ringbolt.wsgi.wsgi_app is missing)") from None
    return wsgi_app(obj, **_wsgi_options(args))


def _wsgi_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``ringbolt.wsgi.wsgi_app`` (WSGI-only flags go here)."""
    options: dict[str, Any] = {}
    if args.root_path:
        options["root_path"] = args.root_path.rstrip("/")
    if args.wsgi_threads is not None:
        options["threads"] = args.wsgi_threads
    return options


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _configure_logging(args: argparse.Namespace) -> None:
    if not args.log_config:
        return
    path = args.log_config
    import logging.config

    try:
        if path.endswith(".json"):
            import json

            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(json.load(f))
        elif path.endswith((".yaml", ".yml")):
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError:
                raise CliError(f"--log-config {path}: YAML needs PyYAML (pip install pyyaml)") from None
            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(yaml.safe_load(f))
        else:
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad logging configuration is a bad argument
        raise CliError(f"--log-config {path}: {type(exc).__name__}: {exc}") from None


def _listen_socket(args: argparse.Namespace) -> socket.socket | None:
    """The socket for --uds / --fd (and the reloader's), or None: the server binds host:port."""
    if args.reload_child_fd is not None:
        return socket.socket(fileno=args.reload_child_fd)
    if args.fd is not None:
        if args.uds:
            raise CliError("--fd and --uds exclude each other")
        return inherited_socket(args.fd)
    if args.uds:
        return bind_unix(args.uds, args.backlog or 4096)
    return None


def inherited_socket(fd: int) -> socket.socket:
    """The listening stream socket ``fd`` (inherited from systemd or a supervisor)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise CliError(f"--fd {fd}: not a socket ({exc.strerror or exc})") from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise CliError(f"--fd {fd}: not a listening stream socket")
    return sock


def bind_unix(path: str, backlog: int) -> socket.socket:
    """A listening unix socket at ``path`` (mode 0666, like uvicorn). A socket file left
    by a server that is gone is replaced; one a live server accepts on is refused, as a
    TCP port in use is."""
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise CliError(f"--uds {path}: exists and is not a socket", code=1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except (ConnectionRefusedError, FileNotFoundError):
                os.unlink(path)  # stale: nobody accepts on it
            else:
                raise CliError(f"cannot listen on unix:{path}: Address already in use (another process serves it)",
                               code=1)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on unix:{path}: {exc.strerror or exc}", code=1) from None
    return sock


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """``App.run`` keyword options from the parsed flags (None: the server's default)."""
    return run_options(args)


def _check_tls(options: dict[str, Any]) -> None:
    """Bad TLS files, keys or passwords: one line and exit 2 before anything listens."""
    from . import _native

    try:
        _native.tls_check(options)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _serve(args: argparse.Namespace) -> int:
    if args.reload and args.reload_child_fd is None:
        from .reloader import Reloader

        return Reloader(args).run()
    _configure_logging(args)
    from .app import _ensure_logging

    _ensure_logging(args.log_level)
    debug = args.log_level in ("debug", "trace")
    obj = load_app(args.app, args.app_dir, show_traceback=debug)
    if args.factory:
        if not callable(obj):
            raise CliError(f"--factory: {args.app} is {_a(type(obj).__name__)}, not a function")
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - a failing factory is an app that cannot be loaded
            if debug:
                traceback.print_exc()
            raise CliError(f"--factory: {args.app}() failed: {_describe(exc)}") from None
    app = _as_app(obj, args.app, args)
    options = _run_options(args)
    _check_tls(options)
    listener = _listen_socket(args)
    if listener is not None:
        options["bind_name"] = _bind_name(listener)
        # Handed over: the server (or the supervisor) closes it, so that no descriptor of
        # it here outlives the reactors' drain (see App._serve).
        options["listen_fds"] = [listener.detach()]
        # bound here (--uds): a stop of this process is the socket's stop (the supervisor
        # turns new clients away before its workers drain); --fd's and the reloader's are not
        options["owns_listeners"] = args.uds is not None and args.reload_child_fd is None
    try:
        app.run(host=args.host, port=args.port, threads=args.threads, log_level=args.log_level,
                workers=args.workers, limit_max_requests=args.limit_max_requests, **options)
    except OSError as exc:
        print(f"ringbolt: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as exc:
        print(f"ringbolt: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if listener is not None and args.uds and args.reload_child_fd is None:
            _unlink_socket(args.uds)
    return 0


def _bind_name(sock: socket.socket) -> str:
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name if isinstance(name, str) else name.decode(errors='replace')}"
    host = name[0] if ":" not in name[0] else f"[{name[0]}]"
    return f"http://{host}:{name[1]}"


def _unlink_socket(path: str) -> None:
    """Remove our socket file once the server has stopped (the server closed the socket)."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass


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
    will_use, code = _doctor_backend(probe, os.environ.get("RINGBOLT_IO", "").strip() or "auto")
    print(f"will use:          {will_use}")
    return code


def _doctor_backend(probe: dict[str, Any], io: str) -> tuple[str, int]:
    """What ``serve`` will run on, as ``uring/server.cpp`` decides it (io_uring, else the
    epoll fallback), and the exit code: 1 only where ``serve`` would refuse to start."""
    if io == "epoll":
        return "epoll (requested: RINGBOLT_IO=epoll)", 0
    if probe["available"]:
        return probe["tier"], 0
    if io == "io_uring":
        return "nothing: RINGBOLT_IO=io_uring refuses to start without io_uring", 1
    return f"epoll (fallback: {probe['error']})", 0


def _find_harness() -> Path:
    """The harness that ships in the package (RINGBOLT_HARNESS: another one, by path)."""
    env = os.environ.get("RINGBOLT_HARNESS")
    return Path(env) if env else Path(__file__).resolve().parent / "bench" / "harness.py"


def _bench(args: argparse.Namespace) -> int:
    import subprocess

    from .bench import peers

    harness = _find_harness()
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


def _add_serve(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="serve an app (ringbolt.App, ASGI 3 or WSGI)",
        description="Serve APP: a ringbolt.App, an ASGI 3 application or a WSGI callable. Every option can "
                    "also be set as RINGBOLT_<OPTION> (e.g. RINGBOLT_PORT=9000, RINGBOLT_ACCESS_LOG=false); "
                    "the command line wins.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("app", nargs="?", metavar="APP",
                   help="module:attr or path/to/file.py:attr (attr defaults to app) [env RINGBOLT_APP]")
    p.add_argument("--version", action="version", version=_version_text())
    config.add_options(p)


def _add_bench(sub: Any) -> None:
    b = sub.add_parser("bench", help="load-test an app, optionally against uvicorn/Granian/fastpysgi",
                       description="Serve APP pinned to one CPU, load it with wrk pinned to another, "
                                   "interleave with --compare peers, report medians (ringbolt/bench/harness.py). "
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


def _implicit_serve(argv: list[str]) -> list[str]:
    """``ringbolt main:app --port 9000`` (or ``ringbolt --port 9000 main:app``, or just
    ``ringbolt`` with RINGBOLT_APP set) means ``ringbolt serve ...``."""
    if not argv:
        return ["serve"] if os.environ.get("RINGBOLT_APP") else argv
    first = argv[0]
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return argv
    return ["serve", *argv]


def _load_env_file(argv: list[str]) -> None:
    """``--env-file`` (or RINGBOLT_ENV_FILE) is read before the options are resolved, so
    RINGBOLT_* lines in it count too."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--env-file")
    known, _ = pre.parse_known_args(argv)
    path = known.env_file or os.environ.get("RINGBOLT_ENV_FILE")
    if path:
        config.load_env_file(path)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = _implicit_serve(list(sys.argv[1:] if argv is None else argv))
    parser = _Parser(prog="ringbolt", description="ringbolt: a Linux web runtime for Python on io_uring. "
                     "`ringbolt APP [options]` is `ringbolt serve APP [options]`.")
    parser.add_argument("--version", action="version", version=_version_text())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_serve(sub)
    _add_bench(sub)
    sub.add_parser("doctor", help="show what the kernel offers and what ringbolt will use")
    sub.add_parser("version", help="print the version")
    try:
        if args_in[:1] == ["serve"]:
            _load_env_file(args_in[1:])
        args = parser.parse_args(args_in)
        if args.command == "serve":
            config.resolve(args)
            if not args.app:
                args.app = os.environ.get("RINGBOLT_APP")
            if not args.app:
                raise CliError("no app given: ringbolt serve module:attr (or set RINGBOLT_APP)")
            args.argv = args_in  # the reloader runs the same command line in its child
            return _serve(args)
    except (CliError, config.ConfigError) as exc:
        print(f"ringbolt: error: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, CliError) else EXIT_USAGE
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "bench":
        return _bench(args)
    print(_version_text())
    return 0
