"""Health probes (``app.health``): ``live``, ``ready`` and ``startup`` are answered by the
reactors from a state the server keeps (dispatch/health_state), never by Python. This
module checks the configuration and keeps the state current: the user checks (a database
ping) run on their own cadence from a thread of their own, sync ones each on a daemon
thread per run and async ones on the worker's event loop, each with a timeout; a probe only reads their last
results. See docs/health.md."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import threading
import time
from typing import Any, Callable, Mapping, TypedDict

logger = logging.getLogger("ringbolt")

Check = Callable[[], Any]
"""A user check: sync or async, no arguments; it passes unless it raises or returns False."""

_PROBES = ("live", "ready", "startup")


def _check_path(kind: str, path: str | None) -> str | None:
    if path is None:
        return None
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"the {kind} probe's path must start with '/' (or be None for none): {path!r}")
    return path


def _check_seconds(name: str, value: float, *, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if value < 0 or (value == 0 and not zero) or value != value:
        raise ValueError(f"{name} must be {'at least 0' if zero else 'more than 0'} seconds, not {value!r}")
    return float(value)


class HealthOptions(TypedDict, total=False):
    """``app.health(**options)``: HealthProbes' keyword arguments (their defaults there)."""

    live: str | None
    ready: str | None
    startup: str | None
    checks: Mapping[str, Check] | None
    interval: float
    timeout: float
    drain_delay: float


class HealthProbes:
    """What ``app.health(...)`` configured: the probes' paths (None: that probe is off),
    the user checks by name, how often they run (``interval``), how long one may take
    (``timeout``: a check that takes longer counts as failed) and how long a stop keeps
    serving with ready answering 503 before the drain begins (``drain_delay``)."""

    def __init__(
        self,
        *,
        live: str | None = "/health/live",
        ready: str | None = "/health/ready",
        startup: str | None = "/health/startup",
        checks: Mapping[str, Check] | None = None,
        interval: float = 5.0,
        timeout: float = 2.0,
        drain_delay: float = 0.0,
    ) -> None:
        self.paths: dict[str, str | None] = {
            "live": _check_path("live", live),
            "ready": _check_path("ready", ready),
            "startup": _check_path("startup", startup),
        }
        taken = [p for p in self.paths.values() if p is not None]
        if len(set(taken)) != len(taken):
            raise ValueError(f"two health probes share a path: {taken!r}")
        if checks is None:
            checks = {}
        if not isinstance(checks, Mapping):
            raise TypeError(f"checks must be a mapping of names to callables, not {type(checks).__name__}")
        for name, fn in checks.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"a health check's name must be a non-empty string, not {name!r}")
            if not callable(fn):
                raise TypeError(f"health check {name!r} is not callable")
        if checks and self.paths["ready"] is None:
            raise ValueError("health checks decide readiness: they need the ready probe (ready=None turns it off)")
        self.checks: dict[str, Check] = dict(checks)
        self.interval = _check_seconds("interval", interval)
        self.timeout = _check_seconds("timeout", timeout)
        self.drain_delay = _check_seconds("drain_delay", drain_delay, zero=True)

    def routes(self) -> list[tuple[str, str]]:
        """(path, probe kind) of every probe that is on."""
        return [(path, kind) for kind, path in self.paths.items() if path is not None]

    def has_async_checks(self) -> bool:
        return any(_is_async(fn) for fn in self.checks.values())


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def _passed(result: Any) -> bool:
    return result is not False


class HealthChecker(threading.Thread):
    """Runs the user checks every ``interval`` and tells the server (``health_checks``)
    when a result changes; logs each check's change of state once (failing, passing
    again). A check still running from a round before (a hung one) is not started again:
    it counts as ``"timeout"`` until it ends."""

    def __init__(self, probes: HealthProbes, server: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        super().__init__(name="ringbolt-health", daemon=True)
        self._probes = probes
        self._server = server
        self._loop = loop
        self._stop_event = threading.Event()
        self._running: dict[str, concurrent.futures.Future[Any]] = {}
        self._results: dict[str, str] = {}
        self._reported: str | None = None

    def _start(self, name: str, fn: Check) -> concurrent.futures.Future[Any]:
        if _is_async(fn) and self._loop is not None:
            return asyncio.run_coroutine_threadsafe(fn(), self._loop)  # on the worker's loop
        return _in_thread(fn)

    def run_round(self) -> None:
        """One round: start every check not still running, wait up to ``timeout`` for
        them together, record and report their results."""
        deadline = time.monotonic() + self._probes.timeout
        for name, fn in self._probes.checks.items():
            if name not in self._running:
                self._running[name] = self._start(name, fn)
        results: dict[str, str] = {}
        for name, fut in list(self._running.items()):
            try:
                result = fut.result(max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                results[name] = "timeout"
                if self._loop is not None and _is_async(self._probes.checks[name]):
                    fut.cancel()  # an async check is cancelled on the loop; a sync one runs on
                    del self._running[name]
                continue
            except Exception as exc:  # the check's own failure
                results[name] = "failing"
                self._log_change(name, "failing", exc)
                del self._running[name]
                continue
            del self._running[name]
            results[name] = "ok" if _passed(result) else "failing"
            if results[name] == "failing":
                self._log_change(name, "failing", None)
            else:
                self._log_change(name, "ok", None)
        for name, state in results.items():
            if state == "timeout":
                self._log_change(name, "timeout", None)
        self._report(results)

    def _log_change(self, name: str, state: str, exc: BaseException | None) -> None:
        before = self._results.get(name)
        self._results[name] = state
        if before == state:
            return
        if state == "ok":
            if before is not None:
                logger.info("health check %r passes again", name)
        elif state == "timeout":
            logger.warning("health check %r took longer than %.3g s: counted as failed", name, self._probes.timeout)
        elif exc is not None:
            logger.warning("health check %r failed: %r", name, exc)
        else:
            logger.warning("health check %r failed (returned False)", name)

    def _report(self, results: dict[str, str]) -> None:
        text = json.dumps({name: results[name] for name in self._probes.checks}, separators=(",", ":"))
        if text != self._reported:
            self._reported = text
            self._server.health_checks(all(v == "ok" for v in results.values()), text)

    def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.run_round()
            except Exception as exc:  # never lets the probes' state go stale silently
                logger.error("health checks: %r", exc)
            if self._stop_event.wait(max(0.0, self._probes.interval - (time.monotonic() - started))):
                return

    def stop(self) -> None:
        self._stop_event.set()


def _in_thread(fn: Check) -> concurrent.futures.Future[Any]:
    """Run a sync check (or an async one when there is no loop) on a daemon thread of its
    own: a check that never returns must not hold the process's exit, as a pool's thread
    would (concurrent.futures joins its workers at exit)."""
    fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def target() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            result = fn()
            if inspect.isawaitable(result):  # a callable that returns a coroutine (a partial)
                result = asyncio.run(_awaited(result))
            fut.set_result(result)
        except BaseException as exc:
            fut.set_exception(exc)

    threading.Thread(target=target, name="ringbolt-health-check", daemon=True).start()
    return fut


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def pending_checks(probes: HealthProbes) -> str:
    """The checks' JSON before their first round: every one pending (ready says 503)."""
    return json.dumps({name: "pending" for name in probes.checks}, separators=(",", ":"))
