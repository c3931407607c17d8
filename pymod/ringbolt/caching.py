"""Response caching for GET/HEAD routes (docs/caching.md): the route option
``cache=Cache(...)`` (or ``cache=60``), the stores an answer is kept in (``MemoryStore``,
a bounded LRU in the worker's memory; ``RedisStore``, shared by workers and machines) and
``app.cache``, the app's default store and its invalidation by tag. What a route does
per request with them is in ``ringbolt._cached_route``."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable

__all__ = ["Cache", "CacheStore", "MemoryStore", "RedisStore", "ResponseCache"]

Tags = Iterable[str] | Callable[[Any], Iterable[str]]


class Cache:
    """How a route's answers are cached: ``@app.get("/items", cache=Cache(ttl=60))``.

    ``ttl``: seconds an answer is served from the cache (``Age`` says how old it is).
    ``key_query``: the query parameters that make up the key (None, the default: all of
    them, in any order; ``[]``: none, one answer whatever the query). ``key_headers``:
    request headers that make up the key (``accept-language``...); a response's own
    ``Vary`` headers are added to it as well. ``tags``: names to invalidate the answers
    by (``app.cache.invalidate(tags=[...])``), or a callable ``(req) -> names``.
    ``statuses``: the statuses that are stored (default 200 only). ``etag``: a strong
    ``ETag`` (a hash of the body) on the answers, and 304 for a matching
    ``If-None-Match``. ``store``: this route's store (default ``app.cache.store``).
    ``lock``: concurrent misses of one key in a worker run the handler once, the others
    wait for its answer.
    """

    __slots__ = ("ttl", "key_query", "key_headers", "tags", "statuses", "etag", "store", "lock")

    def __init__(self, ttl: float = 60, *, key_query: Iterable[str] | None = None, key_headers: Iterable[str] = (),
                 tags: Tags = (), statuses: Iterable[int] = (200,), etag: bool = True,
                 store: "CacheStore | None" = None, lock: bool = True) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
            raise ValueError(f"cache ttl must be a number of seconds above 0, not {ttl!r}")
        self.ttl = float(ttl)
        if isinstance(key_query, str) or isinstance(key_headers, str):
            raise TypeError("key_query and key_headers take a list of names, not one str")
        self.key_query = None if key_query is None else tuple(_names(key_query, "key_query"))
        self.key_headers = tuple(n.lower() for n in _names(key_headers, "key_headers"))
        if isinstance(tags, str):
            raise TypeError("tags take a list of names (or a callable), not one str")
        self.tags: Tags = tags if callable(tags) else tuple(_names(tags, "tags"))
        self.statuses = frozenset(statuses)
        for s in self.statuses:
            if isinstance(s, bool) or not isinstance(s, int) or not 200 <= s <= 599 or s == 206 or s == 304:
                raise ValueError(f"a cached status is a final status other than 206 and 304, not {s!r}")
        self.etag = bool(etag)
        if store is not None and not isinstance(store, CacheStore):
            raise TypeError(f"store must be a ringbolt.caching store, not {type(store).__name__}")
        self.store = store
        self.lock = bool(lock)

    def __repr__(self) -> str:
        return f"Cache(ttl={self.ttl:g}, key_query={self.key_query!r}, key_headers={self.key_headers!r})"


def _names(values: Iterable[str], what: str) -> list[str]:
    out = list(values)
    for v in out:
        if not isinstance(v, str) or not v:
            raise TypeError(f"{what} holds names (non-empty str), not {v!r}")
    return out


def as_cache(value: Any) -> Cache | None:
    """A route's ``cache=`` option as a ``Cache`` (a number is its ttl), or None."""
    if value is None or value is False:
        return None
    if isinstance(value, Cache):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Cache(ttl=value)
    raise TypeError(f"cache= takes a ringbolt.caching.Cache or a ttl in seconds, not {value!r}")


class Entry:
    """A stored answer: what the server sends for a hit (the body as bytes), or, with
    ``vary`` set, the marker saying which request headers select among the answers
    stored for the key (the response's ``Vary``)."""

    __slots__ = ("status", "headers", "content_type", "body", "created", "vary", "etag")

    def __init__(self, status: int, headers: list[tuple[str, str]], content_type: str | None, body: bytes,
                 created: float, vary: tuple[str, ...] | None = None, etag: str | None = None) -> None:
        self.status = status
        self.headers = headers
        self.content_type = content_type
        self.body = body
        self.created = created
        self.vary = vary
        self.etag = etag  # the ETag among the headers, kept apart: a hit compares it without a search

    @classmethod
    def marker(cls, vary: tuple[str, ...]) -> "Entry":
        return cls(0, [], None, b"", time.time(), vary)

    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 64

    def encode(self) -> bytes:
        head = {"s": self.status, "h": self.headers, "t": self.content_type, "c": self.created, "v": self.vary,
                "e": self.etag}
        return json.dumps(head, separators=(",", ":")).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes) -> "Entry | None":
        head, sep, body = data.partition(b"\n")
        try:
            meta = json.loads(head)
            vary = meta["v"]
            return cls(int(meta["s"]), [(str(k), str(v)) for k, v in meta["h"]], meta["t"], body,
                       float(meta["c"]), tuple(vary) if vary is not None else None, meta["e"])
        except (ValueError, KeyError, TypeError):
            return None  # not ours, or from another version: a miss


