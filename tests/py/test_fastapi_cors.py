"""CORSMiddleware on ringbolt.fastapi answers preflights as Starlette's does (natively,
decided at start-up from the app's conventions): 200 "OK" (text/plain) for an allowed
one, 400 "Disallowed CORS ..." naming every part refused for the others. Each case is
sent over a real socket to the app made with ringbolt.fastapi's imports and, in-process,
to the same app made with FastAPI's (the reference: it must be installed); a ringbolt
App keeps its 204 and 403 problem (tests/py/test_cors.py)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("fastapi", reason="FastAPI itself is the reference these answers are compared with")

GOOD = "https://app.example.com"


def make(fastapi: Any, cors: Any) -> Any:
    app = fastapi.FastAPI()
    app.add_middleware(cors, allow_origins=[GOOD, "http://localhost:8080"], allow_methods=["GET", "PUT"],
                       allow_headers=["X-Token"], allow_credentials=True)

    @app.get("/items")
    def items() -> dict[str, str]:
        return {"ok": "yes"}
    return app


CASES = [
    # origin, requested method, requested headers
    (GOOD, "PUT", "x-token"),
    (GOOD, "GET", None),
    (GOOD, "GET", "content-type"),  # a safelisted header needs no allowing
    ("https://evil.example", "GET", None),  # origin
    (GOOD, "DELETE", None),  # method
    (GOOD, "GET", "x-other"),  # headers
    ("https://evil.example", "DELETE", "x-other"),  # all three, in Starlette's order
    ("https://evil.example", "PUT", "x-token, x-other"),
]


@pytest.fixture(scope="module")
def clients() -> Any:
    import fastapi
    from fastapi.middleware.cors import CORSMiddleware as Reference
    from fastapi.testclient import TestClient as ReferenceClient

    import ringbolt.fastapi
    from ringbolt.fastapi.middleware.cors import CORSMiddleware
    from ringbolt.fastapi.testclient import TestClient

    with TestClient(make(ringbolt.fastapi, CORSMiddleware)) as ours:
        yield ours, ReferenceClient(make(fastapi, Reference))


@pytest.mark.parametrize("origin,method,headers", CASES)
def test_preflight_answer_is_starlettes(clients: Any, origin: str, method: str, headers: str | None) -> None:
    ours, reference = clients
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    want, got = reference.options("/items", headers=sent), ours.options("/items", headers=sent)
    assert (got.status_code, got.text) == (want.status_code, want.text)
    assert got.headers["content-type"] == want.headers["content-type"] == "text/plain; charset=utf-8"
    if want.status_code == 200:
        for name in ("access-control-allow-origin", "access-control-allow-credentials", "access-control-max-age"):
            assert got.headers.get(name) == want.headers.get(name), name


def test_an_actual_request_and_a_plain_options_are_not_preflights(clients: Any) -> None:
    ours, reference = clients
    for client in (ours, reference):
        answer = client.get("/items", headers={"Origin": GOOD})
        assert answer.status_code == 200 and answer.json() == {"ok": "yes"}
        assert answer.headers["access-control-allow-origin"] == GOOD
        plain = client.options("/items", headers={"Origin": GOOD})  # no Access-Control-Request-Method
        assert plain.status_code == 405


def test_what_is_left_allowed_methods_and_headers_are_the_requested_ones(clients: Any) -> None:
    """docs/from-fastapi.md, what is left: an allowed preflight names the requested method
    and headers (what the browser checks), where Starlette lists every allowed one; a
    refused one has no CORS field (Starlette's keeps its allow lists)."""
    ours, reference = clients
    sent = {"Origin": GOOD, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-token"}
    got, want = ours.options("/items", headers=sent), reference.options("/items", headers=sent)
    assert (got.headers["access-control-allow-methods"], want.headers["access-control-allow-methods"]) == (
        "PUT", "GET, PUT")
    assert got.headers["access-control-allow-headers"] == "x-token"
    assert want.headers["access-control-allow-headers"] == ("Accept, Accept-Language, Content-Language, "
                                                            "Content-Type, X-Token")
    refused = {**sent, "Origin": "https://evil.example"}
    got, want = ours.options("/items", headers=refused), reference.options("/items", headers=refused)
    assert "access-control-allow-methods" not in got.headers and "access-control-allow-methods" in want.headers
