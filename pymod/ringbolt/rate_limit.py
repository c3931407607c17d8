"""Rate limits (``app.rate_limit``, a route's ``rate_limit=``): checked natively by the
reactors before any Python runs (dispatch/rate_limit), counted in memory shared by every
worker; this module reads and checks their configuration. Counted in Python: a limit in
Redis (``redis=``, ``RedisLimit``) and a limit per verified principal (``PrincipalLimit``).
See docs/rate-limits.md."""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from typing import Any, Iterable, Sequence

from ._native import Request
from ._redis import RedisClient, RedisSettings, RedisUnavailable, redis_module
from .errors import HTTPError
from .params import SecurityScopes
from .security import SecurityBase

__all__ = ["PrincipalLimit", "RateLimit", "RedisSettings", "parse_rate"]

_UNITS = {
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
_RATE = re.compile(r"^\s*(\d+)\s*(?:/|per\s+)\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$", re.IGNORECASE)
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

ALGORITHMS = ("sliding_window", "token_bucket")
MAX_REQUESTS = 65535
MAX_WINDOW = 366 * 86400.0


def parse_rate(text: str) -> tuple[int, float]:
    """``"5/minute"``, ``"100 per hour"``, ``"3/2s"``, ``"10/30 seconds"``: (requests, window
    in seconds). ValueError naming the text otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"a rate limit is a string such as '5/minute', not {type(text).__name__}")
    m = _RATE.match(text)
    unit = _UNITS.get(m.group(3).lower()) if m else None
    if m is None or unit is None:
        raise ValueError(f"cannot read the rate limit {text!r}: write it as '5/minute', '100 per hour' or '3/2s' "
                         f"(units: ms, second, minute, hour, day)")
    count = int(m.group(1))
    window = float(m.group(2) or 1) * unit
    if not 1 <= count <= MAX_REQUESTS:
        raise ValueError(f"rate limit {text!r}: the requests a window must be 1 to {MAX_REQUESTS}")
    if not 0.001 <= window <= MAX_WINDOW:
        raise ValueError(f"rate limit {text!r}: the window must be 1 ms to 366 days")
    return count, window


class RateLimit:
    """A rate limit: ``limit`` (``"5/minute"``, see ``parse_rate``) per key.

    ``key``: ``"client"`` (the client's address: the socket's, the PROXY header's, or the
    one trusted forwarding gives with ``--proxy-headers``; a header from a peer that is
    not trusted never picks it) or ``"header:NAME"`` (the value of request header NAME,
    as sent: each distinct value is a budget of its own, so it limits a client that
    sends the same value, an API key, and not one that makes values up; a request
    without it is keyed by its client address). Per verified user: ``PrincipalLimit``.
    ``algorithm``: ``"sliding_window"`` (default) or ``"token_bucket"``.
    ``headers``: allowed answers carry ``RateLimit-Limit``, ``RateLimit-Remaining``,
    ``RateLimit-Reset`` and ``RateLimit-Policy`` too (a 429 always does).
    ``table_size``: how many keys its table holds (default 65536, 16 bytes each, shared
    by the workers); when a key's bucket of 8 is full the entry nearest to a whole quota
    makes room, logged once.
    ``redis``: a Redis URL or ``RedisSettings`` (timeouts, the breaker's wait): the limit
    is counted there instead, shared by every machine using that server (a token bucket,
    checked in Python before the handler; needs the ``redis`` extra; see
    docs/rate-limits.md).
    ``ipv6_prefix``: the bits of an IPv6 client's address that make its key (64: one
    budget per /64, what one host is usually given; 128: each address); an IPv4 client
    is keyed on its whole address, and so is one written IPv4-mapped (``::ffff:a.b.c.d``).
    Native limits and those counted in Python (``redis=``, ``PrincipalLimit``) alike.
    """

    __slots__ = ("text", "requests", "window", "key", "header", "algorithm", "headers", "table_size", "redis",
                 "ipv6_prefix")

    def __init__(self, limit: str, *, key: str = "client", algorithm: str = "sliding_window", headers: bool = True,
                 table_size: int = 65536, redis: "str | RedisSettings | None" = None, ipv6_prefix: int = 64) -> None:
        self.text = limit
        self.requests, self.window = parse_rate(limit)
        if not isinstance(key, str):
            raise TypeError(f"key must be 'client' or 'header:NAME', not {type(key).__name__}")
        self.key = key
        self.header = ""
        if key.lower().startswith("header:"):
            self.header = key[len("header:"):].strip()
            if not _HEADER.match(self.header):
                raise ValueError(f"key {key!r}: 'header:' must be followed by a header name")
        elif key != "client":
            raise ValueError(f"key must be 'client' or 'header:NAME' (per verified user: PrincipalLimit), not {key!r}")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(map(repr, ALGORITHMS))}, not {algorithm!r}")
        self.algorithm = algorithm
        if not isinstance(headers, bool):
            raise TypeError(f"headers must be True or False, not {headers!r}")
        self.headers = headers
        if isinstance(table_size, bool) or not isinstance(table_size, int) or not 8 <= table_size <= 1 << 28:
            raise ValueError(f"table_size must be an int from 8 to 2**28 keys, not {table_size!r}")
        self.table_size = table_size
        if isinstance(ipv6_prefix, bool) or not isinstance(ipv6_prefix, int) or not 16 <= ipv6_prefix <= 128:
            raise ValueError(f"ipv6_prefix must be an int from 16 to 128 bits, not {ipv6_prefix!r}")
        self.ipv6_prefix = ipv6_prefix
        self.redis: RedisSettings | None = None
        if redis is not None:
            if not isinstance(redis, (str, RedisSettings)) or isinstance(redis, str) and not redis.startswith(
                    ("redis://", "rediss://", "unix://")):
                raise ValueError(f"redis must be a redis://, rediss:// or unix:// URL (or RedisSettings), not {redis!r}")
            if algorithm != "token_bucket":
                raise ValueError("a Redis rate limit is a token bucket: pass algorithm='token_bucket'")
            redis_module(what="RateLimit(redis=...)")  # ImportError naming the extra now, not at the first request
            redis_module("redis.asyncio", what="RateLimit(redis=...)")
            self.redis = RedisSettings.of(redis)

    def __repr__(self) -> str:
        return f"RateLimit({self.text!r}, key={self.key!r}, algorithm={self.algorithm!r})"

    def add_to(self, server: Any) -> int:
        """The native policy of this limit: its id on ``server`` (``_native.Server``)."""
        return int(server.add_rate_limit(self.requests, max(1, round(self.window * 1000)), self.algorithm,
                                         "header" if self.header else "client", self.header, self.headers,
                                         self.table_size, self.ipv6_prefix))


def client_key(client: Any, ipv6_prefix: int) -> str:
    """The key of ``req.client`` (``(host, port)`` or None): an IPv4 address whole (an
    IPv4-mapped IPv6 one too), an IPv6 address cut to its first ``ipv6_prefix`` bits."""
    host = client[0] if client else ""
    if ":" not in host:
        return host
    try:
        addr = ipaddress.IPv6Address(host.partition("%")[0])
    except ValueError:
        return host  # not an address (a Unix socket's path): as it is
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    drop = 128 - ipv6_prefix
    return f"{int(addr) >> drop << drop:x}/{ipv6_prefix}"


def route_limit(value: Any, path: str) -> RateLimit | bool | None:
    """A route's ``rate_limit=`` checked: a RateLimit, False or None."""
    if value is None or value is False:
        return value
    if isinstance(value, str):
        return RateLimit(value)
    if isinstance(value, RateLimit):
        return value
    raise TypeError(f"route {path!r}: rate_limit= takes '5/minute', a RateLimit, None or False, not {value!r}")


class AppRateLimit:
    """What ``app.rate_limit(...)`` configured: one limit every route it covers counts
    against together (``paths``: path prefixes; None: every route and the mounted app)."""

    def __init__(self, limit: RateLimit, paths: Iterable[str] | None) -> None:
        self.limit = limit
        if paths is not None:
            if isinstance(paths, str):
                raise TypeError("paths takes a list of path prefixes, not one string")
            paths = list(paths)
            for p in paths:
                if not isinstance(p, str) or not p.startswith("/"):
                    raise ValueError(f"a rate limit's path prefix must start with '/': {p!r}")
        self.paths = paths

    def covers(self, path: str) -> bool:
        return self.paths is None or any(path.startswith(p) for p in self.paths)


def resolve(route: RateLimit | bool | None, path: str, default: AppRateLimit | None) -> RateLimit | None:
    """The limit a route counts against: its own, else the app's when it covers the path."""
    if route is False:
        return None
    if isinstance(route, RateLimit):
        return route
    if default is not None and default.covers(path):
        return default.limit
    return None


# ---- across machines: Redis (RateLimit(..., redis=URL)) ----

# GCRA on the Redis server's clock (TIME: one clock for every machine): KEYS[1] holds the
# key's theoretical arrival time in microseconds; ARGV: the emission interval and the
# bucket's span (limit x interval). Returns {allowed, microseconds until the bucket is
# whole, microseconds until the next request is allowed}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now + interval > span then
  return {0, tat - now, tat + interval - span - now}
end
tat = tat + interval
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return {1, tat - now, 0}
"""


def _seconds(us: int) -> int:
    return -(-int(us) // 1_000_000)


_REFUSED = "This client sent more requests than the route's rate limit allows; see Retry-After."


def _refusal_headers(limit: RateLimit, reset_us: int, retry_us: int) -> dict[str, str]:
    return {"RateLimit-Limit": str(limit.requests), "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(_seconds(reset_us)),
            "RateLimit-Policy": f"{limit.requests};w={max(1, _seconds(round(limit.window * 1e6)))}",
            "Retry-After": str(max(1, _seconds(retry_us)))}


class RedisLimit:
    """A RateLimit counted in Redis, shared by every machine that names the same server:
    checked in Python before the handler (the native limit cannot wait on the network),
    as a token bucket on the Redis server's clock. One client per process and kind, made
    at the first request (after a supervisor's fork), with the limit's ``RedisSettings``.
    When Redis fails the request is let through (and the next ones at once, while the
    breaker waits), logged once until Redis answers again."""

    def __init__(self, limit: RateLimit, name: str) -> None:
        assert limit.redis is not None
        self.limit = limit
        self.prefix = f"ringbolt:rate:{name}:{limit.requests}/{limit.window}:"
        self.interval = max(1, round(limit.window * 1_000_000 / limit.requests))
        self._args = [self.interval, self.interval * limit.requests]
        self._client: RedisClient | None = None
        self._sync: Any = None
        self._async: Any = None

    @property
    def client(self) -> RedisClient:
        if self._client is None:
            assert self.limit.redis is not None
            self._client = RedisClient(self.limit.redis, f"rate limit {self.limit.text}",
                                       "requests are let through until it answers")
        return self._client

    def key(self, req: Any) -> str:
        if self.limit.header:
            value = req.header(self.limit.header)
            if value is not None:
                return self.prefix + "h" + str(value)
        return self.prefix + "a" + client_key(req.client, self.limit.ipv6_prefix)

    def _answer(self, result: Any) -> Any:
        """None when allowed (the RateLimit-* fields are not added then), else the 429."""
        allowed, reset_us, retry_us = (int(x) for x in result)
        if allowed:
            return None
        from .errors import problem, problem_response
        return problem_response(429, problem(429, _REFUSED), _refusal_headers(self.limit, reset_us, retry_us))

    def count(self, key: str) -> Any:
        """The GCRA script's answer for ``key`` (RedisUnavailable when Redis fails)."""
        client = self.client
        if self._sync is None:
            self._sync = client.sync.register_script(_GCRA)
        script = self._sync
        return client.run(lambda redis: script(keys=[key], args=self._args, client=redis))

    def check(self, req: Any) -> Any:
        try:
            return self._answer(self.count(self.key(req)))
        except RedisUnavailable:  # fail open: the breaker logged it
            return None

    async def check_async(self, req: Any) -> Any:
        client = self.client
        if self._async is None:
            self._async = client.aio.register_script(_GCRA)
        script = self._async
        key = self.key(req)
        try:
            result = await client.arun(lambda redis: script(keys=[key], args=self._args, client=redis))
        except RedisUnavailable:
            return None
        return self._answer(result)

    def wrap(self, fn: Any, is_async: bool) -> Any:
        """`fn` (a route's whole pipeline) behind this limit."""
        if is_async:
            async def limited_async(req: Any) -> Any:
                refused = await self.check_async(req)
                return refused if refused is not None else await fn(req)
            return limited_async

        def limited(req: Any) -> Any:
            refused = self.check(req)
            return refused if refused is not None else fn(req)
        return limited


# ---- per verified principal (PrincipalLimit) ----

class _MemoryBucket:
    """The token bucket (GCRA, as the Redis script) of each key in this process's memory,
    on its monotonic clock: at most ``max_keys`` keys, the idle ones (their bucket whole
    again) dropped when it is full, else the oldest."""

    def __init__(self, limit: RateLimit, max_keys: int) -> None:
        self.interval = max(1, round(limit.window * 1_000_000 / limit.requests))
        self.span = self.interval * limit.requests
        self.max_keys = max_keys
        self._tat: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, key: str) -> tuple[int, int, int]:
        now = time.monotonic_ns() // 1000
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            if tat - now + self.interval > self.span:
                return 0, tat - now, tat + self.interval - self.span - now
            if key not in self._tat and len(self._tat) >= self.max_keys:
                self._make_room(now)
            self._tat[key] = tat + self.interval
            return 1, tat + self.interval - now, 0

    def _make_room(self, now: int) -> None:
        idle = [k for k, t in self._tat.items() if t <= now]
        for k in idle or [next(iter(self._tat))]:  # (dicts keep insertion order: the oldest first)
            del self._tat[k]


class PrincipalLimit(SecurityBase):
    """A rate limit per verified principal: ``Security(PrincipalLimit(jwt_auth,
    "100/minute"))`` where the route had ``Security(jwt_auth)``. The verifier (a
    ``JWTAuth``, ``APIKey``, ``HTTPBasicAuth``, a ``Guard``...) runs first, with its 401
    and 403 unchanged; then the principal's ``subject`` is counted (a principal without
    one, or no principal when the verifier's ``auto_error`` is off, by its client
    address), and past the limit the request is refused with the same 429 as the native
    limits. The route gets the principal, and its OpenAPI operation the verifier's
    scheme and a 429.

    ``limit``: ``"100/minute"`` or a ``RateLimit`` (a token bucket): counted in this
    process's memory (each worker its own; at most ``max_keys`` principals, the idle
    ones forgotten first), or, with the ``RateLimit``'s ``redis=``, in Redis, shared by
    every worker and machine (failing open as the Redis limits do).
    """

    def __init__(self, verifier: SecurityBase, limit: "str | RateLimit", *, name: str | None = None,
                 max_keys: int = 65536) -> None:
        if not isinstance(verifier, SecurityBase) or not callable(verifier):
            raise TypeError(f"PrincipalLimit takes a verifier (JWTAuth, APIKey, ...), not {verifier!r}")
        if isinstance(limit, str):
            limit = RateLimit(limit, algorithm="token_bucket")
        if not isinstance(limit, RateLimit):
            raise TypeError(f"limit must be '100/minute' or a RateLimit, not {limit!r}")
        if limit.algorithm != "token_bucket":
            raise ValueError("a PrincipalLimit is a token bucket: RateLimit(..., algorithm='token_bucket')")
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys must be a positive int, not {max_keys!r}")
        self.verifier = verifier
        self.limit = limit
        self.model = verifier.model
        self.scheme_name = verifier.scheme_name
        self.auto_error = True
        name = name if name is not None else f"principal:{verifier.scheme_name}"
        self._redis = RedisLimit(limit, name) if limit.redis is not None else None
        self._memory = _MemoryBucket(limit, max_keys) if self._redis is None else None

    def key(self, request: Any, principal: Any) -> str:
        subject = getattr(principal, "subject", None)
        if isinstance(subject, str):
            return "p" + subject
        return "a" + client_key(request.client, self.limit.ipv6_prefix)

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Any:
        principal = self.verifier(request, security_scopes)
        key = self.key(request, principal)
        if self._memory is not None:
            result: Any = self._memory.count(key)
        else:
            assert self._redis is not None
            try:
                result = self._redis.count(self._redis.prefix + key)
            except RedisUnavailable:
                return principal  # fail open: the breaker logged it
        allowed, reset_us, retry_us = (int(x) for x in result)
        if not allowed:
            raise HTTPError(429, _REFUSED, _refusal_headers(self.limit, reset_us, retry_us))
        return principal

    def security_alternatives(self, scopes: Sequence[str]) -> list[list[str]]:
        return self.verifier.security_alternatives(scopes)

    def openapi_responses(self, scopes: Sequence[str]) -> dict[str, str]:
        return {**self.verifier.openapi_responses(scopes), "429": "Too many requests from this principal"}

    def __repr__(self) -> str:
        return f"PrincipalLimit({self.verifier!r}, {self.limit!r})"

