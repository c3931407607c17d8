"""Signed cookie sessions (ringbolt.sessions, the cookie store) against a real server
(tests/py/apps/sessions_app.py): the round trip, the secure defaults, key rotation, and
every cookie that must read as an empty session (tampered, expired, wrongly keyed,
malformed, oversized), never as an error."""

from __future__ import annotations

import base64
import json
import re
import sys
import time

import httpx
import pytest

from conftest import REPO
from ringbolt.csrf import CSRF
from ringbolt.sessions import MAX_COOKIE_BYTES, RedisStore, Session, Sessions, Signer
from ringbolt.testing import TestClient
from session_helpers import (NEW_KEY, OLD_KEY, http, session_cookie, set_cookies, srv,  # noqa: F401
                             wait_for, with_cookie)  # (http, srv: fixtures)


def signed(data: object, key: str = NEW_KEY, age: int = 0) -> str:
    """A cookie value as a holder of ``key`` signs it ``age`` seconds ago."""
    return Signer([key], b"session").sign(json.dumps(data).encode(), int(time.time()) - age)


def login(http: httpx.Client, user: str = "ann") -> str:
    r = http.post("/login", json={"user": user})
    assert r.status_code == 200, r.text
    value = session_cookie(r)
    assert value is not None
    return value


def test_login_sets_a_signed_cookie_with_secure_defaults(http):
    r = http.post("/login", json={"user": "ann"})
    assert r.json() == {"user": "ann"}
    c = set_cookies(r)["session"]
    assert c.attrs == {"max-age": "3600", "path": "/", "secure": "", "httponly": "", "samesite": "Lax"}
    payload, stamp, _ = c.value.split(".")
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == {"user": "ann"}
    assert abs(int(stamp) - time.time()) < 60
    # Verified with the signing key alone: the first key signs.
    assert Signer([NEW_KEY], b"session").unsign(c.value, 3600, int(time.time())) is not None
    assert Signer([OLD_KEY], b"session").unsign(c.value, 3600, int(time.time())) is None


def test_the_session_reads_back_and_an_unchanged_one_is_not_resent(http):
    value = login(http)
    r = http.get("/session", headers=with_cookie(value))
    assert r.json() == {"user": "ann"}
    assert "set-cookie" not in r.headers


def test_no_cookie_is_an_empty_session_and_sets_nothing(http):
    r = http.get("/session")
    assert r.status_code == 200 and r.json() == {}
    assert "set-cookie" not in r.headers


def test_a_changed_session_is_resent_each_time(http):
    value = None
    for n in (1, 2, 3):
        r = http.post("/counter", headers=with_cookie(value))
        assert r.json() == {"n": n}
        value = session_cookie(r)
        assert value is not None
    assert http.get("/session", headers=with_cookie(value)).json() == {"n": 3}


def test_logout_expires_the_cookie(http):
    value = login(http)
    r = http.post("/logout", headers=with_cookie(value))
    c = set_cookies(r)["session"]
    assert c.value == "" and c.attrs["max-age"] == "0" and "expires" in c.attrs
    assert c.attrs["path"] == "/" and "secure" in c.attrs and "httponly" in c.attrs


def test_a_cookie_signed_with_an_old_key_is_read_and_resigned_with_the_first(http):
    old = signed({"user": "old"}, key=OLD_KEY)
    r = http.get("/session", headers=with_cookie(old))
    assert r.json() == {"user": "old"}
    new = session_cookie(r)
    assert new is not None and new != old
    got = Signer([NEW_KEY], b"session").unsign(new, 3600, int(time.time()))
    assert got is not None and json.loads(got[0]) == {"user": "old"}
    # The re-signed cookie reads as it is, and is not re-sent again.
    r = http.get("/session", headers=with_cookie(new))
    assert r.json() == {"user": "old"} and "set-cookie" not in r.headers


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


