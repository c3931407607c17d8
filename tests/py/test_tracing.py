"""OpenTelemetry tracing (app.enable_tracing, docs/tracing.md) end to end: the server
exports its spans with the SDK's OTLP/HTTP exporter to a receiver this test runs on
127.0.0.1 (POST /v1/traces, decoded with opentelemetry-proto), over HTTP/1.1, HTTP/2
and HTTP/3 requests from real clients (httpx, aioquic). The client's traceparent and
tracestate are continued, the handlers' own spans are children, failures are errors,
the route template names the span, and the spans of the last requests arrive when a
SIGTERM stops the server. With tracing off no route gets a wrapper."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import secrets
import signal
import subprocess
import sys
import threading
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                         ExportTraceServiceResponse)
from opentelemetry.sdk.trace import TracerProvider

import h3_client
from conftest import REPO, LoggedServer, ServerProcess, UvicornProcess
from h2_tls_helpers import certs, tls_args, wait_for  # noqa: F401  (certs is a fixture)
from ringbolt import App, Response

SERVER = 2  # opentelemetry.proto's Span.SPAN_KIND_SERVER
INTERNAL = 1
STATUS_UNSET, STATUS_ERROR = 0, 2
AGENT = "tracing-test-client/1.0"


# ---- the OTLP/HTTP receiver ----

@dataclass
class ReceivedSpan:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    trace_state: str
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any] = field(default_factory=dict)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind is not None else None


def _attrs(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


class Receiver:
    """An OTLP/HTTP traces endpoint (protobuf) on 127.0.0.1: every span posted to it,
    and a condition to wait on until the ones a test looks for have come."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.posts = 0
        self.changed = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_error(404 if self.path != "/v1/traces" else 415)
                    return
                coding = self.headers.get("Content-Encoding", "")
                if coding == "gzip":
                    body = gzip.decompress(body)
                elif coding == "deflate":
                    body = zlib.decompress(body)
                receiver.take(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self, request: Any) -> None:
        got = []
        for rs in request.resource_spans:
            resource = _attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    got.append(ReceivedSpan(
                        s.name, s.kind, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.trace_state,
                        _attrs(s.attributes), s.status.code, s.status.message,
                        [(e.name, _attrs(e.attributes)) for e in s.events], resource))
        with self.changed:
            self.spans.extend(got)
            self.posts += 1
            self.changed.notify_all()

    def wait_for(self, match: Callable[[ReceivedSpan], bool], count: int = 1,
                 timeout: float = 15.0) -> list[ReceivedSpan]:
        """The spans `match` accepts once there are `count` of them (fails after `timeout`
        s: a bound on a hang, not a pause)."""
        with self.changed:
            found: list[ReceivedSpan] = []

            def enough() -> bool:
                found[:] = [s for s in self.spans if match(s)]
                return len(found) >= count

            assert self.changed.wait_for(enough, timeout), \
                f"{count} span(s) never came; received: {[(s.name, s.attributes.get('url.path')) for s in self.spans]}"
            return list(found)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def exporter_env(receiver: Receiver, **extra: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "NO_PROXY": "127.0.0.1,localhost",
            "OTEL_BSP_SCHEDULE_DELAY": "50", **extra}


@pytest.fixture(scope="module")
def srv(receiver: Receiver, certs: Path) -> Iterator[ServerProcess]:  # noqa: F811
    """tracing_app over TLS with HTTP/3, one reactor (so the event loop is hosted on it)."""
    s = ServerProcess("tracing_app:app", *tls_args(certs), "--http3", "--threads", "1", env=exporter_env(receiver))
    yield s
    assert s.stop() == 0, s.output()


# ---- clients ----

def new_traceparent() -> tuple[str, str, str]:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent, f"00-{trace_id}-{parent}-01"


