"""examples/production.py keeps the contract its docstring and the docs show: served as
the README says (``ringbolt serve production:app --app-dir examples``, the two secrets
from the environment), over real sockets, with httpx. Tokens are signed by PyJWT here."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import jwt
import pytest

from conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "example-jwt-secret-of-32-bytes-or-more!"
SESSION_SECRET = "example-session-secret-of-32-bytes-or-more"


@pytest.fixture(scope="module")
def prod() -> Iterator[ServerProcess]:
    srv = ServerProcess("production:app", "--app-dir", str(ROOT / "examples"), "--log-level", "warning",
                        env={"EXAMPLE_JWT_SECRET": JWT_SECRET, "EXAMPLE_SESSION_SECRET": SESSION_SECRET})
    try:
        # with probes configured the server listens before its startup hooks have run and
        # answers the app's routes 503 until then (docs/health.md); wait as a Deployment's
        # startup probe would, so a slow start on a loaded machine is not a failure
        deadline = time.monotonic() + 30
        while httpx.get(_url(srv, "/health/startup")).status_code != 200:
            assert time.monotonic() < deadline, f"/health/startup never answered 200:\n{srv.output()}"
            time.sleep(0.05)
        yield srv
    finally:
        srv.stop()


def _url(srv: ServerProcess, path: str) -> str:
    return f"http://{srv.host}:{srv.port}{path}"


def _token(**claims: Any) -> str:
    body = {"sub": "ann", "aud": "example", "exp": int(time.time()) + 300, **claims}
    return jwt.encode(body, JWT_SECRET, algorithm="HS256")


def test_me_needs_a_bearer_token_for_the_example_audience(prod: ServerProcess) -> None:
    ok = httpx.get(_url(prod, "/me"), headers={"Authorization": f"Bearer {_token()}"})
    assert ok.status_code == 200 and ok.json() == {"sub": "ann"}, ok.text
    missing = httpx.get(_url(prod, "/me"))
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer"), missing.headers
    for bad in (_token(aud="other"), _token(exp=int(time.time()) - 3600),
                jwt.encode({"sub": "ann", "aud": "example", "exp": int(time.time()) + 300}, "another-secret-" * 4,
                           algorithm="HS256")):
        r = httpx.get(_url(prod, "/me"), headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, r.text
        assert 'error="invalid_token"' in r.headers["www-authenticate"], r.headers


def test_limited_allows_five_a_minute_then_429(prod: ServerProcess) -> None:
    with httpx.Client() as c:
        codes = [c.get(_url(prod, "/limited")).status_code for _ in range(5)]
        refused = c.get(_url(prod, "/limited"))
    assert codes == [200] * 5, codes
    assert refused.status_code == 429, refused.text
    # a sliding window: the last minute's requests weigh on the next one, so a client
    # refused near a minute's end may wait up to a fifth of a minute more (docs/rate-limits.md)
    assert 0 < int(refused.headers["retry-after"]) <= 72, refused.headers
    assert refused.headers["ratelimit-limit"] == "5", refused.headers


def test_login_starts_a_signed_session_and_a_tampered_cookie_is_empty(prod: ServerProcess) -> None:
    login = httpx.post(_url(prod, "/login"), json={"user": "ann"})
    assert login.status_code == 200 and login.json() == {"user": "ann"}, login.text
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie, cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    got = httpx.get(_url(prod, "/session"), headers={"cookie": f"session={value}"})
    assert got.status_code == 200 and got.json() == {"user": "ann"}, got.text
    payload, rest = value.split(".", 1)
    forged = base64.urlsafe_b64encode(json.dumps({"user": "admin"}).encode()).rstrip(b"=").decode()
    tampered = httpx.get(_url(prod, "/session"), headers={"cookie": f"session={forged}.{rest}"})
    assert tampered.status_code == 200 and tampered.json() == {}, tampered.text
    assert payload != forged
    assert httpx.get(_url(prod, "/session")).json() == {}
    assert httpx.post(_url(prod, "/login"), json={"user": ""}).status_code == 422


def test_health_probes(prod: ServerProcess) -> None:
    for probe in ("live", "ready", "startup"):
        r = httpx.get(_url(prod, f"/health/{probe}"))
        assert r.status_code == 200, (probe, r.text)


def test_hello_escapes_the_name(prod: ServerProcess) -> None:
    r = httpx.get(_url(prod, "/hello/%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.headers
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>" not in r.text, r.text


def test_cached_answers_from_the_cache(prod: ServerProcess) -> None:
    first = httpx.get(_url(prod, "/cached"))
    second = httpx.get(_url(prod, "/cached"))
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json(), (first.text, second.text)  # the handler did not run again
    assert "age" in second.headers, second.headers
