"""What a route with ``cache=`` or ``etag=True`` runs per request (docs/caching.md): the
key (method, path, the chosen query parameters and headers, then the response's Vary
headers), a hit answered from the store with ``Age``, a miss run once per key at a time
and stored when it may be, and the strong ETag with its 304. Built once at start-up:
around a plain route's handler (inside its middleware), and inside a typed route's
runner between its dependencies and its handler, so every guard runs on a hit too
(what its key holds is planned by ``ringbolt._cache_plan``). A route with neither
option is registered without it and pays nothing."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from typing import Any, Callable, Iterable, NamedTuple

from ._cache_plan import KeyPlan, key_part, key_plan
from ._native import json_dumps
from .typed.plan import RoutePlan
from .caching import Cache, CacheStore, Entry
from .datastructures import ResponseHeaders
from .response import FileResponse, Response, StreamingResponse
from .routing import _as_response

# RFC 9110 §15.4.5: what a 304 carries of the 200 it stands for
_NOT_MODIFIED_FIELDS = frozenset(("cache-control", "content-location", "date", "etag", "expires", "vary"))
_TEXT = "text/plain; charset=utf-8"
_BINARY = "application/octet-stream"
_JSON = "application/json"
# Followers of a miss wait at most this long for the handler that runs it, then run it too.
_WAIT_FOR_LEADER = 30.0


def _materialize(result: Any, json_default: Callable[[Any], Any] | None) -> Response | None:
    """The handler's result as a Response whose body is the bytes the server would send
    and whose content type is explicit; None for what is not kept whole (a stream, a
    file, a body of an unknown type)."""
    if isinstance(result, (StreamingResponse, FileResponse)):
        return None
    resp = _as_response(result)
    body = resp.body
    kind = type(body)
    if kind is bytes:
        default = _BINARY
    elif kind is str:
        body, default = body.encode(), _TEXT
    elif kind is dict or kind is list:
        body, default = json_dumps(body, json_default), _JSON
    elif body is None:
        body, default = b"", ""
    elif kind is bytearray or kind is memoryview:
        body, default = bytes(body), _BINARY
    else:
        return None
    out: Response = object.__new__(Response)
    out.body = body
    out.status = resp.status
    out.headers = resp.headers if isinstance(resp.headers, ResponseHeaders) else ResponseHeaders(resp.headers)
    out.content_type = resp.content_type if resp.content_type is not None else default
    out._after = getattr(resp, "_after", None)
    out._cookies = getattr(resp, "_cookies", None)
    out.background = getattr(resp, "background", None)
    return out


def strong_etag(body: bytes) -> str:
    """128 bits of the body's SHA-256 (OpenSSL's, with the CPU's SHA instructions where it
    has them): on the development machine 2.8 µs against BLAKE2b's 5.6 for a 1.3 KB body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` or any listed tag equal to ``etag`` by the weak comparison."""
    if if_none_match.strip() == "*":
        return True
    mine = etag[2:] if etag.startswith("W/") else etag
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if (tag[2:] if tag.startswith("W/") else tag) == mine:
            return True
    return False


def _not_modified(headers: Iterable[tuple[str, str]]) -> Response:
    kept = [(k, v) for k, v in headers if k.lower() in _NOT_MODIFIED_FIELDS]
    resp: Response = object.__new__(Response)
    resp.body = b""
    resp.status = 304
    resp.headers = list.__new__(ResponseHeaders)
    list.extend(resp.headers, kept)
    resp.content_type = ""  # no Content-Type on a 304
    resp._after = None
    resp._cookies = None
    resp.background = None
    return resp


def _with_etag(req: Any, resp: Response) -> Response:
    """``resp`` with its ETag (the handler's own, else a hash of the body), or a 304 when
    the request's If-None-Match matches it."""
    if resp.status != 200:
        return resp
    etag = resp.headers.get("etag") if resp.headers else None  # (a lookup costs more than the test)
    if etag is None:
        etag = strong_etag(resp.body)
        resp.headers.append(("ETag", etag))
    inm = req.header("if-none-match")
    if inm is not None and _matches(inm, etag):
        nm = _not_modified(resp.headers)
        nm._after, nm._cookies, nm.background = resp._after, resp._cookies, resp.background
        return nm
    return resp


def _cache_control(headers: ResponseHeaders) -> set[str]:
    out: set[str] = set()
    for value in headers.getlist("cache-control"):
        for d in value.split(","):
            out.add(d.split("=", 1)[0].strip().lower())
    return out


def _vary(headers: ResponseHeaders) -> tuple[str, ...] | None:
    names: list[str] = []
    for value in headers.getlist("vary"):
        names.extend(n.strip().lower() for n in value.split(",") if n.strip())
    return tuple(sorted(set(names))) if names else None