def get_over(version: str, srv: ServerProcess, path: str, headers: dict[str, str] | None = None,
             method: str = "GET") -> tuple[int, str]:
    """One request over HTTP `version` ("1.1", "2" or "3"): its status and the version
    the client saw."""
    fields = {"user-agent": AGENT, **(headers or {})}
    if version == "3":
        r = h3_client.run(srv.port, lambda c: c.request(method, path, headers=list(fields.items())))
        return r.status, "3"
    with httpx.Client(http2=version == "2", verify=False, timeout=20) as c:
        resp = c.request(method, f"https://127.0.0.1:{srv.port}{path}", headers=fields)
        return resp.status_code, resp.http_version.removeprefix("HTTP/")


def server_span(receiver: Receiver, path: str) -> ReceivedSpan:
    (span,) = receiver.wait_for(lambda s: s.kind == SERVER and s.attributes.get("url.path") == path)
    return span


def child_of(receiver: Receiver, parent: ReceivedSpan, name: str) -> ReceivedSpan:
    (child,) = receiver.wait_for(lambda s: s.name == name and s.parent_span_id == parent.span_id)
    return child


# ---- the span of each protocol ----

@pytest.mark.parametrize("version", ["1.1", "2", "3"])
def test_server_span_continues_the_client_trace(srv: ServerProcess, receiver: Receiver, version: str) -> None:
    trace_id, parent, traceparent = new_traceparent()
    item = secrets.randbelow(10**9)
    status, seen = get_over(version, srv, f"/items/{item}",
                            {"traceparent": traceparent, "tracestate": "vendor=abc,other=1"})
    assert (status, seen) == (200, version)
    span = server_span(receiver, f"/items/{item}")
    assert span.name == "GET /items/{item_id}"
    assert span.kind == SERVER
    assert (span.trace_id, span.parent_span_id) == (trace_id, parent)
    assert span.trace_state == "vendor=abc,other=1"
    assert span.status_code == STATUS_UNSET
    attrs = span.attributes
    assert {k: attrs[k] for k in ("http.request.method", "http.route", "url.path", "url.scheme",
                                  "network.protocol.version", "http.response.status_code",
                                  "user_agent.original", "client.address")} == {
        "http.request.method": "GET", "http.route": "/items/{item_id}", "url.path": f"/items/{item}",
        "url.scheme": "https", "network.protocol.version": version, "http.response.status_code": 200,
        "user_agent.original": AGENT, "client.address": "127.0.0.1"}
    assert 0 < attrs["client.port"] < 65536 and attrs["client.port"] != srv.port
    if version == "3":  # the h3 client's :authority is "localhost", with no port: https's
        assert (attrs["server.address"], attrs["server.port"]) == ("localhost", 443)
    else:
        assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", srv.port)
    assert "url.query" not in attrs
    assert span.resource["service.name"] == "tracing-test"
    child = child_of(receiver, span, "load item")
    assert (child.trace_id, child.kind, child.attributes) == (trace_id, INTERNAL, {"item.id": item})


def test_a_request_without_traceparent_starts_a_trace(srv: ServerProcess, receiver: Receiver) -> None:
    item = secrets.randbelow(10**9)
    assert get_over("1.1", srv, f"/items/{item}")[0] == 200
    span = server_span(receiver, f"/items/{item}")
    assert span.parent_span_id == "" and len(span.trace_id) == 32 and span.trace_id != "0" * 32
    assert child_of(receiver, span, "load item").trace_id == span.trace_id


@pytest.mark.parametrize("traceparent", [
    "garbage", "00-" + "0" * 32 + "-" + "1" * 16 + "-01", "00-" + "a" * 32 + "-" + "0" * 16 + "-01",
    "ff-" + "a" * 32 + "-" + "b" * 16 + "-01", "00-" + "A" * 32 + "-" + "b" * 16 + "-01"])
def test_an_invalid_traceparent_starts_a_new_trace(srv: ServerProcess, receiver: Receiver, traceparent: str) -> None:
    """W3C Trace Context §3.2: an invalid traceparent (zero ids, version ff, upper-case
    hex) is ignored; the request is served and traced as a new trace."""
    item = secrets.randbelow(10**9)
    assert get_over("1.1", srv, f"/items/{item}", {"traceparent": traceparent})[0] == 200
    span = server_span(receiver, f"/items/{item}")
    assert span.parent_span_id == ""
    assert span.trace_id not in traceparent.lower()


