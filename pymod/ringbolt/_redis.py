"""Redis as ringbolt's own clients use it (``RateLimit(redis=...)``, ``caching.RedisStore``,
``sessions.RedisStore``): the settings they connect with (short timeouts, no retries), and
the breaker each client shares, so a Redis that hangs costs one request the timeout and the
others nothing until it is tried again. See docs/rate-limits.md, "When Redis fails"."""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
from typing import Any, Awaitable, Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .errors import HTTPError

logger = logging.getLogger("ringbolt")

T = TypeVar("T")

#: seconds to open a connection to Redis (a TCP or Unix connect; TLS's handshake too)
CONNECT_TIMEOUT = 0.05
#: seconds to wait for Redis's answer to one command (or one pipeline, one script)
TIMEOUT = 0.25
#: seconds Redis is skipped after a failure before one request tries it again
RETRY_AFTER = 2.0

_SCHEMES = ("redis://", "rediss://", "unix://")


def _seconds(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number of seconds from {low:g} to {high:g}, not {value!r}")
    return float(value)


class RedisSettings:
    """How one of ringbolt's Redis clients talks to its server: ``url`` (``redis://``,
    ``rediss://`` or ``unix://``), ``connect_timeout`` and ``timeout`` (seconds to connect,
    and to wait for an answer: a Redis that hangs costs a request no more), and
    ``retry_after`` (seconds Redis is skipped after a failure, each request then getting
    its documented answer at once, before one request tries it again). redis-py's own
    retries are off: a retry would double the wait."""

    __slots__ = ("url", "connect_timeout", "timeout", "retry_after")

    def __init__(self, url: str, *, connect_timeout: float = CONNECT_TIMEOUT, timeout: float = TIMEOUT,
                 retry_after: float = RETRY_AFTER) -> None:
        if not isinstance(url, str) or not url.startswith(_SCHEMES):
            raise ValueError(f"a Redis URL is redis://, rediss:// or unix://, not {url!r}")
        self.url = url
        self.connect_timeout = _seconds("connect_timeout", connect_timeout, 0.001, 60)
        self.timeout = _seconds("timeout", timeout, 0.001, 60)
        self.retry_after = _seconds("retry_after", retry_after, 0.01, 3600)

    @classmethod
    def of(cls, value: "str | RedisSettings") -> "RedisSettings":
        """``value`` as settings: a URL gets the defaults."""
        return value if isinstance(value, RedisSettings) else cls(value)

    def shown(self) -> str:
        """The URL for a log line: without a password."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))

    def __repr__(self) -> str:
        return (f"RedisSettings({self.shown()!r}, connect_timeout={self.connect_timeout:g}, "
                f"timeout={self.timeout:g}, retry_after={self.retry_after:g})")


class RedisUnavailable(HTTPError):
    """Redis did not answer (or is being skipped after a failure, see
    ``RedisSettings.retry_after``): a 503 with ``Retry-After`` when not caught. The
    original error, when there was one, is the ``__cause__``."""

    def __init__(self, what: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(503, f"{what}: Redis is not answering; try again in {seconds} s",
                         {"Retry-After": str(seconds)})


class Breaker:
    """The circuit breaker of one Redis server, shared by every client of this process
    that talks to it (``Breaker.of``): closed (every call goes to Redis); after a failure
    open for the failing client's ``retry_after`` (calls are refused at once); then the
    first call tries Redis (the others are still refused) and its answer closes it or
    opens it again. One server's clients fail together: sharing the breaker, a Redis
    that hangs costs a thread (a reactor, for a sync route) one timeout per
    ``retry_after``, not one per client. A closed breaker costs a call one attribute read."""

    _servers: dict[tuple[str, ...], "Breaker"] = {}
    _servers_lock = threading.Lock()

    def __init__(self) -> None:
        self.until = 0.0  # monotonic time the breaker stays open until; 0: closed
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: RedisSettings) -> "Breaker":
        """The breaker of the server ``settings`` names (its host and port, or socket)."""
        parts = urlsplit(settings.url)
        server = ("unix", parts.path) if parts.scheme == "unix" else (
            parts.scheme, parts.hostname or "localhost", str(parts.port or 6379))
        with cls._servers_lock:
            breaker = cls._servers.get(server)
            if breaker is None:
                breaker = cls._servers[server] = cls()
            return breaker

    def allow(self, retry_after: float) -> bool:
        """Whether a call may go to Redis now (always, while closed)."""
        until = self.until
        if until == 0.0:
            return True
        now = time.monotonic()
        if now < until:
            return False
        with self._lock:
            if self.until != until:  # another call is trying Redis
                return False
            self.until = now + retry_after  # until that call's answer
            return True

    def wait(self) -> float:
        """Seconds until Redis is tried again."""
        until = self.until
        return max(0.0, until - time.monotonic()) if until else 0.0

    def failed(self, retry_after: float) -> None:
        self.until = time.monotonic() + retry_after

    def succeeded(self) -> None:
        self.until = 0.0


def redis_module(name: str = "redis", what: str = "RedisStore") -> Any:
    """redis-py's ``name`` module; ImportError naming the extra without it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"{what} needs redis-py: pip install 'ringbolt[redis]'") from None


class RedisClient:
    """One consumer's redis-py clients (``sync``: ``redis.Redis``, ``aio``:
    ``redis.asyncio.Redis``), made on first use (after a supervisor's fork, on the loop
    that uses it) with the settings' timeouts and no retries, or given ready (then with
    a breaker of their own: their server is theirs to know). ``run``/``arun`` make one
    call through the server's breaker: its result, or ``RedisUnavailable`` (at once
    while the breaker is open, or after a failure). ``what`` names the consumer and
    ``meanwhile`` says what its requests get while Redis fails, in the line logged once
    per outage."""

    def __init__(self, settings: RedisSettings, what: str, meanwhile: str, *, sync: Any = None,
                 aio: Any = None) -> None:
        self.settings = settings
        self.what = what
        self.meanwhile = meanwhile
        self.breaker = Breaker() if sync is not None or aio is not None else Breaker.of(settings)
        self._sync = sync
        self._aio = aio
        self._failing = False
        redis = redis_module()
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def _options(self, retry: Any) -> dict[str, Any]:
        backoff = redis_module("redis.backoff")
        return {"socket_connect_timeout": self.settings.connect_timeout, "socket_timeout": self.settings.timeout,
                "retry": retry(backoff.NoBackoff(), 0)}

    @property
    def sync(self) -> Any:
        if self._sync is None:
            redis = redis_module()
            self._sync = redis.Redis.from_url(self.settings.url,
                                              **self._options(redis_module("redis.retry").Retry))
        return self._sync

    @property
    def aio(self) -> Any:
        if self._aio is None:
            self._aio = redis_module("redis.asyncio").Redis.from_url(
                self.settings.url, **self._options(redis_module("redis.asyncio.retry").Retry))
        return self._aio

    def _refused(self, exc: BaseException | None) -> RedisUnavailable:
        """The error of a call refused (``exc`` None: while the breaker is open) or failed."""
        if exc is not None:
            self.breaker.failed(self.settings.retry_after)
        if not self._failing:
            self._failing = True
            logger.warning("%s: Redis at %s %s: %s (Redis is tried again every %g s; logged once)",
                           self.what, self.settings.shown(), f"failed ({exc!r})" if exc is not None else
                           "failed for another client", self.meanwhile, self.settings.retry_after)
        return RedisUnavailable(self.what, self.breaker.wait() or self.settings.retry_after)

    def _answered(self) -> None:
        self.breaker.succeeded()
        if self._failing:
            self._failing = False
            logger.warning("%s: Redis at %s answers again", self.what, self.settings.shown())

    def run(self, call: Callable[[Any], T]) -> T:
        """``call(sync client)`` through the breaker."""
        breaker = self.breaker
        if breaker.until and not breaker.allow(self.settings.retry_after):
            raise self._refused(None)
        try:
            result = call(self.sync)
        except self._errors as exc:
            raise self._refused(exc) from exc
        if breaker.until or self._failing:
            self._answered()
        return result

    async def arun(self, call: Callable[[Any], Awaitable[T]]) -> T:
        """``await call(async client)`` through the breaker."""
        breaker = self.breaker
        if breaker.until and not breaker.allow(self.settings.retry_after):
            raise self._refused(None)
        try:
            result = await call(self.aio)
        except self._errors as exc:
            raise self._refused(exc) from exc
        if breaker.until or self._failing:
            self._answered()
        return result

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
