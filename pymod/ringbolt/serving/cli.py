"""The ``ringbolt`` command: ``serve`` an app (uvicorn names and defaults), ``doctor``,
``bench``. ``ringbolt module:attr`` is ``ringbolt serve module:attr``. Options and their
``RINGBOLT_*`` variables are in ``ringbolt.config``."""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import json
import logging
import os
import platform
import resource
import socket
import stat
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

from .. import _native
from . import config
from .listen import EXIT_USAGE, CliError, listen_socket
from .._version import __version__
from ..app import App, _ensure_logging
from .options import run_options

COMMANDS = ("serve", "routes", "bench", "doctor", "version")
logger = logging.getLogger("ringbolt")


class _Parser(argparse.ArgumentParser):
    """Errors are one line, like every other ``ringbolt: error:``."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"ringbolt: error: {message} (see {self.prog} --help)\n")


def _version_text() -> str:
    return f"ringbolt {__version__} with {platform.python_implementation()} {platform.python_version()} on Linux"


def _where(exc: BaseException) -> str:
    """`` (file.py:12)``: the innermost frame of the app's traceback, if any."""
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if "importlib" not in f.filename and not f.filename.endswith("ringbolt/serving/cli.py")]
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
    if isinstance(obj, App):
        return "native"
    from ..asgi import is_asgi_app  # (ASGI and WSGI serving: imported for such apps only)

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
        if args.root_path and hasattr(obj, "root_path"):  # ringbolt.fastapi's FastAPI: its root_path unless set
            if not args.root_path.startswith("/"):
                raise CliError(f"--root-path must start with '/': {args.root_path!r}")
            obj.root_path = obj.root_path or args.root_path.rstrip("/")
        elif args.root_path:
            logging.getLogger("ringbolt").warning("--root-path is for ASGI and WSGI apps: %s is a ringbolt.App, "
                                                  "whose routes do not use it", spec)
        return obj
    if interface == "asgi":
        if _is_starlette(obj):  # FastAPI's or Starlette's: its routes planned where they can be
            return _adopted(obj, args, say=True)
        from ..asgi import asgi_app

        return asgi_app(obj, lifespan=args.lifespan, root_path=args.root_path.rstrip("/"))
    from ..wsgi import wsgi_app

    return wsgi_app(obj, **_wsgi_options(args))


def _is_starlette(obj: Any) -> bool:
    """A FastAPI or Starlette application (only looked for once Starlette is imported)."""
    applications = sys.modules.get("starlette.applications")
    return applications is not None and isinstance(obj, applications.Starlette)


def _adopted(obj: Any, args: argparse.Namespace, *, say: bool) -> Any:
    """The FastAPI (or Starlette) app ``obj`` served through its planned routes
    (``ringbolt.fastapi.adopt``); ``say``: the start-up lines of what was planned."""
    from ..fastapi.adopt import adopt

    app = adopt(obj, plan=args.plan is not False, lifespan=args.lifespan, root_path=args.root_path.rstrip("/"))
    if say:
        report = app.report
        logger.info("%s", report.summary())
        if report.whole is None:
            for e in report.counted:
                if not e.planned:
                    logger.info("  %s: ASGI: %s", e.describe(), e.reason)
    return app


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
    import logging.config  # only --log-config needs it: 5.7 ms (with logging.handlers) of a 130 ms start

    try:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(json.load(f))
        elif path.endswith((".yaml", ".yml")):
            try:
                import yaml  # type: ignore[import-untyped]  # optional: only --log-config *.yaml needs it
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


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """``App.run`` keyword options from the parsed flags (None: the server's default)."""
    return run_options(args)


