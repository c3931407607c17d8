"""What a route with ``cache=`` or ``etag=True`` runs per request (docs/caching.md): the
key (method, path, the chosen query parameters and headers, then the response's Vary
headers), a hit answered from the store with ``Age``, a miss run once per key at a time
and stored when it may be, and the strong ETag with its 304. Built once at start-up
around the route's handler (inside its middleware); a route with neither option is
registered without it and pays nothing."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from typing import Any, Callable, Iterable

from ._native import json_dumps
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


class CachedRoute:
    """The per-route state: its ``Cache``, store, key parts, and the misses running."""

    def __init__(self, spec: Cache, store: CacheStore, path: str) -> None:
        self.spec = spec
        self.store = store
        self.path = path
        self.key_query = spec.key_query
        self.key_headers = spec.key_headers
        self.bypass_auth = "authorization" not in spec.key_headers
        self.statuses = spec.statuses
        self.running_sync: dict[str, threading.Event] = {}
        self.running_async: dict[str, asyncio.Future[None]] = {}
        self.guard = threading.Lock()

    def usable(self, req: Any) -> bool:
        """RFC 9111 §3.5: a request with credentials is answered from (and stored in) a
        shared cache only when they are part of the key."""
        return not (self.bypass_auth and "authorization" in req.headers)

    def key(self, req: Any) -> str:
        q = req.query
        if self.key_query is None:
            items = sorted(q.multi_items()) if q else []
        else:
            items = [(n, v) for n in self.key_query for v in q.getlist(n)]
        h = req.headers
        heads = [",".join(h.getlist(n)) for n in self.key_headers]
        # The route's pattern and the path as sent: two routes never share a key (a
        # decoded "/a%2Fb" is "/a/b", which another route may serve).
        return "GET " + json_dumps([self.path, req.raw_path.decode("latin-1"), items, heads]).decode()

    @staticmethod
    def variant(base: str, vary: tuple[str, ...], req: Any) -> str:
        h = req.headers
        return base + " vary " + json_dumps([[n, ",".join(h.getlist(n))] for n in vary]).decode()

    def tags(self, req: Any) -> tuple[str, ...]:
        tags = self.spec.tags
        return tuple(tags(req)) if callable(tags) else tuple(tags)

    def storable(self, req: Any, resp: Response) -> tuple[str, ...] | None | bool:
        """False when ``resp`` may not be stored, else its Vary names (None: none)."""
        if resp.status not in self.statuses or resp._cookies or "_rb_cookies" in getattr(req, "__dict__", ()):
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

def wrap_handler(handler: Callable[..., Any], is_async: bool, spec: Cache | None, etag: bool,
                 store: CacheStore | None, path: str,
                 json_default: Callable[[Any], Any] | None) -> Callable[..., Any]:
    """``handler`` with the route's cache (``spec``, in ``store``) and/or ETags around it."""
    if spec is None:
        return _etag_async(handler, json_default) if is_async else _etag_sync(handler, json_default)
    assert store is not None
    route = CachedRoute(spec, store, path)
    return _cached_async(handler, route, json_default) if is_async else _cached_sync(handler, route, json_default)


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


def _cached_sync(handler: Callable[..., Any], route: CachedRoute,
                 json_default: Callable[[Any], Any] | None) -> Callable[..., Any]:
    lock = route.spec.lock
    running = route.running_sync
    guard = route.guard

    def miss(req: Any, base: str) -> Any:
        result = handler(req)
        resp = _materialize(result, json_default)
        if resp is None:
            return result
        return route.finish(req, resp, route.save(req, base, resp))

    def cached(req: Any) -> Any:
        if not route.usable(req):
            result = handler(req)
            resp = _materialize(result, json_default)
            return result if resp is None or not route.spec.etag else _with_etag(req, resp)
        base = route.key(req)
        entry = route.lookup(req, base)
        if entry is not None:
            return route.hit(req, entry)
        if not lock:
            return miss(req, base)
        with guard:
            event = running.get(base)
            leader = event is None
            if leader:
                event = running[base] = threading.Event()
        if not leader:
            assert event is not None
            event.wait(_WAIT_FOR_LEADER)
            entry = route.lookup(req, base)
            return route.hit(req, entry) if entry is not None else miss(req, base)
        try:
            return miss(req, base)
        finally:
            with guard:
                del running[base]
            assert event is not None
            event.set()

    return cached


def _cached_async(handler: Callable[..., Any], route: CachedRoute,
                  json_default: Callable[[Any], Any] | None) -> Callable[..., Any]:
    lock = route.spec.lock
    running = route.running_async

    async def miss(req: Any, base: str) -> Any:
        result = await handler(req)
        resp = _materialize(result, json_default)
        if resp is None:
            return result
        return route.finish(req, resp, await route.asave(req, base, resp))

    async def cached(req: Any) -> Any:
        if not route.usable(req):
            result = await handler(req)
            resp = _materialize(result, json_default)
            return result if resp is None or not route.spec.etag else _with_etag(req, resp)
        base = route.key(req)
        entry = await route.alookup(req, base)
        if entry is not None:
            return route.hit(req, entry)
        if not lock:
            return await miss(req, base)
        waiting = running.get(base)
        if waiting is not None:  # another request of this key runs the handler: its answer serves this one
            try:
                await asyncio.wait_for(asyncio.shield(waiting), _WAIT_FOR_LEADER)
            except asyncio.TimeoutError:  # the leader is slow: run it here too
                pass
            entry = await route.alookup(req, base)
            return route.hit(req, entry) if entry is not None else await miss(req, base)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        running[base] = done
        try:
            return await miss(req, base)
        finally:
            del running[base]
            done.set_result(None)

    return cached
