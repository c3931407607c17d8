"""Serving an ``App``: ``run`` (one process, or a supervisor and its workers),
``serve_worker``, the native server built from the app's routes (``_build``), the startup
and shutdown hooks around it, signals, drain and stats. A mixin of ``App``, which owns
the routes and features this reads."""

from __future__ import annotations

import gc
import inspect
import logging
import os
import random
import signal
import threading
from typing import TYPE_CHECKING, Any, Callable

from .. import _native
from .._error_log import errors as error_log
from .._stream import set_runner
from ..rate_limit import AppRateLimit, RateLimit, resolve
from .exits import DRAIN_MARGIN, EXIT_FORCED, StartupHookError
from .options import check_run_options, check_run_values
from .tls import reload_on_sighup

if TYPE_CHECKING:
    from ..features import ResponseFeatures
    from ..websocket import WebSocketSettings
    from ..health import HealthProbes
    from ..typed.depends import AppDependencies

logger = logging.getLogger("ringbolt")

Handler = Callable[..., Any]
#: a resolved route: (path, methods, handler, const, is_async, websocket)
Route = tuple[str, list[str], Handler, bool, bool, bool]

_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 10}


def _ensure_logging(level: str) -> None:
    lvl = _LEVELS.get(level.lower())
    if lvl is None:
        raise ValueError(f"unknown log level {level!r} (use {', '.join(_LEVELS)})")
    if not logger.handlers and not logging.getLogger().handlers:
        # Python's own lines are rare (lifecycle, errors); the access log, one line per
        # request, is written natively through the log queue's writer thread.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s [ringbolt] %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(lvl)
    _native.set_log_level(max(lvl, 10))


def _cpus_available() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    """``workers`` if given, else ``$WEB_CONCURRENCY``, else 1."""
    if workers is None:
        env = os.environ.get("WEB_CONCURRENCY", "").strip()
        if not env:
            return 1
        try:
            workers = int(env)
        except ValueError:
            raise ValueError(f"WEB_CONCURRENCY must be an integer, not {env!r}") from None
        if workers < 1:
            raise ValueError(f"WEB_CONCURRENCY must be at least 1, not {workers}")
        return workers
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return workers


class _RequestLimit(threading.Thread):
    """Says when the native server reached its request limit (config ``max_requests``):
    the reactor whose turn reached it began the drain of them all at once
    (server/request_limit.hpp), so the limit holds whatever the load; this thread only
    logs it and calls ``on_limit`` (a supervisor starts the replacement then)."""

    def __init__(self, server: _native.Server, limit: int, on_limit: Callable[[], None] | None) -> None:
        super().__init__(name="ringbolt-request-limit", daemon=True)
        self._on_limit = on_limit
        self._server = server
        self._limit = limit
        self._done = threading.Event()

    def run(self) -> None:
        while True:
            stopped = self._done.wait(0.05)
            counted = self._server.request_limit_reached()  # also once more after a drain shorter than a look
            if counted is not None:
                logger.info("served %d requests (limit %d): draining to be replaced", counted, self._limit)
                if self._on_limit is not None:
                    self._on_limit()
                return
            if stopped:
                return

    def finish(self) -> None:
        """After the server stopped: returns once the limit, if it was reached, was said."""
        self._done.set()
        self.join()