def _check_tls(options: dict[str, Any]) -> None:
    """Bad TLS files, keys or passwords: one line and exit 2 before anything listens."""
    try:
        _native.tls_check(options)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _serve(args: argparse.Namespace) -> int:
    if args.reload and args.reload_child_fd is None:
        from .reloader import Reloader  # (--reload only: its supervisor's socket helpers)

        return Reloader(args).run()
    _configure_logging(args)
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
    listener = listen_socket(args)
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
    probe = _native.probe_io_uring()
    print(f"kernel:            {os.uname().release}")
    print(f"io_uring:          {'available' if probe['available'] else 'unavailable'}")
    if probe["available"]:
        for key in ("tier", "defer_taskrun", "coop_taskrun", "ext_arg", "multishot_accept", "multishot_recv", "buf_ring",
                    "incremental_buffers"):
            print(f"  {key + ':':17}{probe[key]}")
        print(f"receive buffers:   {probe['receive_buffers']}")
    else:
        print(f"  reason:          {probe['error']}")
    print(f"io_uring_disabled: {_sysctl('kernel/io_uring_disabled')}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(f"RLIMIT_NOFILE:     {soft} (hard {hard})")
    print(f"somaxconn:         {_sysctl('net/core/somaxconn')}")
    print(f"CPUs available:    {len(os.sched_getaffinity(0))}")
    why = _native.ktls_unavailable_reason()
    ktls = (f"unavailable ({why})" if why else
            f"used (the kernel encrypts what TLS connections send: {', '.join(_native.ktls_ciphers())}; "
            f"key updates: {'yes' if _native.ktls_key_updates() else 'no (the kernel takes no new keys)'}; "
            f"receiving: {'TLS 1.2 and 1.3' if _native.ktls_key_updates() else 'TLS 1.2'}; "
            "--no-ssl-ktls: off)")
    print(f"kTLS:              {ktls}")
    will_use, code = _doctor_backend(probe, os.environ.get("RINGBOLT_IO", "").strip() or "auto")
    print(f"will use:          {will_use}")
    return code


def _sysctl(name: str) -> str:
    """/proc/sys/`name` as the kernel reports it, or "n/a" where it has none."""
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return "n/a"


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


# `ringbolt bench`: the load harness is the top-level package ringbolt_bench of the same
# wheel, beside this package and never imported by it: its arguments are handed to it by
# module name, so the runtime package's imports do not reach the harness.
BENCH_MODULE = "ringbolt_bench.cli"


def _bench(argv: list[str]) -> int:
    try:
        bench = importlib.import_module(BENCH_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in ("ringbolt_bench", BENCH_MODULE):
            raise
        print("ringbolt: error: ringbolt bench needs the ringbolt_bench package, which ships in "
              "ringbolt's wheel (reinstall ringbolt)", file=sys.stderr)
        return 1
    return int(bench.main(argv))


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


def _add_routes(sub: Any) -> None:
    p = sub.add_parser(
        "routes", help="list an app's routes and how each is served",
        description="List APP's routes: for a FastAPI or Starlette app, each one 'planned' (served through "
                    "ringbolt's own per-route plan) or 'ASGI: <reason>', as `ringbolt serve` would serve it.")
    p.add_argument("app", metavar="APP", help="module:attr or path/to/file.py:attr (attr defaults to app)")
    for flag in ("--app-dir", "--factory", "--plan", "--root-path", "--env-file"):
        o = config.BY_DEST[flag.lstrip("-").replace("-", "_")]
        if o.kind == "switch":
            p.add_argument(flag, dest=o.dest, action="store_const", const=True, default=None, help=o.help)
        elif o.kind == "bool":
            p.add_argument(flag, dest=o.dest, action=argparse.BooleanOptionalAction, default=None, help=o.help)
        else:
            p.add_argument(flag, dest=o.dest, default=None, metavar=o.metavar, help=o.help)


def _routes(args: argparse.Namespace) -> int:
    """``ringbolt routes APP``: one line per route, and what was planned."""
    obj = load_app(args.app, args.app_dir or ".")
    if args.factory:
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - a failing factory is an app that cannot be loaded
            raise CliError(f"--factory: {args.app}() failed: {_describe(exc)}") from None
    if args.plan is None and os.environ.get(config.BY_DEST["plan"].env):
        try:
            args.plan = config.parse_bool(os.environ[config.BY_DEST["plan"].env])
        except argparse.ArgumentTypeError as exc:
            raise CliError(f"{config.BY_DEST['plan'].env}: {exc}") from None
    args.lifespan = "off"
    args.root_path = args.root_path or ""
    if _is_starlette(obj):
        report = _adopted(obj, args, say=False).report
        for line in report.lines():
            print(line)
        print(report.summary())
        return 0
    if isinstance(obj, App):
        for d in obj._defs:
            print(f"{'WS' if d.websocket else ','.join(d.methods)} {d.path}  a ringbolt route")
        return 0
    kind = _kind(obj)
    if not kind:
        raise CliError(f"{args.app} is {_a(type(obj).__name__)}, not an application")
    print(f"{args.app} is {_KIND_NAMES[kind]}: every request goes to it as it is (only FastAPI and Starlette "
          "apps have their routes planned)")
    return 0


def _add_bench(sub: Any) -> None:
    # Listed here for `ringbolt --help`; main() hands `ringbolt bench ...` over before
    # parsing, and ringbolt_bench's own parser reads the rest (`ringbolt bench --help`).
    sub.add_parser("bench", help="load-test an app, optionally against uvicorn/Granian/fastpysgi")


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
    _add_routes(sub)
    _add_bench(sub)
    sub.add_parser("doctor", help="show what the kernel offers and what ringbolt will use")
    sub.add_parser("version", help="print the version")
    if args_in[:1] == ["bench"]:
        return _bench(args_in[1:])
    try:
        if args_in[:1] in (["serve"], ["routes"]):
            _load_env_file(args_in[1:])
        args = parser.parse_args(args_in)
        if args.command == "routes":
            return _routes(args)
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
    print(_version_text())
    return 0
