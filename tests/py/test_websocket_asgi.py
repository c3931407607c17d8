"""WebSocket through the ASGI server mode: the `websocket` scope, accept (subprotocol,
headers), messages both ways, disconnect codes, the refusals (close before accept = 403,
the websocket.http.response denial), app failures, and FastAPI/Starlette unchanged."""

from __future__ import annotations

import json
import time

import pytest
import websockets

from conftest import ServerProcess, get
from ws_helpers import fails_1011_then_echoes, refused, run, url


@pytest.fixture(scope="module")
def raw_srv():
    s = ServerProcess("ws_asgi_app:app", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


def test_asgi_echo_subprotocol_and_headers(raw_srv):
    async def main():
        async with websockets.connect(url(raw_srv, "/echo"), subprotocols=["v1.chat"]) as ws:
            assert ws.subprotocol == "v1.chat"
            assert ws.response.headers["x-asgi"] == "yes"
            await ws.send("text é")
            assert await ws.recv() == "text é"
            await ws.send(b"\x00bin")
            assert await ws.recv() == b"\x00bin"
            big = b"z" * 500_000
            await ws.send(big)
            assert await ws.recv() == big
            await ws.close(4100)

    run(main())
    assert wait_log(raw_srv, "/", "/echo disconnect 4100")


def wait_log(s: ServerProcess, path: str, line: str) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if line in get(s, path).body.decode():
            return True
        time.sleep(0.05)
    return False


def test_asgi_scope(raw_srv):
    async def main():
        async with websockets.connect(url(raw_srv, "/scope?a=1&b=%20"), subprotocols=["p1", "p2"]) as ws:
            scope = json.loads(await ws.recv())
            assert scope["type"] == "websocket"
            assert scope["scheme"] == "ws"
            assert scope["path"] == "/scope" and scope["raw_path"] == "/scope"
            assert scope["query_string"] == "a=1&b=%20"
            assert scope["subprotocols"] == ["p1", "p2"]
            assert scope["http_version"] == "1.1"
            assert scope["asgi"]["version"] == "3.0"
            assert scope["client"][0] == "127.0.0.1"
            assert scope["server"][1] == raw_srv.port
            assert "method" not in scope
            assert "sec-websocket-key" in scope["header_names"]
            assert scope["extensions"] == ["websocket.http.response"]

    run(main())


def test_asgi_close_before_accept_is_403(raw_srv):
    assert run(refused(url(raw_srv, "/close403"))).status_code == 403


def test_asgi_denial_response(raw_srv):
    r = run(refused(url(raw_srv, "/deny")))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.body == b"no token"


def test_asgi_send_before_accept_is_a_500(raw_srv):
    assert run(refused(url(raw_srv, "/badorder"))).status_code == 500


def test_asgi_app_failure_closes_1011(raw_srv):
    run(fails_1011_then_echoes(raw_srv, "go"))  # others are unharmed


def test_starlette_websocket_unchanged():
    s = ServerProcess("ws_asgi_app:starlette_app", "--threads", "1")
    try:
        async def main():
            async with websockets.connect(url(s, "/ws")) as ws:
                await ws.send("hi")
                assert await ws.recv() == "starlette: hi"

        run(main())
    finally:
        assert s.stop() == 0, s.output()


def test_fastapi_websocket_unchanged():
    s = ServerProcess("ws_asgi_app:fastapi_app", "--threads", "1")
    try:
        async def main():
            async with websockets.connect(url(s, "/items/7/ws?q=find")) as ws:
                await ws.send(json.dumps({"n": 1}))
                assert json.loads(await ws.recv()) == {"item_id": 7, "q": "find", "data": {"n": 1}}
                await ws.close(1000)
            # a path parameter that does not convert
            assert (await refused(url(s, "/items/abc/ws"))).status_code == 403

        run(main())
        assert wait_log(s, "/log", "fastapi disconnect 1000")
    finally:
        assert s.stop() == 0, s.output()
