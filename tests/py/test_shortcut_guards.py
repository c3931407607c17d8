"""A shortcut may skip work, never a check (issue 63; the docs' "What the shortcut keeps"
sections): one table of every shortcut (the response cache, the kept JWT, the kept
session cookie, the native rate limit, a const route) x every kind of guard (an API key in
a header, a cookie or the query, a bearer JWT, one whose subclass revokes tokens, HTTP
Basic, a session login dependency, a router's dependencies, CSRF).

Each cell serves the same guarded route twice: with its shortcut on (the fast variant)
and off (the slow one: ``etag=True`` instead of ``cache=``, ``cache_size=0``, the session
read in Python, no rate limit), every other shortcut off in both; some columns' routes are
``async def``, the others sync, so both of the typed runner's forms run. Both get the same
requests, over a real socket (``ringbolt.testing.TestClient``, the native server): the
right credential (twice: the second is the one the shortcut answers), none, a wrong one,
a tampered one, an expired, revoked, rotated or logged-out one where the guard has that
notion, another principal's, a repeated one, the shortcut's own credential without the
guard's, for CSRF the forged POSTs; each answer must have the same status and body on
both (never principal A's body to B), the slow path's refusals must be the guard's
(401/403), and the fast variant must show that its shortcut ran (a cache hit's ``Age``,
``KeptBearer``/``SessionReader`` hits and fewer PyJWT decodes, the limiter's
``RateLimit-*`` fields), so no cell passes with its shortcut silently off. A const route
is answered natively with no Python: there the cell asserts the refusal at registration,
a ValueError naming the guard, wherever the guard is written."""

import base64
import dataclasses
import hmac
import http.cookiejar
import inspect
import json
import secrets
import time
from typing import Annotated, Any, Callable, Iterator

import httpx
import jwt
import pytest

from ringbolt import App, Depends, HTTPError, Request, Router, Security
from ringbolt._native import json_dumps
from ringbolt.auth import APIKeyAuth, BasicAuth, JWTAuth, Principal
from ringbolt.caching import Cache
from ringbolt.csrf import CSRF
from ringbolt.rate_limit import RateLimit
from ringbolt.sessions import Session, Sessions, Signer
from ringbolt.testing import TestClient

JWT_KEY = "j" * 40
SESSION_KEY = "s" * 40
SIGNER = Signer([SESSION_KEY], b"session")  # what every Sessions of the table signs with
FORGER = Signer(["f" * 40], b"session")  # a key the app does not have
MAX_AGE = 3600
# The credentials that expire mid-run (a JWT's exp, a session cookie's max_age) expire this
# long after ``served`` makes them, once its server is up: it has the shortcuts keep them
# first, and the cells' expired steps wait for that moment (one wait for the whole table).
EXPIRING = 3
EVIL = "https://evil.example"

# Routes of these columns are async def (so are all that take the session login); the rest sync
ASYNC_HANDLERS = {"api-key-cookie", "jwt-revocable", "router"}
SHORTCUTS = ["cache", "kept-token", "kept-session", "rate-limit", "const"]
# (the columns with credentials that expire mid-run last: the others run while they wait)
GUARDS = ["api-key-header", "api-key-cookie", "api-key-query", "basic", "router", "jwt", "jwt-revocable", "session",
          "csrf"]


# ---- the guards' pieces ----

class RevocableJWT(JWTAuth):
    """A subclass's own check (a revoked ``jti``): its ``principal`` runs for every request,
    so the native kept path is off and tokens are kept in Python (docs/auth.md)."""

    def __init__(self, revoked: set[str], **options: Any) -> None:
        super().__init__(**options)
        self.revoked = revoked

    def principal(self, token: str) -> Principal:
        found = super().principal(token)
        if found.get("jti") in self.revoked:
            raise self.unauthorized("the token was revoked")
        return found


class PythonSessions(Sessions):
    """Sessions read in Python every time: an override of ``get`` turns the native reader off."""

    def get(self, req: Any) -> Session:
        return self._get_in_python(req)

    __call__ = get


