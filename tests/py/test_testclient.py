"""ringbolt.testing.TestClient: the real server on an ephemeral loopback port in a
background thread; every method, headers, the cookie jar, bodies, startup/shutdown
hooks, app state shared with the test, WebSockets (echo, close codes, refusals), errors
(a 500 is returned, a bad app raises clearly), and two clients at once."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from ringbolt import App, HTTPError, Response
from ringbolt.testing import (
    TestClient,
    WebSocketDenied,
    WebSocketDisconnect,
    WebSocketTestSession,
    client_fixture,
)
from ringbolt.websocket import WebSocket

STATE: dict[str, Any] = {"events": []}


def make_app() -> App:
    app = App()
    app.state = {"started": False, "stopped": False, "counter": 0}  # type: ignore[attr-defined]

    @app.on_startup
    def startup() -> None:
        app.state["started"] = True  # type: ignore[attr-defined]
        STATE["events"].append("startup")

    @app.on_shutdown
    async def shutdown() -> None:
        app.state["stopped"] = True  # type: ignore[attr-defined]
        STATE["events"].append("shutdown")

    @app.route("/echo", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    def echo(req: Any) -> Any:
        return {
            "method": req.method,
            "path": req.path,
            "query": dict(req.query.items()),
            "body": req.body.decode("latin-1"),
            "content_type": req.headers.get("content-type"),
            "x_test": req.headers.get("x-test"),
            "cookie": req.headers.get("cookie"),
            "host": req.headers.get("host"),
        }

    @app.get("/state")
    def state(req: Any) -> Any:
        app.state["counter"] += 1  # type: ignore[attr-defined]
        return {"started": app.state["started"], "counter": app.state["counter"]}  # type: ignore[attr-defined]

    @app.get("/login")
    def login(req: Any) -> Any:
        return Response({"ok": True}, headers=[("Set-Cookie", "session=abc123; Path=/; HttpOnly"),
                                               ("Set-Cookie", "scoped=s1; Path=/echo"),
                                               ("Set-Cookie", "secure=x; Path=/; Secure")])

    @app.get("/logout")
    def logout(req: Any) -> Any:
        return Response(b"", status=204, headers=[("Set-Cookie", "session=; Max-Age=0; Path=/")])

    @app.get("/boom")
    def boom(req: Any) -> Any:
        raise RuntimeError("handler failed on purpose")

    @app.get("/teapot")
    def teapot(req: Any) -> Any:
        raise HTTPError(418, "short and stout", headers={"X-Kind": "teapot"})

    @app.get("/multi")
    def multi(req: Any) -> Any:
        return Response("text body é", headers=[("X-A", "1"), ("x-a", "2")])

    @app.post("/json")
    def post_json(req: Any) -> Any:
        return {"got": req.json()}

    @app.websocket("/ws/echo")
    async def ws_echo(ws: WebSocket) -> None:
        offered = ws.subprotocols
        await ws.accept(subprotocol=offered[0] if offered else None)
        async for message in ws:
            if message == "close-4001":
                await ws.close(4001, "asked to")
                return
            if isinstance(message, str) and message.startswith("{"):
                import json

                await ws.send_json({"echo": json.loads(message), "cookie": ws.cookies.get("session")})
            else:
                await ws.send(message)

    @app.websocket("/ws/refuse")
    async def ws_refuse(ws: WebSocket) -> None:
        return  # returning without accepting: 403

    @app.websocket("/ws/greet/{name}")
    async def ws_greet(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(f"hello {ws.params['name']} {ws.headers.get('x-token')}")
        await ws.close(1000)

    return app


APP = make_app()


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(APP) as c:
        yield c


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method(client: TestClient, method: str) -> None:
    call = getattr(client, method.lower())
    r = call("/echo", params={"a": "1", "b": ["x", "y"]}, headers={"X-Test": "yes"})
    assert r.status_code == 200
    assert r.json()["method"] == method
    assert r.json()["query"]["a"] == "1"
    assert r.json()["x_test"] == "yes"
    assert r.url == "/echo?a=1&b=x&b=y"


def test_head_and_request(client: TestClient) -> None:
    r = client.head("/echo")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) > 0
    r = client.request("GET", "http://example.test/echo?q=1")
    assert r.json()["host"] == "example.test"
    assert r.json()["query"] == {"q": "1"}


def test_bodies(client: TestClient) -> None:
    r = client.post("/json", json={"n": [1, 2.5, None], "s": "é"})
    assert r.json() == {"got": {"n": [1, 2.5, None], "s": "é"}}
    r = client.post("/echo", data={"name": "a b", "n": 3})
    assert r.json()["body"] == "name=a+b&n=3"
    assert r.json()["content_type"] == "application/x-www-form-urlencoded"
    r = client.put("/echo", content=b"\x00raw", headers={"Content-Type": "application/octet-stream"})
    assert r.json()["body"] == "\x00raw"
    assert r.json()["content_type"] == "application/octet-stream"
    assert client.patch("/echo", content="text").json()["body"] == "text"
    with pytest.raises(TypeError, match="pass one body, not json and content"):
        client.post("/echo", json={}, content=b"x")


def test_response_object(client: TestClient) -> None:
    r = client.get("/multi")
    assert r.status_code == 200
    assert r.text == "text body é"
    assert r.headers["X-A"] == "1, 2"
    assert r.headers.get_list("x-a") == ["1", "2"]
    assert "CONTENT-TYPE" in r.headers
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.http_version == "HTTP/1.1"
    assert r.is_success


def test_errors_are_returned_not_raised(client: TestClient) -> None:
    r = client.get("/boom")
    assert r.status_code == 500
    assert "handler failed" not in r.text
    with pytest.raises(AssertionError, match="500"):
        r.raise_for_status()
    r = client.get("/teapot")
    assert r.status_code == 418
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "I'm a Teapot", "status": 418, "detail": "short and stout"}
    assert r.headers["x-kind"] == "teapot"
    assert client.get("/no/such/route").status_code == 404
    assert client.get("/echo").status_code == 200  # still serving


def test_cookie_jar(client: TestClient) -> None:
    client.cookies.clear()
    r = client.get("/login")
    assert r.cookies == {"session": "abc123", "scoped": "s1", "secure": "x"}
    assert client.cookies["session"] == "abc123"
    # Path=/echo only goes to /echo; Secure cookies never go over plain HTTP.
    assert client.get("/echo").json()["cookie"] == "scoped=s1; session=abc123"
    assert client.get("/state").status_code == 200
    # Per-request cookies are added (and win) for that request only.
    assert client.get("/echo", cookies={"session": "other", "extra": "1"}).json()["cookie"] == \
        "scoped=s1; session=other; extra=1"
    client.cookies["manual"] = "m"
    assert "manual=m" in client.get("/echo").json()["cookie"]
    client.get("/logout")  # Max-Age=0 deletes it
    assert "session" not in client.cookies
    assert client.get("/echo").json()["cookie"] == "scoped=s1; manual=m"
    client.cookies.clear()
    assert client.get("/echo").json()["cookie"] is None


def test_hooks_and_app_state() -> None:
    app = make_app()
    STATE["events"].clear()
    with TestClient(app) as c:
        assert STATE["events"] == ["startup"]
        assert app.state["started"] is True  # type: ignore[attr-defined]
        assert c.get("/state").json() == {"started": True, "counter": 1}
        app.state["counter"] = 41  # type: ignore[attr-defined]  # the test and the server share the objects
        assert c.get("/state").json() == {"started": True, "counter": 42}
    assert STATE["events"] == ["startup", "shutdown"]
    assert app.state["stopped"] is True  # type: ignore[attr-defined]
    # The App can be served again afterwards.
    with TestClient(app) as c:
        assert c.get("/state").status_code == 200


def test_without_with_block() -> None:
    c = TestClient(make_app())
    assert c.get("/state").json()["started"] is True  # the first request starts it
    c.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", c._server.port), timeout=2).close()


def test_one_client_served_again_after_close_stops_again() -> None:
    # the same client used after close() serves the app anew (a new run: its own port,
    # nothing of the first run's readiness), and close() stops that run too
    c = TestClient(make_app())
    first = c.port
    assert c.get("/state").status_code == 200
    c.close()
    second = c.port  # starts it again
    assert c.get("/state").status_code == 200
    assert second == c._server.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", first), timeout=2).close()
    c.close()  # raises if the run did not stop within the client's timeout
    assert not c._server.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", second), timeout=2).close()


def test_a_start_given_up_on_stops_the_server_once_it_is_up() -> None:
    # start() waits `timeout` s; a slower startup raises there, and the server, once up,
    # stops itself rather than serve on with nobody to stop it
    import time

    app = App()

    @app.on_startup
    def slow() -> None:
        time.sleep(1.0)

    c = TestClient(app, timeout=0.2)
    with pytest.raises(RuntimeError, match="did not start within 0.2 s"):
        c.start()
    thread = c._server._thread
    assert thread is not None
    thread.join(15)
    assert not thread.is_alive(), "the server went on serving after start() gave up on it"


def test_bad_apps_raise_clearly() -> None:
    app = App()

    @app.on_startup
    def broken() -> None:
        raise ValueError("no database")

    with pytest.raises(RuntimeError, match="the app failed to start: .*no database"):
        with TestClient(app):
            pass

    app2 = App()

    @app2.on_shutdown
    def broken_shutdown() -> None:
        raise ValueError("flush failed")

    with pytest.raises(RuntimeError, match="failed while stopping: .*flush failed"):
        with TestClient(app2):
            pass

    with pytest.raises(TypeError, match="TestClient serves a ringbolt.App"):
        TestClient(object())  # type: ignore[arg-type]


def test_same_app_twice_at_once_is_refused() -> None:
    app = make_app()
    with TestClient(app):
        with pytest.raises(RuntimeError, match="already being served"):
            with TestClient(app):
                pass


def test_two_clients_in_parallel() -> None:
    a, b = make_app(), make_app()
    with TestClient(a) as ca, TestClient(b) as cb:
        assert ca.port != cb.port
        results: list[int] = []

        def hammer(c: TestClient) -> None:
            for _ in range(20):
                results.append(c.get("/state").status_code)

        threads = [threading.Thread(target=hammer, args=(c,)) for c in (ca, cb, ca, cb)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results == [200] * 80
        assert ca.get("/state").json()["counter"] == 41
        assert cb.get("/state").json()["counter"] == 41


def test_websocket_echo(client: TestClient) -> None:
    with client.websocket_connect("/ws/echo", subprotocols=["chat.v2", "chat.v1"]) as ws:
        assert isinstance(ws, WebSocketTestSession)
        assert ws.subprotocol == "chat.v2"
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
        ws.send_bytes(b"\x00\x01" * 40000)  # a 64-bit length frame
        assert ws.receive_bytes() == b"\x00\x01" * 40000
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"echo": {"a": [1, 2]}, "cookie": None}
        ws.send_frame(0x1, b"frag", fin=False)  # a fragmented message
        ws.send_frame(0x0, b"mented", fin=True)
        assert ws.receive_text() == "fragmented"
    assert ws.closed
    assert ws.close_code == 1000


def test_websocket_close_codes(client: TestClient) -> None:
    with client.websocket_connect("/ws/echo") as ws:
        ws.send_text("close-4001")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert info.value.code == 4001
        assert info.value.reason == "asked to"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()  # still closed
        with pytest.raises(WebSocketDisconnect):
            ws.send_text("after close")
    with client.websocket_connect("/ws/greet/ann", headers={"X-Token": "t1"}) as ws:
        assert ws.receive_text() == "hello ann t1"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1000


def test_websocket_cookies_and_refusals(client: TestClient) -> None:
    client.cookies.clear()
    client.get("/login")
    with client.websocket_connect("ws://127.0.0.1/ws/echo") as ws:
        ws.send_json({"x": 1})
        assert ws.receive_json()["cookie"] == "abc123"
    client.cookies.clear()
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/ws/refuse")
    assert denied.value.status_code == 403
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/no/such/ws")
    assert denied.value.status_code == 404
    # A bad client frame (unmasked is impossible here; a reserved opcode) closes with 1002.
    with client.websocket_connect("/ws/echo") as ws:
        ws.send_frame(0x3, b"")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert info.value.code == 1002


fixture_client = client_fixture(make_app)


def test_client_fixture(fixture_client: TestClient) -> None:
    assert fixture_client.get("/state").json()["started"] is True


@pytest.fixture
def ringbolt_app() -> App:
    return make_app()


def test_plugin_fixture(ringbolt_client: TestClient) -> None:
    assert ringbolt_client.get("/state").json() == {"started": True, "counter": 1}


def test_documented_example_passes() -> None:
    """examples/testing (docs/testing.md) is a test suite of its own: it passes."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "testing"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(example),
                           str(example)], capture_output=True, text=True, timeout=300, cwd=str(example))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout
