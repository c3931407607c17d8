"""Unchanged FastAPI (and Starlette) apps served by `ringbolt serve` with their routes
planned (ringbolt.fastapi.adopt): every request answered as uvicorn running the same app
answers it (status, headers, body), the routes that cannot be planned served through the
ASGI path and listed with their reason (`ringbolt routes`, the start-up lines), `--no-plan`,
and the same app under --workers, over HTTP/2 and HTTP/3, and under gunicorn's worker."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from conftest import APPS, REPO, LoggedServer, ServerProcess, UvicornProcess, slow_requests_took

fastapi = pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

#: headers that say nothing of the app's answer (the server's own, the framing)
_SERVER_HEADERS = {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive", "alt-svc"}

# (id, method, path, httpx request options): each sent to both servers, in this order
CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("oauth2-missing", "GET", "/users/me", {}),
    ("oauth2-bad", "GET", "/users/me", {"headers": {"Authorization": "Bearer nope"}}),
    ("oauth2-good", "GET", "/users/me", {"headers": {"Authorization": "Bearer good"}}),
    ("path-int", "GET", "/users/5?q=a&limit=3&skip=1", {}),
    ("path-int-refused", "GET", "/users/five?limit=500", {}),
    ("path-convertor", "GET", "/files/a/b/c.txt", {}),
    ("query-defaults", "GET", "/query", {}),
    ("query-list-alias", "GET", "/query?v=3&tags=a&tags=b&item-query=abc", {}),
    ("query-refused", "GET", "/query?v=9&item-query=ABC", {}),
    ("headers-cookies", "GET", "/headers",
     {"headers": [("User-Agent", "t"), ("X-Token", "a"), ("X-Token", "b"), ("Cookie", "session_id=s1")]}),
    ("body", "POST", "/items", {"json": {"name": "a", "price": 1.5, "tags": ["x"]}}),
    ("body-refused", "POST", "/items", {"json": {"name": "", "price": -1}}),
    ("body-not-json", "POST", "/items", {"content": b"name=a", "headers": {"Content-Type": "text/plain"}}),
    ("body-malformed", "POST", "/items", {"content": b"{", "headers": {"Content-Type": "application/json"}}),
    ("body-malformed-late", "POST", "/items",
     {"content": b'{"name": "a", "price": 1,}', "headers": {"Content-Type": "application/json"}}),
    ("body-not-text", "POST", "/items", {"content": b"\xff\xfe\x00{", "headers": {"Content-Type": "application/json"}}),
    ("body-embedded", "PUT", "/items/3?q=z", {"json": {"item": {"name": "a", "price": 2}, "importance": 5}}),
    ("body-path-refused", "PUT", "/items/0", {"json": {"item": {"name": "a", "price": 2}}}),
    ("form", "POST", "/form", {"data": {"username": "ann", "count": "3"}}),
    ("form-refused", "POST", "/form", {"data": {"count": "x"}}),
    ("upload", "POST", "/upload", {"files": {"file": ("a.txt", b"hello", "text/plain")}, "data": {"note": "n"}}),
    ("upload-missing", "POST", "/upload", {"data": {"note": "n"}}),
    ("upload-bytes", "POST", "/upload-bytes", {"files": [("files", ("a", b"12")), ("files", ("b", b"345"))]}),
    ("basic-missing", "GET", "/basic", {}),
    ("basic", "GET", "/basic", {"auth": ("user", "pw")}),
    ("api-key-missing", "GET", "/key", {}),
    ("api-key", "GET", "/key", {"headers": {"X-Key": "k1"}}),
    ("exception-handler", "GET", "/teapot", {}),
    ("status-handler", "GET", "/conflict", {}),
    ("http-exception", "GET", "/fail/404", {}),
    ("http-exception-204", "GET", "/fail/204", {}),
    ("crash", "GET", "/crash", {}),
    ("validation-raised", "GET", "/raise-validation", {}),
    ("yield-dependency", "GET", "/session", {}),
    ("lifespan-state", "GET", "/state", {}),
    ("url-for", "GET", "/url-for", {}),
    ("temporal-response", "GET", "/temporal", {}),
    ("json-response", "GET", "/json-response", {}),
    ("redirect", "GET", "/redirect", {}),
    ("streaming", "GET", "/stream", {}),
    ("html-class", "GET", "/html", {}),
    ("text-class", "GET", "/text", {}),
    ("orjson-class", "GET", "/orjson", {}),
    ("model-exclude-unset", "GET", "/model", {}),
    ("none", "GET", "/none", {}),
    ("jsonl", "GET", "/jsonl", {}),
    ("server-sent-events", "GET", "/sse", {}),
    ("server-sent-items", "GET", "/sse-items", {}),
    ("order-param-first", "GET", "/items/special", {}),
    ("order-param", "GET", "/items/7", {}),
    ("router-dependency", "GET", "/r/x", {}),
    ("starlette-route", "GET", "/plain?a=1", {}),
    ("starlette-route-head", "HEAD", "/plain", {}),
    ("head-of-get", "HEAD", "/users/5", {}),
    ("method-not-allowed", "POST", "/users/5", {}),
    ("not-found", "GET", "/nowhere", {}),
    ("trailing-slash", "GET", "/users/5/", {}),
    ("openapi-document", "GET", "/openapi.json", {}),
    ("docs-page", "GET", "/docs", {}),
    ("override-off", "GET", "/flag", {}),
    ("override-set", "POST", "/override", {}),
    ("override-on", "GET", "/flag", {}),
    ("override-clear", "DELETE", "/override", {}),
    ("override-cleared", "GET", "/flag", {}),
    ("request-is-starlettes", "GET", "/is-starlette", {}),
    ("oauth2-form", "POST", "/token", {"data": {"username": "ann", "password": "secret", "scope": "me items"}}),
    ("oauth2-form-refused", "POST", "/token", {"data": {"username": "ann", "password": "nope"}}),
    ("oauth2-form-missing", "POST", "/token", {"data": {"password": "secret", "grant_type": "other"}}),
    ("sqlmodel-list", "GET", "/heroes?offset=1&limit=3", {}),
    ("sqlmodel-list-refused", "GET", "/heroes?limit=1000", {}),
    ("sqlmodel-create", "POST", "/heroes", {"json": {"name": "Deadpond", "age": 3}}),
    ("sqlmodel-create-refused", "POST", "/heroes", {"json": {"age": "old"}}),
    ("file-response", "GET", "/file", {}),
    ("file-missing", "GET", "/file-missing", {}),
    ("file-not-a-file", "GET", "/file-missing?kind=dir", {}),
    ("file-missing-response-class", "GET", "/file-missing-class", {}),
]

#: answers that differ from FastAPI's on purpose (docs/asgi.md): the header ringbolt does
#: not send, or (status, the start of the body) ringbolt answers instead
DIFFERENCES: dict[str, Any] = {
    # the server writes no Content-Type on a response without content (RFC 9110 §15.3.5)
    "http-exception-204": "content-type",
    # not on purpose, the planner's (ringbolt.fastapi answers the same): a member missing
    # from an embedded body has the body as its "input", where FastAPI writes null
    "body-path-refused": (422, b'{"detail":[{"type":"greater_than","loc":["path","item_id"]'),
}


def _comparable(r: httpx.Response, host: str, skip: tuple[str, ...] = ()) -> tuple[int, list[tuple[str, str]], bytes]:
    """What is compared of an answer: status, headers (an Allow list as a set: Starlette
    writes a route's methods in its set's order), body; ``skip``: headers left out."""
    headers = sorted((k, v.replace(host, "HOST") if k != "allow" else ", ".join(sorted(v.split(", "))))
                     for k, v in r.headers.multi_items() if k not in _SERVER_HEADERS and k not in skip)
    return r.status_code, headers, r.content.replace(host.encode(), b"HOST")


def _send(port: int, method: str, path: str, options: dict[str, Any], **client: Any) -> httpx.Response:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, **client) as c:
        return c.request(method, path, **options)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoggedServer, UvicornProcess]]:
    ours = LoggedServer("adopt_app:app", tmp_path_factory.mktemp("adopt") / "ringbolt.log", "--threads", "1")
    theirs = UvicornProcess("adopt_app:app")
    yield ours, theirs
    theirs.stop()
    assert ours.stop() == 0, ours.output()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_answer_as_uvicorn(servers: tuple[LoggedServer, UvicornProcess], case: Any) -> None:
    name, method, path, options = case
    ours, theirs = servers
    mine = _comparable(_send(ours.port, method, path, options), f"127.0.0.1:{ours.port}")
    other = _comparable(_send(theirs.port, method, path, options), f"127.0.0.1:{theirs.port}")
    differs = DIFFERENCES.get(name)
    if isinstance(differs, tuple):
        assert mine[0] == differs[0] and mine[2].startswith(differs[1]), mine
        return
    if differs is not None:
        other = (other[0], [h for h in other[1] if h[0] != differs], other[2])
        assert not [h for h in mine[1] if h[0] == differs], mine
    assert mine == other


def test_startup_says_what_was_planned(servers: tuple[LoggedServer, UvicornProcess]) -> None:
    out = servers[0].wait_log("routes planned")
    summary = re.search(r"(\d+) of (\d+) routes planned", out)
    assert summary is not None, out
    planned, total = int(summary.group(1)), int(summary.group(2))
    assert total == planned + 1 and planned >= 35, out  # all but the route FastAPI's order hides
    assert "GET /items/special: ASGI: the earlier route GET /items/{item_id} takes some of its requests first" in out


def test_background_tasks_and_yield_dependencies_ran(servers: tuple[LoggedServer, UvicornProcess]) -> None:
    port = servers[0].port
    assert _send(port, "GET", "/background?name=t1", {}).json() == {"queued": True}
    deadline = time.monotonic() + 5
    while "task t1" not in _send(port, "GET", "/events", {}).json():
        assert time.monotonic() < deadline, "the background task never ran"
        time.sleep(0.05)
    events = _send(port, "GET", "/events", {}).json()
    assert "open" in events and "close" in events, events


def _routes(app: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ringbolt", "routes", app, "--app-dir", str(APPS), *args],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    return out.stdout


# (app, the route's line, what it says): each route that cannot be planned, and why
UNPLANNED = [
    ("adopt_variants:middleware_app", "GET /hello", "the whole app goes through ASGI"),
    ("adopt_variants:middleware_app", "0 of 1 routes planned", "its HTTP middleware add_header (it sees every request)"),
    ("adopt_variants:debug_app", "0 of 1 routes planned", "debug=True"),
    ("adopt_variants:route_class_app", "GET /timed", "ASGI: its route class TimedRoute (a custom APIRoute)"),
    ("adopt_variants:route_class_app", "GET /plain", "planned"),
    ("adopt_variants:mixed_app", "GET /before", "planned"),
    ("adopt_variants:mixed_app", "* /sub/{path:path}", "ASGI: a mounted app (FastAPI at /sub)"),
    ("adopt_variants:mixed_app", "GET /sub/shadowed", "ASGI: the earlier route * /sub/{path:path}, served by the "
                                                      "ASGI path, takes some of its requests first"),
    ("adopt_variants:mixed_app", "WS /ws", "ASGI: a WebSocket route"),
    ("adopt_variants:mixed_app", "GET /numbers/{n:int}", "planned"),
    ("adopt_variants:mixed_app", "GET /codes/{code:int}", "ASGI: its negative numbers are another route's "
                                                          "(GET /codes/{name})"),
    ("adopt_variants:mixed_app", "GET /codes/{name}", "ASGI: the earlier route GET /codes/{code:int}, served"),
    ("adopt_variants:mixed_app", "GET /reports/{name}.csv", "ASGI: its path /reports/{name}.csv has a parameter "
                                                            "inside a segment"),
    ("adopt_variants:mixed_app", "GET /after", "planned"),
    ("adopt_variants:mixed_app", "3 of 9 routes planned", ""),
    ("adopt_variants:regex_cors_app", "0 of 1 routes planned", "allow_origin_regex"),
    ("adopt_variants:form_limits_app", "0 of 1 routes planned", "FastAPI(form_limits={'max_fields': 5})"
     if "form_limits" in inspect.signature(fastapi.FastAPI).parameters else "debug=True"),
    ("adopt_variants:subclass_app", "0 of 1 routes planned", "its class CountingFastAPI has a __call__ of its own"),
    ("adopt_variants:default_class_app", "3 of 3 routes planned", ""),
    ("adopt_variants:native_middleware_app", "2 of 2 routes planned", ""),
    ("adopt_variants:starlette_app", "GET,HEAD,POST /hello/{name}", "planned"),
    ("adopt_app:app", "GET,HEAD /openapi.json", "ASGI: FastAPI's OpenAPI document or docs page (the app's own)"),
]


@pytest.mark.parametrize("app,line,says", UNPLANNED, ids=[f"{a.split(':')[1]}:{li}" for a, li, _ in UNPLANNED])
def test_routes_says_how_each_route_is_served(app: str, line: str, says: str) -> None:
    out = _routes(app)
    found = [x for x in out.splitlines() if x.startswith(line)]
    assert found and says in found[0], out


def test_routes_no_plan_and_other_apps() -> None:
    out = _routes("adopt_app:app", "--no-plan")
    assert out.splitlines()[-1].startswith("0 of ") and "planning is off (--no-plan)" in out, out
    assert "a ringbolt route" in _routes("basic:app")
    assert "every request goes to it as it is" in _routes("asgi_app:app")


def test_no_plan_serves_the_whole_app_through_asgi(tmp_path: Path) -> None:
    srv = LoggedServer("adopt_app:app", tmp_path / "log", "--no-plan")
    try:
        assert "planning is off (--no-plan)" in srv.wait_log("routes planned")
        r = _send(srv.port, "GET", "/users/5?q=a", {})
        assert r.json() == {"user_id": 5, "skip": 0, "limit": 10, "q": "a"}
    finally:
        assert srv.stop() == 0, srv.output()


# (app, method, path, options): apps planned in part or served whole, against uvicorn
VARIANT_CASES = [
    ("adopt_variants:middleware_app", "GET", "/hello", {}),
    ("adopt_variants:route_class_app", "GET", "/timed", {}),
    ("adopt_variants:route_class_app", "GET", "/plain", {}),
    ("adopt_variants:mixed_app", "GET", "/before", {}),
    ("adopt_variants:mixed_app", "GET", "/sub/inner", {}),
    ("adopt_variants:mixed_app", "GET", "/sub/shadowed", {}),
    ("adopt_variants:mixed_app", "GET", "/numbers/5", {}),
    ("adopt_variants:mixed_app", "GET", "/numbers/-5", {}),
    ("adopt_variants:mixed_app", "GET", "/numbers/%2D5", {}),
    ("adopt_variants:mixed_app", "GET", "/numbers/-0", {}),
    ("adopt_variants:mixed_app", "GET", "/numbers/123456789012345678901234", {}),
    ("adopt_variants:mixed_app", "GET", "/numbers/-5/", {}),
    ("adopt_variants:mixed_app", "GET", "/codes/5", {}),
    ("adopt_variants:mixed_app", "GET", "/codes/-5", {}),
    ("adopt_variants:mixed_app", "GET", "/reports/q1.csv", {}),
    ("adopt_variants:mixed_app", "GET", "/after", {}),
    # (ringbolt's native CORS writes Vary: Origin only with an origin it echoes: below)
    ("adopt_variants:native_middleware_app", "GET", "/big", {"headers": {"Accept-Encoding": "gzip"}}),
    ("adopt_variants:native_middleware_app", "GET", "/small", {"headers": {"Accept-Encoding": "gzip"}}),
    ("adopt_variants:native_middleware_app", "GET", "/small", {"headers": {"Host": "evil.example"}}),
    ("adopt_variants:starlette_app", "GET", "/", {}),
    ("adopt_variants:starlette_app", "POST", "/hello/ann", {}),
    ("adopt_variants:starlette_app", "HEAD", "/hello/ann", {}),
    ("adopt_variants:starlette_app", "DELETE", "/hello/ann", {}),
    ("adopt_variants:starlette_app", "GET", "/sync", {}),
    ("adopt_variants:starlette_app", "GET", "/refused", {}),
    ("adopt_variants:default_class_app", "GET", "/thing", {}),
    ("adopt_variants:default_class_app", "GET", "/plain-dict", {}),
    ("adopt_variants:default_class_app", "GET", "/text/hello", {}),
    ("adopt_app:validation_app", "POST", "/items", {"json": {"name": "a", "price": 1}}),
    ("adopt_app:validation_app", "POST", "/items", {"json": {"name": "", "price": "x"}}),
]


@pytest.fixture(scope="module")
def variant_servers() -> Iterator[dict[str, tuple[ServerProcess, UvicornProcess]]]:
    started: dict[str, tuple[ServerProcess, UvicornProcess]] = {}
    yield started
    for ours, theirs in started.values():
        theirs.stop()
        assert ours.stop() == 0, ours.output()


@pytest.mark.parametrize("app,method,path,options", VARIANT_CASES,
                         ids=[f"{a.split(':')[1]}-{m}-{p}" for a, m, p, _ in VARIANT_CASES])
def test_variants_same_answer_as_uvicorn(variant_servers: dict[str, Any], app: str, method: str, path: str,
                                         options: dict[str, Any]) -> None:
    if app not in variant_servers:
        variant_servers[app] = (ServerProcess(app, "--threads", "1"), UvicornProcess(app))
    ours, theirs = variant_servers[app]
    skip = ("vary",) if app.endswith("native_middleware_app") else ()
    mine = _comparable(_send(ours.port, method, path, options), f"127.0.0.1:{ours.port}", skip)
    other = _comparable(_send(theirs.port, method, path, options), f"127.0.0.1:{theirs.port}", skip)
    assert mine == other


def test_websocket_route_through_asgi(variant_servers: dict[str, Any]) -> None:
    from websockets.sync.client import connect

    app = "adopt_variants:mixed_app"
    if app not in variant_servers:
        variant_servers[app] = (ServerProcess(app, "--threads", "1"), UvicornProcess(app))
    with connect(f"ws://127.0.0.1:{variant_servers[app][0].port}/ws") as ws:
        assert ws.recv(timeout=5) == "hi"


def test_native_cors_answers(variant_servers: dict[str, Any]) -> None:
    """CORS runs natively: an allowed origin is echoed as Starlette's middleware echoes it;
    a preflight is answered by the server as Starlette's middleware answers it (FastAPI's
    conventions: 200 "OK", or 400 naming what is disallowed), the same as uvicorn's."""
    app = "adopt_variants:native_middleware_app"
    if app not in variant_servers:
        variant_servers[app] = (ServerProcess(app, "--threads", "1"), UvicornProcess(app))
    port = variant_servers[app][0].port
    r = _send(port, "GET", "/small", {"headers": {"Origin": "https://app.example"}})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
    assert r.headers["vary"] == "Origin"
    assert "vary" not in _send(port, "GET", "/small", {}).headers  # Starlette's middleware writes Vary: Origin
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    theirs = variant_servers[app][1].port
    for headers in (preflight, {**preflight, "Origin": "https://evil.example"}):
        mine = _send(port, "OPTIONS", "/small", {"headers": headers})
        other = _send(theirs, "OPTIONS", "/small", {"headers": headers})
        assert (mine.status_code, mine.text) == (other.status_code, other.text)
    assert _send(port, "OPTIONS", "/small", {"headers": preflight}).text == "OK"


