"""Sessions of a ringbolt App served by another ASGI server (uvicorn), as by ringbolt's
own: tests/py/apps/sessions_app.py's cookie store through each, with test_sessions.py's
round-trip tests run again here on both servers. A changed session must come back as a
Set-Cookie under uvicorn too (it once did not: the ASGI adapter finished a result only
for cookies, tasks and forms, so a session a handler wrote was lost), an unchanged one
must not."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from conftest import ServerProcess, UvicornProcess
from session_helpers import KEYS, session_cookie, set_cookies, with_cookie
from test_sessions import (test_a_bad_cookie_is_an_empty_session_and_is_expired,  # noqa: F401 (run here too)
                           test_a_changed_session_is_resent_each_time,
                           test_a_cookie_signed_with_an_old_key_is_read_and_resigned_with_the_first,
                           test_login_sets_a_signed_cookie_with_secure_defaults, test_logout_expires_the_cookie,
                           test_no_cookie_is_an_empty_session_and_sets_nothing,
                           test_the_session_reads_back_and_an_unchanged_one_is_not_resent)

pytest.importorskip("uvicorn", reason="uvicorn is a test dependency (tools/install-deps.sh)")


@pytest.fixture(scope="module", params=["ringbolt", "uvicorn"])
def http(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """The sessions app's client (the name test_sessions.py's tests take), on each server."""
    env = {"SESSION_KEYS": KEYS}
    srv = ServerProcess("sessions_app:app", "--threads", "1", env=env) if request.param == "ringbolt" \
        else UvicornProcess("sessions_app:app", "--lifespan", "on", env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as c:
            yield c
    finally:
        srv.stop()


def test_async_routes_the_middleware_and_logout(http: httpx.Client) -> None:
    r = http.post("/async/login", json={"user": "bo"})
    value = session_cookie(r)
    assert r.json() == {"user": "bo"} and value is not None
    assert http.get("/async/session", headers=with_cookie(value)).json() == {"user": "bo"}
    r = http.post("/mw/counter", headers=with_cookie(value))  # req.session through sessions.middleware
    assert r.json() == {"n": 1}
    value = session_cookie(r)
    assert value is not None
    assert http.get("/session", headers=with_cookie(value)).json() == {"user": "bo", "n": 1}
    r = http.post("/logout", headers=with_cookie(value))
    c = set_cookies(r)["session"]
    assert c.value == "" and c.attrs["max-age"] == "0"