class CountingDecoder:
    """PyJWT's decoder, counted: a kept token is one the verifier did not decode again."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def decode(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.decode(*args, **kwargs)


def counted(verifier: JWTAuth) -> JWTAuth:
    verifier._decoder = CountingDecoder(verifier._decoder)  # type: ignore[assignment]
    return verifier


def token(who: str, exp: int, jti: str) -> str:
    return jwt.encode({"sub": who, "exp": exp, "jti": jti}, JWT_KEY, "HS256")


def swap_payload(signed: str, sep: str, payload: str, part: int) -> str:
    """``signed`` with its part ``part`` (the payload) replaced, its signature kept."""
    parts = signed.split(sep)
    parts[part] = payload
    return sep.join(parts)


def session_cookie(data: dict[str, Any], issued: int | None = None, signer: Signer = SIGNER) -> str:
    return signer.sign(json_dumps(data), int(time.time()) if issued is None else issued)


class World:
    """What a cell's two variants share, so a change (a key rotated, a token revoked, a user
    logged out) reaches both: the credentials and the tables the guards check them in."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.expires = 0  # when alice's expiring credentials expire (expire_at)
        self.keys = {who: f"{who}-{secrets.token_urlsafe(12)}" for who in ("alice", "bob", "eve")}
        self.old_key = ""  # alice's key before it was rotated
        self.passwords = {"alice": "alice-pw", "bob": "bob-pw"}
        self.revoked: set[str] = set()  # token ids revoked, session logins ended
        far = int(time.time()) + 3600
        self.tokens = {who: token(who, far, f"{name}-{who}") for who in ("alice", "bob", "carol")}
        self.tokens["wrong"] = jwt.encode({"sub": "alice", "exp": far}, "w" * 40, "HS256")
        self.tokens["tampered"] = swap_payload(self.tokens["alice"], ".", self.tokens["bob"].split(".")[1], 1)
        self.sessions = {who: self.session_data(who) for who in ("alice", "bob", "carol")}
        self.cookies = {who: session_cookie(data) for who, data in self.sessions.items()}
        self.cookies["wrong"] = session_cookie(self.sessions["alice"], signer=FORGER)
        bob_payload = self.cookies["bob"].split(".")[0]
        self.cookies["tampered"] = swap_payload(self.cookies["alice"], ".", bob_payload, 0)

    def expire_at(self, expires: int) -> None:
        """Make alice's credentials that are valid until ``expires`` (whole seconds)."""
        self.expires = expires
        self.tokens["expiring"] = token("alice", expires, f"{self.name}-expiring")
        # signed max_age before it expires: refused from then on
        self.cookies["expiring"] = session_cookie(self.session_data("alice"), expires - MAX_AGE)

    def session_data(self, who: str) -> dict[str, Any]:
        return {"user": who, "login": f"{self.name}-{who}-{secrets.token_hex(4)}", "_csrf": secrets.token_urlsafe(16)}

    def key_owner(self, key: str) -> Principal | None:
        """An API key's principal: alice's and bob's may read, eve's may not."""
        found = None
        for who, known in self.keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                found = Principal(who, scopes=["read"] if who != "eve" else [])
        return found

    def password_owner(self, user: str, password: str) -> str | None:
        known = self.passwords.get(user)
        return user if known is not None and hmac.compare_digest(known.encode(), password.encode()) else None


def subject(value: Any) -> Any:
    if isinstance(value, Principal):
        return value.subject
    if isinstance(value, dict):
        return value.get("user")
    return value


def answer(who: Any, carried: Any) -> dict[str, Any]:
    return {"who": subject(who), "carried": subject(carried)}