SERVED = [("body", "POST", "/items", {"json": {"name": "a", "price": 1.5}}),
          ("query", "GET", "/users/5?q=a", {}), ("refused", "GET", "/users/x", {}),
          ("document", "GET", "/openapi.json", {})]


def _expected(servers: tuple[LoggedServer, UvicornProcess], method: str, path: str, options: dict[str, Any]) -> Any:
    theirs = servers[1]
    return _comparable(_send(theirs.port, method, path, options), f"127.0.0.1:{theirs.port}")


def test_root_path(tmp_path: Path) -> None:
    """--root-path: the planned routes' Request (url_for, base_url) and the ASGI path's
    requests see it as uvicorn's --root-path has the app see it."""
    ours = ServerProcess("adopt_app:app", "--root-path", "/api", "--threads", "1")
    theirs = UvicornProcess("adopt_app:app", "--root-path", "/api")
    try:
        # (a path with the prefix is the ASGI path's to answer, and uvicorn puts the prefix in
        # the scope's path again: not compared here)
        for path in ("/url-for", "/users/5", "/nowhere", "/openapi.json"):
            mine = _comparable(_send(ours.port, "GET", path, {}), f"127.0.0.1:{ours.port}")
            other = _comparable(_send(theirs.port, "GET", path, {}), f"127.0.0.1:{theirs.port}")
            assert mine == other, path
    finally:
        theirs.stop()
        assert ours.stop() == 0, ours.output()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_blocking_def_endpoints_overlap_on_handler_threads(threads: str) -> None:
    """A planned ``def`` endpoint runs inline on the reactor, as ringbolt.fastapi's do;
    --handler-threads runs them on threads, where blocking ones overlap (FastAPI's pool)."""
    srv = ServerProcess("fastapi_threadpool_app:app", "--handler-threads", "8", "--threads", threads)
    n, ms = 8, 300
    try:
        took = slow_requests_took(srv, n, ms)
    finally:
        assert srv.stop() == 0, srv.output()
    assert "4 of 4 routes planned" in srv.output(), srv.output()
    assert took < n * ms / 1000 * 0.8, took  # they overlapped (one after another: 2.4 s)


