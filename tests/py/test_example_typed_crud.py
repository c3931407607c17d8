"""examples/typed_crud.py over a real socket: create, read, list, replace, delete, and
each refusal (422 with every failure's loc, bad JSON, unknown and malformed ids,
a name taken twice, the page size's bounds)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from conftest import REPO, ServerProcess
from typed_helpers import Http1


@pytest.fixture(scope="module")
def srv() -> Iterator[Http1]:
    t = Http1(ServerProcess("typed_crud:app", "--app-dir", str(REPO / "examples"), "--threads", "2"))
    yield t
    t.close()


def test_round_trip(srv: Http1) -> None:
    r = srv.post_json("/items", {"name": "lamp", "price": 12.5})
    assert r.status == 201, r.body
    item = r.json()
    assert (item["name"], item["price"], r.headers["location"]) == ("lamp", 12.5, f"/items/{item['id']}")
    assert srv.get(f"/items/{item['id']}").json() == item
    assert item in srv.get("/items").json()["items"]
    r = srv.call("PUT", f"/items/{item['id']}", [("content-type", "application/json")],
                 json.dumps({"name": "lamp2", "price": 1}).encode())
    assert r.json() == {"id": item["id"], "name": "lamp2", "price": 1.0}
    assert srv.call("DELETE", f"/items/{item['id']}").status == 204
    assert srv.get(f"/items/{item['id']}").status == 404


REFUSALS: list[tuple[str, str, Any, int, Any]] = [
    ("POST", "/items", {"name": "", "price": -1}, 422, [["body", "name"], ["body", "price"]]),
    ("POST", "/items", {"price": "x"}, 422, [["body", "name"], ["body", "price"]]),
    ("POST", "/items", b"{bad", 400, None),
    ("GET", "/items/not-a-uuid", None, 422, [["path", "item_id"]]),
    ("GET", "/items/12345678-1234-5678-1234-567812345678", None, 404, None),
    ("GET", "/items?limit=0", None, 422, [["query", "limit"]]),
    ("PUT", "/items/nope?x=1", {"name": ""}, 422, [["path", "item_id"], ["body", "name"], ["body", "price"]]),
]


@pytest.mark.parametrize("method,path,body,status,locs", REFUSALS, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in REFUSALS])
def test_refusals(srv: Http1, method: str, path: str, body: Any, status: int, locs: Any) -> None:
    raw = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    r = srv.call(method, path, [("content-type", "application/json")] if raw is not None else [], raw)
    assert (r.status, r.content_type) == (status, "application/problem+json"), r.body
    if locs is not None:
        assert [e["loc"] for e in r.json()["detail"]] == locs


def test_duplicate_name_is_409(srv: Http1) -> None:
    assert srv.post_json("/items", {"name": "twice", "price": 1}).status == 201
    r = srv.post_json("/items", {"name": "twice", "price": 2})
    assert (r.status, r.json()["detail"]) == (409, "an item named 'twice' exists")
