"""A response cache skips the handler, never a guard (docs/caching.md, "Guards run on
every request"): every kind of guard a route can have (an API key in a header or a
cookie, sync and async, as a parameter, in ``dependencies=``, a router's
``dependencies=``, ringbolt.auth's verifiers, a session login) refuses on a hit exactly
as without the cache, and a guard's value the handler uses is in the key. Also what else
the key holds (Host and scheme, the query as sent) and what is never stored (an answer
that wrote or read a session it is not keyed on). Real requests over a real socket: the
app is served by ``ringbolt.testing.TestClient``, the requests go out with httpx."""

from __future__ import annotations

import collections
import http.cookiejar
import re
import time
from typing import Annotated, Any, Iterator

import httpx
import pytest

from ringbolt import App, Body, Depends, Form, Header, Query, HTTPError, Request, Response, Router, Security
from ringbolt.auth import APIKeyAuth, Principal
from ringbolt.caching import Cache
from ringbolt.csrf import CSRF
from ringbolt.security import APIKeyCookie, APIKeyHeader
from ringbolt.sessions import Session, Sessions
from ringbolt.testing import TestClient

KEYS = {"k-secret": "svc", "k-other": "ops"}
SECRET = "s" * 40

ran: collections.Counter[str] = collections.Counter()  # handler runs, by route


def who_of(key: str | None) -> str:
    who = KEYS.get(key or "")
    if who is None:
        raise HTTPError(401, "bad API key")
    return who


header_key = APIKeyHeader(name="X-API-Key")
cookie_key = APIKeyCookie(name="api_key")


def check_header(key: Annotated[str, Security(header_key)]) -> str:
    return who_of(key)


async def check_cookie(key: Annotated[str, Security(cookie_key)]) -> str:
    return who_of(key)


def check_header_param(x_api_key: Annotated[str | None, Header()] = None) -> str:
    return who_of(x_api_key)


def report(name: str, who: str | None) -> dict[str, Any]:
    ran[name] += 1
    return {"report": "confidential", "who": who}


sessions = Sessions([SECRET], secure=False)
csrf = CSRF(sessions)
key_auth = APIKeyAuth("X-API-Key", keys=KEYS)


def login_required(session: Annotated[Session, Depends(sessions)]) -> str:
    user = session.get("user")
    if not isinstance(user, str):
        raise HTTPError(401, "log in first")
    return user


resources: collections.Counter[str] = collections.Counter()  # opened/closed by generator dependencies


def connection() -> Iterator[str]:
    resources["request opened"] += 1
    yield "conn"
    resources["request closed"] += 1


def cursor() -> Iterator[str]:
    resources["function opened"] += 1
    yield "cursor"
    resources["function closed"] += 1


def tenant_of(req: Request) -> str:
    """Reads the request itself: the cache keys on what it returns (a str)."""
    return req.header("x-tenant") or "none"


