"""ringbolt as a gunicorn worker class: ``gunicorn -k ringbolt.workers.RingboltWorker app:app``.

gunicorn's arbiter binds the sockets, forks the workers, watches their heartbeat files and
turns HUP, TERM, QUIT, INT, TTIN and TTOU into reloads, drains, quick stops and more or
fewer workers; each worker serves the sockets it inherited with ringbolt's native server
(the app told apart as ``ringbolt serve`` does: a ringbolt.App, else ASGI 3, else WSGI).
gunicorn's settings become ringbolt's options where they mean the same thing
(``plan_from``: docs/deployment.md has the table); ringbolt's own options without a
gunicorn setting come from their ``RINGBOLT_*`` variables.

The heartbeat: the arbiter kills a worker whose ``notify()`` stops for ``--timeout``
seconds. Python threads answer requests here (the WSGI pool, the event loop) while C++
reactors do the I/O, so a beat from a thread of its own would keep ticking while the app
is stuck. Each beat is earned instead (``_Heartbeat``): it runs Python, so a handler
holding the GIL stops it; for an app with an event loop the beat itself runs as a
callback on that loop, so a handler blocking the loop stops it; and requests waiting for
every handler thread with no answer since the last beat stop it."""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import _native
from . import config
from ..app import App
from ..asgi import is_asgi_app
from .config import OPTIONS, ConfigError
from .options import CLI_ONLY, RENAMED, RUN_PARAMETERS, check_run_options, check_run_values, run_options
from .supervisor import StartupHookError
from ..wsgi import is_wsgi_app

try:
    from gunicorn.errors import AppImportError  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from gunicorn.workers.base import Worker  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError as _exc:  # pragma: no cover - what a user without gunicorn sees
    raise ImportError("ringbolt.workers is a gunicorn worker class: it needs gunicorn (pip install gunicorn)") from _exc

__all__ = ["RingboltWorker", "WorkerPlan", "plan_from", "translate_access_format"]

logger = logging.getLogger("ringbolt")

WORKER_BOOT_ERROR = 3  # gunicorn's Arbiter.WORKER_BOOT_ERROR: the arbiter stops instead of restarting
QUICK_EXIT_GRACE = 1.0  # QUIT/INT: seconds the in-flight requests get before the worker leaves
HEAD_FLOOR = 16384  # ringbolt's default --max-header-size

# gunicorn's limits as its parser applies them (gunicorn/http/message.py)
_GUNICORN_MAX_REQUEST_LINE = 8190
_GUNICORN_UNLIMITED_LINE = 1 << 20  # what --limit-request-line 0 means to gunicorn
_GUNICORN_DEFAULT_FIELD_SIZE = 8190
_RINGBOLT_MAX_HEADERS = 128  # http/parser.hpp max_header_fields

_PROXY_PROTOCOL = {"v1": "v1", "v2": "v2", "auto": "any"}  # gunicorn's modes -> ringbolt's

# gunicorn's access log atoms (gunicorn/glogging.py) that ringbolt's native access log has
# too, under the same letter; %(p)s is the worker's pid to gunicorn (the client port to
# ringbolt) and %(l)s / %(u)s are always '-' for a request without HTTP auth parsing.
_SAME_ATOMS = frozenset("hrmUqHsBbDLt")
_GUNICORN_ATOM = re.compile(r"%\((\{[^}]*\}[ieo]|[A-Za-z]+)\)s|%%|%")

