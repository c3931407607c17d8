"""Tracebacks of failing handlers, rate-limited per kind of failure, as the native side
limits its own repeated conditions (core/log_throttle.hpp): the first failure of a kind
(the exception's type and the line that raised it) is logged in full, with its
traceback; the next ones of that kind are counted, and a line every ``INTERVAL_S`` says
how many there were and the last request that failed so (the rest is written when the
server stops; ``RINGBOLT_ERROR_LOG_INTERVAL`` sets the interval). A kind that has not failed for ``FORGET_S`` is new again. A handler that
fails on 5% of a busy server's requests wrote about 1,100 traceback lines a second; now
it writes one traceback and a line per 10 s."""

from __future__ import annotations

import logging
import os
import threading
import time
from types import TracebackType
from typing import Any, Callable

def _interval_from_env() -> float:
    """``RINGBOLT_ERROR_LOG_INTERVAL`` (seconds, > 0) or 10."""
    text = os.environ.get("RINGBOLT_ERROR_LOG_INTERVAL", "")
    try:
        value = float(text) if text else 10.0
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        logging.getLogger("ringbolt").warning(
            "RINGBOLT_ERROR_LOG_INTERVAL=%r is not a number of seconds above 0: using 10", text)
        return 10.0
    return value


INTERVAL_S = _interval_from_env()  # at most one count line per kind this often
FORGET_S = 300.0  # a kind quiet this long is logged in full again
MAX_KINDS = 1024  # kinds remembered; beyond, the oldest are reported and forgotten

Kind = tuple[type, str]


def kind_of(exc: BaseException) -> Kind:
    """The exception's type and the place that raised it (``file:line`` of the innermost
    frame of its traceback): the same bug, whatever the request's path or parameters. An
    exception with no traceback (raised by the server's native checks of an answer) is
    told apart by its message instead."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return (type(exc), repr(str(exc)[:200]))
    return (type(exc), f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}")


class _Seen:
    __slots__ = ("last_at", "held", "last")

    def __init__(self, now: float) -> None:
        self.last_at = now
        self.held = 0  # failures counted since the last line about this kind
        self.last = ""  # the message of the last one counted


class ErrorLog:
    """Thread-safe: handlers fail on reactor threads, pool threads and the event loop.
    ``clock`` and ``schedule(delay, fn)`` are the monotonic clock and a one-shot timer
    (replaced by tests)."""

    def __init__(self, logger: logging.Logger, interval_s: float = INTERVAL_S, forget_s: float = FORGET_S,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Callable[[float, Callable[[], None]], None] | None = None) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._forget_s = forget_s
        self._clock = clock
        self._schedule = schedule or _timer
        self._lock = threading.Lock()
        self._kinds: dict[Kind, _Seen] = {}
        self._report_pending = False

    def failure(self, exc: BaseException, msg: str, *args: Any) -> None:
        """``logger.error(msg, *args)`` with ``exc``'s traceback, for the first failure of
        its kind; for the next ones, a count."""
        kind = kind_of(exc)
        now = self._clock()
        due: list[tuple[Kind, int, str]] = []
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen.last_at <= self._forget_s:
                seen.last_at = now
                seen.held += 1
                seen.last = msg % args if args else msg
                if not self._report_pending:
                    self._report_pending = True
                    self._schedule(self._interval_s, self.report)
                return
            if seen is not None and seen.held:
                due.append((kind, seen.held, seen.last))  # quiet too long: its count first
            self._kinds[kind] = _Seen(now)
            while len(self._kinds) > MAX_KINDS:
                oldest = next(iter(self._kinds))
                gone = self._kinds.pop(oldest)
                if gone.held:
                    due.append((oldest, gone.held, gone.last))
        self._write(due)
        self._logger.error(msg, *args, exc_info=(type(exc), exc, exc.__traceback__))

    def report(self) -> None:
        """One line per kind with failures counted since its last line (the timer's
        call, and the server's at its stop)."""
        due: list[tuple[Kind, int, str]] = []
        with self._lock:
            self._report_pending = False
            for kind, seen in self._kinds.items():
                if seen.held:
                    due.append((kind, seen.held, seen.last))
                    seen.held = 0
        self._write(due)

    def _write(self, due: list[tuple[Kind, int, str]]) -> None:
        for (cls, place), count, last in due:
            self._logger.error("%d more %s (%s) since its traceback was logged (counted, not logged again); the "
                               "last: %s", count, cls.__qualname__, place, last)


def _timer(delay: float, fn: Callable[[], None]) -> None:
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.name = "rb-error-log"
    t.start()


errors = ErrorLog(logging.getLogger("ringbolt"))
#: ``log_failure(exc, msg, *args)``: where a handler's (or an app's) exception is logged.
log_failure = errors.failure