class CacheStore:
    """Where answers are kept. ``get``/``set``/``invalidate``/``clear`` for sync routes;
    ``aget``/``aset``/``ainvalidate`` for ``async def`` ones (by default the sync ones)."""

    def get(self, key: str) -> Entry | None:
        raise NotImplementedError

    def set(self, key: str, entry: Entry, ttl: float, tags: Iterable[str] = ()) -> None:
        raise NotImplementedError

    def invalidate(self, tags: Iterable[str]) -> int:
        """Drop every answer stored with one of ``tags``; returns how many went."""
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    async def aget(self, key: str) -> Entry | None:
        return self.get(key)

    async def aset(self, key: str, entry: Entry, ttl: float, tags: Iterable[str] = ()) -> None:
        self.set(key, entry, ttl, tags)

    async def ainvalidate(self, tags: Iterable[str]) -> int:
        return self.invalidate(tags)


class MemoryStore(CacheStore):
    """Answers in this worker's memory: least recently used ones go first beyond
    ``max_entries`` answers or ``max_bytes`` of bodies and headers (an answer larger than
    ``max_bytes`` is not kept); expired ones go when they are looked up. Each worker of ``--workers N`` has its own (use ``RedisStore``
    to share one)."""

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 << 20) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be at least 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[float, Entry, tuple[str, ...]]] = OrderedDict()
        self._tags: dict[str, set[str]] = {}
        self._bytes = 0
        self._lock = threading.Lock()  # sync routes run on every reactor thread

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Entry | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return item[1]

    def set(self, key: str, entry: Entry, ttl: float, tags: Iterable[str] = ()) -> None:
        tags = tuple(tags)
        if entry.size() > self.max_bytes:
            return  # larger than the whole store: not kept (and nothing evicted for it)
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (time.monotonic() + ttl, entry, tags)
            self._bytes += entry.size()
            for t in tags:
                self._tags.setdefault(t, set()).add(key)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        _, entry, tags = self._items.pop(key)
        self._bytes -= entry.size()
        for t in tags:
            keys = self._tags.get(t)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[t]

    def invalidate(self, tags: Iterable[str]) -> int:
        n = 0
        with self._lock:
            for t in _tag_list(tags):
                for key in list(self._tags.get(t, ())):
                    if key in self._items:
                        self._drop(key)
                        n += 1
        return n

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._tags.clear()
            self._bytes = 0


# Deletes every key in each tag's set, and the set: one atomic step, so an answer stored
# while an invalidation runs is either dropped with it or stored after it.
_INVALIDATE = """
local n = 0
for _, tag in ipairs(KEYS) do
  for _, key in ipairs(redis.call('SMEMBERS', tag)) do n = n + redis.call('DEL', key) end
  redis.call('DEL', tag)
end
return n
"""