def test_workers(servers: tuple[LoggedServer, UvicornProcess], tmp_path: Path) -> None:
    srv = LoggedServer("adopt_app:app", tmp_path / "log", "--workers", "2", "--threads", "1")
    try:
        out = srv.wait_log("routes planned")
        for _, method, path, options in SERVED * 2:
            got = _comparable(_send(srv.port, method, path, options), f"127.0.0.1:{srv.port}")
            assert got == _expected(servers, method, path, options)
        assert len(re.findall(r"routes planned", srv.output())) == 1, out  # planned once, before the fork
    finally:
        assert srv.stop() == 0, srv.output()


def test_http2(servers: tuple[LoggedServer, UvicornProcess]) -> None:
    port = servers[0].port
    for _, method, path, options in SERVED:
        r = _send(port, method, path, options, http1=False, http2=True)
        assert r.http_version == "HTTP/2"
        assert _comparable(r, f"127.0.0.1:{port}") == _expected(servers, method, path, options)


def test_http3(servers: tuple[LoggedServer, UvicornProcess], certs: Path) -> None:  # noqa: F811
    import h3_client
    from h2_tls_helpers import tls_args

    srv = ServerProcess("adopt_app:app", *tls_args(certs), "--http3", "--threads", "1")
    try:
        r = h3_client.get(srv.port, "/users/5?q=a")
        assert r.status == 200 and json.loads(bytes(r.body)) == {"user_id": 5, "skip": 0, "limit": 10, "q": "a"}
        refused = h3_client.get(srv.port, "/users/x")
        assert refused.status == 422 and json.loads(bytes(refused.body))["detail"][0]["loc"] == ["path", "user_id"]
    finally:
        assert srv.stop() == 0, srv.output()


