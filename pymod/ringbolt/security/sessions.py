"""Sessions: a signed cookie holding the session's JSON (``CookieStore``, the default) or
a signed random id whose data lives in Redis with a TTL (``RedisStore``). HMAC-SHA256
from the stdlib signs; the first secret key signs, every key verifies (rotation).

A route pays only when it asks for the session (``Depends(sessions)``,
``sessions.get(req)``, or ``sessions.middleware`` on its router): the session is read
then, and written back (a Set-Cookie, a Redis write) in the step that finishes a
handler's result (``ringbolt._reqresp.finish_result``), only when it changed. A tampered,
expired, wrongly-keyed, malformed or oversized cookie is an empty session, never an
error (logged at debug).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any, Awaitable, Callable, Protocol, Sequence

from .._native import SessionReader, ValueSigner, json_dumps, json_loads
from .._redis import RedisClient, RedisSettings, RedisUnavailable, redis_module  # RedisUnavailable: for users
from ..cookies import Cookie, deletion
from ..errors import require_str

logger = logging.getLogger("ringbolt.sessions")

#: RFC 6265 §6.1: browsers keep at least 4096 bytes of name, value and attributes; a
#: longer cookie may be dropped, so none is written (and none longer is read).
MAX_COOKIE_BYTES = 4096
#: verified session cookies kept per Sessions (the same cookie again skips the MAC)
KEPT_COOKIES = 1024
#: A secret key of fewer bytes is refused (``secrets.token_urlsafe(32)`` makes one).
MIN_KEY_BYTES = 32
_CSRF_KEY = "_csrf"  # the session's CSRF secret (ringbolt.csrf), kept with its data


class SessionTooLarge(ValueError):
    """A session whose signed cookie would exceed ``MAX_COOKIE_BYTES`` (browsers drop
    it): keep less in it, or use ``RedisStore``."""


# base64url (RFC 4648 §5) without padding, straight through binascii: base64's own
# functions add two Python calls each, a fifth of a session read (docs/sessions.md).
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE, b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Raises ValueError (binascii.Error) for what is not base64url."""
    raw = text.encode("ascii")
    if b"+" in raw or b"/" in raw:
        raise binascii.Error("not base64url")
    raw = raw.translate(_FROM_URLSAFE)
    return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)


