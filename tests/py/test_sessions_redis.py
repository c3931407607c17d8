"""Server-side sessions in Redis (ringbolt.sessions.RedisStore) against a redis-server
this module starts and the app of tests/py/apps/sessions_app.py: the cookie carries a
signed random id only, the data has a TTL refreshed on use and is gone when it expires,
a login gets a new id (session fixation), sync and async routes alike."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import redis

from ringbolt import App
from ringbolt.sessions import RedisStore, Signer
from ringbolt.testing import TestClient
from redis_server import redis_server
from session_helpers import NEW_KEY, client, serve_sessions, session_cookie, set_cookies, wait_for, with_cookie

PREFIX = "test:session:"


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def store(redis_url):
    r = redis.Redis.from_url(redis_url)
    yield r
    r.close()


@pytest.fixture(scope="module")
def srv(redis_url, tmp_path_factory):
    yield from serve_sessions(tmp_path_factory.mktemp("sessions") / "server.log", {"SESSION_REDIS_URL": redis_url})


@pytest.fixture
def http(srv):
    with client(srv) as c:
        yield c


def sid_of(value: str) -> str:
    got = Signer([NEW_KEY], b"session").unsign(value, 3600, int(time.time()))
    assert got is not None, value
    return got[0].decode()


def login(http: httpx.Client, path: str = "/login", user: str = "ann", cookie: str | None = None) -> str:
    r = http.post(path, json={"user": user}, headers=with_cookie(cookie))
    assert r.status_code == 200, r.text
    value = session_cookie(r)
    assert value is not None
    return value


def test_the_cookie_holds_a_signed_id_and_redis_the_data_with_a_ttl(http, store):
    r = http.post("/login", json={"user": "ann"})
    c = set_cookies(r)["session"]
    assert c.attrs == {"max-age": "3600", "path": "/", "secure": "", "httponly": "", "samesite": "Lax"}
    sid = sid_of(c.value)
    assert "ann" not in c.value and len(sid) >= 40  # secrets.token_urlsafe(32)
    assert json.loads(store.get(PREFIX + sid)) == {"user": "ann"}
    assert 3590 <= store.ttl(PREFIX + sid) <= 3600
    r = http.get("/session", headers=with_cookie(c.value))
    assert r.json() == {"user": "ann"} and "set-cookie" not in r.headers


def test_reading_refreshes_the_ttl(http, store):
    value = login(http)
    key = PREFIX + sid_of(value)
    store.expire(key, 100)
    assert store.ttl(key) <= 100
    assert http.get("/session", headers=with_cookie(value)).json() == {"user": "ann"}
    assert store.ttl(key) >= 3590


def test_an_expired_session_is_empty_and_its_cookie_expired(http, store):
    value = login(http)
    key = PREFIX + sid_of(value)
    store.pexpire(key, 50)
    wait_for(lambda: not store.exists(key), what="the Redis TTL expiry")
    r = http.get("/session", headers=with_cookie(value))
    assert r.json() == {}
    c = set_cookies(r)["session"]
    assert c.value == "" and c.attrs["max-age"] == "0"


def test_login_gets_a_new_id_and_the_planted_one_is_dropped(http, store):
    # The attacker starts a session and plants its cookie in the victim's browser.
    r = http.post("/counter")
    planted = session_cookie(r)
    assert planted is not None
    planted_key = PREFIX + sid_of(planted)
    assert store.exists(planted_key)
    # The victim logs in with it: the session moves to a new id, the planted one is gone.
    mine = login(http, cookie=planted)
    assert sid_of(mine) != sid_of(planted)
    assert not store.exists(planted_key)
    assert json.loads(store.get(PREFIX + sid_of(mine))) == {"n": 1, "user": "ann"}
    assert http.get("/session", headers=with_cookie(planted)).json() == {}
    assert http.get("/session", headers=with_cookie(mine)).json() == {"n": 1, "user": "ann"}


def test_logout_deletes_the_data_and_expires_the_cookie(http, store):
    value = login(http)
    key = PREFIX + sid_of(value)
    r = http.post("/logout", headers=with_cookie(value))
    assert set_cookies(r)["session"].attrs["max-age"] == "0"
    assert not store.exists(key)
    assert http.get("/session", headers=with_cookie(value)).json() == {}


def test_a_forged_id_is_an_empty_session(http, store):
    store.set(PREFIX + "guessed", json.dumps({"user": "admin"}))
    forged = Signer(["z" * 40], b"session").sign(b"guessed", int(time.time()))
    assert http.get("/session", headers=with_cookie(forged)).json() == {}
    assert http.get("/session", headers=with_cookie("guessed")).json() == {}


def test_async_routes_read_and_write_redis(http, store):
    value = login(http, "/async/login", "cy")
    assert json.loads(store.get(PREFIX + sid_of(value))) == {"user": "cy"}
    assert http.get("/async/session", headers=with_cookie(value)).json() == {"user": "cy"}
    assert http.get("/session", headers=with_cookie(value)).json() == {"user": "cy"}


def test_the_middleware_writes_before_the_response(http, store):
    r = http.post("/mw/counter")
    value = session_cookie(r)
    assert r.json() == {"n": 1} and value is not None
    # Written (awaited) before the answer: the next request sees it at once.
    for n in (2, 3):
        assert http.post("/mw/counter", headers=with_cookie(value)).json() == {"n": n}
    assert json.loads(store.get(PREFIX + sid_of(value))) == {"n": 3}


def _refresh_app(url: str, refresh: bool) -> Any:
    """An app of the test's own: sessions in Redis with a max_age of 100 s, ``refresh`` as given."""
    app = App()
    sessions = app.add_sessions([NEW_KEY], store=RedisStore(url, prefix=PREFIX), max_age=100, secure=False,
                                refresh=refresh)

    @app.post("/login")
    def login(req):
        session = sessions.get(req)
        session.regenerate()
        session["user"] = "ann"
        return {}

    @app.get("/session")
    def read(req):
        return dict(sessions.get(req))

    return app


@pytest.mark.parametrize("refresh", [False, True])
def test_a_session_lasts_max_age_from_its_login_or_with_refresh_its_last_use(redis_url, store, refresh):
    """docs/sessions.md, "The Redis store": the session ends with its cookie, max_age after
    the id was signed (login); refresh=True re-signs and re-sends the cookie on each read,
    so it lasts max_age from its last use. Older cookies stand for "logged in N s ago"
    (the server signs with the time it reads: no clock to move)."""
    with TestClient(_refresh_app(redis_url, refresh)) as c:
        sid = sid_of(session_cookie(c.post("/login")))
        signer = Signer([NEW_KEY], b"session")

        def read(signed_ago: int) -> tuple[dict[str, Any], str | None]:
            value = signer.sign(sid.encode(), int(time.time()) - signed_ago)
            r = c.get("/session", headers={"cookie": f"session={value}"})
            return r.json(), session_cookie(r)

        data, resent = read(90)  # used 90 s after login: still the session, its entry's TTL whole again
        assert data == {"user": "ann"} and 95 <= store.ttl(PREFIX + sid) <= 100
        if refresh:
            assert resent is not None and sid_of(resent) == sid  # signed now: 100 s from this use
            assert c.get("/session", headers={"cookie": f"session={resent}"}).json() == {"user": "ann"}
        else:
            assert resent is None  # the cookie the browser has ends 100 s after login
        # 110 s after login the cookie signed then is refused (and expired), though the entry is alive
        data, resent = read(110)
        assert data == {} and resent == "" and store.exists(PREFIX + sid)
