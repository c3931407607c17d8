"""CSRF protection (ringbolt.csrf) against a real server (tests/py/apps/sessions_app.py):
the accept/refuse matrix over tokens, sessions, Origin and Referer, the bearer
exemption, and a real browser (headless Chromium) posting a form with and without the
token."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from conftest import stop_process
from h2_tls_helpers import CLIENT_ENV

from session_helpers import http, session_cookie, srv, wait_for, with_cookie  # noqa: F401  (http, srv: fixtures)
from test_http3_browser import chromium


def issue(http: httpx.Client, cookie: str | None = None) -> tuple[str, str]:
    """A session cookie and a token of that session."""
    r = http.get("/token", headers=with_cookie(cookie))
    assert r.status_code == 200
    token = r.json()["token"]
    return session_cookie(r) or cookie or "", token


def refused(r: httpx.Response, cause: str) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 403 and body["csrf"] == cause, body
    assert body["title"] == "CSRF check failed" and body["detail"]


def test_a_token_in_the_header_passes(http):
    cookie, token = issue(http)
    r = http.post("/transfer", headers={**with_cookie(cookie), "x-csrf-token": token})
    assert r.status_code == 200 and r.json() == {"ok": True, "method": "POST"}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_is_checked(http, method):
    cookie, token = issue(http)
    refused(http.request(method, "/transfer", headers=with_cookie(cookie)), "missing-token")
    r = http.request(method, "/transfer", headers={**with_cookie(cookie), "x-csrf-token": token})
    assert r.json() == {"ok": True, "method": method}


def test_a_safe_method_passes_without_a_token(http):
    assert http.get("/transfer").json() == {"ok": True, "method": "GET"}


def test_a_token_in_a_form_field_passes(http):
    cookie, token = issue(http)
    r = http.post("/transfer", data={"csrf_token": token, "amount": "1"}, headers=with_cookie(cookie))
    assert r.status_code == 200, r.text
    r = http.post("/transfer", data={"csrf_token": token}, files={"f": ("a.txt", b"x")}, headers=with_cookie(cookie))
    assert r.status_code == 200, r.text  # multipart


def test_tokens_differ_per_issue_and_all_stay_valid(http):
    cookie, first = issue(http)
    _, second = issue(http, cookie)
    assert first != second
    for token in (first, second):
        assert http.post("/transfer", headers={**with_cookie(cookie), "x-csrf-token": token}).status_code == 200


def test_a_missing_token_is_refused(http):
    cookie, _ = issue(http)
    refused(http.post("/transfer", headers=with_cookie(cookie)), "missing-token")
    refused(http.post("/transfer", data={"amount": "1"}, headers=with_cookie(cookie)), "missing-token")
    refused(http.post("/transfer", headers={**with_cookie(cookie), "x-csrf-token": ""}), "missing-token")


def test_another_sessions_token_is_refused(http):
    mine, _ = issue(http)
    _, theirs = issue(http)
    refused(http.post("/transfer", headers={**with_cookie(mine), "x-csrf-token": theirs}), "invalid-token")


def test_a_token_without_a_session_is_refused(http):
    _, token = issue(http)
    refused(http.post("/transfer", headers={"x-csrf-token": token}), "no-session")


@pytest.mark.parametrize("token", ["forged", "a.b", ".", "abc.%%%", "x" * 20 + "." + "A" * 43])
def test_a_forged_token_is_refused(http, token):
    cookie, real = issue(http)
    refused(http.post("/transfer", headers={**with_cookie(cookie), "x-csrf-token": token}), "invalid-token")
    nonce, sig = real.split(".")
    tampered = f"{nonce[:-1]}{'A' if nonce[-1] != 'A' else 'B'}.{sig}"
    refused(http.post("/transfer", headers={**with_cookie(cookie), "x-csrf-token": tampered}), "invalid-token")


def test_login_replaces_the_sessions_csrf_secret(http):
    cookie, before = issue(http)
    r = http.post("/login", json={"user": "ann"}, headers=with_cookie(cookie))
    after_login = session_cookie(r)
    assert after_login is not None
    refused(http.post("/transfer", headers={**with_cookie(after_login), "x-csrf-token": before}), "no-session")
    cookie, fresh = issue(http, after_login)
    assert http.post("/transfer", headers={**with_cookie(cookie), "x-csrf-token": fresh}).status_code == 200


def test_a_cross_site_origin_is_refused_even_with_a_token(http):
    cookie, token = issue(http)
    for origin in ("https://evil.example", "null", "http://127.0.0.1:1"):
        headers = {**with_cookie(cookie), "x-csrf-token": token, "origin": origin}
        refused(http.post("/transfer", headers=headers), "origin")


def test_the_own_origin_and_an_allowed_one_pass(http, srv):
    cookie, token = issue(http)
    for origin in (f"http://127.0.0.1:{srv.port}", "https://trusted.example", "HTTPS://Trusted.Example"):
        headers = {**with_cookie(cookie), "x-csrf-token": token, "origin": origin}
        assert http.post("/transfer", headers=headers).status_code == 200, origin


def test_the_referer_is_checked_when_there_is_no_origin(http, srv):
    cookie, token = issue(http)
    base = {**with_cookie(cookie), "x-csrf-token": token}
    refused(http.post("/transfer", headers={**base, "referer": "https://evil.example/page"}), "referer")
    refused(http.post("/transfer", headers={**base, "referer": "not a url"}), "referer")
    ok = http.post("/transfer", headers={**base, "referer": f"http://127.0.0.1:{srv.port}/page?x=1"})
    assert ok.status_code == 200
    # Origin wins over Referer when both are there.
    refused(http.post("/transfer", headers={**base, "origin": "https://evil.example",
                                            "referer": f"http://127.0.0.1:{srv.port}/"}), "origin")


def test_bearer_requests_without_a_session_cookie_are_exempt(http):
    r = http.post("/transfer", headers={"authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 200
    # With a session cookie the browser may have added it: checked.
    cookie, _ = issue(http)
    refused(http.post("/transfer", headers={**with_cookie(cookie), "authorization": "Bearer x"}), "missing-token")
    # Not bearer, or an empty one: checked.
    refused(http.post("/transfer", headers={"authorization": "Basic YTpi"}), "missing-token")
    refused(http.post("/transfer", headers={"authorization": "Bearer"}), "missing-token")


def test_the_async_dependency_and_the_middleware(http):
    cookie, token = issue(http)
    for path in ("/async/transfer", "/guarded/transfer"):
        refused(http.post(path, headers=with_cookie(cookie)), "missing-token")
        refused(http.post(path, headers={**with_cookie(cookie), "origin": "https://evil.example",
                                         "x-csrf-token": token}), "origin")
        assert http.post(path, headers={**with_cookie(cookie), "x-csrf-token": token}).status_code == 200
        r = http.post(path, data={"csrf_token": token}, headers=with_cookie(cookie))
        assert r.status_code == 200, (path, r.text)


def test_chromium_posts_the_form_with_its_token_and_is_refused_without(srv, http, tmp_path):
    """A real browser: the login page starts the session (its cookie HttpOnly, Secure,
    SameSite=Lax, which Chromium keeps for http://127.0.0.1, a secure context) and renders
    the form with its token; the page's script posts the form (accepted), then the same
    fields without the token (403), and reports what it saw."""
    before = len(http.get("/reports").json())
    browser = subprocess.Popen(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"http://127.0.0.1:{srv.port}/page"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CLIENT_ENV)  # (no sanitizer preload)
    try:
        wait_for(lambda: len(http.get("/reports").json()) > before or browser.poll() is not None,
                 timeout=60, what="the page's report")
        reports = http.get("/reports").json()
        assert len(reports) > before, "the browser exited without reporting"
        got = reports[-1]
    finally:
        stop_process(browser, timeout=20)  # the browser this test started
    assert got["with_token"] == [200, {"ok": True, "method": "POST"}], got
    status, problem = got["without_token"]
    assert status == 403 and problem["csrf"] == "missing-token", got
    assert got["session"]["user"] == "browser" and "_csrf" in got["session"], got
    assert got["cookie_visible"] == "", got  # HttpOnly: the script cannot read it