# ringbolt options (config.OPTIONS dests) that a gunicorn setting decides here, and which:
# a RINGBOLT_* variable for one of them is ignored with a warning naming the setting.
_FROM_GUNICORN: Mapping[str, str] = {
    "host": "--bind", "port": "--bind", "uds": "--bind", "fd": "--bind", "backlog": "--backlog",
    "workers": "--workers", "wsgi_threads": "--threads", "handler_threads": "--threads",
    "limit_max_requests": "--max-requests", "timeout_keep_alive": "--keep-alive",
    "timeout_graceful_shutdown": "--graceful-timeout", "max_request_line": "--limit-request-line",
    "max_headers": "--limit-request-fields", "max_header_size": "--limit-request-field_size",
    "forwarded_allow_ips": "--forwarded-allow-ips", "proxy_headers": "--forwarded-allow-ips",
    "proxy_protocol": "--proxy-protocol", "ssl_keyfile": "--keyfile", "ssl_certfile": "--certfile",
    "ssl_ca_certs": "--ca-certs", "ssl_cert_reqs": "--cert-reqs", "ssl_ciphers": "--ciphers",
    "access_log": "--access-logfile", "access_log_format": "--access-logformat", "log_level": "--log-level",
    "log_config": "--log-config", "reload": "--reload", "reload_dir": "--reload-extra-file",
    "reload_child_fd": "the reloader", "app_dir": "--chdir and --pythonpath", "env_file": "--env",
    "factory": "APP's module:factory() form", "limit_connections": "--worker-connections",
    "no_pin": "the arbiter (its workers have no CPU slot: reactors are not pinned)",
    "http": "--http-protocols", "http2": "--http-protocols",
}
# The same, for settings only newer gunicorn releases have: without the setting, the
# RINGBOLT_* variable is taken.
_FROM_GUNICORN_IF_SET: Mapping[str, tuple[str, str]] = {
    "root_path": ("root_path", "--root-path"), "lifespan": ("asgi_lifespan", "--asgi-lifespan"),
    "loop": ("asgi_loop", "--asgi-loop"), "ws_max_size": ("websocket_max_message_size", "--websocket-max-message-size"),
}

# gunicorn settings that mean nothing to this worker; set to anything but their default
# they are named in one warning at the arbiter's start (the rest of gunicorn's settings are
# the arbiter's or gunicorn.workers.base's, and work as documented).
_IGNORED: Mapping[str, str] = {
    "pre_request": "not called: requests never pass through gunicorn's Python request objects",
    "post_request": "not called: requests never pass through gunicorn's Python request objects",
    "ssl_version": "ringbolt speaks TLS 1.2 and 1.3 (RINGBOLT_SSL_MIN_VERSION)",
    "ssl_context": "ringbolt builds its own TLS context from --certfile/--keyfile/--ca-certs/--ciphers",
    "do_handshake_on_connect": "ringbolt's TLS handshake is always part of reading the first request",
    "suppress_ragged_eofs": "a TLS close without close_notify ends the connection",
    "secure_scheme_headers": "ringbolt takes the scheme from Forwarded / X-Forwarded-Proto",
    "forwarder_headers": "ringbolt does not take SCRIPT_NAME or PATH_INFO from headers",
    "sendfile": "ringbolt always uses sendfile for file answers",
    "http_parser": "ringbolt's parser is its own (RFC 9112, strict)",
    "casefold_http_method": "ringbolt's parser is its own (RFC 9112, strict)",
    "header_map": "ringbolt's parser is its own (RFC 9112, strict)",
    "permit_obsolete_folding": "ringbolt's parser is its own (RFC 9112, strict)",
    "permit_unconventional_http_method": "ringbolt's parser is its own (RFC 9112, strict)",
    "permit_unconventional_http_version": "ringbolt's parser is its own (RFC 9112, strict)",
    "strip_header_spaces": "ringbolt's parser is its own (RFC 9112, strict)",
    "tmp_upload_dir": "ringbolt keeps bodies in memory or streams them to the app",
    "http2_cleartext": "with h2 in --http-protocols ringbolt also takes h2c",
    "http2_initial_window_size": "ringbolt's HTTP/2 windows are its own",
    "http2_max_concurrent_streams": "ringbolt's HTTP/2 stream cap is its own",
    "http2_max_frame_size": "ringbolt's HTTP/2 frame size is its own",
    "http2_max_header_list_size": "ringbolt's HTTP/2 header limits are its own",
    "asgi_disconnect_grace_period": "ringbolt tells the app of a disconnect at once",
    "statsd_host": "the arbiter's own metrics are sent; per-request ones are not (use RINGBOLT_METRICS)",
}


@dataclass
class WorkerPlan:
    """What a worker runs, decided from gunicorn's settings and the environment."""

    options: dict[str, Any]  # App.run options (serve_worker's **options)
    threads: int  # gunicorn --threads: WSGI pool size; handler threads of a ringbolt.App when > 1
    reactors: int | None  # RINGBOLT_THREADS, else one per socket (decided in the worker)
    interface: str = "auto"
    lifespan: str = "auto"
    root_path: str = ""
    warnings: list[str] = field(default_factory=list)
    plan: bool = True  # RINGBOLT_PLAN: a FastAPI or Starlette app's routes planned (ringbolt.fastapi.adopt)