def _freeze_startup_heap() -> bool:
    """Move every object alive once the app is loaded and started (modules, classes,
    routes, the app's own state) out of the cyclic garbage collector's reach
    (``gc.freeze``), in a process this call serves from its main thread (the CLI, a
    supervised worker, ``App.run``; not a test's server thread). They live as long as
    the process, yet every full collection walked all of them: under load the objects of
    the requests in flight survive the young collections, so a full one came about every
    thousand requests, and for FastAPI it walked some 55,000 objects each time (docs/
    architecture.md, "The heap the app was loaded with"). Refcounting still frees them;
    only a reference cycle among them is no longer collected. ``RINGBOLT_GC_FREEZE=0``
    turns it off. At the same point, and turned off on its own
    (``RINGBOLT_RELEASE_STARTUP_PAGES=0``), the extension's and its libraries' pages that
    start-up touched (symbol tables, module set-up) are unmapped; serving maps again those
    it uses (core/code_pages.hpp). True: the heap was frozen."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if os.environ.get("RINGBOLT_RELEASE_STARTUP_PAGES", "1") != "0":
        _native._release_startup_pages()
    if os.environ.get("RINGBOLT_GC_FREEZE", "1") == "0":
        return False
    gc.collect()  # what start-up left as cyclic garbage goes now, not into the frozen heap
    gc.freeze()
    return True


def _say_in_signal_handler(level: int, msg: str, *args: Any) -> None:
    """A log line from a signal handler. Python runs the handler between the main
    thread's bytecodes, also in the middle of a write to stderr; the handler's write to
    the same stream then raises RuntimeError (reentrant call), and so does logging's own
    report of it. The line then goes to file descriptor 2 itself (no buffer, no lock)."""
    try:
        logger.log(level, msg, *args)
    except RuntimeError:
        try:
            os.write(2, f"[ringbolt] {msg % args}\n".encode())
        except OSError:
            pass


def _new_runner() -> Any:
    """An event loop made on demand, for a sync-only app whose response streams from an
    async iterable (``_stream._get_runner``, once): such an app imports asyncio only then."""
    from .aio import AsyncRunner

    return AsyncRunner()


class AppServer:
    """The serving half of ``App``: what it reads of the app is declared below."""

    conventions: str
    redirect_slashes: bool
    json_default: Callable[[Any], Any] | None
    _defs: list[Any]
    _startup: list[Callable[[], Any]]
    _shutdown: list[Callable[[], Any]]
    _server: _native.Server | None
    _lock: threading.Lock
    _metrics_path: str | None
    _runner: Any
    _asgi: Any
    _lifespan: Any
    _wsgi: Any
    _wsgi_threads: int | None
    _features: ResponseFeatures
    _health: HealthProbes | None
    _dependencies: AppDependencies
    _rate_limit: AppRateLimit | None
    _tracing: Any
    _route_wrapper: Any
    _resolved_limits: list[RateLimit | bool | None]

    if TYPE_CHECKING:  # App's own, on the routes side
        def _resolved_routes(self) -> list[Route]: ...
        def _docs_routes(self, under: str | None = None) -> list[Route]: ...
        def _static_mounts(self) -> list[tuple[str, str, str, str, bool, bool]]: ...
        def _unmatched(self) -> tuple[Handler, bool] | None: ...
        def enable_metrics(self, path: str = "/metrics") -> None: ...

    def _needs_loop(self, routes: list[Route]) -> bool:
        unmatched = self._unmatched() if self._asgi is None and self._wsgi is None else None
        if unmatched is not None and unmatched[1]:
            return True
        return self._asgi is not None or any(
            inspect.iscoroutinefunction(fn) for fn in (*self._startup, *self._shutdown)
        ) or any(not const and is_async for _, _, _, const, is_async, _ in routes) or (
            self._dependencies.needs_loop()) or (self._health is not None and self._health.has_async_checks())

    def _call_hook(self, fn: Callable[[], Any]) -> None:
        result = fn()
        if inspect.iscoroutine(result):
            if self._runner is not None:
                self._runner.run(result)  # on the loop the handlers run on
            else:
                import asyncio  # (a coroutine hook of an app that runs no loop: start-up or shutdown)

                asyncio.run(result)

    def _build(self, config: dict[str, Any],
               routes: list[Route] | None = None) -> _native.Server:
        if routes is None:
            routes = self._resolved_routes()
        metrics = config.pop("metrics", None)
        if metrics:
            self.enable_metrics(metrics if isinstance(metrics, str) else "/metrics")
        if self._wsgi is not None:
            # A WSGI app blocks: it must run on the pool, never inline on a reactor.
            if self._wsgi_threads is not None:
                config["handler_threads"] = self._wsgi_threads
            elif not config.get("handler_threads"):
                from .wsgi_server import default_threads

                config["handler_threads"] = default_threads()
            logger.info("WSGI application on %d handler threads per worker", config["handler_threads"])
        on_loop = self._runner is not None and not config.get("handler_threads")
        # One reactor: the event loop runs on its thread (no hand-off between threads;
        # docs/architecture.md, "The event loop on the reactor's thread").
        reactors = config.get("threads") or len(os.sched_getaffinity(0))
        # (With HTTP/3 too: each turn tells the loop when QUIC's next timer falls due.)
        config["host_loop"] = on_loop and reactors == 1 and os.environ.get("RINGBOLT_HOST_LOOP", "1") != "0"
        if config.get("reactor_sched") in (None, "auto"):
            # The asyncio loop thread holds the GIL a reactor would wait for: a reactor that
            # preempts it on every arrival only switches back and forth (docs/cli.md,
            # "Reactor scheduling"). With a handler pool (WSGI) batch measured no better;
            # a reactor that hosts the loop has no other thread to yield to.
            config["reactor_sched"] = "batch" if on_loop and not config["host_loop"] else "normal"
        ws_settings: WebSocketSettings | None = None
        if (self._asgi is not None or any(websocket for *_, websocket in routes)
                or any(key.startswith("ws_") for key in config)):
            from ..websocket import WebSocketSettings  # (WebSockets: the apps that take one)

            ws_settings = WebSocketSettings.from_options(config)
        config["conventions"] = self.conventions  # the router's own 404/405 bodies
        config["redirect_slashes"] = self.redirect_slashes
        server = _native.Server(config)
        if self.json_default is not None:
            server.set_json_default(self.json_default)
        self._features.apply(server)
        if self._metrics_path is not None:
            server.add_metrics_route(self._metrics_path)
        if self._health is not None:
            for path, kind in self._health.routes():
                server.add_health_route(path, kind)
            if self._health.checks:
                from ..health import pending_checks

                server.health_checks(False, pending_checks(self._health))  # not ready before their first round
        if self._runner is not None:
            server.set_async_runner(self._runner)  # its loop takes the async requests
        set_runner(self._runner, _new_runner)  # async streamed bodies run on the handlers' loop (or one made on demand)
        own_limits = self._resolved_limits  # each route's, in the order of routes
        policies: dict[int, int] = {}  # id(RateLimit): its native id (a limit shared by routes is counted once)

        def limit_route(route_id: int, limit: RateLimit | None) -> None:
            if limit is None or limit.redis is not None:  # (counted in Redis by the route's pipeline)
                return
            if id(limit) not in policies:
                policies[id(limit)] = limit.add_to(server)
            server.set_rate_limit(route_id, policies[id(limit)])

        all_routes = [*routes, *self._docs_routes()]
        # A WebSocket endpoint and an HTTP GET route on one path (strawberry's GraphQLRouter
        # puts both there): one native target takes the path's GETs, the handshakes going
        # to the endpoint and the plain requests to the route (both_ways).
        sockets = {path: fn for path, _, fn, _, _, websocket in all_routes if websocket}
        shared = {path for path, methods, _, const, _, websocket in all_routes
                  if not websocket and not const and path in sockets and "GET" in methods}
        for i, (path, methods, fn, const, is_async, websocket) in enumerate(all_routes):
            if websocket and path in shared:
                route_id = -1  # registered with the path's GET route
            elif websocket:
                from ..websocket import WebSocketRoute

                assert ws_settings is not None
                route_id = server.add_route(path, ["GET"], WebSocketRoute(fn, ws_settings), True, True)
            elif path in shared and "GET" in methods:
                from ..websocket import WebSocketRoute, both_ways

                assert ws_settings is not None
                both = both_ways(WebSocketRoute(sockets[path], ws_settings), fn, is_async)
                route_id = server.add_route(path, ["GET"], both, True, True, False)
                rest = [m for m in methods if m != "GET"]
                if rest:
                    route_id = server.add_route(path, rest, fn, is_async)
            elif const:
                result = fn(None)
                if inspect.iscoroutine(result):
                    import asyncio  # (an async const route, made once at start-up)

                    result = asyncio.run(result)
                route_id = server.add_const_route(path, methods, result)
            else:
                route_id = server.add_route(path, methods, fn, is_async)
            if i < len(own_limits) and route_id >= 0:  # (the docs pages are never limited)
                limit_route(route_id, resolve(own_limits[i], path, self._rate_limit))
        for mount in self._static_mounts():  # the docs pages' assets and mounted apps' too
            server.add_static(*mount)
        fallback = None
        if self._asgi is not None:
            self._asgi.ws_settings = ws_settings
            fallback = server.set_fallback(self._asgi, True, True, True)
        if self._wsgi is not None:
            fallback = server.set_fallback(self._wsgi.entry, False, True)  # wsgi.input reads a large body as it arrives
        unmatched = self._unmatched() if fallback is None else None
        if unmatched is not None:
            fn, is_async = unmatched
            if self._route_wrapper is not None:
                fn = self._route_wrapper.http(fn, is_async)
            server.set_fallback(fn, is_async, False)
        if fallback is not None and self._rate_limit is not None and self._rate_limit.paths is None:
            if self._rate_limit.limit.redis is not None:
                raise ValueError("a Redis rate limit covers ringbolt routes only, not a mounted ASGI/WSGI app: "
                                 "give app.rate_limit paths=[...]")
            limit_route(fallback, self._rate_limit.limit)  # the mounted app counts as one more route
        return server

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        threads: int | None = None,
        *,
        log_level: str = "info",
        workers: int | None = None,
        limit_max_requests: int | None = None,
        **options: Any,
    ) -> None:
        """Serve until SIGINT/SIGTERM (then drain and return).

        ``workers``: processes (default ``$WEB_CONCURRENCY`` or 1). With more than one, a
        supervisor (this process) binds the listeners once, forks the workers, restarts
        those that die, drains them on SIGTERM/SIGINT and replaces them one by one on
        SIGHUP (see ``ringbolt.supervisor``). ``threads``: reactor threads per worker
        (default: the CPUs available divided by ``workers``, at least 1).
        ``limit_max_requests``: a worker drains and exits after that many requests (plus
        a random jitter of up to 10%); under a supervisor it is replaced.
        ``options``: ``max_body_size``, ``body_receive_buffer`` (bytes; 0: the kernel's
        autotuning), ``max_request_line``, ``max_header_size``,
        ``max_headers``, ``header_timeout``, ``body_timeout``, ``min_body_rate`` (bytes/s
        after ``body_timeout``; 0: no floor), ``keep_alive_timeout``,
        ``write_timeout``, ``graceful_timeout`` (seconds), ``backlog``, ``pin_threads``.
        TLS (docs/tls.md): ``ssl_certfile``, ``ssl_keyfile``, ``ssl_keyfile_password``,
        ``ssl_ca_certs``, ``ssl_cert_reqs`` (0/1/2 or "none"/"optional"/"required"),
        ``ssl_ciphers``, ``ssl_min_version`` ("TLSv1.2"/"TLSv1.3"), ``ssl_sni`` ([(name,
        certfile, keyfile), ...]), ``ssl_handshake_timeout`` (seconds), ``ssl_ktls`` (default
        True: the kernel encrypts what connections send where it offers kTLS); SIGHUP
        reloads the certificates for new connections.
        HTTP versions (docs/http.md): ``http`` ("auto" (default): HTTP/1.1 and HTTP/2; "1":
        HTTP/1.1 only, no h2 in ALPN; "2": HTTP/2 only, h2c by prior knowledge and h2 by
        ALPN, an HTTP/1.1 request answered 505); ``http2=False`` is ``http="1"``.
        """
        check_run_options(options, "App.run")
        check_run_values({"port": port, **options}, "App.run")
        _ensure_logging(log_level)
        workers = resolve_workers(workers)
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        if limit_max_requests is not None and limit_max_requests < 1:
            raise ValueError("limit_max_requests must be at least 1")
        if self._wsgi is not None:
            self._wsgi.set_multiprocess(workers > 1)
        if workers > 1:
            if threads is None:
                threads = max(1, _cpus_available() // workers)
            from .supervisor import Supervisor  # (with workers only: a single process needs none of it)

            Supervisor(
                self.serve_worker,
                host=host,
                port=port,
                workers=workers,
                threads=threads,
                log_level=log_level,
                limit_max_requests=limit_max_requests,
                options=options,
                drain_delay=self._health.drain_delay if self._health is not None else 0.0,
            ).run()
            return
        self._serve(host, port, threads, limit_max_requests=limit_max_requests, **options)

    def serve_worker(
        self,
        host: str,
        port: int,
        threads: int,
        *,
        listen_fds: list[int],
        cpu_offset: int,
        on_ready: Callable[[dict[str, Any]], None],
        on_limit: Callable[[], None] | None = None,
        limit_max_requests: int | None = None,
        limit_max_requests_jitter: int | None = None,
        **options: Any,
    ) -> None:
        """Serve as one worker of a supervisor (``ringbolt.supervisor``), on the listening
        sockets ``listen_fds`` it was given (this call closes them, see ``_serve``),
        reactors pinned from CPU ``cpu_offset`` on.

        ``on_ready(info)`` is called once the server accepts, ``on_limit()`` once
        ``limit_max_requests`` plus a random jitter of up to ``limit_max_requests_jitter``
        (default: a tenth of the limit; gunicorn's worker passes 0, its limit includes
        gunicorn's own jitter) is reached and the drain has begun. A failing startup hook
        or lifespan startup raises ``StartupHookError``; returns after the drain.
        """
        self._serve(host, port, threads, limit_max_requests=limit_max_requests,
                    limit_max_requests_jitter=limit_max_requests_jitter, _ready=on_ready, _on_limit=on_limit,
                    listen_fds=listen_fds, cpu_offset=cpu_offset, **options)

    def _serve(
        self,
        host: str,
        port: int,
        threads: int | None,
        *,
        limit_max_requests: int | None = None,
        limit_max_requests_jitter: int | None = None,
        _ready: Callable[[dict[str, Any]], None] | None = None,
        _on_limit: Callable[[], None] | None = None,
        _hooks: bool = True,
        **options: Any,
    ) -> None:
        """The single-process serve path (also what each supervised worker runs, through
        ``serve_worker``).

        ``_ready`` (workers): called once the server has started, with its info dict;
        ``_on_limit``: called once ``limit_max_requests`` (plus its jitter) is reached,
        as the drain begins (the native server begins it itself, server/request_limit.hpp).
        In that mode a failing startup hook raises ``StartupHookError``. ``_hooks=False``
        (a test client's requests outside its ``with`` block, as Starlette's): the startup
        and shutdown hooks and the mounted app's lifespan do not run.

        ``listen_fds`` (internal: the CLI and the supervisor) are handed over: they are
        closed once the server has started (each reactor holds its own duplicate) or has
        failed to. A listener must close when the last reactor that accepts from it has
        drained, after sweeping its accept queue; any other descriptor of it left open
        keeps it in the port's accept path with nobody accepting, and the connections the
        kernel queues there are reset when that descriptor closes at last.
        """
        handed = list(options.get("listen_fds") or []) + list(options.get("quic_fds") or [])
        bind_name = options.pop("bind_name", None)  # how to name an inherited listener (unix:/path)
        # With workers the supervisor gates a listener the CLI bound (--uds) before they
        # drain (it takes owns_listeners out of their options); a single process gates it
        # as its reactors begin their drain, as it gates a listener the native server bound
        # itself (host:port; server/reactor.cpp, begin_drain).
        owns_listen_fds = bool(options.pop("owns_listeners", False))
        loop_kind = options.pop("loop", None) or "auto"  # --loop
        config = dict(options, host=host, port=port, threads=threads or 0, owns_listen_fds=owns_listen_fds)
        limit = None
        if limit_max_requests is not None:
            jitter = limit_max_requests // 10 if limit_max_requests_jitter is None else limit_max_requests_jitter
            limit = limit_max_requests + random.randint(0, jitter)
            config["max_requests"] = limit
        previous: dict[signal.Signals, Any] = {}
        started: list[bool] = []
        stop_requested: list[int] = []
        self._runner = None
        routes = self._resolved_routes()  # a middleware misuse fails here, before any hook runs
        if self._needs_loop([*routes, *self._docs_routes()]):
            from .aio import AsyncRunner, handler_names  # (the apps that run a loop: asyncio with it)

            self._runner = AsyncRunner(loop=loop_kind)  # one loop per worker: hooks, lifespan and handlers share it
            self._runner.name_handlers(handler_names(self._defs))  # the stall warning names the route
        health = self._health
        try:
            if health is None:  # with health probes they run once the server answers them, below
                self._run_startup(host, port, supervised=_ready is not None, hooks=_hooks)
            if self._wsgi is not None:
                self._wsgi.set_server(host, port)
            server = self._build(config, routes)
            # The handlers go in before the listener opens: a SIGTERM that arrives once
            # the port accepts connections drains (and runs the shutdown hooks) instead
            # of killing the process with the default action.
            if threading.current_thread() is threading.main_thread():

                def on_signal(signum: int, frame: Any) -> None:
                    if stop_requested and signum == signal.SIGINT:  # a second Ctrl-C: do not wait (as uvicorn)
                        _say_in_signal_handler(logging.WARNING,
                                               "SIGINT received again: exiting without finishing the drain")
                        os._exit(EXIT_FORCED)
                    stop_requested.append(signum)
                    if started:
                        self._begin_stop(server, supervised=_ready is not None)
                    _say_in_signal_handler(logging.INFO, "%s received: draining (Ctrl-C again to exit at once)",
                                           signal.Signals(signum).name)

                for sig in (signal.SIGINT, signal.SIGTERM):
                    previous[sig] = signal.signal(sig, on_signal)
                if server.tls and _ready is None:  # a supervised worker is replaced on SIGHUP instead
                    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload_on_sighup(server))
            if health is None:
                _freeze_startup_heap()
            info = server.start()
            started.append(True)
            if stop_requested:  # arrived while start() ran
                server.stop()
        except BaseException:
            self._undo_start(previous)
            raise
        finally:
            for fd in handed:
                os.close(fd)
        if info["port"] != port:  # port 0: the one the kernel chose
            for mounted in (self._asgi, self._wsgi):
                if mounted is not None:
                    mounted.set_server(host, info["port"])
        checker = None
        if health is not None:
            # The probes answer (startup and ready: 503) while the hooks run.
            try:
                self._run_startup(host, info["port"], supervised=_ready is not None, hooks=_hooks)
            except BaseException:
                server.stop()
                server.wait()
                self._undo_start(previous)
                raise
            _freeze_startup_heap()
            server.health_started()
            if health.checks:
                from ..health import HealthChecker

                checker = HealthChecker(health, server, self._runner.loop if self._runner is not None else None)
                checker.start()
        with self._lock:
            self._server = server
        logger.info(
            "serving on %s (io: %s, threads: %d%s)",
            bind_name or "%s://%s:%d" % ("https" if server.tls else "http", host if ":" not in host else f"[{host}]",
                                         info["port"]),
            info["io"],
            info["threads"],
            ", HTTP/3 on UDP port %d, congestion control %s" % (info["port"], info["http3_cc"])
            if config.get("http3") else "",
        )
        watcher = None
        if limit is not None:
            watcher = _RequestLimit(server, limit, _on_limit)
            watcher.start()
        try:
            if _ready is not None:
                _ready(info)
            server.wait()
        finally:
            if watcher is not None:
                watcher.finish()
            if checker is not None:
                checker.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            with self._lock:
                self._server = None
            try:
                if _hooks and self._lifespan is not None and self._runner is not None:
                    self._runner.run(self._lifespan.shutdown(), timeout=30)
                for fn in self._shutdown if _hooks else ():
                    self._call_hook(fn)
                if self._dependencies.values:
                    self._call_hook(self._dependencies.stop)
            finally:
                if self._tracing is not None:
                    self._tracing.flush()  # the spans of the last requests and of the hooks
                if self._runner is not None:
                    self._runner.stop()
                    self._runner = None
            error_log.report()  # failures counted since the last count line
            logger.info("stopped")

    def _undo_start(self, previous: dict[Any, Any]) -> None:
        """A start that failed: the signal handlers it replaced are back, its loop stopped."""
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    def _run_startup(self, host: str, port: int, *, supervised: bool, hooks: bool = True) -> None:
        """The startup hooks, then the mounted ASGI app's lifespan startup (with ``hooks``;
        the app-scoped dependencies always). Supervised (a worker), a failure is a
        ``StartupHookError``."""
        for fn in self._startup if hooks else ():
            try:
                self._call_hook(fn)
            except Exception as exc:
                if not supervised:
                    raise
                raise StartupHookError(f"startup hook {getattr(fn, '__qualname__', fn)!s} failed: {exc!r}") from exc
        if self._dependencies.values:
            self._call_hook(self._dependencies.start)  # scope="app" dependencies, on the handlers' loop
        if hooks and self._lifespan is not None:
            from .asgi_server import LifespanError

            self._asgi.set_server(host, port)
            try:
                self._runner.run(self._lifespan.startup())
            except LifespanError as exc:
                if not supervised:
                    raise
                raise StartupHookError(str(exc)) from exc

    def _begin_stop(self, server: _native.Server, *, supervised: bool) -> None:
        """A stop signal: drain. With health probes and a ``drain_delay``, ready answers 503
        at once and the drain begins that many seconds later (load balancers stop sending
        first); a supervised worker's DRAIN_MARGIN later still, once its supervisor has
        gated the listeners they share."""
        delay = self._health.drain_delay if self._health is not None else 0.0
        if delay > 0 and supervised:
            delay += DRAIN_MARGIN
        if delay <= 0:
            server.stop()  # (turns ready 503 too)
            return
        server.health_draining()
        logger.info("ready answers 503; draining in %.3g s", delay)
        timer = threading.Timer(delay, server.stop)
        timer.daemon = True
        timer.start()

    def stop(self) -> None:
        """Ask a running server to drain and stop (thread-safe)."""
        with self._lock:
            if self._server is not None:
                self._server.stop()

    def stats(self) -> dict[str, Any]:
        """Per-core counters and their totals (empty when not running), the native log
        lines this process dropped because stderr did not keep up, and how the event loop
        was woken for what the reactors made ready or staged for it (``loop_wakes``:
        ``eventfd`` writes, and wake-ups a loop on a reactor's thread took right after the
        turn, ``after_turn``; since the process started)."""
        with self._lock:
            cores = self._server.stats() if self._server is not None else []
        total: dict[str, int] = {}
        for core in cores:
            for key, value in core.items():
                total[key] = total.get(key, 0) + value
        eventfd, after_turn = _native._loop_wakes()
        return {"cores": cores, "total": total, "log_lines_dropped": _native.log_dropped(),
                "loop_wakes": {"eventfd": eventfd, "after_turn": after_turn}}