def test_gunicorn_worker(servers: tuple[LoggedServer, UvicornProcess], tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    from test_gunicorn_worker import Gunicorn

    g = Gunicorn(tmp_path, "adopt_app:app")
    try:
        assert re.search(r"\d+ of \d+ routes planned", g.output()), g.output()
        for _, method, path, options in SERVED:
            got = _comparable(_send(g.port, method, path, options), f"127.0.0.1:{g.port}")
            assert got == _expected(servers, method, path, options)
    finally:
        g.stop()


from h2_tls_helpers import certs  # noqa: E402,F401  (a fixture)


@pytest.mark.parametrize("version,planned", [("0.110.3", False), ("0.111.0", True), ("0.165.0", True)])
def test_fastapi_older_than_the_oldest_planned_goes_through_asgi(monkeypatch: pytest.MonkeyPatch, version: str,
                                                                 planned: bool) -> None:
    """FastAPI 0.100-0.110 write pydantic's "url" in each 422 error: ringbolt's plans do not."""
    import fastapi

    from ringbolt.fastapi.adopt import _whole_app_reason

    monkeypatch.setattr(fastapi, "__version__", version)
    reason = _whole_app_reason(fastapi.FastAPI())
    assert (reason is None) == planned, reason
    if not planned:
        assert reason == f"FastAPI {version} is older than 0.111.0, the oldest ringbolt plans"


# (earlier route, later route, the later one planned): FastAPI's router takes the first
# route that matches; ringbolt's prefers static segments, then {x}, then {x:path}
ORDER = [
    ("/users/me", "/users/{id}", True),  # FastAPI's recommended order: the static one first
    ("/users/{id}", "/users/me", False),  # ringbolt's router would take /users/me first
    ("/users/{id}", "/users/{name}/x", True),  # no path matches both
    ("/a/{x}", "/a/{y}", True),  # one shape: the first registered answers, as in FastAPI
    ("/files/{p:path}", "/files/x", False),
    ("/files/x", "/files/{p:path}", True),
    ("/a/b", "/a/b/", True),  # "/a/b" and "/a/b/" are different paths
    ("/{x}", "/a/b", True),
    ("/{x}/b", "/a/{y}", False),
    ("/a/{y}", "/{x}/b", True),
    ("/a/{x}", "/a/{n:int}", False),  # ringbolt's router tries {n:int} before {x}
    ("/a/{n:int}", "/a/{x}", True),
    ("/a/{n:int}", "/a/{f:float}", True),
    ("/a/{u:uuid}", "/a/{n:int}", False),
    ("/a/b", "/a/{n:int}", True),  # "b" is no number: no path matches both
    ("/a/5", "/a/{n:int}", True),
]


@pytest.mark.parametrize("earlier,later,planned", ORDER)
def test_route_order(earlier: str, later: str, planned: bool) -> None:
    from ringbolt.fastapi.adopt import table

    entries = [table.Entry(None, None, "api", earlier, frozenset({"GET"})),
               table.Entry(None, None, "api", later, frozenset({"GET"}))]
    assert (table.shadowed(entries, 1) is None) == planned
    entries[0].reason = "served by ASGI"  # an earlier route left to ASGI that may match: the later one too
    shares = table.overlap(table.segments(earlier), table.segments(later))
    assert (table.shadowed(entries, 1) is None) == (not shares)
    entries[0].methods = frozenset({"POST"})  # no method in common: no request reaches both
    assert table.shadowed(entries, 1) is None


def test_routes_reads_ringbolt_plan_and_refuses_bad_values() -> None:
    env = {**os.environ, "RINGBOLT_PLAN": "false"}
    out = subprocess.run([sys.executable, "-m", "ringbolt", "routes", "adopt_app:app", "--app-dir", str(APPS)],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO), env=env)
    assert out.returncode == 0 and "planning is off (--no-plan)" in out.stdout, out
    bad = subprocess.run([sys.executable, "-m", "ringbolt", "routes", "adopt_app:app", "--app-dir", str(APPS)],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO),
                         env={**os.environ, "RINGBOLT_PLAN": "maybe"})
    assert bad.returncode == 2 and "RINGBOLT_PLAN: expected true/false/1/0, not 'maybe'" in bad.stderr, bad