# ---- handlers of each kind ----

@pytest.mark.parametrize("version", ["1.1", "2"])
def test_async_handler_spans_are_children(srv: ServerProcess, receiver: Receiver, version: str) -> None:
    trace_id, parent, traceparent = new_traceparent()
    name = secrets.token_hex(4)
    assert get_over(version, srv, f"/async/{name}", {"traceparent": traceparent})[0] == 200
    span = server_span(receiver, f"/async/{name}")
    assert (span.name, span.trace_id, span.parent_span_id) == ("GET /async/{name}", trace_id, parent)
    assert child_of(receiver, span, "async child").trace_id == trace_id


def test_concurrent_async_requests_keep_their_own_spans(srv: ServerProcess, receiver: Receiver) -> None:
    """Twenty async requests at once on one HTTP/2 connection, each handler suspended
    inside its child span: each child's parent is its own request's span."""
    names = [secrets.token_hex(4) for _ in range(20)]
    parents = {n: new_traceparent() for n in names}

    async def all_at_once() -> None:
        async with httpx.AsyncClient(http2=True, verify=False, timeout=20) as c:
            answers = await asyncio.gather(*(
                c.get(f"https://127.0.0.1:{srv.port}/async/{n}", headers={"traceparent": parents[n][2]})
                for n in names))
            assert [a.status_code for a in answers] == [200] * 20

    asyncio.run(all_at_once())
    for n in names:
        span = server_span(receiver, f"/async/{n}")
        assert (span.trace_id, span.parent_span_id) == parents[n][:2]
        assert child_of(receiver, span, "async child").trace_id == span.trace_id


@pytest.mark.parametrize("path, name, child", [
    ("/typed/{n}?q=z&AWSAccessKeyId=secret", "GET /typed/{n}", "typed child"),
    ("/async-typed/{n}", "GET /async-typed/{n}", "async typed child")])
def test_typed_routes_are_traced(srv: ServerProcess, receiver: Receiver, path: str, name: str, child: str) -> None:
    n = secrets.randbelow(10**9)
    assert get_over("1.1", srv, path.format(n=n))[0] == 200
    span = server_span(receiver, path.format(n=n).partition("?")[0])
    assert (span.name, span.attributes["http.route"]) == (name, name.split()[1])
    if "?" in path:  # semantic conventions: a signature's value is redacted
        assert span.attributes["url.query"] == "q=z&AWSAccessKeyId=REDACTED"
    assert child_of(receiver, span, child).trace_id == span.trace_id


# ---- answers and failures ----

@pytest.mark.parametrize("path, message", [("/boom", "RuntimeError: kaboom"),
                                           ("/async-boom", "ValueError: async kaboom")])
def test_an_exception_is_an_error_with_its_event(srv: ServerProcess, receiver: Receiver, path: str,
                                                 message: str) -> None:
    trace_id, parent, traceparent = new_traceparent()
    assert get_over("2", srv, path, {"traceparent": traceparent})[0] == 500
    (span,) = receiver.wait_for(lambda s: s.trace_id == trace_id)
    assert span.name == f"GET {path}"
    assert (span.status_code, span.status_message) == (STATUS_ERROR, message)
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["error.type"] == message.split(":")[0]
    ((event, attrs),) = span.events
    assert event == "exception"
    assert (attrs["exception.type"], attrs["exception.message"]) == (message.split(":")[0], message.split(": ")[1])
    assert "Traceback" in attrs["exception.stacktrace"]


@pytest.mark.parametrize("method, path, status, error", [
    ("GET", "/missing", 404, None),  # an HTTPError: the client's error, not the server's
    ("GET", "/busy", 503, "503"),  # a 5xx answered without an exception
    ("POST", "/created", 201, None),  # a (body, status) tuple
])
def test_the_answer_status_decides_the_error(srv: ServerProcess, receiver: Receiver, method: str, path: str,
                                             status: int, error: str | None) -> None:
    trace_id, _, traceparent = new_traceparent()
    assert get_over("1.1", srv, path, {"traceparent": traceparent}, method=method)[0] == status
    (span,) = receiver.wait_for(lambda s: s.trace_id == trace_id)
    assert span.name == f"{method} {path}"
    assert span.attributes["http.response.status_code"] == status
    assert span.attributes.get("error.type") == error
    assert span.status_code == (STATUS_ERROR if error else STATUS_UNSET)
    assert span.events == []