class RedisStore(CacheStore):
    """Answers in Redis (redis-py, the extra ``ringbolt[redis]``), shared by every worker
    and machine that uses the same server and ``prefix``. Each answer is one key
    (``prefix`` + a hash of the cache key) expiring with its ttl; each tag a set of the
    keys stored with it, invalidated atomically. Needs Redis 7 or later.

    ``url``: ``redis://host:port/db`` (or ``rediss://``, ``unix://``); or pass a
    ``client`` (``redis.Redis``) and an ``async_client`` (``redis.asyncio.Redis``)
    made yourself (with timeouts of your own). Sync routes use the sync client, ``async
    def`` routes the async one (made on first use, on the worker's event loop).
    ``connect_timeout``, ``timeout`` (seconds to connect, to wait for an answer) and
    ``retry_after`` (seconds Redis is skipped after a failure): see ``RedisSettings``.

    When Redis fails (or while it is skipped) a lookup is a miss and nothing is stored:
    the route's handler answers, and the failure is logged once until Redis answers
    again. ``invalidate`` and ``clear`` raise ``RedisUnavailable`` (a 503 when not
    caught): an invalidation must not be lost."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "ringbolt:cache:",
                 client: Any = None, async_client: Any = None, connect_timeout: float | None = None,
                 timeout: float | None = None, retry_after: float | None = None) -> None:
        from . import _redis
        _redis.redis_module()  # ImportError naming the extra now, not at the first request
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("prefix must be a non-empty str")
        given = {"connect_timeout": connect_timeout, "timeout": timeout, "retry_after": retry_after}
        self.settings = _redis.RedisSettings(url, **{k: v for k, v in given.items() if v is not None})
        self.url = url
        self.prefix = prefix
        self._redis = _redis.RedisClient(self.settings, "the response cache",
                                         "cached routes run their handlers and nothing is stored until it answers",
                                         sync=client, aio=async_client)
        self._unavailable = _redis.RedisUnavailable

    def _key(self, key: str) -> str:
        import hashlib
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()

    def _tag(self, tag: str) -> str:
        return self.prefix + "tag:" + tag

    def get(self, key: str) -> Entry | None:
        k = self._key(key)
        try:
            data = self._redis.run(lambda r: r.get(k))
        except self._unavailable:
            return None  # a miss: the handler answers
        return Entry.decode(data) if isinstance(data, bytes) else None

    async def aget(self, key: str) -> Entry | None:
        k = self._key(key)
        try:
            data = await self._redis.arun(lambda r: r.get(k))
        except self._unavailable:
            return None
        return Entry.decode(data) if isinstance(data, bytes) else None

    def _set(self, pipe: Any, key: str, entry: Entry, ttl: float, tags: Iterable[str]) -> Any:
        k = self._key(key)
        ms = max(1, int(ttl * 1000))
        pipe.set(k, entry.encode(), px=ms)
        for t in tags:
            tk = self._tag(t)
            pipe.sadd(tk, k)
            # the set lives as long as its longest-lived answer (NX: a new set; GT: a longer ttl)
            pipe.pexpire(tk, ms, nx=True)
            pipe.pexpire(tk, ms, gt=True)
        return pipe

    def set(self, key: str, entry: Entry, ttl: float, tags: Iterable[str] = ()) -> None:
        tags = tuple(tags)
        try:
            self._redis.run(lambda r: self._set(r.pipeline(transaction=False), key, entry, ttl, tags).execute())
        except self._unavailable:
            pass  # not stored: the breaker logged it

    async def aset(self, key: str, entry: Entry, ttl: float, tags: Iterable[str] = ()) -> None:
        tags = tuple(tags)
        try:
            await self._redis.arun(lambda r: self._set(r.pipeline(transaction=False), key, entry, ttl, tags).execute())
        except self._unavailable:
            pass

    def invalidate(self, tags: Iterable[str]) -> int:
        keys = [self._tag(t) for t in _tag_list(tags)]
        return int(self._redis.run(lambda r: r.eval(_INVALIDATE, len(keys), *keys))) if keys else 0

    async def ainvalidate(self, tags: Iterable[str]) -> int:
        keys = [self._tag(t) for t in _tag_list(tags)]
        return int(await self._redis.arun(lambda r: r.eval(_INVALIDATE, len(keys), *keys))) if keys else 0

    def clear(self) -> None:
        def clear(r: Any) -> None:
            batch = [k for k in r.scan_iter(match=self.prefix + "*", count=500)]
            for i in range(0, len(batch), 500):
                r.delete(*batch[i:i + 500])
        self._redis.run(clear)


def _tag_list(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str):
        raise TypeError("tags take a list of names, not one str")
    return _names(tags, "tags")


class ResponseCache:
    """``app.cache``: the store of routes whose ``Cache`` names none (``store``, by
    default a ``MemoryStore()``, set before the app starts), and invalidation."""

    def __init__(self) -> None:
        self._store: CacheStore | None = None

    @property
    def store(self) -> CacheStore:
        if self._store is None:
            self._store = MemoryStore()
        return self._store

    @store.setter
    def store(self, store: CacheStore) -> None:
        if not isinstance(store, CacheStore):
            raise TypeError(f"store must be a ringbolt.caching store, not {type(store).__name__}")
        self._store = store

    def invalidate(self, tags: Iterable[str], store: CacheStore | None = None) -> int:
        """Drop the answers stored with any of ``tags`` (from a sync handler, a hook, a
        task); returns how many went."""
        return (store or self.store).invalidate(tags)

    async def ainvalidate(self, tags: Iterable[str], store: CacheStore | None = None) -> int:
        """``invalidate`` for ``async def`` handlers."""
        return await (store or self.store).ainvalidate(tags)

    def clear(self) -> None:
        self.store.clear()