class Signer:
    """``payload.timestamp.signature``: the payload and an HMAC-SHA256 over both, made
    with a key derived for ``purpose`` from the first of ``secret_keys``; ``unsign``
    accepts any of them (the key rotation: add the new key first, keep the old ones
    until the cookies they signed have expired). The signing, the MAC and the checks
    run natively (``ringbolt._native.ValueSigner``: OpenSSL's HMAC with a kept keyed
    context; docs/sessions.md, "What it costs")."""

    def __init__(self, secret_keys: Sequence[str | bytes], purpose: bytes) -> None:
        if isinstance(secret_keys, (str, bytes)) or not secret_keys:
            raise TypeError("secret_keys must be a non-empty list of keys (the first signs, all verify)")
        keys = []
        for i, key in enumerate(secret_keys):
            raw = key.encode() if isinstance(key, str) else key
            if not isinstance(raw, bytes):
                raise TypeError(f"secret key {i} must be str or bytes, not {type(key).__name__}")
            if len(raw) < MIN_KEY_BYTES:
                raise ValueError(f"secret key {i} has {len(raw)} bytes, fewer than {MIN_KEY_BYTES} "
                                 "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
            # One key per purpose: a session signature is never a valid CSRF token's.
            keys.append(hmac.new(raw, b"ringbolt:" + purpose, hashlib.sha256).digest())
        self._native = ValueSigner(keys)
        self._count = len(keys)

    def digest(self, data: bytes) -> bytes:
        """The HMAC-SHA256 of ``data`` with the first key."""
        return self._native.mac(0, data)

    def verify(self, data: bytes, sig: bytes) -> bool:
        """Whether ``sig`` is the HMAC-SHA256 of ``data`` with one of the keys (constant time)."""
        ok = False
        for index in range(self._count):
            ok |= hmac.compare_digest(self._native.mac(index, data), sig)
        return ok

    def sign(self, payload: bytes, now: int) -> str:
        return self._native.sign(payload, now)

    def unsign(self, value: str, max_age: int | None, now: int) -> tuple[bytes, int, int] | None:
        """``(payload, timestamp, key index)``, or None (logged at debug) for a value not
        signed by one of the keys, malformed, or older than ``max_age`` seconds."""
        got = self._native.open(value, max_age, now)
        if type(got) is tuple:
            return got
        refused(got)  # type: ignore[arg-type]
        return None


_REFUSALS = {1: "malformed", 2: "bad signature (tampered, or signed by a key not configured)", 3: "expired",
             4: "signed, but not a JSON object", 5: f"larger than {MAX_COOKIE_BYTES} bytes"}


def refused(code: int) -> None:
    """Log, at debug, why ``ValueSigner.open`` refused a cookie."""
    logger.debug("session cookie refused: %s", _REFUSALS.get(code, code))


_dict_init = dict.__init__


class Session(dict[str, Any]):
    """The session's data: a dict of JSON values. Setting, deleting or clearing marks it
    ``modified`` (then it is written back); changing a value in place (a list's append)
    does not: assign it again or set ``session.modified = True``."""

    # Defaults at the class, set on an instance only when they differ: a session read is
    # made by a subclass of each Sessions (Sessions._read) whose __init__ is dict's own, so
    # no Python runs to make it (Python's __init__ setting seven attributes cost 3,700
    # instructions; benchmarks/load/session_cost.py).
    #: True once changed: written back when the response is finished
    modified: bool = False
    #: True when no valid session came with the request
    new: bool = True
    #: The server-side store's id (None for the cookie store, or before one is made)
    sid: str | None = None
    #: True to re-send the cookie even unchanged (a key rotation, ``refresh=True``)
    renew: bool = False
    _old_sid: str | None = None
    _owner: "Sessions | None" = None
    _saved: bool = False

    def __init__(self, data: dict[str, Any] | None = None, new: bool = True, sid: str | None = None,
                 owner: "Sessions | None" = None) -> None:
        if data:
            _dict_init(self, data)
        if not new:
            self.new = False
        if sid is not None:
            self.sid = sid
        if owner is not None:
            self._owner = owner

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        """Empty the session: its cookie is expired (and its Redis entry deleted)."""
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.modified = True
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> "Session":  # type: ignore[override,misc]
        self.update(other)
        return self

    def regenerate(self) -> None:
        """A new session id (and CSRF secret) with the same data: call it when the user
        logs in, so an id planted before the login (session fixation) is worth nothing.
        The old Redis entry is deleted when the new one is written."""
        if self.sid is not None and self._old_sid is None:
            self._old_sid = self.sid
        self.sid = None
        super().pop(_CSRF_KEY, None)
        self.modified = True


class SessionStore(Protocol):
    """Where a session's data lives: ``CookieStore`` or ``RedisStore``."""

    server_side: bool


class CookieStore:
    """The session's JSON itself in the signed cookie (the default): nothing to run, at
    most ``MAX_COOKIE_BYTES`` per session."""

    server_side = False

    def close(self) -> None:
        return None


class RedisStore:
    """The session's data in Redis (redis-py: ``pip install 'ringbolt[redis]'``) under
    ``prefix`` + a random id, with a TTL of the sessions' ``max_age`` refreshed each time
    the session is read (``GETEX``, Redis 6.2+); the cookie holds only the signed id. A
    session lasts as long as that cookie: ``max_age`` from when the id was signed (a new
    session, ``regenerate()``), or from its last use with the sessions' ``refresh=True``.

    ``url``: redis-py's URL (``redis://host:port/db``, ``rediss://`` for TLS,
    ``unix:///path``); or give ready clients: ``client`` (``redis.Redis``, used by sync
    routes) and ``async_client`` (``redis.asyncio.Redis``, used by ``sessions.load`` and
    ``sessions.middleware``), with timeouts of your own. ``connect_timeout``, ``timeout``
    (seconds to connect, to wait for an answer) and ``retry_after`` (seconds Redis is
    skipped after a failure): see ``RedisSettings``.

    When Redis fails (or while it is skipped) reading or writing a session raises
    ``RedisUnavailable``: the request is answered 503 with ``Retry-After``, and the
    browser keeps its cookie (a session is never taken for empty because Redis did not
    answer)."""

    server_side = True

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "ringbolt:session:",
                 client: Any = None, async_client: Any = None, connect_timeout: float | None = None,
                 timeout: float | None = None, retry_after: float | None = None) -> None:
        require_str("prefix", prefix)
        redis_module()  # fail now, naming the extra, not at the first request
        given = {"connect_timeout": connect_timeout, "timeout": timeout, "retry_after": retry_after}
        self.settings = RedisSettings(url, **{k: v for k, v in given.items() if v is not None})
        self.url = url
        self.prefix = prefix
        self.redis = RedisClient(self.settings, "the session store",
                                 "requests that read or write a session are answered 503 until it answers",
                                 sync=client, aio=async_client)

    @property
    def client(self) -> Any:
        return self.redis.sync

    @property
    def async_client(self) -> Any:
        return self.redis.aio

    def key(self, sid: str) -> str:
        return self.prefix + sid

    def load(self, sid: str, ttl: int) -> bytes | None:
        key = self.key(sid)
        raw: bytes | None = self.redis.run(lambda r: r.getex(key, ex=ttl))
        return raw

    async def load_async(self, sid: str, ttl: int) -> bytes | None:
        key = self.key(sid)
        raw: bytes | None = await self.redis.arun(lambda r: r.getex(key, ex=ttl))
        return raw

    def _write(self, pipe: Any, sid: str, data: bytes, ttl: int, old: str | None) -> Any:
        if old is not None:
            pipe.delete(self.key(old))
        if data:
            pipe.set(self.key(sid), data, ex=ttl)
        return pipe

    def save(self, sid: str, data: bytes, ttl: int, old: str | None) -> None:
        self.redis.run(lambda r: self._write(r.pipeline(), sid, data, ttl, old).execute())

    async def save_async(self, sid: str, data: bytes, ttl: int, old: str | None) -> None:
        await self.redis.arun(lambda r: self._write(r.pipeline(), sid, data, ttl, old).execute())

    def close(self) -> None:
        self.redis.close()