def as_async(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` as an ``async def`` with its signature (an async route: the cache's async path)."""
    async def run(*args: Any, **kwargs: Any) -> Any:
        return handler(*args, **kwargs)

    run.__signature__ = inspect.signature(handler)  # type: ignore[attr-defined]
    run.__annotations__ = handler.__annotations__
    return run


def handler_for(guard: Any, carrier: Any) -> Callable[..., Any]:
    """A typed handler taking the shortcut's value (first: it runs before the guard) and the
    guard's (either may be None)."""
    if guard is not None and carrier is not None:
        def both(carried: Annotated[Any, carrier], who: Annotated[Any, guard]) -> dict[str, Any]:
            return answer(who, carried)
        return both
    if guard is not None:
        def guarded(who: Annotated[Any, guard]) -> dict[str, Any]:
            return answer(who, None)
        return guarded
    if carrier is not None:
        def carrying(carried: Annotated[Any, carrier]) -> dict[str, Any]:
            return answer(None, carried)
        return carrying

    def bare() -> dict[str, Any]:
        return answer(None, None)
    return bare


# ---- one variant of a cell: the route with its shortcut on or off ----

class Variant:
    def __init__(self, cell: "Cell", fast: bool) -> None:
        self.name = "fast" if fast else "slow"
        self.base = f"/{cell.shortcut}/{cell.guard}/{self.name}"
        world = cell.world
        kept = 1024 if fast and cell.shortcut == "kept-token" else 0
        jwt_options: dict[str, Any] = {"key": JWT_KEY, "algorithms": ["HS256"], "cache_size": kept}
        self.jwt = counted(JWTAuth(**jwt_options))
        self.revocable = counted(RevocableJWT(world.revoked, **jwt_options))
        self.bearer = counted(JWTAuth(**jwt_options, auto_error=False))  # the kept token a route also takes
        sessions_type = Sessions if fast and cell.shortcut == "kept-session" else PythonSessions
        self.sessions = sessions_type([SESSION_KEY], secure=False, max_age=MAX_AGE)
        self.csrf = CSRF(self.sessions)
        revoked = world.revoked
        sessions = self.sessions

        async def login_required(session: Annotated[Session, Depends(sessions)]) -> str:  # (async: its routes too)
            user = session.get("user")
            if not isinstance(user, str) or session.get("login") in revoked:
                raise HTTPError(401, "log in first")
            return user

        self.login_required = login_required
        self.state: dict[str, Any] = {}  # what earlier answers handed this variant (CSRF tokens, the ETag)

    def guard(self, kind: str, world: World) -> Any:
        """The guard's dependency marker."""
        if kind.startswith("api-key") or kind == "router":
            location = "header" if kind in ("api-key-header", "router") else kind.rsplit("-", 1)[1]
            name = "X-API-Key" if location == "header" else "api_key"
            return Security(APIKeyAuth(name, keys=world.key_owner, location=location), scopes=["read"])
        if kind == "jwt":
            return Security(self.jwt)
        if kind == "jwt-revocable":
            return Security(self.revocable)
        if kind == "basic":
            return Security(BasicAuth(verify=world.password_owner, realm="table"))
        return Depends(self.login_required)  # session, and csrf's login

    def register(self, app: App, cell: "Cell") -> None:
        fast = self.name == "fast"
        options: dict[str, Any] = {}
        if cell.shortcut == "cache":
            options = {"cache": Cache(ttl=60, key_headers=["authorization"])} if fast else {"etag": True}
        elif cell.shortcut == "rate-limit":
            options = {"rate_limit": RateLimit("60000/minute") if fast else False}
        carrier = cell.carrier_marker(self)
        guard = self.guard(cell.guard, cell.world)
        handler = handler_for(None if cell.guard == "router" else guard, carrier)
        if cell.guard in ASYNC_HANDLERS:
            handler = as_async(handler)
        if cell.guard == "router":
            outer = Router(prefix=self.base, dependencies=[guard])
            inner = Router(prefix="/inner")
            inner.get("/route", **options)(handler)
            outer.include(inner)
            app.include(outer)
            self.path = self.base + "/inner/route"
        elif cell.guard == "csrf":
            self.path, self.form = self.base + "/transfer", self.base + "/form"
            posting = {k: v for k, v in options.items() if k == "rate_limit"}
            app.post(self.path, dependencies=[Depends(self.csrf)], **posting)(handler)
            csrf, sessions = self.csrf, self.sessions

            def form(req: Request, session: Annotated[Session, Depends(sessions)]) -> dict[str, Any]:
                return {"token": csrf.token(req), "user": session.get("user")}
            app.get(self.form, **options)(form)
        else:
            self.path = self.base + "/route"
            app.get(self.path, **options)(handler)


# ---- the requests ----

@dataclasses.dataclass
class Req:
    method: str = "GET"
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    cookies: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    query: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    form: bool = False  # to the CSRF form page, not the guarded route
    carry: bool = True  # with the shortcut's own credential (a kept token or session the route also takes)


@dataclasses.dataclass
class Step:
    label: str
    make: Callable[[World, Variant], Req]
    expect: Any  #: "alice"/"bob"/None: a 200 naming that principal; an int: the refusal's status
    before: Callable[[World], None] | None = None  #: a change to the world first (both variants see it)
    record: str | None = None  #: keep the answer's JSON "token" in the variant's state under this name
    conditional: bool = False  #: with If-None-Match: alice's ETag (a refusal is never a 304)
    expired: bool = False  #: once the expiring credentials have expired


def wait_until_expired(world: World) -> None:
    while time.time() < world.expires + 1.05:  # (their times are whole seconds)
        time.sleep(0.05)


def with_key(kind: str, key: str | None) -> Req:
    if key is None:
        return Req()
    if kind in ("api-key-header", "router"):
        return Req(headers=[("X-API-Key", key)])
    if kind == "api-key-cookie":
        return Req(cookies=[("api_key", key)])
    return Req(query=[("api_key", key)])


def api_key_steps(kind: str) -> list[Step]:
    def rotate(w: World) -> None:
        w.old_key = w.keys["alice"]
        w.keys["alice"] = f"alice-{secrets.token_urlsafe(12)}"

    steps = [
        Step("alice's key", lambda w, v: with_key(kind, w.keys["alice"]), "alice"),
        Step("alice's key again", lambda w, v: with_key(kind, w.keys["alice"]), "alice"),
        Step("no key", lambda w, v: with_key(kind, None), 401, conditional=True),
        Step("no key, HEAD", lambda w, v: dataclasses.replace(with_key(kind, None), method="HEAD"), 401),
        Step("an unknown key", lambda w, v: with_key(kind, "k-unknown"), 401, conditional=True),
        Step("alice's key, one character changed", lambda w, v: with_key(kind, w.keys["alice"][:-1] + "!"), 401,
             conditional=True),
        Step("bob's key", lambda w, v: with_key(kind, w.keys["bob"]), "bob", conditional=True),
        Step("eve's key, without the route's scope", lambda w, v: with_key(kind, w.keys["eve"]), 403,
             conditional=True),
        Step("alice's key rotated: the old one", lambda w, v: with_key(kind, w.old_key), 401, before=rotate,
             conditional=True),
        Step("alice's new key", lambda w, v: with_key(kind, w.keys["alice"]), "alice"),
    ]
    if kind == "api-key-cookie":  # a repeated name: the first is the one read, on either path
        steps.append(Step("bob's key before alice's", lambda w, v: Req(
            cookies=[("api_key", w.keys["bob"]), ("api_key", w.keys["alice"])]), "bob"))
    return steps


def bearer(value: str) -> Req:
    return Req(headers=[("Authorization", value)])


def jwt_steps(revocable: bool) -> list[Step]:
    steps = [
        Step("alice's token", lambda w, v: bearer("Bearer " + w.tokens["alice"]), "alice"),
        Step("alice's token again", lambda w, v: bearer("Bearer " + w.tokens["alice"]), "alice"),
        Step("no token", lambda w, v: Req(), 401, conditional=True),
        Step("no token, HEAD", lambda w, v: Req(method="HEAD"), 401),
        Step("a token signed with another key", lambda w, v: bearer("Bearer " + w.tokens["wrong"]), 401,
             conditional=True),
        Step("alice's signature on bob's claims", lambda w, v: bearer("Bearer " + w.tokens["tampered"]), 401,
             conditional=True),
        Step("alice's token, 'bearer' in lower case", lambda w, v: bearer("bearer " + w.tokens["alice"]), "alice"),
        Step("bob's token", lambda w, v: bearer("Bearer " + w.tokens["bob"]), "bob", conditional=True),
        Step("alice's token, kept, then expired", lambda w, v: bearer("Bearer " + w.tokens["expiring"]), 401,
             expired=True),
    ]
    if revocable:
        def revoke(w: World) -> None:
            w.revoked.add(f"{w.name}-alice")

        steps.append(Step("alice's token, kept, then revoked", lambda w, v: bearer("Bearer " + w.tokens["alice"]),
                          401, before=revoke, conditional=True))
    return steps


def basic(user: str, password: str) -> Req:
    return bearer("Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


def basic_steps() -> list[Step]:
    def rotate(w: World) -> None:
        w.passwords["alice"] = "alice-new-pw"

    return [
        Step("alice's password", lambda w, v: basic("alice", "alice-pw"), "alice"),
        Step("alice's password again", lambda w, v: basic("alice", "alice-pw"), "alice"),
        Step("no credentials", lambda w, v: Req(), 401, conditional=True),
        Step("no credentials, HEAD", lambda w, v: Req(method="HEAD"), 401),
        Step("a wrong password", lambda w, v: basic("alice", "guess"), 401, conditional=True),
        Step("not base64", lambda w, v: bearer("Basic alice:alice-pw"), 401, conditional=True),
        Step("bob's password", lambda w, v: basic("bob", "bob-pw"), "bob", conditional=True),
        Step("alice's password changed: the old one", lambda w, v: basic("alice", "alice-pw"), 401, before=rotate,
             conditional=True),
    ]


def with_session(w: World, which: str | None, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [*([("session", w.cookies[which])] if which else []), *more]


def two_sessions(w: World, first: str, second: str) -> list[tuple[str, str]]:
    return [("session", w.cookies[first]), ("session", w.cookies[second])]


def log_out(w: World) -> None:
    w.revoked.add(w.sessions["alice"]["login"])


def session_steps() -> list[Step]:
    return [
        Step("alice's session", lambda w, v: Req(cookies=with_session(w, "alice")), "alice"),
        Step("alice's session again", lambda w, v: Req(cookies=with_session(w, "alice")), "alice"),
        Step("no session", lambda w, v: Req(), 401, conditional=True),
        Step("no session, HEAD", lambda w, v: Req(method="HEAD"), 401),
        Step("a session signed with another key", lambda w, v: Req(cookies=with_session(w, "wrong")), 401,
             conditional=True),
        Step("alice's signature on bob's session", lambda w, v: Req(cookies=with_session(w, "tampered")), 401,
             conditional=True),
        Step("bob's session", lambda w, v: Req(cookies=with_session(w, "bob")), "bob", conditional=True),
        # a repeated name: the first is the one read, on either path
        Step("bob's session before alice's", lambda w, v: Req(cookies=two_sessions(w, "bob", "alice")), "bob"),
        Step("a forged session before alice's", lambda w, v: Req(cookies=two_sessions(w, "tampered", "alice")), 401),
        Step("alice's session, kept, then past max_age", lambda w, v: Req(cookies=with_session(w, "expiring")), 401,
             expired=True),
        Step("alice's session after she logged out", lambda w, v: Req(cookies=with_session(w, "alice")), 401,
             before=log_out, conditional=True),
    ]


def csrf_post(w: World, v: Variant, who: str | None, token: str | None, origin: str | None = "own",
              *more: tuple[str, str]) -> Req:
    headers = list(more)
    if token is not None:
        headers.append(("X-CSRF-Token", v.state[token] if token in v.state else token))
    if origin is not None:
        headers.append(("Origin", v.state["origin"] if origin == "own" else origin))
    return Req(method="POST", headers=headers, cookies=with_session(w, who))


def csrf_steps() -> list[Step]:
    form = Req(form=True)
    return [
        Step("alice's form page", lambda w, v: dataclasses.replace(form, cookies=with_session(w, "alice")), "alice",
             record="alice"),
        Step("alice's form page again", lambda w, v: dataclasses.replace(form, cookies=with_session(w, "alice")),
             "alice", record="alice"),
        Step("bob's form page", lambda w, v: dataclasses.replace(form, cookies=with_session(w, "bob")), "bob",
             record="bob"),
        # what an attacker's page fetches: a token must never be alice's
        Step("a visitor's form page", lambda w, v: form, None, record="visitor"),
        Step("alice posts her token", lambda w, v: csrf_post(w, v, "alice", "alice"), "alice"),
        Step("alice posts her token again", lambda w, v: csrf_post(w, v, "alice", "alice"), "alice"),
        Step("a forged post: alice's cookie, no token", lambda w, v: csrf_post(w, v, "alice", None, None), 403),
        Step("a forged post: another site's Origin", lambda w, v: csrf_post(w, v, "alice", "alice", EVIL), 403),
        Step("a forged post: bob's token", lambda w, v: csrf_post(w, v, "alice", "bob"), 403),
        Step("a forged post: the visitor's token", lambda w, v: csrf_post(w, v, "alice", "visitor", None), 403),
        Step("a forged post: a tampered token", lambda w, v: csrf_post(w, v, "alice", "x" + v.state["alice"]), 403),
        Step("bob posts his token", lambda w, v: csrf_post(w, v, "bob", "bob"), "bob"),
        Step("a bearer header and no cookie (not a browser's: no CSRF check, no login)",
             lambda w, v: csrf_post(w, v, None, None, None, ("Authorization", "Bearer not-a-token")), 401),
        Step("alice's session, kept, then past max_age",
             lambda w, v: csrf_post(w, v, "expiring", "expiring"), 403, expired=True),
        Step("alice posts her token after she logged out", lambda w, v: csrf_post(w, v, "alice", "alice"), 401,
             before=log_out),
    ]


STEPS: dict[str, Callable[[], list[Step]]] = {
    "api-key-header": lambda: api_key_steps("api-key-header"),
    "api-key-cookie": lambda: api_key_steps("api-key-cookie"),
    "api-key-query": lambda: api_key_steps("api-key-query"),
    "router": lambda: api_key_steps("router"),
    "jwt": lambda: jwt_steps(False),
    "jwt-revocable": lambda: jwt_steps(True),
    "basic": basic_steps,
    "session": session_steps,
    "csrf": csrf_steps,
}


# ---- a cell: its two variants, its requests, the proof its shortcut ran ----

class Cell:
    def __init__(self, shortcut: str, guard: str) -> None:
        self.shortcut = shortcut
        self.guard = guard
        self.world = World(f"{shortcut}-{guard}")
        self.fast = Variant(self, True)
        self.slow = Variant(self, False)
        self.steps = STEPS[guard]()
        own = self.carrier_credential()
        if own is not None:  # the shortcut's credential alone lets nothing through
            alone = dataclasses.replace(own, carry=False, method="POST" if guard == "csrf" else "GET")
            self.steps[2:2] = [Step("the kept credential alone", lambda w, v: alone, 401),
                               Step("the kept credential alone again", lambda w, v: alone, 401)]
        self.sent: dict[str, list[httpx.Response]] = {"fast": [], "slow": []}

    def carrier_marker(self, v: Variant) -> Any:
        """What the route takes besides its guard so that the shortcut runs for it: a kept
        bearer token, the session; None where the guard is the shortcut's own."""
        if self.shortcut == "kept-token" and not self.guard.startswith("jwt"):
            return Security(v.bearer)
        if self.shortcut == "kept-session" and self.guard not in ("session", "csrf"):
            return Depends(v.sessions)
        return None

    def carrier_credential(self) -> Req | None:
        if self.shortcut == "kept-token" and not self.guard.startswith("jwt"):
            return bearer("Bearer " + self.world.tokens["carol"])
        if self.shortcut == "kept-session" and self.guard not in ("session", "csrf"):
            return Req(cookies=[("session", self.world.cookies["carol"])])
        return None

    def request(self, client: httpx.Client, v: Variant, req: Req, conditional: bool = False) -> httpx.Response:
        headers = list(req.headers)
        cookies = list(req.cookies)
        own = self.carrier_credential()
        if own is not None and req.carry:
            cookies += own.cookies
            if not any(k.lower() == "authorization" for k, _ in headers):  # (Basic: the guard's own)
                headers += own.headers
        if cookies:
            headers.append(("Cookie", "; ".join(f"{k}={val}" for k, val in cookies)))
        if conditional and v.state.get("etag"):
            headers.append(("If-None-Match", v.state["etag"]))
        path = v.form if req.form else v.path
        r = client.request(req.method, path, params=req.query or None, headers=headers)
        self.sent[v.name].append(r)
        return r

    def warm_expiring(self, client: httpx.Client) -> None:
        """Send the credentials that expire mid-run while they are valid, so the shortcut keeps them."""
        for v in (self.fast, self.slow):
            if self.guard.startswith("jwt"):
                r = self.request(client, v, bearer("Bearer " + self.world.tokens["expiring"]))
            elif self.guard == "session":
                r = self.request(client, v, Req(cookies=with_session(self.world, "expiring")))
            elif self.guard == "csrf":
                page = self.request(client, v, Req(form=True, cookies=with_session(self.world, "expiring")))
                assert page.status_code == 200, page.text
                v.state["expiring"] = page.json()["token"]
                v.state["origin"] = str(client.base_url).rstrip("/")
                r = self.request(client, v, csrf_post(self.world, v, "expiring", "expiring"))
            else:
                return
            assert r.status_code == 200 and r.json()["who"] == "alice", (self.guard, v.name, r.text)

    def run(self, client: httpx.Client) -> None:
        for v in (self.fast, self.slow):
            v.state["origin"] = str(client.base_url).rstrip("/")
        for step in self.steps:
            if step.before is not None:
                step.before(self.world)
            if step.expired:
                wait_until_expired(self.world)
            got = {}
            for v in (self.fast, self.slow):
                req = step.make(self.world, v)
                r = got[v.name] = self.request(client, v, req, step.conditional)
                if step.record is not None and r.status_code == 200:
                    v.state[step.record] = r.json()["token"]
                if step.expect == "alice" and not req.form and "etag" not in v.state and "etag" in r.headers:
                    v.state["etag"] = r.headers["etag"]
            self.compare(step, got["fast"], got["slow"])
        self.proof()

    def compare(self, step: Step, fast: httpx.Response, slow: httpx.Response) -> None:
        where = f"{self.shortcut} x {self.guard}: {step.label}"
        assert fast.status_code == slow.status_code, f"{where}: {fast.status_code} {fast.text} | slow {slow.text}"
        if isinstance(step.expect, int):  # the slow path really refuses, as the guard does
            assert slow.status_code == step.expect, f"{where}: slow path {slow.status_code} {slow.text}"
        else:  # (a router's guard: one answer for every principal, so alice's ETag fits bob's)
            assert slow.status_code in ((200, 304) if self.guard == "router" else (200,)), \
                f"{where}: slow path {slow.status_code} {slow.text}"
        if slow.request.method == "HEAD" or slow.status_code == 304:
            return
        mine, theirs = json.loads(fast.text), json.loads(slow.text)
        if step.record is not None:  # a form page: its token is new each time, the user is what matters
            mine, theirs = mine["user"], theirs["user"]
            assert theirs == step.expect, f"{where}: slow path {slow.text}"
        elif not isinstance(step.expect, int) and self.guard != "router":
            assert theirs["who"] == step.expect, f"{where}: slow path {slow.text}"
        assert mine == theirs, f"{where}: fast {fast.text} | slow {slow.text}"

    def proof(self) -> None:
        """The fast variant's shortcut ran (and the slow one's did not)."""
        fast, slow = self.sent["fast"], self.sent["slow"]
        where = f"{self.shortcut} x {self.guard}"
        if self.shortcut == "cache":
            assert any("age" in r.headers for r in fast), f"{where}: no answer came from the cache"
            assert not any("age" in r.headers for r in slow)
            # the conditional requests asked both with alice's ETag (slow: etag=True)
            assert self.fast.state.get("etag") == self.slow.state.get("etag"), where
        elif self.shortcut == "rate-limit":
            assert all(r.headers.get("ratelimit-limit") == "60000" for r in fast), where
            assert not any("ratelimit-limit" in r.headers for r in slow)
        elif self.shortcut == "kept-token":  # the verifier the route takes: its guard, else the carrier
            name = {"jwt": "jwt", "jwt-revocable": "revocable"}.get(self.guard, "bearer")
            quick, full = getattr(self.fast, name), getattr(self.slow, name)
            assert quick._decoder.calls < full._decoder.calls, f"{where}: every token was verified again"
            assert "_rb_fast_call" not in vars(full)
            if name != "revocable":
                assert quick._rb_fast_call.hits > 0, f"{where}: KeptBearer answered nothing"
            else:  # (a subclass's principal runs in Python for every request: the tokens are kept there)
                assert "_rb_fast_call" not in vars(quick)
        elif self.shortcut == "kept-session":
            reader = self.fast.sessions._native_get
            assert reader is not None and reader.hits > 0, f"{where}: SessionReader answered nothing"
            assert self.slow.sessions._native_get is None


SERVED = [s for s in SHORTCUTS if s != "const"]


def cookieless(base_url: str) -> httpx.Client:
    """An httpx client that keeps no cookie: each request says what it sends."""
    jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(base_url=base_url, timeout=10, cookies=jar)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[dict[tuple[str, str], Cell], httpx.Client]]:
    """Every served cell's two routes in one app, on one server; the expiring credentials kept."""
    app = App()
    cells = {(s, g): Cell(s, g) for s in SERVED for g in GUARDS}
    for cell in cells.values():
        cell.fast.register(app, cell)
        cell.slow.register(app, cell)
    with TestClient(app) as tc, cookieless(tc.base_url) as client:
        expires = int(time.time()) + EXPIRING
        for cell in cells.values():
            cell.world.expire_at(expires)
            cell.warm_expiring(client)
        assert time.time() < expires, "the expiring credentials expired before they were kept: a slow machine?"
        yield cells, client


# ---- a const route: refused at registration, wherever the guard is written ----

GUARD_NAMES = {"api-key-header": "APIKeyAuth", "api-key-cookie": "APIKeyAuth", "api-key-query": "APIKeyAuth",
               "jwt": "JWTAuth", "jwt-revocable": "RevocableJWT", "basic": "BasicAuth", "session": "login_required",
               "router": "APIKeyAuth", "csrf": "CSRF"}


def const_refusals(guard: str) -> list[Callable[[], None]]:
    """Each way of putting ``guard`` on a const route."""
    cell = Cell("const", guard)
    marker = Depends(cell.fast.csrf) if guard == "csrf" else cell.fast.guard(guard, cell.world)

    def as_parameter() -> None:
        App().get("/c", const=True)(handler_for(marker, None))

    def in_dependencies() -> None:
        App().get("/c", const=True, dependencies=[marker])(lambda req: {"page": 1})

    def on_its_router() -> None:
        Router(prefix="/r", dependencies=[marker]).get("/c", const=True)(lambda req: {"page": 1})

    def included_into_a_guarded_router() -> None:
        inner = Router(prefix="/inner")
        inner.get("/c", const=True)(lambda req: {"page": 1})
        Router(prefix="/r", dependencies=[marker]).include(inner)

    if guard == "router":
        return [on_its_router, included_into_a_guarded_router]
    return [as_parameter, in_dependencies]


# ---- the table ----

@pytest.mark.parametrize("shortcut", SHORTCUTS)
@pytest.mark.parametrize("guard", GUARDS)
def test_a_shortcut_refuses_what_the_slow_path_refuses(shortcut: str, guard: str, request: Any) -> None:
    if shortcut == "const":
        for register in const_refusals(guard):
            with pytest.raises(ValueError, match=f"const.*{GUARD_NAMES[guard]}"):
                register()
        return
    cells, client = request.getfixturevalue("served")
    cells[shortcut, guard].run(client)


# ---- what the table stands on ----

KEY_AUTH = APIKeyAuth("X-API-Key", keys={"k-alice": "alice"})
Guarded = Annotated[Any, Security(KEY_AUTH)]


def guard_as_text(who: "Annotated[Any, Security(KEY_AUTH)]") -> dict[str, Any]:
    return {"who": subject(who)}


def guard_as_text_named_req(req: "Guarded") -> dict[str, Any]:
    return {"who": subject(req)}


def guard_as_text_named_request(request: "Annotated[Principal, Security(KEY_AUTH)]") -> dict[str, Any]:
    return {"who": subject(request)}


@pytest.mark.parametrize("handler", [guard_as_text, guard_as_text_named_req, guard_as_text_named_request])
def test_a_guard_written_as_text_is_never_a_plain_handler(handler: Callable[..., Any]) -> None:
    """A handler of one parameter is served as a plain ``h(req)`` (no plan, nothing run
    before it) only when that parameter is the request: an annotation written as text (or
    under ``from __future__ import annotations``) that resolves to ``Annotated[..., a
    marker]`` is a typed route, and its guard runs."""
    app = App()
    app.get("/g")(handler)
    with TestClient(app) as tc:
        assert tc.get("/g").status_code == 401
        r = tc.get("/g", headers={"X-API-Key": "k-alice"})
        assert r.status_code == 200 and r.json() == {"who": "alice"}


def test_etag_true_on_a_typed_route_sends_its_etag() -> None:
    """The slow variant of a cache cell: ``etag=True`` without ``cache=``, a typed route."""
    app = App()

    @app.get("/t", etag=True, dependencies=[Security(KEY_AUTH)])
    def typed() -> dict[str, Any]:
        return {"page": 1}

    with TestClient(app) as tc:
        first = tc.get("/t", headers={"X-API-Key": "k-alice"})
        assert first.status_code == 200 and first.headers.get("etag", "").startswith('"')
        again = tc.get("/t", headers={"X-API-Key": "k-alice", "If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert tc.get("/t", headers={"If-None-Match": first.headers["etag"]}).status_code == 401