def bad_cookies() -> dict[str, str]:
    good = signed({"user": "ann", "admin": False})
    payload, stamp, sig = good.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"user": "ann", "admin": True}).encode()).rstrip(b"=").decode()
    return {
        "payload changed": f"{forged}.{stamp}.{sig}",
        "payload byte flipped": f"{_flip(payload, 3)}.{stamp}.{sig}",
        "timestamp changed": f"{payload}.{int(stamp) + 1}.{sig}",
        "signature flipped": f"{payload}.{stamp}.{_flip(sig, 5)}",
        "signature dropped": f"{payload}.{stamp}.",
        "unknown key": signed({"user": "ann"}, key="z" * 40),
        "expired": signed({"user": "ann"}, age=3601),
        "signed JSON but not an object": Signer([NEW_KEY], b"session").sign(b"[1,2]", int(time.time())),
        "signed but not JSON": Signer([NEW_KEY], b"session").sign(b"\xff{", int(time.time())),
        "another purpose's signature": Signer([NEW_KEY], b"csrf").sign(b'{"user":"ann"}', int(time.time())),
        "garbage": "not-a-session",
        "no timestamp": f"{payload}..{sig}",
        "timestamp not digits": f"{payload}.12x.{sig}",
        "huge timestamp": f"{payload}.{'9' * 40}.{sig}",
        "bad base64": "%%%.1.@@@",
        "empty": "",
        "only dots": "...",
    }


@pytest.mark.parametrize("case", list(bad_cookies()))
def test_a_bad_cookie_is_an_empty_session_and_is_expired(http, case):
    value = bad_cookies()[case]
    r = http.get("/session", headers={"cookie": f"session={value}"})
    assert r.status_code == 200, r.text
    assert r.json() == {}
    if value:
        c = set_cookies(r).get("session")
        assert c is not None and c.value == "" and c.attrs["max-age"] == "0", r.headers


def test_a_cookie_just_inside_max_age_is_read(http):
    assert http.get("/session", headers=with_cookie(signed({"u": 1}, age=3590))).json() == {"u": 1}


def test_an_oversized_cookie_is_an_empty_session(http):
    value = signed({"blob": "x" * MAX_COOKIE_BYTES})
    assert len(value) > MAX_COOKIE_BYTES
    r = http.get("/session", headers=with_cookie(value))
    assert r.status_code == 200 and r.json() == {}


# ---- the native read (_native.SessionReader, what Depends(sessions) runs) ----

def kept(http: httpx.Client) -> dict[str, int]:
    r = http.get("/kept")
    assert r.status_code == 200 and r.json() is not None, r.text
    return r.json()


def test_a_verified_cookie_is_kept_and_read_again_without_its_mac(http):
    value = signed({"user": "kim", "n": 7})
    before = kept(http)
    for _ in range(3):
        r = http.get("/session", headers=with_cookie(value))
        assert r.json() == {"user": "kim", "n": 7} and "set-cookie" not in r.headers
    # sessions.get(req) in a plain handler reads the same way
    assert http.get("/get-session", headers=with_cookie(value)).json() == {"user": "kim", "n": 7}
    after = kept(http)
    assert after["kept"] >= before["kept"] + 1 or after["kept"] == 1024
    assert after["hits"] == before["hits"] + 3  # the first read verified it, the next three were kept
    # kept or not, a value that differs in one byte is verified in full and refused
    payload, stamp, sig = value.split(".")
    for forged in (f"{payload}.{stamp}.{_flip(sig, 7)}", f"{payload}.{int(stamp) - 1}.{sig}", value + "A"):
        r = http.get("/session", headers=with_cookie(forged))
        assert r.json() == {} and set_cookies(r)["session"].attrs["max-age"] == "0"
    assert kept(http)["hits"] == after["hits"]


def test_a_change_to_a_session_never_reaches_the_kept_cookie(http):
    # scalars: the kept data is copied into each request's session
    value = signed({"n": 1})
    assert http.post("/counter", headers=with_cookie(value)).json() == {"n": 2}
    assert http.post("/counter", headers=with_cookie(value)).json() == {"n": 2}
    # a list changed in place (not written back): parsed again for each request
    value = signed({"cart": [1]})
    for _ in range(3):
        r = http.get("/cart", headers=with_cookie(value))
        assert r.json() == {"cart": [1, 2]} and "set-cookie" not in r.headers


