"""Rate limits (``app.rate_limit``, a route's ``rate_limit=``): checked natively by the
reactors before any Python runs (dispatch/rate_limit), counted in memory shared by every
worker. This module only reads and checks the configuration. See docs/rate-limits.md."""

from __future__ import annotations

import re
from typing import Any, Iterable

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
    an API key; a request without it is keyed by its client address).
    ``algorithm``: ``"sliding_window"`` (default) or ``"token_bucket"``.
    ``headers``: allowed answers carry ``RateLimit-Limit``, ``RateLimit-Remaining``,
    ``RateLimit-Reset`` and ``RateLimit-Policy`` too (a 429 always does).
    ``table_size``: how many keys its table holds (default 65536, 16 bytes each, shared
    by the workers); when a key's bucket of 8 is full the entry nearest to a whole quota
    makes room, logged once.
    """

    __slots__ = ("text", "requests", "window", "key", "header", "algorithm", "headers", "table_size")

    def __init__(self, limit: str, *, key: str = "client", algorithm: str = "sliding_window", headers: bool = True,
                 table_size: int = 65536) -> None:
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
            raise ValueError(f"key must be 'client' or 'header:NAME' (user keys are not native), not {key!r}")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(map(repr, ALGORITHMS))}, not {algorithm!r}")
        self.algorithm = algorithm
        if not isinstance(headers, bool):
            raise TypeError(f"headers must be True or False, not {headers!r}")
        self.headers = headers
        if isinstance(table_size, bool) or not isinstance(table_size, int) or not 8 <= table_size <= 1 << 28:
            raise ValueError(f"table_size must be an int from 8 to 2**28 keys, not {table_size!r}")
        self.table_size = table_size

    def __repr__(self) -> str:
        return f"RateLimit({self.text!r}, key={self.key!r}, algorithm={self.algorithm!r})"

    def add_to(self, server: Any) -> int:
        """The native policy of this limit: its id on ``server`` (``_native.Server``)."""
        return int(server.add_rate_limit(self.requests, max(1, round(self.window * 1000)), self.algorithm,
                                         "header" if self.header else "client", self.header, self.headers,
                                         self.table_size))


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