def test_a_streamed_answer_is_traced_with_its_status(srv: ServerProcess, receiver: Receiver) -> None:
    trace_id, _, traceparent = new_traceparent()
    with httpx.Client(verify=False, timeout=20) as c:
        r = c.get(f"https://127.0.0.1:{srv.port}/stream", headers={"traceparent": traceparent})
    assert (r.status_code, r.text) == (206, "piece 0\npiece 1\npiece 2\n")
    (span,) = receiver.wait_for(lambda s: s.trace_id == trace_id)
    assert (span.name, span.attributes["http.response.status_code"], span.status_code) == (
        "GET /stream", 206, STATUS_UNSET)


def test_an_unknown_method_is_other(srv: ServerProcess, receiver: Receiver) -> None:
    trace_id, _, traceparent = new_traceparent()
    assert get_over("1.1", srv, "/created", {"traceparent": traceparent}, method="PURGE")[0] == 201
    (span,) = receiver.wait_for(lambda s: s.trace_id == trace_id)
    assert span.name == "HTTP /created"
    assert (span.attributes["http.request.method"], span.attributes["http.request.method_original"]) == (
        "_OTHER", "PURGE")


@pytest.mark.parametrize("prefix", ["/guarded", "/async-guarded"])
def test_an_exception_middleware_answers_is_recorded_once(srv: ServerProcess, receiver: Receiver,
                                                          prefix: str) -> None:
    """The handler's KeyError, which its router's middleware turns into a 409: recorded
    as an event of the request's span (once), not an error (the answer is a 4xx). Async:
    the handler is an object whose __call__ is async, behind an async middleware."""
    trace_id, _, traceparent = new_traceparent()
    assert get_over("1.1", srv, f"{prefix}/abc", {"traceparent": traceparent})[0] == 409
    (span,) = receiver.wait_for(lambda s: s.trace_id == trace_id)
    assert (span.name, span.attributes["http.response.status_code"]) == (f"GET {prefix}/{{key}}", 409)
    assert span.status_code == STATUS_UNSET
    assert [(e, a["exception.type"]) for e, a in span.events] == [("exception", "KeyError")]


# ---- a clean stop exports what is left ----

@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one process", "two workers"])
def test_spans_are_flushed_when_sigterm_stops_the_server(receiver: Receiver, workers: list[str]) -> None:
    """The batch processor would wait ten minutes before exporting (OTEL_BSP_SCHEDULE_DELAY):
    the spans arrive because the stop flushes them, after the drain. A supervised worker
    ends with os._exit (no atexit, so not the SDK's own flush at exit): there the stop's
    flush is the only one."""
    s = ServerProcess("tracing_app:app", *workers, env=exporter_env(receiver, OTEL_BSP_SCHEDULE_DELAY="600000"))
    traces = []
    try:
        for _ in range(4):
            trace_id, _, traceparent = new_traceparent()
            traces.append(trace_id)
            with httpx.Client(timeout=20) as c:  # a connection each: both workers may take some
                assert c.get(f"http://127.0.0.1:{s.port}/items/1", headers={"traceparent": traceparent}).status_code \
                    == 200
    finally:
        assert s.stop() == 0, s.output()
    with receiver.changed:  # the server has exited: every span it exported is here
        got = {sp.trace_id for sp in receiver.spans if sp.kind == SERVER and sp.trace_id in traces}
    assert got == set(traces)


