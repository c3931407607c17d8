"""FastAPI and Starlette applications served unchanged by ``ringbolt serve`` (apps/
fastapi_app.py, apps/starlette_app.py), driven with httpx: routing, parameters,
validation errors, JSON and form bodies, streams, files, background tasks, lifespan
state and startup-created async resources, ``request.is_disconnected()``, middleware."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from conftest import APPS, ServerProcess

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

MIB = 1 << 20
WAIT_S = 10.0


def client(srv: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=f"http://{srv.host}:{srv.port}", timeout=WAIT_S)


@pytest.fixture(scope="module")
def starlette_srv(tmp_path_factory):
    log = tmp_path_factory.mktemp("starlette") / "server.log"
    with open(log, "wb") as out:
        s = ServerProcess("starlette_app:app", "--threads", "2", "--lifespan", "on", stdout=out,
                          stderr=subprocess.STDOUT)
        s.log = log
        yield s
        assert s.stop() == 0, log.read_text()


def wait_log(srv: ServerProcess, text: str) -> str:
    deadline = time.monotonic() + WAIT_S
    while text not in (out := srv.log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{out}"
        time.sleep(0.02)
    return out


@pytest.fixture(scope="module")
def fastapi_srv():
    s = ServerProcess("fastapi_app:app", "--threads", "2", "--lifespan", "on")
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture(scope="module")
def sc(starlette_srv):
    with client(starlette_srv) as c:
        yield c


@pytest.fixture(scope="module")
def fc(fastapi_srv):
    with client(fastapi_srv) as c:
        yield c


def wait_done(c: httpx.Client, token: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not c.get("/background/state", params={"token": token}).json()["done"]:
        assert time.monotonic() < deadline, "the background task never finished"
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------
# Starlette
# ---------------------------------------------------------------------------------------


def test_starlette_routing_and_params(sc):
    r = sc.get("/")
    assert r.status_code == 200 and r.text == "hello from starlette"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert sc.get("/items/42").json() == {"item_id": 42, "type": "int"}  # the int convertor ran
    assert sc.get("/query?a=1&a=2&b=x").json() == {"a": ["1", "2"], "b": "x", "keys": ["a", "b"]}
    assert sc.get("/unicode/caf%C3%A9").json() == {"name": "café"}


@pytest.mark.parametrize("method, path, status, allow", [
    ("GET", "/no/such/path", 404, None),
    ("GET", "/items/not-an-int", 404, None),  # the convertor does not match
    ("POST", "/", 405, {"GET", "HEAD"}),  # Starlette lists a set: its order varies by process
    ("DELETE", "/echo", 405, {"POST", "PUT"}),
])
def test_starlette_404_and_405(sc, method, path, status, allow):
    r = sc.request(method, path)
    assert r.status_code == status, r
    assert (allow is None and "allow" not in r.headers) or set(r.headers["allow"].split(", ")) == allow
    assert r.headers["x-middleware"] == "ran"  # the middleware saw the error responses too


def test_starlette_json_and_raw_bodies(sc):
    r = sc.post("/json", json={"b": [1, 2], "a": "é"})
    assert r.status_code == 201 and r.json() == {"received": {"b": [1, 2], "a": "é"}, "keys": ["a", "b"]}
    data = bytes(range(256)) * 4
    r = sc.put("/echo", content=data, headers={"content-type": "application/x-raw"})
    assert r.status_code == 200 and r.content == data and r.headers["content-type"] == "application/x-raw"


def test_starlette_large_body_streams_in(sc):
    data = b"q" * (3 * MIB)
    assert sc.post("/echo-length", content=data).json() == {"bytes": len(data), "several_chunks": True}

    def pieces():
        for _ in range(24):
            yield b"r" * 65536

    assert sc.post("/echo-length", content=pieces()).json() == {"bytes": 24 * 65536, "several_chunks": True}


def test_starlette_forms(sc):
    assert sc.post("/form", data={"a": "1", "b": "två"}).json() == {"a": "1", "b": "två"}
    r = sc.post("/form", data={"note": "n"}, files={"up": ("hello.txt", b"hello world, a file", "text/plain")})
    assert r.json() == {"note": "n", "up": {"filename": "hello.txt", "size": 19, "head": "hello worl"}}


def test_starlette_streaming_response(starlette_srv, sc):
    with sc.stream("GET", "/stream") as r:
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        assert b"".join(r.iter_raw()) == b"".join(f"line {i}\n".encode() for i in range(5))


@pytest.fixture(scope="module")
def plain_srv(tmp_path_factory):
    log = tmp_path_factory.mktemp("plain") / "server.log"
    with open(log, "wb") as out:
        s = ServerProcess("starlette_app:plain", "--threads", "1", stdout=out, stderr=subprocess.STDOUT)
        s.log = log
        yield s
        assert s.stop() == 0, log.read_text()


def test_starlette_stream_backpressure_and_disconnect(plain_srv):
    """A client that reads nothing pauses Starlette's generator (send waits); when it
    leaves, send raises an OSError, the generator is closed, and the ClientDisconnect
    Starlette raises for it is not logged as an application error (it was, with a
    traceback, each time a client left a stream)."""
    tok = uuid.uuid4().hex
    with client(plain_srv) as pc:
        s = socket.create_connection((plain_srv.host, plain_srv.port))
        try:
            s.sendall(f"GET /endless?token={tok} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            deadline = time.monotonic() + WAIT_S
            last = -1
            while True:  # until production stops for a while: the generator is paused
                produced = pc.get("/endless/state", params={"token": tok}).json()["produced"]
                if produced == last and produced > 0:
                    break
                assert time.monotonic() < deadline, "the generator never paused"
                last = produced
                time.sleep(0.2)
            assert produced <= 24 * MIB, produced
            assert s.recv(65536)  # it streams
        finally:
            s.close()
        deadline = time.monotonic() + WAIT_S
        while (rec := pc.get("/endless/state", params={"token": tok}).json())["closed"] is None:
            assert time.monotonic() < deadline, f"the generator was never closed: {rec}"
            time.sleep(0.02)
        assert rec["closed"] == "GeneratorExit", rec
        sent = pc.get("/last-messages", params={"path": "/endless"}).json()
        assert sent == ["http.response.start", "http.response.body", "raised ClientDisconnected, an OSError: True"]
        # The next logged error is the sync point: anything about the stream came before it.
        assert pc.get("/error", params={"after": tok}).status_code == 500
    out = wait_log(plain_srv, "a handler error on purpose")
    assert f"/endless?token={tok}" not in out, out


def test_starlette_file_response_is_sent_by_pathsend(sc):
    want = (APPS / "starlette_app.py").read_bytes()
    r = sc.get("/file")
    assert r.status_code == 200 and r.content == want
    assert r.headers["content-length"] == str(len(want)) and "transfer-encoding" not in r.headers
    assert r.headers["content-type"].startswith("text/x-python") and r.headers["etag"]
    # The whole file went as pathsend (served natively), not as body messages.
    assert sc.get("/last-messages", params={"path": "/file"}).json() == ["http.response.start",
                                                                          "http.response.pathsend"]
    # HEAD: Starlette sends its length and no body (it used to be a 500 under ringbolt).
    h = sc.head("/file")
    assert h.status_code == 200 and h.headers["content-length"] == str(len(want)) and h.content == b""
    # A range is Starlette's own 206 with body messages.
    r = sc.get("/file", headers={"range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == want[10:20], r
    assert r.headers["content-range"] == f"bytes 10-19/{len(want)}"


def test_starlette_background_task_runs_after_the_response(sc):
    """The task waits for a later request to release it: the response could not arrive
    if the server waited for the app to return."""
    tok = uuid.uuid4().hex
    r = sc.post("/background", params={"token": tok})
    assert r.status_code == 200 and r.json() == {"scheduled": tok}
    assert sc.get("/background/state", params={"token": tok}).json() == {"done": False}
    assert sc.get("/background/release", params={"token": tok}).text == "released"
    wait_done(sc, tok)


def test_starlette_lifespan_state_and_resource(sc):
    assert sc.get("/state").json() == {"started": "yes", "greeting": "set on app.state at startup"}
    first = sc.get("/resource").json()["served"]
    assert sc.get("/resource").json()["served"] == first + 1  # the startup task served both


def test_starlette_is_disconnected_is_false_on_a_live_request(sc):
    assert sc.get("/disconnected").json() == {"disconnected": [False, False, False]}


def test_starlette_redirect_and_empty(sc):
    r = sc.get("/redirect")
    assert r.status_code == 307 and r.headers["location"] == "/json-get" and r.content == b""
    assert sc.get("/redirect", follow_redirects=True).json() == {"ok": True, "unicode": "héllo ✓"}
    r = sc.get("/empty")
    assert r.status_code == 204 and r.content == b"" and "content-length" not in r.headers


def test_starlette_handler_error_is_500_and_the_server_goes_on(sc):
    r = sc.get("/error")
    assert r.status_code == 500 and r.text == "Internal Server Error"
    assert sc.get("/").status_code == 200


def test_starlette_websocket_route_and_http_side_by_side(starlette_srv, sc):
    """A handshake on Starlette's WebSocket route is accepted (101: the connection is the
    app's WebSocket from then on); a plain GET of the same path is Starlette's 404, and
    http routes are unaffected."""
    from conftest import Reader

    with socket.create_connection((starlette_srv.host, starlette_srv.port), timeout=WAIT_S) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = Reader(s).read(head_request=True)
        assert head.status == 101
        assert head.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert sc.get("/ws").status_code == 404
    assert sc.get("/items/7").json()["item_id"] == 7


# ---------------------------------------------------------------------------------------
# FastAPI
# ---------------------------------------------------------------------------------------


def test_fastapi_path_and_query_params(fc):
    assert fc.get("/items/5").json() == {"item_id": 5, "q": None, "limit": 10}
    assert fc.get("/items/5", params={"q": "x y", "limit": 3}).json() == {"item_id": 5, "q": "x y", "limit": 3}
    assert fc.get("/sync/wörld").json() == {"hello": "wörld"}  # a def route, on FastAPI's thread pool


@pytest.mark.parametrize("path, loc", [
    ("/items/abc", ["path", "item_id"]),
    ("/items/5?limit=many", ["query", "limit"]),
])
def test_fastapi_param_validation_is_422(fc, path, loc):
    r = fc.get(path)
    assert r.status_code == 422, r
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [loc], detail


def test_fastapi_json_body(fc):
    r = fc.post("/items", json={"name": "pen", "price": 1.5, "tags": ["a"]})
    assert r.status_code == 201
    assert r.json() == {"created": {"name": "pen", "price": 1.5, "tags": ["a"]}, "total": 3.0}


@pytest.mark.parametrize("body, locs", [
    ({"name": "", "price": 1}, [["body", "name"]]),
    ({"name": "x", "price": -1}, [["body", "price"]]),
    ({"price": "cheap"}, [["body", "name"], ["body", "price"]]),
])
def test_fastapi_body_validation_is_422(fc, body, locs):
    r = fc.post("/items", json=body)
    assert r.status_code == 422, r
    assert sorted(d["loc"] for d in r.json()["detail"]) == locs


def test_fastapi_invalid_json_is_422(fc):
    r = fc.post("/items", content=b'{"name": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid", r.text


def test_fastapi_http_exception(fc):
    r = fc.get("/missing")
    assert r.status_code == 404 and r.json() == {"detail": "nothing here"} and r.headers["x-reason"] == "test"


def test_fastapi_forms_and_uploads(fc):
    assert fc.post("/form", data={"name": "Ada", "age": "36"}).json() == {"name": "Ada", "age": 36}
    assert fc.post("/form", data={"name": "Ada", "age": "old"}).status_code == 422
    blob = bytes(range(256)) * 1024
    r = fc.post("/upload", data={"note": "hi"}, files={"file": ("b.bin", blob, "application/octet-stream")})
    assert r.json() == {"filename": "b.bin", "size": len(blob), "note": "hi", "content_type": "application/octet-stream"}


def test_fastapi_streaming_and_file(fc):
    with fc.stream("GET", "/stream") as r:
        assert r.headers["transfer-encoding"] == "chunked" and r.headers["x-middleware"] == "fastapi"
        assert b"".join(r.iter_raw()) == b"chunk 0;chunk 1;chunk 2;chunk 3;"
    want = (APPS / "fastapi_app.py").read_bytes()
    r = fc.get("/file")
    assert r.status_code == 200 and r.content == want and r.headers["content-length"] == str(len(want))
    assert r.headers["content-disposition"] == 'attachment; filename="fastapi_app.py"'


def test_fastapi_background_task_runs_after_the_response(fc):
    tok = uuid.uuid4().hex
    assert fc.post("/background", params={"token": tok}).json() == {"scheduled": tok}
    assert fc.get("/background/state", params={"token": tok}).json() == {"done": False}
    fc.get("/background/release", params={"token": tok})
    wait_done(fc, tok)


def test_fastapi_lifespan_state_and_startup_resource(fc):
    assert fc.get("/state").json() == {"started": "yes", "version": "1.2.3"}
    a = fc.get("/resource/21").json()
    b = fc.get("/resource/4").json()
    assert a["doubled"] == 42 and b == {"doubled": 8, "calls": a["calls"] + 1}


def test_fastapi_is_disconnected_is_false_on_a_live_request(fc):
    assert fc.get("/disconnected").json() == {"disconnected": [False, False, False]}


def test_fastapi_openapi_and_docs(fc):
    schema = fc.get("/openapi.json").json()
    assert "/items/{item_id}" in schema["paths"] and "Item" in schema["components"]["schemas"]
    assert fc.get("/docs").status_code == 200


def test_fastapi_concurrent_requests(fastapi_srv):
    """Many clients at once on the one loop: every answer is right."""
    import concurrent.futures

    def one(i: int) -> dict:
        with client(fastapi_srv) as c:
            return c.get(f"/resource/{i}").json()["doubled"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert sorted(pool.map(one, range(64))) == [2 * i for i in range(64)]