def _setting(cfg: Any, name: str, default: Any = None) -> Any:
    """gunicorn's value of setting ``name`` (``default`` where this release lacks it)."""
    settings = getattr(cfg, "settings", {})
    return settings[name].get() if name in settings else default


def _is_default(cfg: Any, name: str) -> bool:
    settings = getattr(cfg, "settings", {})
    if name not in settings:
        return True
    s = settings[name]
    value, default = s.get(), s.default
    if callable(default):  # a server hook: its default is gunicorn's no-op
        return value is default or getattr(value, "__code__", None) is getattr(default, "__code__", None)
    if name == "sendfile":
        return value is None or value is True
    if isinstance(default, str) and not isinstance(value, str):
        try:
            return bool(value == s.validator(default))
        except Exception:  # noqa: BLE001 - a validator that refuses its own default
            return False
    return bool(value == default)


def translate_access_format(fmt: str, pid: int) -> tuple[str, list[str]]:
    """gunicorn's ``--access-logformat`` as ringbolt's ``--access-log-format``, and the
    atoms that have no counterpart (each written as ``-``)."""
    out: list[str] = []
    lost: list[str] = []
    pos = 0
    for m in _GUNICORN_ATOM.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        atom = m.group(1)
        if m.group(0) in ("%%", "%"):
            out.append("%%")
        elif atom in _SAME_ATOMS:
            out.append(f"%({atom})s")
        elif atom == "p":
            out.append(str(pid))
        elif atom in ("l", "u"):
            out.append("-")
        else:
            out.append("-")
            if f"%({atom})s" not in lost:
                lost.append(f"%({atom})s")
    out.append(fmt[pos:])
    return "".join(out), lost


def _ringbolt_environment(cfg: Any, environ: Mapping[str, str], warnings: list[str]) -> argparse.Namespace:
    """``ringbolt serve``'s options as the RINGBOLT_* variables set them; those a gunicorn
    setting decides are dropped, each with a warning."""
    ns = argparse.Namespace(**{o.dest: None for o in OPTIONS})
    try:
        explicit = config.resolve(ns, dict(environ))
    except ConfigError as exc:
        raise RuntimeError(f"ringbolt worker: {exc}") from None
    by_dest = {o.dest: o for o in OPTIONS}
    for dest in sorted(explicit):
        owner = _FROM_GUNICORN.get(dest)
        if owner is None and dest in _FROM_GUNICORN_IF_SET and _setting(cfg, _FROM_GUNICORN_IF_SET[dest][0]) is not None:
            owner = _FROM_GUNICORN_IF_SET[dest][1]
        if owner is not None:
            warnings.append(f"{by_dest[dest].env} is ignored under gunicorn: {owner} sets it")
            setattr(ns, dest, None)
            explicit.discard(dest)
        elif dest == "http3" and ns.http3:
            raise RuntimeError(f"ringbolt worker: {by_dest[dest].env}: HTTP/3 is not served under gunicorn (its "
                               f"UDP sockets are shared between workers by ringbolt's own supervisor: use "
                               f"`ringbolt serve --workers N`)")
    for o in OPTIONS:
        if o.dest not in explicit:
            setattr(ns, o.dest, None)
    return ns