def test_a_request_in_flight_at_sigterm_is_exported(receiver: Receiver, tmp_path: Path) -> None:
    """SIGTERM while a handler runs: the drain lets it answer, and its span, ended after
    the signal, is exported by the stop's flush."""
    gate = tmp_path / "gate"
    s = LoggedServer("tracing_app:app", tmp_path / "server.log",
                     env=exporter_env(receiver, OTEL_BSP_SCHEDULE_DELAY="600000", TRACING_TEST_GATE=str(gate)))
    trace_id, _, traceparent = new_traceparent()
    answers: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=20) as c:
            answers.append(c.get(f"http://127.0.0.1:{s.port}/in-flight", headers={"traceparent": traceparent})
                           .status_code)

    client = threading.Thread(target=call)
    client.start()
    try:
        started = Path(str(gate) + ".started")
        assert wait_for(started.exists, 15.0), s.output()
        s.proc.send_signal(signal.SIGTERM)
        s.wait_log("SIGTERM received")
        gate.touch()
        client.join(20)
        assert answers == [200]
        assert s.proc.wait(20) == 0, s.output()  # drained, flushed, exited: no second signal
    finally:
        gate.touch()
        s.stop()
    with receiver.changed:
        assert [sp.name for sp in receiver.spans if sp.trace_id == trace_id] == ["GET /in-flight"]


# ---- the documented example ----

def test_the_example_exports_its_spans(receiver: Receiver) -> None:
    """examples/tracing.py as docs/tracing.md runs it: the endpoint from
    OTEL_EXPORTER_OTLP_ENDPOINT, a request's span and the handler's child, a 404."""
    s = ServerProcess("tracing:app", "--app-dir", str(REPO / "examples"), env=exporter_env(receiver))
    try:
        trace_id, parent, traceparent = new_traceparent()
        with httpx.Client(timeout=20) as c:
            r = c.get(f"http://127.0.0.1:{s.port}/orders/7", headers={"traceparent": traceparent})
            assert (r.status_code, r.json()) == (200, {"id": 7, "status": "shipped"})
            assert c.get(f"http://127.0.0.1:{s.port}/orders/0").status_code == 404
        (span,) = receiver.wait_for(lambda sp: sp.trace_id == trace_id and sp.kind == SERVER)
        assert (span.name, span.parent_span_id, span.resource["service.name"]) == (
            "GET /orders/{order_id}", parent, "orders")
        assert (span.attributes["network.protocol.version"], span.attributes["http.response.status_code"]) == (
            "1.1", 200)
        assert child_of(receiver, span, "load order").attributes == {"order.id": 7}
        missing = server_span(receiver, "/orders/0")
        assert (missing.attributes["http.response.status_code"], missing.status_code) == (404, STATUS_UNSET)
    finally:
        assert s.stop() == 0, s.output()