class Miss:
    """What ``CachedRoute.begin`` answers when the handler must run: the request's key
    (None: the request is neither served from the cache nor stored, e.g. it carries
    credentials the key does not hold) and, for the one request running a cold key's
    handler, what the others of that key wait on (None for the others)."""

    __slots__ = ("base", "event")

    def __init__(self, base: str | None, event: Any) -> None:
        self.base = base
        self.event = event


_BYPASS = Miss(None, None)


def _by_name(item: tuple[str, str]) -> str:
    return item[0]


class CachedRoute:
    """The per-route state: its ``Cache``, store, key parts, and the misses running.

    ``begin(req, parts)`` answers a hit (a Response) or a ``Miss``; the handler then runs
    and ``end(req, miss, result)`` stores its answer when it may (``abort(miss)`` if it
    raised). A plain route calls them around its handler; a typed route's runner calls
    them between its dependencies (every guard) and its handler, with ``parts`` the
    values of the dependencies that read the Request (``ringbolt._cache_plan``)."""

    def __init__(self, spec: Cache, store: CacheStore, path: str, json_default: Callable[[Any], Any] | None,
                 keys: KeyPlan | None = None) -> None:
        self.spec = spec
        self.store = store
        self.path = path
        self.json_default = json_default
        self.key_query = spec.key_query
        headers = dict.fromkeys(spec.key_headers)
        if keys is not None:  # what the typed handler is made from
            headers.update(dict.fromkeys(keys.headers))
            if self.key_query is not None:
                self.key_query = tuple(dict.fromkeys((*self.key_query, *keys.query)))
        self.key_headers = tuple(headers)
        self.key_cookies = keys.cookies if keys is not None else ()
        self.bypass_auth = "authorization" not in self.key_headers
        # A session read for this request is in the key only through a session dependency
        # of the handler; a handler that takes the Request may read one the key lacks.
        self.session_unkeyed = keys is None or (keys.reads_request and not keys.keys_session)
        self.statuses = spec.statuses
        self.running_sync: dict[str, threading.Event] = {}
        self.running_async: dict[str, asyncio.Future[None]] = {}
        self.guard = threading.Lock()

    def key(self, req: Any, parts: tuple[Any, ...]) -> str | None:
        """The request's key; None when a part has no text form (not served, not stored)."""
        q = req.query
        if self.key_query is None:
            # by name only: the order of one name's values is what the handler sees
            items = sorted(q.multi_items(), key=_by_name) if q else []
        else:
            items = [(n, v) for n in self.key_query for v in q.getlist(n)]
        h = req.headers
        heads = [",".join(h.getlist(n)) for n in self.key_headers]
        cookies = [req.cookie(n) for n in self.key_cookies] if self.key_cookies else None
        # The route's pattern and the path as sent: two routes never share a key (a
        # decoded "/a%2Fb" is "/a/b", which another route may serve). The scheme and the
        # host (a trusted proxy's forwarded ones included): an answer may be made from
        # them (its links), and the client chooses its Host.
        try:
            values = [key_part(p) for p in parts] if parts else None
            return "GET " + json_dumps([self.path, req.scheme, req.host, req.raw_path.decode("latin-1"), items,
                                        heads, cookies, values]).decode()
        except TypeError:
            return None

    @staticmethod
    def variant(base: str, vary: tuple[str, ...], req: Any) -> str:
        h = req.headers
        return base + " vary " + json_dumps([[n, ",".join(h.getlist(n))] for n in vary]).decode()

    def tags(self, req: Any) -> tuple[str, ...]:
        tags = self.spec.tags
        return tuple(tags(req)) if callable(tags) else tuple(tags)

    def storable(self, req: Any, resp: Response) -> tuple[str, ...] | None | bool:
        """False when ``resp`` may not be stored, else its Vary names (None: none)."""
        if resp.status not in self.statuses or resp._cookies:
            return False
        state = getattr(req, "__dict__", None)
        if state:
            if "_rb_cookies" in state:
                return False
            # A session read for this request (ringbolt.sessions) and written back: its
            # Set-Cookie is added after this; read only: the answer may be made from it,
            # unless the key holds its data (a session dependency of a typed handler).
            session = state.get("_rb_session")
            if session is not None and (session.modified or session.renew or self.session_unkeyed):
                return False
        headers = resp.headers
        if not headers:
            return None
        if headers.get("set-cookie") is not None:
            return False
        if headers.get("cache-control") is not None and _cache_control(headers) & {"no-store", "private", "no-cache"}:
            return False
        vary = _vary(headers)
        if vary is not None and "*" in vary:
            return False
        return vary

    def entry(self, resp: Response) -> Entry:
        headers = [(k, v) for k, v in resp.headers if k.lower() != "age"]
        etag = None
        if self.spec.etag and resp.status == 200:
            etag = resp.headers.get("etag") if resp.headers else None
            if etag is None:
                etag = strong_etag(resp.body)
                headers.append(("ETag", etag))
        return Entry(resp.status, headers, resp.content_type, resp.body, time.time(), None, etag)

    def hit(self, req: Any, entry: Entry) -> Response:
        resp: Response = object.__new__(Response)
        resp.body = entry.body
        resp.status = entry.status
        resp.headers = list.__new__(ResponseHeaders)
        list.extend(resp.headers, entry.headers)
        resp.headers.append(("Age", str(max(0, int(time.time() - entry.created)))))
        resp.content_type = entry.content_type
        resp._after = None
        resp._cookies = None
        resp.background = None
        if entry.etag is not None:
            inm = req.header("if-none-match")
            if inm is not None and _matches(inm, entry.etag):
                return _not_modified(resp.headers)
        return resp

    def finish(self, req: Any, resp: Response, stored: Entry | None) -> Response:
        """A miss's answer: the handler's response with the stored entry's ETag."""
        if stored is not None and stored.etag is not None and (not resp.headers or resp.headers.get("etag") is None):
            resp.headers.append(("ETag", stored.etag))  # the hash entry() made, not made twice
        return _with_etag(req, resp) if self.spec.etag else resp

    # ---- sync routes ----
    def lookup(self, req: Any, base: str) -> Entry | None:
        entry = self.store.get(base)
        if entry is not None and entry.vary is not None:
            entry = self.store.get(self.variant(base, entry.vary, req))
        return entry

    def writes(self, req: Any, base: str, resp: Response) -> tuple[Entry | None, list[tuple[str, Entry]]]:
        """The entry made of ``resp`` (None: not storable) and the keys to store under:
        ``base``, or with Vary the marker naming its headers there and the entry under
        this request's variant."""
        vary = self.storable(req, resp)
        if vary is False:
            return None, []
        entry = self.entry(resp)
        if vary:
            assert isinstance(vary, tuple)
            return entry, [(base, Entry.marker(vary)), (self.variant(base, vary, req), entry)]
        return entry, [(base, entry)]

    def save(self, req: Any, base: str, resp: Response) -> Entry | None:
        entry, writes = self.writes(req, base, resp)
        if writes:
            ttl, tags = self.spec.ttl, self.tags(req)
            for key, value in writes:
                self.store.set(key, value, ttl, tags)
        return entry

    def begin(self, req: Any, parts: tuple[Any, ...]) -> Response | Miss:
        """A hit's answer, or the Miss the handler runs for. Concurrent misses of one key
        (``lock``): the first runs the handler, the others wait for its answer."""
        if self.bypass_auth and "authorization" in req.headers:
            return _BYPASS  # RFC 9111 §3.5: credentials the key does not hold
        base = self.key(req, parts)
        if base is None:
            return _BYPASS
        entry = self.lookup(req, base)
        if entry is not None:
            return self.hit(req, entry)
        if not self.spec.lock:
            return Miss(base, None)
        with self.guard:
            event = self.running_sync.get(base)
            if event is None:
                self.running_sync[base] = event = threading.Event()
                return Miss(base, event)
        event.wait(_WAIT_FOR_LEADER)
        entry = self.lookup(req, base)
        return self.hit(req, entry) if entry is not None else Miss(base, None)

    def answer(self, req: Any, miss: Miss, result: Any) -> tuple[Any, str | None]:
        """The handler's ``result`` for ``miss`` as answered, and the key to store it under
        first (None: nothing to store: not a response, or a miss without a key)."""
        resp = _materialize(result, self.json_default)
        if resp is None:
            return result, None
        if miss.base is None:
            return self.finish(req, resp, None), None
        return resp, miss.base

    def end(self, req: Any, miss: Miss, result: Any) -> Any:
        """The handler's ``result`` for ``miss``: stored when it may be, with its ETag."""
        try:
            resp, base = self.answer(req, miss, result)
            return resp if base is None else self.finish(req, resp, self.save(req, base, resp))
        finally:
            self.abort(miss)

    def abort(self, miss: Miss) -> None:
        """The handler of ``miss`` is done (or failed): the requests waiting go on."""
        if miss.event is not None:
            with self.guard:
                del self.running_sync[miss.base]  # type: ignore[arg-type]
            miss.event.set()
            miss.event = None

    # ---- async routes ----
    async def alookup(self, req: Any, base: str) -> Entry | None:
        entry = await self.store.aget(base)
        if entry is not None and entry.vary is not None:
            entry = await self.store.aget(self.variant(base, entry.vary, req))
        return entry

    async def asave(self, req: Any, base: str, resp: Response) -> Entry | None:
        entry, writes = self.writes(req, base, resp)
        if writes:
            ttl, tags = self.spec.ttl, self.tags(req)
            for key, value in writes:
                await self.store.aset(key, value, ttl, tags)
        return entry

    async def abegin(self, req: Any, parts: tuple[Any, ...]) -> Response | Miss:
        """``begin`` for async routes (the store's async calls; waiting on the event loop)."""
        if self.bypass_auth and "authorization" in req.headers:
            return _BYPASS
        base = self.key(req, parts)
        if base is None:
            return _BYPASS
        entry = await self.alookup(req, base)
        if entry is not None:
            return self.hit(req, entry)
        if not self.spec.lock:
            return Miss(base, None)
        waiting = self.running_async.get(base)
        if waiting is None:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.running_async[base] = done
            return Miss(base, done)
        try:  # another request of this key runs the handler: its answer serves this one
            await asyncio.wait_for(asyncio.shield(waiting), _WAIT_FOR_LEADER)
        except asyncio.TimeoutError:  # the leader is slow: run it here too
            pass
        entry = await self.alookup(req, base)
        return self.hit(req, entry) if entry is not None else Miss(base, None)

    async def aend(self, req: Any, miss: Miss, result: Any) -> Any:
        """``end`` for async routes."""
        try:
            resp, base = self.answer(req, miss, result)
            return resp if base is None else self.finish(req, resp, await self.asave(req, base, resp))
        finally:
            self.aabort(miss)

    def aabort(self, miss: Miss) -> None:
        """``abort`` for async routes."""
        if miss.event is not None:
            del self.running_async[miss.base]  # type: ignore[arg-type]
            miss.event.set_result(None)
            miss.event = None

    def gate(self, readers: tuple[Any, ...], is_async: bool) -> "CacheGate":
        """What a typed route's runner calls between its dependencies and its handler."""
        if is_async:
            return CacheGate(readers, self.abegin, self.aend, self.aabort, Miss)
        return CacheGate(readers, self.begin, self.end, self.abort, Miss)


