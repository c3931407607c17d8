"""``FastAPI(telemetry={...})``: FastAPI's own tracing on ringbolt.fastapi. The same app
is made with FastAPI's imports (the reference: it must be installed) and with
ringbolt.fastapi's, each with an in-memory exporter; the same requests (over a real
socket for ringbolt) must give the same spans: names, kinds, which is whose parent, the
route, ``code.function.name``, ``error.type``. Without a provider, or with ``tracing``
False, no span is made."""

from typing import Any

import pytest

pytest.importorskip("fastapi", reason="FastAPI itself is the reference these spans are compared with")
pytest.importorskip("opentelemetry.sdk", reason="the otel extra: tools/install-deps.sh installs it")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


def make(fastapi: Any, responses: Any, telemetry: dict[str, Any]) -> Any:
    app = fastapi.FastAPI(telemetry=telemetry)

    def token(x_token: str = fastapi.Header(default="ok")) -> str:
        if x_token == "boom":
            raise RuntimeError("dependency failed")
        return x_token

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, token: str = fastapi.Depends(token)) -> dict[str, Any]:
        return {"item_id": item_id, "token": token}

    @app.get("/plain")
    def plain() -> Any:
        return responses.PlainTextResponse("hello")

    @app.get("/fail")
    def fail() -> None:
        raise ValueError("handler failed")

    @app.get("/refuse")
    def refuse() -> None:
        raise fastapi.HTTPException(404, "nope")
    return app


REQUESTS = [("/items/3", {}), ("/items/x", {}), ("/plain", {}), ("/fail", {}), ("/refuse", {}),
            ("/items/4", {"x-token": "boom"})]


def spans(fastapi: Any, responses: Any, client_cls: Any, telemetry: dict[str, Any], path: str,
          headers: dict[str, str]) -> list[tuple[Any, ...]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = {**telemetry, "tracer_provider": provider} if telemetry.get("tracing", True) else telemetry
    app = make(fastapi, responses, {**config, "metrics": False, "logs": False})
    with client_cls(app, raise_server_exceptions=False) as client:
        client.get(path, headers=headers)
    provider.force_flush()
    found = exporter.get_finished_spans()
    by_id = {s.context.span_id: s.name for s in found}
    out = []
    for s in found:
        attrs = dict(s.attributes or {})
        out.append((s.name, str(s.kind), by_id.get(s.parent.span_id) if s.parent else None,
                    attrs.get("code.function.name", "").rsplit(".", 1)[-1], attrs.get("http.route"),
                    attrs.get("http.response.status_code"), attrs.get("error.type"), str(s.status.status_code)))
    provider.shutdown()
    return sorted(out, key=str)


@pytest.mark.parametrize("telemetry", [{}, {"operation_spans": False}, {"tracing": False}])
@pytest.mark.parametrize("path,headers", REQUESTS)
def test_spans_are_fastapis(telemetry: dict[str, Any], path: str, headers: dict[str, str]) -> None:
    import fastapi
    import fastapi.responses
    from fastapi.testclient import TestClient as Reference

    import ringbolt.fastapi
    import ringbolt.fastapi.responses
    from ringbolt.fastapi.testclient import TestClient

    want = spans(fastapi, fastapi.responses, Reference, telemetry, path, headers)
    got = spans(ringbolt.fastapi, ringbolt.fastapi.responses, TestClient, telemetry, path, headers)
    assert got == want
    assert bool(want) == (telemetry.get("tracing", True) is not False)


def test_no_provider_no_span_and_no_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process set no SDK provider (the API's default, which records nothing) and the
    app names none: nothing is traced, and the routes run without a wrapper."""
    from opentelemetry import trace

    import ringbolt.fastapi
    from ringbolt.fastapi.testclient import TestClient

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    app = make(ringbolt.fastapi, ringbolt.fastapi.responses, {})
    with TestClient(app) as client:
        assert client.get("/items/1").json() == {"item_id": 1, "token": "ok"}
    assert app._tracing is None and app._rb_operations is None


@pytest.mark.parametrize("config,error", [
    ({"sampling": 1}, "telemetry= has no 'sampling'"),
    ({"exclude": lambda scope: True}, "reads each request's ASGI scope"),
    ("on", "telemetry= takes a dict"),
])
def test_bad_config_is_refused(config: Any, error: str) -> None:
    import ringbolt.fastapi

    with pytest.raises(TypeError, match=error):
        ringbolt.fastapi.FastAPI(telemetry=config)


def test_what_is_left_no_metrics_are_made() -> None:
    """docs/from-fastapi.md, what is left: FastAPI's telemetry also records request
    metrics (``http.server.request.duration``...) into its meter provider; ringbolt.fastapi
    makes none (its logs neither)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    import fastapi
    import fastapi.responses
    from fastapi.testclient import TestClient as Reference

    import ringbolt.fastapi
    import ringbolt.fastapi.responses
    from ringbolt.fastapi.testclient import TestClient

    made = []
    for module, responses, client_cls in ((fastapi, fastapi.responses, Reference),
                                          (ringbolt.fastapi, ringbolt.fastapi.responses, TestClient)):
        reader = InMemoryMetricReader()
        meters = MeterProvider(metric_readers=[reader])
        app = make(module, responses, {"meter_provider": meters, "tracing": False, "logs": False})
        with client_cls(app) as client:
            assert client.get("/items/1").status_code == 200
        data = reader.get_metrics_data()
        made.append(sorted({m.name for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics
                            for m in sm.metrics}))
        meters.shutdown()
    theirs, ours = made
    assert "http.server.request.duration" in theirs and ours == []