_SAMESITES = ("lax", "strict", "none")


class _Rendered:
    """A Set-Cookie line made by ``Sessions``, as ``finish_result`` takes a ``Cookie``."""

    __slots__ = ("line",)

    def __init__(self, line: str) -> None:
        self.line = line

    def render(self, https: bool) -> str:
        return self.line


class Sessions:
    """An app's sessions (``app.add_sessions(...)`` makes one).

    ``secret_keys``: the keys, the first signs, all verify (at least 32 bytes each).
    ``store``: ``CookieStore()`` (default) or ``RedisStore(...)``. ``cookie_name``
    ("session"), ``max_age`` (seconds, 14 days; the cookie's Max-Age, the age past which
    a signed cookie is refused, the Redis TTL), ``path`` ("/"), ``domain`` (None),
    ``secure`` (True: Secure; False only for development over plain HTTP),
    ``httponly`` (True), ``samesite`` ("lax"), ``refresh`` (False; True re-sends the
    cookie on every request that reads the session, so ``max_age`` counts from the last
    use).

    A route takes the session as ``session: Annotated[Session, Depends(sessions)]``
    (async routes with the Redis store: ``Depends(sessions.load)``), or reads
    ``sessions.get(req)``; either also sets ``req.session``.
    """

    def __init__(
        self,
        secret_keys: Sequence[str | bytes],
        *,
        store: CookieStore | RedisStore | None = None,
        cookie_name: str = "session",
        max_age: int = 14 * 24 * 3600,
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        httponly: bool = True,
        samesite: str = "lax",
        refresh: bool = False,
    ) -> None:
        self.signer = Signer(secret_keys, b"session")
        self._open_session = self.signer._native.open_session
        self.secret_keys = list(secret_keys)
        self.store: CookieStore | RedisStore = store if store is not None else CookieStore()
        if not isinstance(self.store, (CookieStore, RedisStore)):
            raise TypeError(f"store must be a CookieStore or RedisStore, not {type(store).__name__}")
        if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 1:
            raise ValueError(f"max_age must be a positive int (seconds), not {max_age!r}")
        if not isinstance(secure, bool) or not isinstance(httponly, bool) or not isinstance(refresh, bool):
            raise TypeError("secure, httponly and refresh are True or False")
        if str(samesite).lower() not in _SAMESITES:
            raise ValueError(f"samesite must be 'lax', 'strict' or 'none', not {samesite!r}")
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.refresh = refresh
        self._options: dict[str, Any] = {"path": path, "domain": domain, "secure": secure, "httponly": httponly,
                                         "samesite": samesite}
        # The options checked once, here, and the Set-Cookie line's attributes rendered
        # once: a value this module signs is base64url, digits and dots (cookie-octets),
        # and Secure does not depend on the request (secure is True or False).
        head = f"{cookie_name}=x"
        self._attributes = Cookie(cookie_name, "x", max_age=max_age, **self._options).render(False)[len(head):]
        delete = dict(self._options)
        if delete["samesite"] == "none":
            delete["samesite"] = None
        self._expire = _Rendered(deletion(cookie_name, **delete).render(False))
        self._server = self.store.server_side
        # this object's sessions, made with dict's own __init__ (no Python runs): one read
        # from a cookie (new False) and an empty one
        self._read: type[Session] = type("Session", (Session,), {"__init__": dict.__init__, "new": False,
                                                                  "_owner": self, "__module__": __name__})
        self._empty: type[Session] = type("Session", (Session,), {"__init__": dict.__init__, "_owner": self,
                                                                   "__module__": __name__})
        # The cookie store's read of ringbolt's own requests, natively (_native.SessionReader;
        # any other request goes to _get_in_python); a cookie that verified is kept, so the
        # same cookie again skips the MAC (docs/sessions.md, "What it costs"). get calls it,
        # and a route's plan calls it for Depends(self) with no Python frame (_rb_fast_call,
        # ringbolt.typed.runner).
        self._native_get: SessionReader | None = None
        if not self._server and all(getattr(type(self), m) is getattr(Sessions, m)
                                    for m in ("get", "__call__", "_get_in_python")):
            try:
                self._native_get = self._rb_fast_call = SessionReader(
                    self.signer._native, cookie_name, max_age, self._read, self._empty, MAX_COOKIE_BYTES, refresh,
                    self._get_in_python, refused, KEPT_COOKIES)
            except UnicodeEncodeError:  # a cookie name with lone surrogates: Python reads it
                pass

    # ---- reading ----
    def _decode(self, value: str | None) -> tuple[Session, bool]:
        """The session a cookie value carries (the cookie store), and whether it must be re-sent."""
        if value is None:
            return self._empty(), False
        if len(value) + len(self.cookie_name) + 1 > MAX_COOKIE_BYTES:
            logger.debug("session cookie refused: %d bytes, more than %d", len(value), MAX_COOKIE_BYTES)
            return self._empty(), True
        # opened, checked and parsed natively: (data, key index), or why not
        got = self._open_session(value, self.max_age)
        if type(got) is not tuple:
            refused(got)  # type: ignore[arg-type]
            return self._empty(), True
        session = self._read(got[0])
        if got[1] or self.refresh:
            session.renew = True  # re-signed with the first key
        return session, False

    def _sid(self, value: str | None) -> tuple[str | None, bool]:
        """The id a cookie value carries (the Redis store), and whether the key rotated."""
        if value is None or len(value) + len(self.cookie_name) + 1 > MAX_COOKIE_BYTES:
            return None, False
        got = self.signer.unsign(value, self.max_age, int(time.time()))
        if got is None:
            return None, False
        payload, _, index = got
        try:
            sid = payload.decode("ascii")
        except UnicodeDecodeError:
            return None, False
        return sid, index > 0

    def _from_store(self, sid: str | None, rotated: bool, raw: bytes | None, had_cookie: bool) -> Session:
        data = None
        if raw is not None:
            try:
                data = json_loads(raw)
            except Exception:  # noqa: BLE001 - not what this store writes: an empty session
                data = None
        if sid is None or not isinstance(data, dict):
            if sid is not None:
                logger.debug("session %s not found in the store (expired or deleted)", sid[:8])
            session = self._empty()
            session.renew = had_cookie  # a stale cookie: expire it if nothing is written
            return session
        session = Session(data, new=False, sid=sid, owner=self)
        session.renew = rotated or self.refresh
        return session

    def get(self, req: Any) -> Session:
        """The request's session (read once, then ``req.session``). With the Redis
        store this reads Redis synchronously: in an async route use ``await
        sessions.load(req)``."""
        native = self._native_get
        return native(req) if native is not None else self._get_in_python(req)

    def _get_in_python(self, req: Any) -> Session:
        state = req.__dict__
        session: Session | None = state.get("_rb_session")
        if session is not None:
            return session
        value = req.cookie(self.cookie_name)
        if self._server:
            sid, rotated = self._sid(value)
            raw = self.store.load(sid, self.max_age) if sid is not None else None  # type: ignore[union-attr]
            session = self._from_store(sid, rotated, raw, value is not None)
        else:
            session, stale = self._decode(value)
            session.renew = session.renew or stale
        state["_rb_session"] = state["session"] = session
        return session

    __call__ = get  # Depends(sessions)

    async def load(self, req: Any) -> Session:
        """``get`` for async routes: Redis is read without blocking the event loop."""
        state = req.__dict__
        session: Session | None = state.get("_rb_session")
        if session is not None:
            return session
        if not self._server:
            return self.get(req)
        value = req.cookie(self.cookie_name)
        sid, rotated = self._sid(value)
        raw = await self.store.load_async(sid, self.max_age) if sid is not None else None  # type: ignore[union-attr]
        session = self._from_store(sid, rotated, raw, value is not None)
        state["_rb_session"] = state["session"] = session
        return session

    # ---- writing back ----
    def _payload(self, session: Session) -> bytes:
        return json_dumps(session)

    def _cookie(self, value: str) -> _Rendered:
        if len(value) + len(self.cookie_name) + 1 > MAX_COOKIE_BYTES:
            raise SessionTooLarge(f"the session cookie {self.cookie_name!r} would be {len(value)} bytes, more than "
                                  f"{MAX_COOKIE_BYTES} (browsers drop it): keep less in the session, or use "
                                  "RedisStore")
        return _Rendered(f"{self.cookie_name}={value}{self._attributes}")

    def _expired(self) -> _Rendered:
        return self._expire

    def _server_write(self, session: Session) -> tuple[str, bytes, str | None] | None:
        """What the store must write for ``session`` (id, data, old id to delete), or None."""
        if not session.modified or session._saved:
            return None
        old = session._old_sid
        if not session:
            old = session.sid or old
            session.sid = None
            return ("", b"", old) if old is not None else None
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
        return session.sid, self._payload(session), old

    async def save(self, session: Session) -> None:
        """Write a changed server-side session now, awaited (``sessions.middleware``
        does; the cookie is still set when the response is finished)."""
        if self._server:
            write = self._server_write(session)
            if write is not None:
                await self.store.save_async(write[0], write[1], self.max_age, write[2])  # type: ignore[union-attr]
            session._saved = True

    def commit(self, session: Session) -> _Rendered | None:
        """The Set-Cookie the session needs (None: the browser's is right), after writing
        a server-side session that changed (synchronously, unless ``save`` did)."""
        if self._server:
            fresh = session.modified and session._old_sid is not None
            if session.modified and not session._saved:
                write = self._server_write(session)
                if write is not None:
                    self.store.save(write[0], write[1], self.max_age, write[2])  # type: ignore[union-attr]
            if session.modified and not session:
                return self._expired() if not session.new or session.renew else None
            if session.sid is None:
                return self._expired() if session.renew else None
            if session.new or fresh or session.renew:
                return self._cookie(self.signer.sign(session.sid.encode(), int(time.time())))
            return None
        if session.modified or session.renew:
            if not session:
                return self._expired() if not session.new or session.renew else None
            return self._cookie(self.signer.sign(self._payload(session), int(time.time())))
        return None

    # ---- middleware, for routes that read req.session ----
    async def middleware(self, req: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        """``router.middleware(sessions.middleware)``: every route of the router has
        ``req.session`` read before it runs, and a changed server-side session written
        (awaited) after it."""
        session = await self.load(req)
        response = await call_next(req)
        await self.save(session)
        return response

    def sync_middleware(self, req: Any, call_next: Callable[[Any], Any]) -> Any:
        """``middleware`` for routers of sync routes."""
        self.get(req)
        return call_next(req)

    def close(self) -> None:
        self.store.close()