class CacheGate(NamedTuple):
    """A typed route's cache, for ``ringbolt.typed.runner``: after every dependency has run,
    ``begin(req, values of readers)`` answers a hit or a ``miss``; after the handler,
    ``end(req, miss, result)``; ``abort(miss)`` when the handler raised."""

    readers: tuple[Any, ...]  #: ``DependencySpec``s whose values the key holds
    begin: Callable[..., Any]
    end: Callable[..., Any]
    abort: Callable[[Miss], None]
    miss: type

def wrap_handler(handler: Callable[..., Any], is_async: bool, spec: Cache | None, etag: bool,
                 store: CacheStore | None, path: str,
                 json_default: Callable[[Any], Any] | None) -> Callable[..., Any]:
    """``handler`` (a plain route's, or a typed route's runner with ``etag=True`` only)
    with the route's cache (``spec``, in ``store``) and/or ETags around it."""
    if spec is None:
        return _etag_async(handler, json_default) if is_async else _etag_sync(handler, json_default)
    assert store is not None
    route = CachedRoute(spec, store, path, json_default)
    return _cached_async(handler, route) if is_async else _cached_sync(handler, route)


def route_gate(plan: RoutePlan, spec: Cache, store: CacheStore, path: str,
               json_default: Callable[[Any], Any] | None) -> CacheGate:
    """The cache of a typed route, for its runner to call after its guards (every
    dependency) and before its handler; ValueError for what its key cannot hold."""
    keys = key_plan(plan, path)
    return CachedRoute(spec, store, path, json_default, keys).gate(keys.readers, plan.is_async)


