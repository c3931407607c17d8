"""The App: route registration with decorators, and ``run`` (start the native server,
turn SIGINT/SIGTERM into a graceful drain, block until it has stopped)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import threading
from typing import Any, Callable, Iterable

from . import _native

logger = logging.getLogger("ringbolt")

Handler = Callable[..., Any]

_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 10}


def _ensure_logging(level: str) -> None:
    lvl = _LEVELS.get(level.lower())
    if lvl is None:
        raise ValueError(f"unknown log level {level!r} (use {', '.join(_LEVELS)})")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[ringbolt] %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(lvl)
    _native.set_log_level(max(lvl, 10))


class App:
    """A ringbolt application.

    >>> app = App()
    >>> @app.get("/users/{uid:int}")
    ... def user(req):
    ...     return {"id": req.params["uid"]}
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, list[str], Handler, bool]] = []
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._server: _native.Server | None = None
        self._lock = threading.Lock()

    # ---- routes ----
    def route(self, path: str, methods: Iterable[str] = ("GET",), *, const: bool = False) -> Callable[[Handler], Handler]:
        """Register a handler for ``path`` and ``methods``.

        ``const=True``: the handler is called once at start-up (with ``req=None``) and its
        response is then served natively for every request, never entering Python.
        """
        if isinstance(methods, str):
            methods = [methods]
        method_list = [m.upper() for m in methods]
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")

        def decorator(fn: Handler) -> Handler:
            if not callable(fn):
                raise TypeError(f"handler for {path!r} is not callable")
            self._routes.append((path, method_list, fn, const))
            return fn

        return decorator

    def get(self, path: str, *, const: bool = False) -> Callable[[Handler], Handler]:
        return self.route(path, ["GET"], const=const)

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["POST"])

    def put(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["PUT"])

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["DELETE"])

    def patch(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["PATCH"])

    def head(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["HEAD"])

    def options(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["OPTIONS"])

    # ---- lifecycle ----
    def on_startup(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn`` once before serving (an exception stops the server)."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn`` once after the server has drained."""
        self._shutdown.append(fn)
        return fn

    def _build(self, config: dict[str, Any]) -> _native.Server:
        server = _native.Server(config)
        for path, methods, fn, const in self._routes:
            if const:
                result = fn(None)
                if inspect.iscoroutine(result):
                    result = asyncio.run(result)
                server.add_const_route(path, methods, result)
            else:
                server.add_route(path, methods, fn, inspect.iscoroutinefunction(fn))
        return server

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        threads: int | None = None,
        *,
        log_level: str = "info",
        **options: Any,
    ) -> None:
        """Serve until SIGINT/SIGTERM (then drain and return).

        ``threads``: reactor threads (default: one per CPU available). ``options``:
        ``max_body_size``, ``max_request_line``, ``max_header_size``, ``max_headers``,
        ``header_timeout``, ``body_timeout``, ``keep_alive_timeout``, ``write_timeout``,
        ``graceful_timeout`` (seconds), ``backlog``, ``pin_threads``.
        """
        _ensure_logging(log_level)
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        config = dict(options, host=host, port=port, threads=threads or 0)
        for fn in self._startup:
            result = fn()
            if inspect.iscoroutine(result):
                asyncio.run(result)
        server = self._build(config)
        info = server.start()
        with self._lock:
            self._server = server
        logger.info(
            "serving on http://%s:%d (io: %s, threads: %d)",
            host if ":" not in host else f"[{host}]",
            info["port"],
            info["io"],
            info["threads"],
        )
        previous = {}
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum: int, frame: Any) -> None:
                logger.info("%s received: draining", signal.Signals(signum).name)
                server.stop()

            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, on_signal)
        try:
            server.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            with self._lock:
                self._server = None
            for fn in self._shutdown:
                result = fn()
                if inspect.iscoroutine(result):
                    asyncio.run(result)
            logger.info("stopped")

    def stop(self) -> None:
        """Ask a running server to drain and stop (thread-safe)."""
        with self._lock:
            if self._server is not None:
                self._server.stop()

    def stats(self) -> dict[str, Any]:
        """Per-core counters and their totals (empty when not running)."""
        with self._lock:
            cores = self._server.stats() if self._server is not None else []
        total: dict[str, int] = {}
        for core in cores:
            for key, value in core.items():
                total[key] = total.get(key, 0) + value
        return {"cores": cores, "total": total}


def _log_exception(exc: BaseException, method: str, target: str) -> None:
    logger.error("Exception in handler for %s %s", method, target, exc_info=(type(exc), exc, exc.__traceback__))