def test_a_kept_cookie_still_expires_at_max_age(http):
    value = signed({"user": "old"}, age=3598)  # SESSION_MAX_AGE 3600: two seconds left
    assert http.get("/session", headers=with_cookie(value)).json() == {"user": "old"}
    hits = kept(http)["hits"]
    assert http.get("/session", headers=with_cookie(value)).json() == {"user": "old"}
    assert kept(http)["hits"] == hits + 1

    def expired() -> bool:
        r = http.get("/session", headers=with_cookie(value))
        return r.json() == {} and set_cookies(r)["session"].attrs["max-age"] == "0"

    wait_for(expired, timeout=6, what="the kept cookie to expire")


def test_a_cookie_not_ascii_is_refused_before_any_mac(http):
    value = signed({"user": "ann"})
    r = http.get("/session", headers=[(b"cookie", b"session=" + value.encode() + b"\xc3\xa9")])
    assert r.json() == {} and set_cookies(r)["session"].attrs["max-age"] == "0"


def test_a_full_keep_drops_its_oldest_cookie(http):
    values = [Signer([NEW_KEY], b"session").sign(json.dumps({"n": i}).encode(), int(time.time())) for i in range(3)]
    for i, v in enumerate(values):
        assert http.get("/small", headers={"cookie": f"small={v}"}).json() == {"n": i}
    assert http.get("/small/kept").json() == {"kept": 2, "hits": 0}
    # the last two are kept; the first was dropped and is verified again, and read as it was
    assert http.get("/small", headers={"cookie": f"small={values[2]}"}).json() == {"n": 2}
    assert http.get("/small/kept").json() == {"kept": 2, "hits": 1}
    assert http.get("/small", headers={"cookie": f"small={values[0]}"}).json() == {"n": 0}
    assert http.get("/small/kept").json() == {"kept": 2, "hits": 1}


def test_an_old_key_cookie_kept_is_resigned_each_time(http):
    old = signed({"user": "rot"}, key=OLD_KEY)
    hits = kept(http)["hits"]
    for _ in range(2):
        r = http.get("/session", headers=with_cookie(old))
        assert r.json() == {"user": "rot"}
        new = session_cookie(r)
        assert new is not None and new != old
    assert kept(http)["hits"] == hits + 1


def test_a_session_too_large_for_a_cookie_is_refused_loudly(http, srv):
    r = http.post("/big?size=2000")
    assert r.status_code == 200 and session_cookie(r) is not None
    r = http.post("/big?size=5000")
    assert r.status_code == 500
    assert "set-cookie" not in r.headers
    wait_for(lambda: "SessionTooLarge" in srv.output(), what="the SessionTooLarge traceback in the log")


def test_a_route_that_takes_no_session_sets_no_cookie(http):
    value = login(http)
    r = http.get("/plain", headers=with_cookie(signed({"u": 1}, key=OLD_KEY)))
    assert r.json() == {"plain": True} and "set-cookie" not in r.headers
    r = http.get("/plain", headers=with_cookie(value))
    assert "set-cookie" not in r.headers


def test_req_session_through_a_route_dependency_and_get(http):
    value = login(http, "bo")
    assert http.get("/req-session", headers=with_cookie(value)).json() == {"user": "bo"}
    assert http.get("/get-session", headers=with_cookie(value)).json() == {"user": "bo"}


def test_async_routes(http):
    r = http.post("/async/login", json={"user": "cy"})
    value = session_cookie(r)
    assert r.json() == {"user": "cy"} and value is not None
    assert http.get("/async/session", headers=with_cookie(value)).json() == {"user": "cy"}
    assert http.get("/session", headers=with_cookie(value)).json() == {"user": "cy"}


def test_the_session_middleware_gives_req_session(http):
    r = http.post("/mw/counter")
    assert r.json() == {"n": 1}
    r = http.post("/mw/counter", headers=with_cookie(session_cookie(r)))
    assert r.json() == {"n": 2}


# ---- options refused when the app is made (no server needed: plain exceptions) ----

@pytest.mark.parametrize("keys, error, says", [
    ([], TypeError, "non-empty list"),
    ("k" * 40, TypeError, "list of keys"),
    (["short"], ValueError, "fewer than 32"),
    ([NEW_KEY, 42], TypeError, "secret key 1 must be str or bytes"),
])
def test_bad_secret_keys_are_refused(keys, error, says):
    with pytest.raises(error, match=says):
        Sessions(keys)