def make_app() -> App:
    app = App()

    @app.post("/login/{user}")
    def login(req: Request) -> dict[str, str]:
        sessions.get(req)["user"] = req.params["user"]
        return {"user": req.params["user"]}

    @app.get("/header-sync", cache=60)
    def header_sync(who: Annotated[str, Security(check_header)]) -> dict[str, Any]:
        return report("header-sync", who)

    @app.get("/header-async", cache=60)
    async def header_async(who: Annotated[str, Security(check_header)]) -> dict[str, Any]:
        return report("header-async", who)

    @app.get("/cookie-async", cache=60)
    async def cookie_async(who: Annotated[str, Security(check_cookie)]) -> dict[str, Any]:
        return report("cookie-async", who)

    @app.get("/header-param", cache=60)
    def header_param(who: Annotated[str, Depends(check_header_param)]) -> dict[str, Any]:
        return report("header-param", who)

    @app.get("/route-deps", cache=60, dependencies=[Security(check_header)])
    def route_deps() -> dict[str, Any]:
        return report("route-deps", None)

    @app.get("/route-deps-async", cache=60, dependencies=[Security(check_cookie)])
    async def route_deps_async() -> dict[str, Any]:
        return report("route-deps-async", None)

    @app.get("/verifier", cache=60)
    def verifier(user: Annotated[Principal, Security(key_auth)]) -> dict[str, Any]:
        return report("verifier", user.subject)

    @app.get("/verifier-deps", cache=60, dependencies=[Security(key_auth)])
    async def verifier_deps() -> dict[str, Any]:
        return report("verifier-deps", None)

    @app.get("/session", cache=60)
    def session_login(who: Annotated[str, Depends(login_required)]) -> dict[str, Any]:
        return report("session", who)

    @app.get("/session-deps", cache=60, dependencies=[Depends(login_required)])
    def session_deps() -> dict[str, Any]:
        return report("session-deps", None)

    @app.get("/generators", cache=60)
    def generators(who: Annotated[str, Security(check_header)], conn: Annotated[str, Depends(connection)],
                   cur: Annotated[str, Depends(cursor, scope="function")]) -> dict[str, Any]:
        return report("generators", who)

    @app.get("/generators-async", cache=60, dependencies=[Security(check_cookie)])
    async def generators_async(conn: Annotated[str, Depends(connection)],
                               cur: Annotated[str, Depends(cursor, scope="function")]) -> dict[str, Any]:
        return report("generators-async", None)

    @app.get("/tenant", cache=60)
    def tenant(name: Annotated[str, Depends(tenant_of)]) -> dict[str, Any]:
        ran["tenant"] += 1
        return {"tenant": name}

    @app.get("/limited", cache=60, rate_limit="3/minute")
    def limited(req: Request) -> dict[str, Any]:
        ran["limited"] += 1
        return {"limited": True}

    @app.get("/links", cache=60)
    def links(req: Request) -> Response:
        ran["links"] += 1
        return Response(f'<script src="{req.scheme}://{req.host}/app.js"></script>', content_type="text/html")

    @app.get("/links-typed", cache=60)
    async def links_typed(req: Request, page: int = 1) -> dict[str, Any]:
        ran["links-typed"] += 1
        return {"next": f"{req.scheme}://{req.host}/links-typed?page={page + 1}"}

    @app.get("/visits", cache=60)
    def visits(req: Request) -> dict[str, Any]:
        ran["visits"] += 1
        session = sessions.get(req)
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"], "user": session.get("user")}

    @app.get("/visits-typed", cache=60)
    def visits_typed(session: Annotated[Session, Depends(sessions)]) -> dict[str, Any]:
        ran["visits-typed"] += 1
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"], "user": session.get("user")}

    @app.get("/whoami", cache=60)
    def whoami(req: Request) -> dict[str, Any]:
        ran["whoami"] += 1
        return {"user": sessions.get(req).get("user")}

    @app.get("/whoami-typed", cache=60)
    async def whoami_typed(session: Annotated[Session, Depends(sessions.load)]) -> dict[str, Any]:
        ran["whoami-typed"] += 1
        return {"user": session.get("user")}

    @app.get("/form", cache=60)
    def form(req: Request) -> Response:
        ran["form"] += 1
        return Response(f"<form>{csrf.hidden_field(req)}</form>", content_type="text/html")

    @app.get("/echo", cache=60)
    def echo(req: Request) -> dict[str, Any]:
        ran["echo"] += 1
        return {"a": req.query.getlist("a"), "first": req.query.get("a")}

    @app.get("/echo-typed", cache=60)
    def echo_typed(a: list[str] = Query([]), b: str = "") -> dict[str, Any]:
        ran["echo-typed"] += 1
        return {"a": a, "b": b}

    guarded = Router(prefix="/router", dependencies=[Security(check_header)])

    @guarded.get("/plain", cache=60)
    def router_plain(req: Request) -> dict[str, Any]:
        return report("router-plain", None)

    app.include(guarded)
    return app


def cookieless(base_url: str) -> httpx.Client:
    """An httpx client that keeps no cookie: each request says what it sends."""
    jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(base_url=base_url, timeout=10, cookies=jar)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[TestClient, httpx.Client]]:
    with TestClient(make_app(), threads=2) as tc, cookieless(tc.base_url) as c:
        yield tc, c


@pytest.fixture(scope="module")
def behind_proxy() -> Iterator[tuple[TestClient, httpx.Client]]:
    """The app with --proxy-headers: 127.0.0.1 is a trusted proxy."""
    with TestClient(make_app(), proxy_headers=True, forwarded_allow_ips="127.0.0.1") as tc, \
            cookieless(tc.base_url) as c:
        yield tc, c


def session_of(c: httpx.Client, user: str) -> dict[str, str]:
    """A session cookie of ``user`` logged in, as a request's Cookie header."""
    r = c.post(f"/login/{user}")
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"].split(";", 1)[0]
    return {"cookie": cookie}


# path, how credentials are sent, whether the handler's answer names who asked
GUARDED = [
    ("/header-sync", "header", True),
    ("/header-async", "header", True),
    ("/cookie-async", "cookie", True),
    ("/header-param", "header", True),
    ("/route-deps", "header", False),
    ("/route-deps-async", "cookie", False),
    ("/verifier", "header", True),
    ("/verifier-deps", "header", False),
    ("/session", "session", True),
    ("/session-deps", "session", False),
    ("/router/plain", "header", False),
    ("/generators", "header", True),
    ("/generators-async", "cookie", False),
]


