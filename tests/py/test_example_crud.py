"""examples/crud.py over a real socket: create, read, list, replace, delete, and every
error path (bad JSON, validation, unknown and malformed ids, duplicates, 405)."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, ServerProcess, get, request

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("crud:app", "--app-dir", str(REPO / "examples"), "--threads", "2")
    yield s
    assert s.stop() == 0, s.output()


def send(srv, method, path, body: bytes | None = None):
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return request(srv, head.encode() + b"\r\n" + (body or b""))


def js(obj) -> bytes:
    return json.dumps(obj).encode()


def test_crud_round_trip(srv):
    r = send(srv, "POST", "/items", js({"name": "lamp", "price": 12.5}))
    assert r.status == 201, r
    item = r.json()
    assert item["name"] == "lamp" and item["price"] == 12.5
    assert r.header("location") == f"/items/{item['id']}"
    assert r.header("server-timing").startswith("app;dur=")
    assert get(srv, f"/items/{item['id']}").json() == item
    assert get(srv, f"/items/{item['id'].upper()}").json() == item  # uuid converter: either case
    listed = get(srv, "/items").json()
    assert item in listed["items"] and listed["count"] >= 1
    r = send(srv, "PUT", f"/items/{item['id']}", js({"name": "lamp", "price": 10}))
    assert r.status == 200 and r.json()["price"] == 10
    r = send(srv, "DELETE", f"/items/{item['id']}")
    assert r.status == 204 and r.body == b""
    r = get(srv, f"/items/{item['id']}")
    assert r.status == 404 and r.header("content-type") == PROBLEM
    assert r.json()["detail"] == f"no item {item['id']}"
    assert r.header("server-timing") is not None  # the middleware saw the error answer


@pytest.mark.parametrize("body, status, detail", [
    (b"{nope", 400, "Invalid JSON body"),
    (b"", 400, "no body"),
    (js([1, 2]), 422, "the body must be a JSON object"),
    (js({"name": "", "price": 1}), 422, "the item is not valid"),
    (js({"name": "x", "price": -1}), 422, "the item is not valid"),
    (js({"name": "x", "price": True}), 422, "the item is not valid"),
    (js({"price": "1"}), 422, "the item is not valid"),
])
def test_bad_bodies(srv, body, status, detail):
    r = send(srv, "POST", "/items", body)
    assert r.status == status and r.header("content-type") == PROBLEM, r
    assert detail in r.json()["detail"]
    if status == 422:
        assert isinstance(r.json()["errors"], list) and r.json()["errors"]


def test_duplicate_names_use_the_exception_handler(srv):
    assert send(srv, "POST", "/items", js({"name": "dup", "price": 1})).status == 201
    r = send(srv, "POST", "/items", js({"name": "dup", "price": 2}))
    assert r.status == 409 and r.header("content-type") == PROBLEM
    assert r.json() == {"type": "https://ringbolt.dev/problems/duplicate-name", "title": "Duplicate name",
                        "status": 409, "detail": "an item named 'dup' exists"}


@pytest.mark.parametrize("path", ["/items/42", "/items/not-a-uuid", "/items/123e4567-e89b-12d3-a456-42661417400",
                                  "/items/123e4567-e89b-12d3-a456-426614174000/x", "/item"])
def test_malformed_ids_and_unknown_paths_are_404(srv, path):
    r = get(srv, path)
    assert r.status == 404 and r.header("content-type") == PROBLEM


def test_unknown_item_and_405_and_query_validation(srv):
    r = send(srv, "PUT", "/items/123e4567-e89b-12d3-a456-426614174000", js({"name": "a", "price": 1}))
    assert r.status == 404 and r.json()["status"] == 404
    r = send(srv, "PATCH", "/items")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, POST"
    for limit in ("0", "x", "5000", "-1"):
        r = get(srv, f"/items?limit={limit}")
        assert r.status == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"]
    assert get(srv, "/items?limit=1").json()["count"] <= 1
    assert get(srv, "/health").json()["ok"] is True


# ---- CORS: a browser front end on http://localhost:3000 ----

FRONT = "http://localhost:3000"


def test_cors_preflight_is_answered_natively(srv):
    r = request(srv, (f"OPTIONS /items/123e4567-e89b-12d3-a456-426614174000 HTTP/1.1\r\nHost: t\r\n"
                      f"Origin: {FRONT}\r\nAccess-Control-Request-Method: PUT\r\n"
                      "Access-Control-Request-Headers: Content-Type\r\n\r\n").encode())
    assert r.status == 204 and r.body == b"", r
    assert r.header("access-control-allow-origin") == FRONT
    assert "PUT" in r.header("access-control-allow-methods").replace(" ", "").split(",")
    assert r.header("access-control-allow-headers").lower() == "content-type"
    assert r.header("access-control-max-age") == "3600"
    assert r.header("server-timing") is None  # no Python ran: the middleware did not see it
    # A method the API does not allow cross-origin, and an unknown origin: 403 problems.
    for origin, method in ((FRONT, "PATCH"), ("https://evil.example", "GET")):
        r = request(srv, (f"OPTIONS /items HTTP/1.1\r\nHost: t\r\nOrigin: {origin}\r\n"
                          f"Access-Control-Request-Method: {method}\r\n\r\n").encode())
        assert r.status == 403 and r.header("content-type") == PROBLEM, r
        assert r.header("access-control-allow-origin") is None


def test_cors_simple_and_actual_requests_carry_the_headers(srv):
    body = js({"name": "cors lamp", "price": 3})
    r = request(srv, (f"POST /items HTTP/1.1\r\nHost: t\r\nOrigin: {FRONT}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    assert r.status == 201, r
    assert r.header("access-control-allow-origin") == FRONT
    assert set(r.header("access-control-expose-headers").lower().replace(" ", "").split(",")) == {
        "location", "server-timing"}
    assert "Origin" in r.header("vary")
    r = get(srv, "/items", f"Origin: {FRONT}\r\n")
    assert r.status == 200 and r.header("access-control-allow-origin") == FRONT
    assert any(i["name"] == "cors lamp" for i in r.json()["items"])
    # Errors carry them too (a browser could not read the problem otherwise).
    r = get(srv, "/items/123e4567-e89b-12d3-a456-426614174000", f"Origin: {FRONT}\r\n")
    assert r.status == 404 and r.header("access-control-allow-origin") == FRONT
    # Another origin gets the answer without CORS fields (its browser will not expose it).
    r = get(srv, "/health", "Origin: https://evil.example\r\n")
    assert r.status == 200 and r.header("access-control-allow-origin") is None