def test_under_uvicorn_the_app_is_traced_too(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The App as an ASGI app under uvicorn: the same spans, flushed at its lifespan's
    shutdown (the schedule delay is ten minutes)."""
    for name, value in exporter_env(receiver, OTEL_BSP_SCHEDULE_DELAY="600000").items():
        monkeypatch.setenv(name, value)  # uvicorn's process inherits the test's environment
    s = UvicornProcess("tracing_app:app")
    try:
        trace_id, parent, traceparent = new_traceparent()
        with httpx.Client(timeout=20) as c:
            assert c.get(f"http://127.0.0.1:{s.port}/async/uv", headers={"traceparent": traceparent}).status_code \
                == 200
    finally:
        # uvicorn ends by raising the signal again once it has shut down (its capture_signals)
        assert s.stop() in (0, -signal.SIGTERM), s.output()
    (span,) = receiver.wait_for(lambda sp: sp.trace_id == trace_id and sp.kind == SERVER, timeout=0.1)
    assert (span.name, span.parent_span_id, span.attributes["network.protocol.version"]) == (
        "GET /async/{name}", parent, "1.1")
    assert child_of(receiver, span, "async child").trace_id == trace_id


# ---- off costs nothing, and the refusals ----

def _plain_app() -> tuple[App, Any]:
    app = App()

    def hello(req: Any) -> dict[str, str]:
        return {"hello": "world"}

    app.get("/")(hello)
    return app, hello


def test_without_tracing_the_handler_is_registered_as_it_is() -> None:
    app, hello = _plain_app()
    ((_, _, fn, _, _, _),) = app._resolved_routes()
    assert fn is hello


def test_with_tracing_the_route_is_wrapped() -> None:
    app, hello = _plain_app()
    provider = TracerProvider()
    assert app.enable_tracing(provider) is provider
    ((_, _, fn, _, is_async, _),) = app._resolved_routes()
    assert fn is not hello and not is_async


def test_otel_sdk_disabled_leaves_routes_unwrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    app, hello = _plain_app()
    assert app.enable_tracing(TracerProvider()) is None
    ((_, _, fn, _, _, _),) = app._resolved_routes()
    assert fn is hello


@pytest.mark.parametrize("kwargs, error, text", [
    ({"protocol": "udp"}, ValueError, "OTLP protocol must be one of http/protobuf, grpc, not 'udp'"),
    ({"tracer_provider": TracerProvider(), "endpoint": "http://x/v1/traces"}, ValueError,
     "endpoint: the exporter of a tracer_provider you pass is yours to configure"),
    ({"tracer_provider": object()}, TypeError, "tracer_provider must be an OpenTelemetry TracerProvider"),
    ({"endpoint": ""}, TypeError, "endpoint must be a non-empty str"),
    ({"headers": {"a": 1}}, TypeError, "headers must be a mapping of str to str"),
    ({"flush_timeout": 0}, ValueError, "flush_timeout must be a number of seconds more than 0, not 0"),
    ({"timeout": -1}, ValueError, "timeout must be a number of seconds more than 0, not -1"),
])
def test_bad_options_are_refused(kwargs: dict[str, Any], error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        App().enable_tracing(**kwargs)


def test_enabling_twice_is_refused() -> None:
    app = App()
    app.enable_tracing(TracerProvider())
    with pytest.raises(ValueError, match="tracing is already enabled"):
        app.enable_tracing(TracerProvider())


GLOBAL_PROVIDER_SCRIPT = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from ringbolt import App
from ringbolt.testing import TestClient

exported = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exported))
trace.set_tracer_provider(provider)
try:
    App().enable_tracing(endpoint="http://127.0.0.1:1/v1/traces")
except ValueError as e:
    print("refused:", e)
app = App()
assert app.enable_tracing() is provider

@app.get("/hello/{name}")
def hello(req):
    with trace.get_tracer("t").start_as_current_span("inner"):
        return {"hello": req.params["name"]}

with TestClient(app) as client:
    assert client.get("/hello/ann").json() == {"hello": "ann"}
for span in exported.get_finished_spans():
    print(span.name, span.kind.name, span.attributes.get("http.route"))
"""


def test_a_global_provider_is_used() -> None:
    """A process that set its own global provider (as opentelemetry-instrument does):
    enable_tracing() uses it, and refuses exporter options it would not apply; served
    by ringbolt.testing.TestClient."""
    out = subprocess.run([sys.executable, "-c", GLOBAL_PROVIDER_SCRIPT], capture_output=True, text=True, cwd=REPO,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "refused: endpoint: a global tracer provider is already set (trace.set_tracer_provider or "
        "opentelemetry-instrument); ringbolt uses it, configure its exporter there",
        "inner INTERNAL None", "GET /hello/{name} SERVER /hello/{name}"]


def test_without_the_extra_the_error_names_it() -> None:
    """Without the OpenTelemetry packages, enable_tracing says which extra to install
    (the rest of ringbolt imports without them)."""
    code = ("import sys; sys.modules['opentelemetry'] = None\n"
            "from ringbolt import App\n"
            "try:\n    App().enable_tracing()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'ringbolt[otel]'" in out.stdout


def test_a_response_status_is_read_as_the_server_answers_it() -> None:
    from ringbolt.tracing import status_of
    answers = ({}, [], "s", b"b", None, ("x", 418), ("x", 201, {}), ("x", HTTPStatus.ACCEPTED), Response("x", 302),
               ("x", "200"), ("x",))
    assert [status_of(r) for r in answers] == [200, 200, 200, 200, 204, 418, 201, 202, 302, 500, 500]