def creds(c: httpx.Client, how: str, which: str) -> dict[str, str]:
    """Request headers for the valid key/user ("good"), another valid one ("other"),
    a wrong one ("wrong") or none ("none")."""
    if which == "none":
        return {}
    if how == "session":
        if which == "wrong":
            return {"cookie": "session=eyJ1c2VyIjoiYWxpY2UifQ.1.forged"}
        return session_of(c, "svc" if which == "good" else "ops")
    key = {"good": "k-secret", "other": "k-other", "wrong": "k-wrong"}[which]
    return {"x-api-key": key} if how == "header" else {"cookie": f"api_key={key}"}


@pytest.mark.parametrize("path,how,names_who", GUARDED)
def test_a_hit_still_runs_every_guard(served: tuple[TestClient, httpx.Client], path: str, how: str,
                                      names_who: bool) -> None:
    _, c = served
    name = path.strip("/").replace("/", "-")
    first = c.get(path, headers=creds(c, how, "good"))
    assert first.status_code == 200, first.text
    assert first.json() == {"report": "confidential", "who": "svc" if names_who else None}
    for which in ("none", "wrong"):
        refused = c.get(path, headers=creds(c, how, which))
        assert refused.status_code == 401, (which, refused.text)
        assert "confidential" not in refused.text
    again = c.get(path, headers=creds(c, how, "good"))
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["age"] == "0"  # a hit, after the guard let it through
    assert ran[name] == 1
    other = c.get(path, headers=creds(c, how, "other"))
    assert other.status_code == 200
    if names_who:  # the guard's value is what the answer was made from: in the key
        assert other.json()["who"] == "ops" and "age" not in other.headers
        assert ran[name] == 2
    else:
        assert other.json() == first.json() and ran[name] == 1
    if name.startswith("generators"):  # what a hit's dependencies opened is closed as on a miss
        assert resources["function opened"] == resources["function closed"] > 0
        deadline = time.monotonic() + 5  # request-scoped ones close once the answer is out
        while resources["request opened"] != resources["request closed"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert resources["request opened"] == resources["request closed"] > 0


def test_a_dependency_that_reads_the_request_is_keyed_on_its_value(served: tuple[TestClient, httpx.Client]) -> None:
    _, c = served
    a = c.get("/tenant", headers={"x-tenant": "a"})
    b = c.get("/tenant", headers={"x-tenant": "b"})
    assert a.json() == {"tenant": "a"} and b.json() == {"tenant": "b"}
    again = c.get("/tenant", headers={"x-tenant": "a"})
    assert again.json() == {"tenant": "a"} and again.headers["age"] == "0"
    assert ran["tenant"] == 2


def test_the_native_rate_limit_counts_hits(served: tuple[TestClient, httpx.Client]) -> None:
    _, c = served
    answers = [c.get("/limited") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert "age" in answers[1].headers and "age" in answers[2].headers  # hits, counted
    assert ran["limited"] == 1


# ---- what cannot be made safe is refused when the route is registered ----

class User:
    def __init__(self, name: str) -> None:
        self.name = name


def user_of(req: Request) -> User:
    return User(req.header("x-user") or "anonymous")


def profile_of(user: Annotated[User, Depends(user_of)]) -> dict[str, str]:
    return {"name": user.name}


def untyped_reader(request):  # type: ignore[no-untyped-def]
    return request.header("x-user")


def refused_routes() -> list[tuple[str, Any, dict[str, Any], str]]:
    """(path, handler, route options, what the ValueError must say)."""
    def uses_user(user: Annotated[User, Depends(user_of)]) -> dict[str, str]:
        return {"name": user.name}

    def uses_profile(p: Annotated[dict[str, str], Depends(profile_of)]) -> dict[str, str]:
        return p

    def uses_untyped(who: Annotated[str | None, Depends(untyped_reader)]) -> dict[str, Any]:
        return {"who": who}

    def reads_body(data: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return data

    def reads_form(name: Annotated[str, Form()]) -> dict[str, Any]:
        return {"name": name}

    return [
        ("/user", uses_user, {}, r"route /user: cache= .* user_of: it takes the Request.* returns User"),
        ("/profile", uses_profile, {}, r"route /profile: cache= .* user_of: it takes the Request"),
        ("/untyped", uses_untyped, {}, r"route /untyped: cache= .* untyped_reader: .* no return annotation"),
        ("/body", reads_body, {}, r"route /body: cache= .*request body"),
        ("/form", reads_form, {}, r"route /form: cache= .*request body"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_what_the_key_cannot_hold_is_refused_at_registration(case: int) -> None:
    path, handler, options, message = refused_routes()[case]
    app = App()
    with pytest.raises(ValueError, match=message) as err:
        app.get(path, cache=60, **options)(handler)
    assert "dependencies=[" in str(err.value) or "body" in str(err.value)
    app.get(path, **options)(handler)  # without cache= the route is fine


def test_a_guard_whose_value_the_handler_does_not_take_is_not_refused() -> None:
    app = App()

    @app.get("/members", cache=60, dependencies=[Depends(user_of)])
    def members() -> dict[str, str]:
        return {"page": "members"}

    with TestClient(app) as tc:
        assert tc.get("/members").json() == {"page": "members"}


# ---- the key: host and scheme, the query as sent ----

@pytest.mark.parametrize("proxy,poison", [
    (False, {"host": "evil.example"}),
    (True, {"x-forwarded-host": "evil.example"}),
    (True, {"x-forwarded-proto": "https"}),
    (True, {"forwarded": "host=evil.example;proto=https"}),
])
@pytest.mark.parametrize("path", ["/links", "/links-typed"])
def test_host_and_scheme_are_in_the_key(served: tuple[TestClient, httpx.Client],
                                        behind_proxy: tuple[TestClient, httpx.Client], proxy: bool,
                                        poison: dict[str, str], path: str) -> None:
    tc, c = behind_proxy if proxy else served
    evil = c.get(path, headers=poison)
    assert evil.status_code == 200 and ("evil.example" in evil.text or "https://" in evil.text)
    visitor = c.get(path)
    assert visitor.status_code == 200
    assert f"http://127.0.0.1:{tc.port}/" in visitor.text and "evil" not in visitor.text
    assert "https" not in visitor.text
    again = c.get(path, headers=poison)
    assert again.text == evil.text and again.headers["age"] == "0"  # each host has its answer stored


@pytest.mark.parametrize("path", ["/echo", "/echo-typed"])
def test_the_order_of_a_name_s_values_is_in_the_key(served: tuple[TestClient, httpx.Client], path: str) -> None:
    _, c = served
    one = c.get(f"{path}?a=evil&a=good&b=1")
    two = c.get(f"{path}?a=good&a=evil&b=1")
    assert one.json()["a"] == ["evil", "good"] and two.json()["a"] == ["good", "evil"]
    assert "age" not in two.headers
    three = c.get(f"{path}?b=1&a=evil&a=good")  # names in another order: the same query
    assert three.json() == one.json() and three.headers["age"] == "0"
    assert ran[path.strip("/")] == 2


# ---- answers made from a session ----

def cookie_set(r: httpx.Response) -> dict[str, str] | None:
    """The session cookie ``r`` sets, as a request's Cookie header (None: it sets none)."""
    for line in r.headers.get_list("set-cookie"):
        if line.startswith("session="):
            return {"cookie": line.split(";", 1)[0]}
    return None


@pytest.mark.parametrize("path", ["/visits", "/visits-typed", "/whoami", "/whoami-typed", "/form"])
def test_one_session_s_answer_never_reaches_another(served: tuple[TestClient, httpx.Client], path: str) -> None:
    _, c = served
    alice = session_of(c, "alice")
    mine = c.get(path, headers=alice)
    alice = cookie_set(mine) or alice  # a session written sends its new cookie
    mine = c.get(path, headers=alice)  # (a session read, unchanged, is what may be stored)
    assert mine.status_code == 200 and ("alice" in mine.text or "csrf_token" in mine.text)
    for visitor in ({}, session_of(c, "bob")):
        theirs = c.get(path, headers=visitor)
        assert theirs.status_code == 200
        assert "alice" not in theirs.text and theirs.text != mine.text, (visitor, theirs.text)
        assert cookie_set(theirs) != alice


@pytest.mark.parametrize("path", ["/visits", "/visits-typed"])
def test_an_answer_that_wrote_the_session_is_not_stored(served: tuple[TestClient, httpx.Client], path: str) -> None:
    _, c = served
    dave = session_of(c, "dave")
    before = ran[path.strip("/")]
    answers = [c.get(path, headers=dave) for _ in range(2)]  # the same cookie: the same session data
    assert [r.json() for r in answers] == [{"visits": 1, "user": "dave"}] * 2
    assert all("age" not in r.headers and cookie_set(r) is not None for r in answers)
    assert ran[path.strip("/")] == before + 2


def test_a_session_read_is_keyed_when_the_handler_takes_it(served: tuple[TestClient, httpx.Client]) -> None:
    _, c = served
    carol = session_of(c, "carol")
    first = c.get("/whoami-typed", headers=carol)
    again = c.get("/whoami-typed", headers=carol)
    assert first.json() == again.json() == {"user": "carol"} and again.headers["age"] == "0"
    anonymous = c.get("/whoami-typed")
    assert anonymous.json() == {"user": None}
