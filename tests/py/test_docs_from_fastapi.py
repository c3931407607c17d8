"""The code blocks of docs/from-fastapi.md run as written: each ringbolt block is served
by ringbolt.testing.TestClient and answers a request as the page says; each FastAPI
block beside one is served by FastAPI's own TestClient and gives the same answer to the
same request (the page's side by side is a true pair). Keeps the page true to the code
(issue 51: a "from FastAPI" page, side by side)."""

from __future__ import annotations

import re
import time
from typing import Any, Callable

import pytest

from conftest import REPO
from reqresp_helpers import multipart

from ringbolt.testing import TestClient

PAGE = (REPO / "docs" / "from-fastapi.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE, re.S)
RINGBOLT = [b for b in BLOCKS if b.startswith("# ringbolt\n")]
FASTAPI = [b for b in BLOCKS if b.startswith("# FastAPI\n")]


def run_block(block: str, name: str) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": name}
    # dont_inherit: not this file's `from __future__ import annotations` (a reader's
    # module has no such line).
    exec(compile(block, f"docs/from-fastapi.md:{name}", "exec", dont_inherit=True), ns)
    return ns


def detail(r: Any) -> Any:
    return r.json()["detail"]


def check_item(c: Any, ns: dict[str, Any]) -> None:
    r = c.post("/items", json={"name": "a", "price": 2, "extra": 1})
    assert r.status_code == 201 and r.json() == {"name": "a", "price": 2.0}


def check_params(c: Any, ns: dict[str, Any]) -> None:
    r = c.get("/shops/3/items?q=x&tag=a&tag=b&limit=5", headers={"X-Tenant": "t1", "Cookie": "session=s1"})
    assert r.status_code == 200
    assert r.json() == {"shop": 3, "q": "x", "tags": ["a", "b"], "limit": 5, "tenant": "t1", "session": "s1"}
    r = c.get("/shops/0/items?limit=0")
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in detail(r)] == [("greater_than_equal", ["path", "shop_id"]),
                                                          ("greater_than_equal", ["query", "limit"])]


def check_order(c: Any, ns: dict[str, Any]) -> None:
    r = c.post("/orders", json={"customer": "c", "lines": [{"sku": "a"}, {"sku": "b", "quantity": 3}]})
    assert r.status_code == 201
    assert r.json() == {"customer": "c", "lines": [{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": 3}]}
    r = c.post("/orders", json={"customer": "c", "lines": [{"sku": "a", "quantity": 0}, {"quantity": 0}]})
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in detail(r)] == [("greater_than_equal", ["body", "lines", 0, "quantity"])]


def check_upload(c: Any, ns: dict[str, Any]) -> None:
    body = multipart([("user", None, None, b"ann"), ("avatar", "a.png", "image/png", b"\x89PNG" + b"0" * 96)])
    r = c.post("/avatars", content=body, headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert r.status_code == 200 and r.json() == {"user": "ann", "filename": "a.png", "size": 100}


def check_response_model(c: Any, ns: dict[str, Any]) -> None:
    r = c.get("/users/7")
    assert r.status_code == 200 and r.json() == {"id": 7, "name": "ann"}


def check_me(c: Any, ns: dict[str, Any]) -> None:
    r = c.get("/me", headers={"Authorization": "Bearer secret"})
    assert r.status_code == 200 and r.json() == {"user": "ann", "db_open": True}
    r = c.get("/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert detail(r) == "Not authenticated"


def check_scopes(c: Any, ns: dict[str, Any]) -> None:
    r = c.get("/items", headers={"Authorization": "Bearer items:read,items:write"})
    assert r.status_code == 200 and r.json() == {"user": "ann"}
    r = c.get("/items", headers={"Authorization": "Bearer items:write"})
    assert r.status_code == 403 and r.headers["www-authenticate"] == 'Bearer scope="items:read"'


def check_pool(c: Any, ns: dict[str, Any]) -> None:
    r = c.get("/ping")
    assert r.status_code == 200 and r.json() == {"pool_open": True}


def check_handlers(c: Any, ns: dict[str, Any]) -> None:
    r = c.get("/buy/tea?quantity=1")
    assert r.status_code == 409 and r.json() == {"detail": "tea is out of stock"}
    r = c.get("/buy/tea?quantity=many")
    assert r.status_code == 400
    assert [(e["type"], e["loc"]) for e in r.json()["errors"]] == [("int_parsing", ["query", "quantity"])]


def check_signup(c: Any, ns: dict[str, Any]) -> None:
    r = c.post("/signup", data={"email": "a@b.example"}, headers={"User-Agent": "doc-test"})
    assert r.status_code == 200 and r.json() == {"email": "a@b.example", "agent": "doc-test"}
    deadline = time.monotonic() + 10
    while c.get("/sent").json() != ["a@b.example"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert c.get("/sent").json() == ["a@b.example"]


def check_middleware(c: Any, ns: dict[str, Any]) -> None:
    r = c.get("/")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert float(r.headers["x-process-time"]) >= 0


# The ringbolt blocks in page order, each with what it must answer, and the FastAPI
# block (by index) that sits beside it, or None.
CASES: list[tuple[str, Callable[[Any, dict[str, Any]], None], int | None]] = [
    ("app and routes", check_item, 0),
    ("parameters", check_params, 1),
    ("msgspec body", check_order, None),
    ("form and file", check_upload, 2),
    ("response model", check_response_model, None),
    ("dependencies", check_me, 3),
    ("security scopes", check_scopes, None),
    ("app-lifetime dependency", check_pool, 4),
    ("exception handlers", check_handlers, 5),
    ("request and background tasks", check_signup, None),
    ("middleware", check_middleware, None),
]


def test_the_page_has_the_blocks_this_file_runs():
    assert len(RINGBOLT) == len(CASES) + 1  # the last is the TestClient example, run below
    assert len(FASTAPI) == 6
    assert len(BLOCKS) == len(RINGBOLT) + len(FASTAPI)  # every python block is one or the other


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_ringbolt_block(index):
    _label, check, _pair = CASES[index]
    ns = run_block(RINGBOLT[index], f"ringbolt_{index}")
    with TestClient(ns["app"]) as c:
        check(c, ns)


def test_app_scoped_dependency_is_closed_when_the_app_stops():
    index = next(i for i, c in enumerate(CASES) if c[1] is check_pool)
    ns = run_block(RINGBOLT[index], "pool")
    made = []
    real = ns["Pool"]

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    ns["Pool"] = Counted  # pool() looks the class up in the block's namespace
    with TestClient(ns["app"]) as c:
        check_pool(c, ns)
        check_pool(c, ns)
        assert len(made) == 1 and made[0].open
    assert not made[0].open


def test_testclient_block():
    ns = run_block(RINGBOLT[len(CASES)], "testclient")
    ns["test_me"]()
    assert ns["app"].dependency_overrides == {}
    with TestClient(ns["app"]) as c:  # without the override, the real dependency fails: a 500
        assert c.get("/me").status_code == 500


PAIRS = [(i, c[2]) for i, c in enumerate(CASES) if c[2] is not None]


@pytest.mark.parametrize("index, fastapi_index", PAIRS, ids=[CASES[i][0] for i, _ in PAIRS])
def test_fastapi_block_answers_alike(index, fastapi_index):
    from fastapi.testclient import TestClient as FastAPIClient

    _label, check, _pair = CASES[index]
    ns = run_block(FASTAPI[fastapi_index], f"fastapi_{fastapi_index}")
    with FastAPIClient(ns["app"]) as c:
        check(c, ns)
