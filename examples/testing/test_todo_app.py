"""Tests of todo_app.py with ringbolt.testing: run `python -m pytest examples/testing`."""

from __future__ import annotations

import pytest

from ringbolt.testing import TestClient, WebSocketDisconnect, client_fixture

from todo_app import app, todos

client = client_fixture(app)  # a fixture named "client": the server runs for each test


def test_create_and_read(client: TestClient) -> None:
    r = client.post("/todos", json={"title": "write docs"})
    assert r.status_code == 201
    todo = r.json()
    assert todo["title"] == "write docs"
    assert client.get(f"/todos/{todo['id']}").json() == todo
    assert todo["id"] in todos  # the app's own objects, in this process


def test_errors_are_responses(client: TestClient) -> None:
    assert client.post("/todos", json={"nope": 1}).status_code == 422
    r = client.get("/todos/missing")
    assert r.status_code == 404
    assert r.json()["detail"] == "no such todo"  # an RFC 9457 problem: type, title, status, detail


def test_cookies(client: TestClient) -> None:
    client.get("/login")
    assert client.cookies["session"] == "s3cr3t"
    assert client.get("/whoami").json() == {"session": "session=s3cr3t"}


def test_websocket(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_json() == {"echo": "hi", "todos": 0}
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4000


def test_with_block() -> None:
    with TestClient(app) as c:  # startup hooks ran; shutdown hooks run on leaving
        assert c.get("/todos/x").status_code == 404
