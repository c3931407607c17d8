"""The runnable code blocks of docs/auth.md (the first: a service with JWT scopes, a
requirement and a router guard; the last: the example's GET /me), each served over a
socket and called with httpx."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Iterator

import httpx
import jwt
import pytest

from auth_helpers import EXAMPLE_SECRET, bearer
from conftest import REPO, ServerProcess

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "auth.md").read_text(), re.S)
SECRET = "a-secret-for-the-docs-test-of-32-bytes"


def serve(tmp_path: Path, block: str, env: dict[str, str]) -> Iterator[httpx.Client]:
    (tmp_path / "doc_auth.py").write_text(block)
    srv = ServerProcess("doc_auth:app", "--app-dir", str(tmp_path), "--threads", "1", env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as client:
            yield client
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.fixture
def first(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from serve(tmp_path, BLOCKS[0], {"JWT_SECRET": SECRET})


@pytest.fixture
def last(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from serve(tmp_path, BLOCKS[-1], {"EXAMPLE_JWT_SECRET": EXAMPLE_SECRET})


def doc_token(**claims: object) -> dict[str, str]:
    payload = {"sub": "ann", "aud": "api", "iss": "https://login.example.com", "exp": int(time.time()) + 60, **claims}
    return bearer(jwt.encode(payload, SECRET, "HS256"))


def test_the_first_block(first: httpx.Client) -> None:
    r = first.get("/me")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, 'Bearer realm="api"')
    assert first.get("/me", headers=doc_token()).json() == {"sub": "ann"}
    expired = first.get("/me", headers=doc_token(exp=int(time.time()) - 5))
    assert expired.headers["www-authenticate"] == ('Bearer realm="api", error="invalid_token", '
                                                   'error_description="the token has expired"')
    assert first.get("/items", headers=doc_token(scope="items:read")).json() == []
    assert first.get("/items", headers=doc_token()).status_code == 403
    assert first.delete("/items/1", headers=doc_token(roles=["admin"])).status_code == 204
    assert first.delete("/items/1", headers=doc_token(scope="items:write")).status_code == 204
    assert first.delete("/items/1", headers=doc_token(scope="items:read")).status_code == 403
    assert first.get("/admin/stats", headers=doc_token(roles=["admin"])).json() == {"requests": 0}
    assert first.get("/admin/stats", headers=doc_token()).status_code == 403


def test_the_me_block(last: httpx.Client) -> None:
    good = jwt.encode({"sub": "ann", "aud": "example", "exp": int(time.time()) + 600}, EXAMPLE_SECRET, "HS256")
    assert last.get("/me", headers=bearer(good)).json() == {"sub": "ann"}
    r = last.get("/me")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
