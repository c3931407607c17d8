"""ringbolt.fastapi's TestClient (Starlette's, over a real loopback socket to the app
served by ringbolt's server in a thread): what Starlette's client does that a test
relies on. An exception the app did not handle is raised in the test that sent that
request, never another's; the app sees the client as ("testclient", 50000) and an
https base URL as https; `with` runs the startup and shutdown once, requests outside it
none; the app may change between requests (routes, overrides); WebSocket sessions with
Starlette's calls and its way of reporting the app's end."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator

import pytest

from ringbolt.fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from ringbolt.fastapi.testclient import TestClient


class Boom(Exception):
    pass


def current_user() -> str:
    return "ann"


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/boom")
    def boom() -> dict[str, Any]:
        raise Boom("the handler failed")

    @app.get("/aboom")
    async def aboom() -> dict[str, Any]:
        raise Boom("the async handler failed")

    @app.get("/teapot")
    def teapot() -> dict[str, Any]:
        raise HTTPException(418, detail="short and stout")

    @app.get("/ok")
    def ok() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/who")
    def who(request: Request) -> dict[str, Any]:
        return {"client": list(request.client or ()), "url": str(request.url), "root": request.scope["root_path"],
                "path": request.scope["path"]}

    @app.get("/items/")
    def items() -> list[str]:
        return ["a"]

    return app


@pytest.mark.parametrize("path, exc_text", [("/boom", "the handler failed"), ("/aboom", "the async handler failed")])
def test_an_unhandled_exception_is_raised_in_the_test_after_its_500(path: str, exc_text: str) -> None:
    app = make_app()
    with pytest.raises(Boom, match=exc_text):
        TestClient(app).get(path)
    r = TestClient(app, raise_server_exceptions=False).get(path)
    assert (r.status_code, r.text) == (500, "Internal Server Error")


def test_an_http_exception_is_an_answer_not_raised() -> None:
    r = TestClient(make_app()).get("/teapot")
    assert (r.status_code, r.json()) == (418, {"detail": "short and stout"})


def test_the_exception_goes_to_the_client_whose_request_raised_it() -> None:
    app = make_app()
    failing, fine = TestClient(app), TestClient(app)
    errors: list[BaseException] = []

    def hammer(client: TestClient, path: str, expect_raise: bool) -> None:
        for _ in range(40):
            try:
                r = client.get(path)
                if expect_raise:
                    errors.append(AssertionError(f"{path} answered {r.status_code} without raising"))
                elif r.status_code != 200:
                    errors.append(AssertionError(f"{path} answered {r.status_code}"))
            except Boom as exc:
                if not expect_raise:
                    errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(failing, "/boom", True)),
               threading.Thread(target=hammer, args=(fine, "/ok", False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


@pytest.mark.parametrize("kwargs, client, url", [
    ({}, ["testclient", 50000], "http://testserver/who"),
    ({"client": ("10.1.2.3", 4567)}, ["10.1.2.3", 4567], "http://testserver/who"),
    ({"base_url": "https://example.com"}, ["testclient", 50000], "https://example.com/who"),
])
def test_the_app_sees_the_client_and_url_starlettes_client_gives(kwargs: dict[str, Any], client: list[Any],
                                                                  url: str) -> None:
    r = TestClient(make_app(), **kwargs).get("/who")
    assert r.json() == {"client": client, "url": url, "root": "", "path": "/who"}


def test_an_https_base_url_is_https_to_the_server_too() -> None:
    # the trailing-slash redirect is made by the server itself, from the scheme it was told
    client = TestClient(make_app(), base_url="https://example.com", follow_redirects=False)
    r = client.get("/items")
    assert (r.status_code, r.headers["location"]) == (307, "https://example.com/items/")


@pytest.mark.parametrize("sent, path, url", [
    ("/who", "/who", "http://testserver/who"),  # a path outside the root path: as it is
    ("/api/v1/who", "/api/v1/who", "http://testserver/api/v1/who"),  # under it: routed without it
])
def test_root_path_is_starlettes(sent: str, path: str, url: str) -> None:
    r = TestClient(make_app(), root_path="/api/v1").get(sent)
    assert r.status_code == 200, r.text
    assert r.json() == {"client": ["testclient", 50000], "url": url, "root": "/api/v1", "path": path}


def lifecycle_app() -> tuple[FastAPI, list[str]]:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    def index() -> list[str]:
        return events

    return app, events


def test_with_runs_startup_and_shutdown_once_and_requests_outside_it_none() -> None:
    app, events = lifecycle_app()
    assert TestClient(app).get("/").json() == []  # no `with`: no lifespan, as Starlette's
    with TestClient(app) as client:
        assert client.get("/").json() == ["startup"]
        with TestClient(app) as other:  # a second client of the same app, nested: still once
            assert other.get("/").json() == ["startup"]
        assert client.get("/").json() == ["startup"]
    assert events == ["startup", "shutdown"]
    with TestClient(app):
        pass
    assert events == ["startup", "shutdown", "startup", "shutdown"]


def test_what_the_lifespan_yields_is_each_requests_state() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"pool": "open"}

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    def index(request: Request) -> dict[str, Any]:
        seen = request.state.pool
        request.state.pool = "changed"  # this request's copy only
        return {"pool": seen, "app_state": hasattr(app.state, "pool")}

    with TestClient(app) as client:
        assert client.get("/").json() == {"pool": "open", "app_state": False}
        assert client.get("/").json() == {"pool": "open", "app_state": False}


def test_a_failing_startup_raises_its_own_exception_at_with() -> None:
    app = FastAPI()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise Boom("no database")
        yield  # pragma: no cover

    app = FastAPI(lifespan=lifespan)
    with pytest.raises(Boom, match="no database"):
        with TestClient(app):
            pass  # pragma: no cover


def test_the_app_may_change_between_requests() -> None:
    app = make_app()
    client = TestClient(app)
    assert client.get("/later").status_code == 404

    @app.get("/later")
    def later() -> str:
        return "added after the first request"

    assert client.get("/later").json() == "added after the first request"

    @app.get("/me")
    def me(user: Annotated[str, Depends(current_user)]) -> str:
        return user

    assert client.get("/me").json() == "ann"
    app.dependency_overrides[current_user] = lambda: "tester"
    assert client.get("/me").json() == "tester"
    app.dependency_overrides.clear()
    assert client.get("/me").json() == "ann"


@pytest.mark.parametrize("where", ["parameter", "response"])
def test_the_client_returns_once_the_background_tasks_ran(where: str) -> None:
    from ringbolt.fastapi.responses import JSONResponse

    app = FastAPI()
    done: list[str] = []

    def slow(name: str) -> None:
        time.sleep(0.2)
        done.append(name)

    @app.post("/param")
    async def by_parameter(tasks: BackgroundTasks) -> str:
        tasks.add_task(slow, "a")
        tasks.add_task(slow, "b")
        return "sent"

    @app.post("/response")
    def by_response() -> Any:
        tasks = BackgroundTasks()
        tasks.add_task(slow, "c")
        return JSONResponse("sent", background=tasks)

    client = TestClient(app)
    assert client.post("/param" if where == "parameter" else "/response").json() == "sent"
    assert done == (["a", "b"] if where == "parameter" else ["c"])


def test_cookies_are_kept_and_sent() -> None:
    app = FastAPI()

    @app.get("/set")
    def set_cookie(request: Request) -> dict[str, Any]:
        from ringbolt.fastapi.responses import JSONResponse
        resp = JSONResponse({"set": True})
        resp.set_cookie("session", "abc")
        return resp  # type: ignore[return-value]

    @app.get("/read")
    def read(request: Request) -> dict[str, str]:
        return dict(request.cookies)

    client = TestClient(app, cookies={"theme": "dark"})
    assert client.get("/read").json() == {"theme": "dark"}
    client.get("/set")
    assert client.get("/read").json() == {"theme": "dark", "session": "abc"}


# ---- WebSocket sessions ----

def ws_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:  # a disconnect it does not catch: raised when the test leaves its block
            message = await websocket.receive_text()
            await websocket.send_text(f"echo {message}")

    @app.websocket("/json")
    async def as_json(websocket: WebSocket) -> None:
        await websocket.accept()
        data = await websocket.receive_json()
        await websocket.send_json({"got": data})
        await websocket.send_bytes(b"\x00\x01")
        await websocket.close(code=4001, reason="done")

    @app.websocket("/refuse")
    async def refuse(websocket: WebSocket) -> None:
        await websocket.close(code=1008, reason="no")

    @app.websocket("/fail")
    async def fail(websocket: WebSocket) -> None:
        raise Boom("before accept")

    @app.websocket("/fail-later")
    async def fail_later(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise Boom("after accept")

    return app


def test_a_websocket_session_with_starlettes_calls() -> None:
    client = TestClient(ws_app())
    with client.websocket_connect("/json") as ws:
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"got": {"a": [1, 2]}}
        assert ws.receive_bytes() == b"\x00\x01"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert (closed.value.code, closed.value.reason) == (4001, "done")


def test_the_apps_disconnect_it_did_not_catch_is_raised_at_the_end() -> None:
    client = TestClient(ws_app())
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/echo") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "echo hi"
            ws.send({"type": "websocket.receive", "text": "again"})  # Starlette's ASGI-message calls
            assert ws.receive() == {"type": "websocket.send", "text": "echo again"}


@pytest.mark.parametrize("path, raised, code", [
    ("/refuse", WebSocketDisconnect, 1008),  # closed before accept: its code
    ("/nowhere", WebSocketDisconnect, 1000),  # no such route
    ("/fail", Boom, None),  # the handler's exception
])
def test_a_refused_handshake_is_reported_as_starlettes_client_does(path: str, raised: type[BaseException],
                                                                    code: int | None) -> None:
    client = TestClient(ws_app())
    with pytest.raises(raised) as info:
        with client.websocket_connect(path):
            pytest.fail("the handshake was refused")  # pragma: no cover
    if code is not None:
        assert getattr(info.value, "code") == code


def test_a_handler_failing_after_accept_raises_in_the_test() -> None:
    client = TestClient(ws_app())
    with pytest.raises(Boom, match="after accept"):
        with client.websocket_connect("/fail-later") as ws:
            ws.send_text("go")
            ws.receive_text()


def test_a_websocket_sees_the_cookies_and_headers_of_the_client() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def ws_handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"cookie": websocket.cookies.get("session"),
                                   "header": websocket.headers.get("x-token")})
        await websocket.close()

    client = TestClient(app, cookies={"session": "s1"})
    with client.websocket_connect("/ws", headers={"x-token": "t"}) as ws:
        assert ws.receive_json() == {"cookie": "s1", "header": "t"}


def test_an_app_that_is_not_ringbolts_is_refused_naming_what_to_do() -> None:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        await asyncio.sleep(0)

    with pytest.raises(TypeError, match="mount_asgi"):
        TestClient(asgi)


@pytest.mark.parametrize("async_dep", [False, True])
def test_the_client_returns_once_a_yield_dependencys_clean_up_ran(async_dep: bool) -> None:
    """Starlette's client returns when the whole ASGI call is over, a yield dependency's
    code after its ``yield`` included (what a test reads next, a session committed or a
    file closed, is there): ringbolt.fastapi's waits for the request's clean-up too."""
    done: list[str] = []
    app = FastAPI()

    def sync_dep() -> Any:
        yield "s"
        time.sleep(0.2)
        done.append("sync")

    async def async_dep_fn() -> Any:
        yield "a"
        await asyncio.sleep(0.2)
        done.append("async")

    dep = async_dep_fn if async_dep else sync_dep

    @app.get("/x")
    async def x(v: str = Depends(dep)) -> Any:
        return {"v": v}

    with TestClient(app) as client:
        assert client.get("/x").json() == {"v": "a" if async_dep else "s"}
        assert done == ["async" if async_dep else "sync"]


def test_servers_requests_started_stop_as_their_module_ends_and_start_again() -> None:
    """A module-level client's server (started by a request, outside any ``with``) is
    stopped by ringbolt's pytest plugin as its test module ends (stop_request_started),
    and the client's next request starts it again; a server a ``with`` block runs is
    left alone."""
    from ringbolt.testing._server import stop_request_started

    lazy_app, held_app = FastAPI(), FastAPI()

    @lazy_app.get("/")
    def lazy() -> dict[str, str]:
        return {"app": "lazy"}

    @held_app.get("/")
    def held() -> dict[str, str]:
        return {"app": "held"}

    lazy_client = TestClient(lazy_app)
    assert lazy_client.get("/").json() == {"app": "lazy"}
    first = lazy_client._served.server
    assert first is not None and first.running and first.started_by_request
    with TestClient(held_app) as held_client:
        assert held_client.get("/").json() == {"app": "held"}
        stop_request_started()
        assert not first.running, "the request-started server still runs"
        assert held_client.get("/").json() == {"app": "held"}  # the with block's server still serves
    assert lazy_client.get("/").json() == {"app": "lazy"}  # started again
    again = lazy_client._served.server
    assert again is not None and again is not first and again.running
    stop_request_started()
