"""examples/hello.py (the `make run` app) and examples/chat.py (WebSocket rooms) served by
the CLI over a real socket, so every file in examples/ is exercised by a test (the others:
test_example_crud, test_examples_reqresp, test_static::test_example_static_site,
test_testclient::test_documented_example_passes). Both io backends (make test-py)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from conftest import REPO, ServerProcess, assert_problem, get, request
from reqresp_helpers import wait_for

EXAMPLES = REPO / "examples"


def example(module: str) -> ServerProcess:
    # ServerProcess points --app-dir at tests/py/apps; a second --app-dir wins.
    return ServerProcess(f"{module}:app", "--app-dir", str(EXAMPLES), "--threads", "2")


@pytest.fixture(scope="module")
def hello():
    s = example("hello")
    yield s
    assert s.stop() == 0, s.output()


def send(srv: ServerProcess, method: str, path: str, body: bytes = b"", ctype: str = "application/json"):
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    return request(srv, head.encode() + body)


def test_hello_routes(hello):
    r = get(hello, "/")
    assert r.status == 200 and r.header("content-type") == "application/json"
    assert r.json() == {"message": "Hello, World!"}
    r = get(hello, "/plaintext")
    assert r.status == 200 and r.body == b"Hello, World!"
    assert r.header("content-type").startswith("text/plain")
    assert get(hello, "/users/42").json() == {"id": 42, "name": "user42"}
    assert get(hello, "/hello/ann%20b").body == b"Hello, ann b!"
    r = send(hello, "POST", "/json?x=1&x=2", b'{"a": [1, 2.5, null]}')
    assert r.status == 200 and r.json() == {"received": {"a": [1, 2.5, None]}, "query": {"x": "1"}}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_hello_echo(hello, method):
    r = send(hello, method, "/echo", b"\x00\xffbody", "application/octet-stream")
    assert r.status == 200
    assert r.header("x-method") == method
    assert r.header("content-type") == "application/octet-stream"
    assert r.body == b"\x00\xffbody"


def test_hello_bad_input(hello):
    assert_problem(get(hello, "/users/abc"), 404)  # not an int: no route matches
    assert_problem(get(hello, "/nowhere"), 404)
    r = send(hello, "OPTIONS", "/echo")
    assert_problem(r, 405)
    assert "PATCH" in (r.header("allow") or "")
    assert_problem(send(hello, "POST", "/json", b'{"a": '), 400)  # invalid JSON names the error
    assert get(hello, "/").status == 200  # and the server goes on


async def _chat(port: int) -> list[list[dict]]:
    url = f"ws://127.0.0.1:{port}/chat/lobby"

    async def recv(ws) -> dict:
        return json.loads(await asyncio.wait_for(ws.recv(), 30))

    ann_seen: list[dict] = []
    bob_seen: list[dict] = []
    async with websockets.connect(url + "?name=ann") as ann:
        ann_seen.append(await recv(ann))  # her own join
        async with websockets.connect(url + "?name=bob") as bob:
            bob_seen.append(await recv(bob))
            ann_seen.append(await recv(ann))
            await ann.send("hi bob")
            ann_seen.append(await recv(ann))
            bob_seen.append(await recv(bob))
        ann_seen.append(await recv(ann))  # bob left
    return [ann_seen, bob_seen]


def test_chat_rooms_broadcast_join_message_leave():
    srv = example("chat")
    try:
        assert get(srv, "/").json() == {"rooms": {}}
        ann, bob = asyncio.run(asyncio.wait_for(_chat(srv.port), 60))
        join_bob = {"event": "join", "name": "bob"}
        message = {"event": "message", "name": "ann", "text": "hi bob"}
        assert ann == [{"event": "join", "name": "ann"}, join_bob, message, {"event": "leave", "name": "bob"}]
        assert bob == [join_bob, message]
        # Everyone left (the handler's finally runs once the server has seen the close).
        assert wait_for(lambda: get(srv, "/").json() == {"rooms": {"lobby": 0}}), get(srv, "/").json()
        # A plain GET to the WebSocket route is refused before the app (426, a problem).
        assert_problem(get(srv, "/chat/lobby"), 426)
    finally:
        assert srv.stop() == 0, srv.output()