def plan_from(cfg: Any, environ: Mapping[str, str] | None = None, *, pid: int | None = None) -> WorkerPlan:
    """gunicorn's settings (``cfg``) as ringbolt's. ``RuntimeError`` naming the cause for a
    combination ringbolt cannot serve; ``warnings`` name what is ignored or approximated."""
    env = os.environ if environ is None else environ
    warnings: list[str] = []
    ns = _ringbolt_environment(cfg, env, warnings)
    options: dict[str, Any] = run_options(ns)
    reactors: int | None = ns.threads
    if _setting(cfg, "protocol", "http") != "http":
        raise RuntimeError(f"ringbolt worker: --protocol {_setting(cfg, 'protocol')} is not served: ringbolt speaks "
                           f"HTTP only")
    sockets = len(_setting(cfg, "bind", ["127.0.0.1:8000"]) or [1])
    if reactors is not None and reactors < sockets:
        raise RuntimeError(f"ringbolt worker: RINGBOLT_THREADS={reactors}, but gunicorn binds {sockets} addresses "
                           f"and each reactor thread serves one of them: at least {sockets}")

    threads = int(_setting(cfg, "threads", 1) or 1)
    graceful = _setting(cfg, "graceful_timeout", 30)
    options["graceful_timeout"] = max(0, math.ceil(float(graceful)))
    keepalive = int(_setting(cfg, "keepalive", 2))
    if keepalive < 1:
        warnings.append(f"--keep-alive {keepalive}: ringbolt cannot turn keep-alive off; idle keep-alive "
                        f"connections close after 1 s")
    options["keep_alive_timeout"] = max(1, keepalive)

    line = int(_setting(cfg, "limit_request_line", 4094))
    line = _GUNICORN_UNLIMITED_LINE if line == 0 else min(_GUNICORN_MAX_REQUEST_LINE, line if line > 0 else
                                                            _GUNICORN_MAX_REQUEST_LINE)
    options["max_request_line"] = line
    fields = int(_setting(cfg, "limit_request_fields", 100))
    if fields > _RINGBOLT_MAX_HEADERS:
        warnings.append(f"--limit-request-fields {fields}: ringbolt keeps at most {_RINGBOLT_MAX_HEADERS} header "
                        f"fields; more are answered 431")
    options["max_headers"] = _RINGBOLT_MAX_HEADERS if fields <= 0 or fields > _RINGBOLT_MAX_HEADERS else fields
    field_size = int(_setting(cfg, "limit_request_field_size", _GUNICORN_DEFAULT_FIELD_SIZE))
    if field_size <= 0:
        field_size = _GUNICORN_DEFAULT_FIELD_SIZE
    # ringbolt bounds the head as a whole, not each field: room for the request line, one
    # field of the size gunicorn allows and 4 KiB of other fields.
    options["max_header_size"] = max(HEAD_FLOOR, line + field_size + 4096)

    allow = _setting(cfg, "forwarded_allow_ips", ["127.0.0.1", "::1"]) or []
    allow_list = [allow] if isinstance(allow, str) else list(allow)
    if allow_list:
        options["forwarded_allow_ips"] = ",".join(a.strip() for a in allow_list)
        options["proxy_headers"] = True
    mode = _setting(cfg, "proxy_protocol", "off")
    if mode is None or isinstance(mode, bool):  # gunicorn before 24.1: a switch, v1 only
        mode = "v1" if mode else "off"
    if mode != "off":
        if mode not in _PROXY_PROTOCOL:
            raise RuntimeError(f"ringbolt worker: --proxy-protocol {mode!r} is not known (off, v1, v2, auto)")
        proxy_allow = _setting(cfg, "proxy_allow_ips", ["127.0.0.1", "::1"]) or []
        proxy_list = [proxy_allow] if isinstance(proxy_allow, str) else list(proxy_allow)
        if {a.strip() for a in proxy_list} != {a.strip() for a in allow_list}:
            raise RuntimeError(f"ringbolt worker: --proxy-protocol with --proxy-allow-from {','.join(proxy_list)} "
                               f"and --forwarded-allow-ips {','.join(allow_list)}: ringbolt trusts one list of "
                               f"addresses for both PROXY headers and forwarding headers; give both the same")
        options["proxy_protocol"] = _PROXY_PROTOCOL[mode]

    certfile, keyfile = _setting(cfg, "certfile"), _setting(cfg, "keyfile")
    if keyfile and not certfile:
        raise RuntimeError(f"ringbolt worker: --keyfile {keyfile} without --certfile")
    if certfile:
        options["ssl_certfile"] = certfile
        options["ssl_keyfile"] = keyfile or certfile  # gunicorn's certfile may hold the key too
        if _setting(cfg, "ca_certs"):
            options["ssl_ca_certs"] = _setting(cfg, "ca_certs")
        options["ssl_cert_reqs"] = int(_setting(cfg, "cert_reqs", 0) or 0)
        if _setting(cfg, "ciphers"):
            options["ssl_ciphers"] = _setting(cfg, "ciphers")

    connections = int(_setting(cfg, "worker_connections", 1000) or 0)
    if connections > 0:
        options["limit_connections"] = connections  # per reactor: divided in the worker
    protocols = [p.lower() for p in (_setting(cfg, "http_protocols", ["h1"]) or ["h1"])]
    options["http"] = "auto" if "h2" in protocols and "h1" in protocols else ("2" if "h2" in protocols else "1")
    if _setting(cfg, "websocket_max_message_size") is not None:
        options["ws_max_size"] = int(_setting(cfg, "websocket_max_message_size"))
    if _setting(cfg, "asgi_loop") is not None:
        options["loop"] = _setting(cfg, "asgi_loop")
    lifespan = _setting(cfg, "asgi_lifespan", ns.lifespan or "auto") or "auto"
    root_path = _setting(cfg, "root_path", ns.root_path or "") or ""
    if root_path and not root_path.startswith("/"):
        raise RuntimeError(f"ringbolt worker: --root-path must start with '/': {root_path!r}")

    accesslog = _setting(cfg, "accesslog")
    if accesslog:
        fmt, lost = translate_access_format(_setting(cfg, "access_log_format", "") or "", pid or os.getpid())
        options["access_log"] = True
        options["access_log_format"] = fmt
        if lost:
            warnings.append(f"--access-logformat: {', '.join(lost)} have no counterpart in ringbolt's native access "
                            f"log and are written as '-'")
        if accesslog != "-":
            warnings.append(f"--access-logfile {accesslog}: ringbolt's access log lines go to the worker's stderr")
    options["pin_threads"] = False
    for name, why in _IGNORED.items():
        if not _is_default(cfg, name):
            warnings.append(f"--{name.replace('_', '-')} is ignored by the ringbolt worker: {why}")
    try:
        check_run_options(options, "RingboltWorker")
        check_run_values(options, "RingboltWorker")
    except (TypeError, ValueError) as exc:
        raise RuntimeError(f"ringbolt worker: {exc}") from None
    return WorkerPlan(options=options, threads=threads, reactors=reactors,
                      interface=ns.interface or "auto", lifespan=lifespan, root_path=root_path.rstrip("/"),
                      plan=ns.plan is not False,
                      warnings=warnings)