@pytest.mark.parametrize("options, error, says", [
    ({"max_age": 0}, ValueError, "max_age"),
    ({"max_age": True}, ValueError, "max_age"),
    ({"samesite": "loose"}, ValueError, "samesite"),
    ({"samesite": "none", "secure": False}, ValueError, "requires secure"),
    ({"secure": "yes"}, TypeError, "True or False"),
    ({"cookie_name": "bad name"}, ValueError, "cookie name"),
    ({"store": object()}, TypeError, "CookieStore or RedisStore"),
])
def test_bad_session_options_are_refused(options, error, says):
    with pytest.raises(error, match=says):
        Sessions([NEW_KEY], **options)


def test_the_redis_store_without_redis_py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis now raises ImportError
    with pytest.raises(ImportError, match=r"ringbolt\[redis\]"):
        RedisStore()


def test_secure_can_be_dropped_for_plain_http_development():
    sessions = Sessions([NEW_KEY], secure=False)
    session = Session({"u": 1}, owner=sessions)
    session.modified = True
    cookie = sessions.commit(session)
    assert cookie is not None and "Secure" not in cookie.render(https=True).split("; ")


@pytest.mark.parametrize("origins, error", [("https://a.example", TypeError), (["a.example"], ValueError),
                                            (["https://a.example/path"], ValueError)])
def test_bad_csrf_options_are_refused(origins, error):
    with pytest.raises(error, match="origin"):
        CSRF(Sessions([NEW_KEY]), allowed_origins=origins)
    with pytest.raises(TypeError, match="Sessions"):
        CSRF(object())  # type: ignore[arg-type]


def test_the_docs_examples_run_as_written(monkeypatch):
    """docs/sessions.md's first block (sessions) and its CSRF block, served in process."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "sessions.md").read_text(), re.S)
    monkeypatch.setenv("SESSION_SECRET", "s" * 43)
    ns: dict[str, object] = {"__name__": "docs_sessions"}
    for block in (blocks[0], next(b for b in blocks if "add_csrf" in b)):
        exec(compile(block, "docs/sessions.md", "exec", dont_inherit=True), ns)
    with TestClient(ns["app"]) as c:
        r = c.post("/login", json={"user": "ann"})
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("session="))
        value = cookie.split(";")[0].split("=", 1)[1]
        assert c.get("/session", headers=with_cookie(value)).json() == {"user": "ann"}
        assert c.get("/session", headers=with_cookie(value[:-2] + "xx")).json() == {}
        page = c.get("/transfer", headers=with_cookie(value))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        value = next(v for v in page.headers.get_list("set-cookie") if v.startswith("session=")).split(";")[0][8:]
        assert c.post("/transfer", data={"csrf_token": token}, headers=with_cookie(value)).json() == {"ok": True}
        assert c.post("/transfer", data={"amount": "1"}, headers=with_cookie(value)).status_code == 403
        r = c.post("/logout", headers=with_cookie(value))
        assert "Max-Age=0" in r.headers["set-cookie"]


def test_the_native_reader_refuses_what_it_cannot_use():
    from ringbolt._native import KeptBearer, SessionReader

    sessions = Sessions([NEW_KEY])
    with pytest.raises(TypeError, match="signer must be a ValueSigner"):
        SessionReader("not a signer", "session", 60, Session, Session, 4096, False, sessions.get, print, 8)
    with pytest.raises(TypeError, match="fallback and on_refused must be callable"):
        SessionReader(sessions.signer._native, "session", 60, Session, Session, 4096, False, None, print, 8)
    with pytest.raises(TypeError):
        KeptBearer([], print)  # the kept tokens are a dict
    # anything but one request of ringbolt's own goes to the Python read, whose errors say why
    reader = sessions.__dict__["_rb_fast_call"]
    with pytest.raises(TypeError):
        reader()
    with pytest.raises(AttributeError):
        reader(object())
    # a Sessions that changes get, or keeps sessions in Redis, has no native reader
    class Own(Sessions):
        def get(self, req):  # type: ignore[override]
            return super().get(req)

    assert "_rb_fast_call" not in Own([NEW_KEY]).__dict__
    assert "_rb_fast_call" not in Sessions([NEW_KEY], store=RedisStore()).__dict__