def _etag_sync(handler: Callable[..., Any], json_default: Callable[[Any], Any] | None) -> Callable[..., Any]:
    def etagged(req: Any) -> Any:
        result = handler(req)
        resp = _materialize(result, json_default)
        return result if resp is None else _with_etag(req, resp)

    return etagged


def _etag_async(handler: Callable[..., Any], json_default: Callable[[Any], Any] | None) -> Callable[..., Any]:
    async def etagged(req: Any) -> Any:
        result = await handler(req)
        resp = _materialize(result, json_default)
        return result if resp is None else _with_etag(req, resp)

    return etagged


def _cached_sync(handler: Callable[..., Any], route: CachedRoute) -> Callable[..., Any]:
    begin, end, abort = route.begin, route.end, route.abort

    def cached(req: Any) -> Any:
        miss = begin(req, ())
        if type(miss) is not Miss:
            return miss
        try:
            result = handler(req)
        except BaseException:
            abort(miss)
            raise
        return end(req, miss, result)

    return cached


def _cached_async(handler: Callable[..., Any], route: CachedRoute) -> Callable[..., Any]:
    begin, end, abort = route.abegin, route.aend, route.aabort

    async def cached(req: Any) -> Any:
        miss = await begin(req, ())
        if type(miss) is not Miss:
            return miss
        try:
            result = await handler(req)
        except BaseException:
            abort(miss)
            raise
        return await end(req, miss, result)

    return cached