def _ringbolt_app(obj: Any, plan: WorkerPlan, multiprocess: bool) -> App:
    """The ringbolt App serving ``obj`` (as ``ringbolt serve`` tells it); ``AppImportError``
    naming what ``obj`` is when it is no application or not the ``RINGBOLT_INTERFACE`` one."""
    if isinstance(obj, App):
        kind = "native"
    elif is_asgi_app(obj):
        kind = "asgi"
    elif is_wsgi_app(obj):
        kind = "wsgi"
    else:
        raise AppImportError(f"ringbolt worker: the application is {type(obj).__name__} {obj!r}: neither a "
                             f"ringbolt.App, an ASGI 3 application (async (scope, receive, send)) nor a WSGI "
                             f"callable (environ, start_response)")
    if plan.interface not in ("auto", kind):
        raise AppImportError(f"ringbolt worker: RINGBOLT_INTERFACE={plan.interface}, but the application is "
                             f"{'a ringbolt.App' if kind == 'native' else kind.upper()}")
    if isinstance(obj, App):
        return obj
    applications = sys.modules.get("starlette.applications")
    if kind == "asgi" and applications is not None and isinstance(obj, applications.Starlette):
        from ..fastapi.adopt import adopt  # FastAPI's or Starlette's: its routes planned where they can be

        adopted = adopt(obj, plan=plan.plan, lifespan=plan.lifespan, root_path=plan.root_path)
        logger.info("%s", adopted.report.summary())
        return adopted
    app = App()
    if kind == "asgi":
        app.mount_asgi(obj, lifespan=plan.lifespan, root_path=plan.root_path)
    else:
        app.mount_wsgi(obj, threads=plan.threads, root_path=plan.root_path)
        app._wsgi.set_multiprocess(multiprocess)
    return app


def _bind_name(sock: socket.socket, tls: bool) -> str:
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name if isinstance(name, str) else name.decode(errors='replace')}"
    host = name[0] if ":" not in name[0] else f"[{name[0]}]"
    return f"{'https' if tls else 'http'}://{host}:{name[1]}"


class _Heartbeat(threading.Thread):
    """Calls ``worker.notify()`` every ``interval`` seconds while the app is able to answer:
    a beat runs Python (no beat while a handler holds the GIL), on the app's event loop
    when it has one (no beat while a handler blocks the loop), and none is given while
    requests wait for Python beyond ``capacity`` (its handler threads, 0 for handlers run
    on the reactors) with no answer since the previous beat. It also keeps ``worker.nr``
    (the requests served) and watches ``worker.alive`` (gunicorn's reloader clears it).
    ``--max-requests`` is the native server's own limit (``RingboltWorker.run``)."""

    def __init__(self, worker: RingboltWorker, app: App, interval: float, capacity: int | None) -> None:
        super().__init__(name="ringbolt-gunicorn-heartbeat", daemon=True)
        self.worker = worker
        self.app = app
        self.interval = interval
        self.capacity = capacity
        self.done = threading.Event()
        self._answered = -1
        self._loop_beat_pending = False
        self._stop_sent = False

    def run(self) -> None:
        while not self.done.wait(self.interval):
            total = self.app.stats()["total"]
            self.worker.nr = total.get("requests", 0)
            if self.worker.alive and os.getppid() != self.worker.ppid:  # the arbiter is gone (as gunicorn's workers)
                self.worker.log.info("Parent changed, shutting down: %s", self.worker)
                self.worker.alive = False
            if not self.worker.alive and not self._stop_sent:
                self._stop_sent = True
                self.app.stop()
            if self._python_stuck(total):
                continue
            loop = getattr(self.app._runner, "loop", None)
            if loop is None:
                self.worker.notify()
            elif not self._loop_beat_pending:
                self._loop_beat_pending = True
                try:
                    loop.call_soon_threadsafe(self._beat_on_loop)
                except RuntimeError:  # the loop is closed: the server has stopped, shutdown hooks run
                    self._loop_beat_pending = False
                    self.worker.notify()

    def _beat_on_loop(self) -> None:
        self._loop_beat_pending = False
        self.worker.notify()

    def _python_stuck(self, total: Mapping[str, int]) -> bool:
        """Requests wait beyond what the handler threads can take, and none was answered
        since the last look (the ``app_queue_depth`` gauge counts those handed to Python
        and not answered yet)."""
        if self.capacity is None:
            return False
        waiting = total.get("app_queue_depth", 0)
        answered = total.get("python_requests", 0) - waiting
        stuck = waiting > self.capacity and answered == self._answered
        self._answered = answered
        return stuck


class RingboltWorker(Worker):  # type: ignore[misc]  # gunicorn has no type information
    """gunicorn's worker contract (gunicorn.workers.base.Worker) served by ringbolt.

    ``init_process`` (gunicorn's: environment, user, signals, ``load_wsgi``, the
    ``post_worker_init`` hook) then ``run``: the native server on ``self.sockets`` until a
    signal or ``--max-requests`` drains it. TERM drains (requests in flight are answered,
    up to ``--graceful-timeout``); QUIT and INT call the ``worker_int`` hook, drain and
    leave after ``QUICK_EXIT_GRACE`` s whatever is still in flight; ABRT (the arbiter's
    timeout) calls the ``worker_abort`` hook and leaves at once."""

    plan: WorkerPlan
    ringbolt_app: App

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Called by the arbiter once, before any worker starts: a setting ringbolt cannot
        serve stops gunicorn here (``Error: ...``, exit 1); the warnings go to its log."""
        plan = plan_from(cfg)
        for line in plan.warnings:
            log.warning("%s", line)

    def init_process(self) -> None:
        level = self.log.error_log.level or logging.INFO
        logger.handlers = list(self.log.error_log.handlers)
        logger.setLevel(level)
        logger.propagate = False
        _native.set_log_level(max(level, logging.DEBUG))
        self.plan = plan_from(self.cfg, pid=os.getpid())
        self._server_up = False
        self._quick_timer: threading.Timer | None = None
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.ringbolt_app = _ringbolt_app(self.wsgi, self.plan, multiprocess=int(self.cfg.workers) > 1)
        if self.ringbolt_app._asgi is not None and self.plan.threads > 1:
            self.log.warning("--threads %d is ignored: an ASGI app runs on the worker's event loop", self.plan.threads)

    # ---- signals (gunicorn.workers.base installs them; these work before and while serving) ----
    def handle_exit(self, sig: int, frame: Any) -> None:
        """TERM: drain."""
        self.alive = False
        if self._server_up:
            self.ringbolt_app.stop()

    def handle_quit(self, sig: int, frame: Any) -> None:
        """QUIT, INT: quick. In-flight requests get ``QUICK_EXIT_GRACE`` s."""
        self.alive = False
        self.cfg.worker_int(self)
        if not self._server_up:
            time.sleep(0.1)
            sys.exit(0)
        self.ringbolt_app.stop()
        if self._quick_timer is None:
            self._quick_timer = threading.Timer(QUICK_EXIT_GRACE, self._leave, args=(0, "quick shutdown"))
            self._quick_timer.daemon = True
            self._quick_timer.start()

    def handle_abort(self, sig: int, frame: Any) -> None:
        """ABRT: the arbiter's timeout (``--timeout``) ran out."""
        self.alive = False
        self.cfg.worker_abort(self)
        self._leave(1, "aborted by the arbiter (worker timeout)")

    def _leave(self, code: int, why: str) -> None:
        """Exit now: the reactors and handler threads may still be inside requests, so no
        interpreter shutdown (as ringbolt's own forced stops)."""
        logger.warning("%s: exiting with requests still in flight", why)
        for h in logger.handlers:
            h.flush()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

    # ---- serving ----
    def run(self) -> None:
        plan = self.plan
        tls = "ssl_certfile" in plan.options
        names = [_bind_name(s.sock if hasattr(s, "sock") else s, tls) for s in self.sockets]
        first = self.sockets[0]
        address = first.getsockname()
        host, port = (address[0], address[1]) if isinstance(address, tuple) else ("127.0.0.1", 0)
        # Handed over: the server closes them once its reactors hold their own (App._serve);
        # gunicorn's arbiter keeps its copies, so a worker's exit never closes a listener.
        fds = [(s.sock if hasattr(s, "sock") else s).detach() for s in self.sockets]
        reactors = plan.reactors or len(fds)
        options = dict(plan.options)
        if "limit_connections" in options:
            options["limit_connections"] = max(1, math.ceil(options["limit_connections"] / reactors))
        app = self.ringbolt_app
        if app._wsgi is None and plan.threads > 1 and "handler_threads" not in options and \
                app._asgi is None:
            options["handler_threads"] = plan.threads  # a ringbolt.App's sync handlers on threads
        if app._wsgi is not None:
            capacity: int | None = plan.threads
        else:
            capacity = options.get("handler_threads") or 0  # 0: handlers inline on the reactors
        interval = max(0.05, min(1.0, float(self.timeout) / 2)) if self.timeout else 1.0
        heartbeat = _Heartbeat(self, app, interval, capacity)

        def on_ready(info: Mapping[str, Any]) -> None:
            if app._runner is not None and app._wsgi is None:
                # An event loop (ASGI, async handlers): requests awaiting on it are not
                # stuck, however long they wait; the beat on the loop is the check.
                heartbeat.capacity = None
            self._server_up = True
            signal.signal(signal.SIGTERM, self.handle_exit)  # App._serve's own handlers replaced
            signal.signal(signal.SIGINT, self.handle_quit)
            signal.siginterrupt(signal.SIGTERM, False)
            self.notify()
            heartbeat.start()
            if not self.alive:  # a TERM or a reload came while the app started
                app.stop()

        def on_limit() -> None:  # the native server drains by itself (server/request_limit.hpp)
            self.log.info("Autorestarting worker after current request.")  # gunicorn's own workers' line
            self.alive = False

        # gunicorn drew the jitter of --max-requests-jitter into worker.max_requests; the
        # native server counts every request of every reactor and begins its drain in the
        # turn that reaches the limit: a worker leaves after max_requests plus the requests
        # already in flight, as gunicorn's own workers, however many requests a second.
        limit = self.max_requests if self.cfg.max_requests > 0 else None
        try:
            app.serve_worker(host, port, reactors, listen_fds=fds, cpu_offset=0, on_ready=on_ready,
                             on_limit=on_limit, limit_max_requests=limit, limit_max_requests_jitter=0,
                             bind_name=", ".join(names), **options)
        except StartupHookError as exc:
            self.log.error("ringbolt worker failed to start: %s", exc)
            sys.exit(WORKER_BOOT_ERROR)
        except (OSError, RuntimeError, ValueError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.log.error("ringbolt worker cannot serve: %s", message)
            sys.exit(WORKER_BOOT_ERROR)
        finally:
            heartbeat.done.set()
            if self._quick_timer is not None:
                self._quick_timer.cancel()
