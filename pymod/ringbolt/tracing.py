"""OpenTelemetry tracing (``app.enable_tracing``): one SERVER span per request a route's
handler answers, continuing the W3C ``traceparent``/``tracestate`` the client sent, with
the stable HTTP semantic-convention attributes; the handler runs with the span as the
current one, so the app's own spans are its children. Exported by the OpenTelemetry
SDK (an OTLP exporter behind a BatchSpanProcessor) and flushed when the server stops.

The wrapper that makes the span is put around a route's pipeline once, at start-up, and
only when tracing is enabled: with it off no route has one (docs/tracing.md). Needs the
``otel`` extra: ``pip install 'ringbolt[otel]'``."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable, Mapping

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.propagate import extract
    from opentelemetry.propagators.textmap import Getter
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
except ImportError as exc:  # pragma: no cover - the message is what is tested
    raise ImportError(
        "ringbolt.tracing needs the OpenTelemetry SDK: pip install 'ringbolt[otel]' "
        f"(opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http); {exc}") from exc

from ._version import __version__
from .errors import HTTPError
from .openapi import openapi_path
from .routing import _is_async

logger = logging.getLogger("ringbolt")

Handler = Callable[[Any], Any]

#: RFC 9110's methods and PATCH (RFC 5789): the semantic conventions' known methods. Any
#: other is "_OTHER", its name in ``http.request.method_original``, its span "HTTP {route}".
KNOWN_METHODS = frozenset(("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"))
PROTOCOLS = ("http/protobuf", "grpc")
#: Query keys whose values the semantic conventions (url.query) say to redact.
_REDACTED_KEYS = ("AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _HeaderGetter(Getter[Any]):
    """Reads a propagator's fields from ``req.headers`` (case-insensitive; every value of
    a repeated field, so two ``tracestate`` lines are one list, RFC 9110 §5.3)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        if key not in carrier:  # the usual case: one lookup, no walk over the fields
            return None
        values: list[str] = carrier.getlist(key)
        return values

    def keys(self, carrier: Any) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()


def _redact_query(query: str) -> str:
    if not any(key in query for key in _REDACTED_KEYS):
        return query
    out = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        out.append(f"{name}=REDACTED" if eq and name in _REDACTED_KEYS else pair)
    return "&".join(out)


@functools.lru_cache(maxsize=256)  # a server answers to few names: parsed once each
def _server_address(host: str, scheme: str) -> tuple[str, int | None]:
    """The Host (or :authority) field as (address, port); the scheme's port when it names
    none (RFC 9110 §7.2)."""
    if host.startswith("["):  # an IPv6 literal, RFC 3986 §3.2.2
        end = host.find("]")
        name, rest = (host[1:end], host[end + 1:]) if end > 0 else (host, "")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.rpartition(":") if ":" in host else (host, "", "")
    if port_text.isdigit() and len(port_text) <= 5:
        return name, int(port_text)
    return name, _DEFAULT_PORTS.get(scheme)


def request_attributes(req: Any, method_attr: str, route: str) -> dict[str, Any]:
    """The span's attributes known when the request arrives (the sampler sees them)."""
    scheme = req.scheme
    attrs: dict[str, Any] = {
        "http.request.method": method_attr,
        "http.route": route,
        "url.path": req.path,
        "url.scheme": scheme,
        "network.protocol.version": req.http_version,
    }
    if method_attr == "_OTHER":
        attrs["http.request.method_original"] = req.method
    query = req.query_string
    if query:
        attrs["url.query"] = _redact_query(query)
    client = req.client
    if client is not None:
        attrs["client.address"] = client[0]
        attrs["client.port"] = client[1]
    headers = req.headers
    host = req.host
    if host:
        address, port = _server_address(host, scheme)
        attrs["server.address"] = address
        if port is not None:
            attrs["server.port"] = port
    agent = headers.get("user-agent")
    if agent is not None:
        attrs["user_agent.original"] = agent
    return attrs


def status_of(result: Any) -> int:
    """The status the server answers a handler's return value with (the rules of
    pymod/native/bridge/result_conversion.cpp: a dict, list, str or bytes is 200, None
    204, a (body, status[, headers]) tuple its status, a Response its ``status``)."""
    kind = type(result)
    if kind is dict or kind is list or kind is str or kind is bytes:
        return 200
    if result is None:
        return 204
    if kind is tuple:
        return _as_status(result[1]) if len(result) in (2, 3) else 500
    status = getattr(result, "status", None)
    return 200 if status is None else _as_status(status)


def _as_status(status: Any) -> int:
    """An int status (HTTPStatus too) as it is; anything else the server refuses: 500."""
    return int(status) if isinstance(status, int) and not isinstance(status, bool) else 500


def _answered(span: Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:  # a server span's error; a 4xx is the client's (semantic conventions)
        span.set_attribute("error.type", str(status))
        span.set_status(Status(StatusCode.ERROR))


def _failed(span: Span, exc: BaseException, record: bool) -> None:
    """An exception left the pipeline: an HTTPError is the answer it carries; anything
    else the server answers 500 (a cancelled async handler answers nothing)."""
    if isinstance(exc, HTTPError):
        _answered(span, exc.status)
        return
    if record:
        span.record_exception(exc)
    if isinstance(exc, Exception):
        span.set_attribute("http.response.status_code", 500)
    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


_RECORDED = "_ringbolt_recorded"


def _record(exc: Exception) -> None:
    """An exception the handler raised, as an event on the current span, once: the
    middleware or exception handler around it may still turn it into an answer."""
    if isinstance(exc, HTTPError):
        return
    trace.get_current_span().record_exception(exc)
    try:
        setattr(exc, _RECORDED, True)  # the server span's wrapper records it no more
    except AttributeError:  # an exception type without a __dict__
        pass


def _unrecorded(exc: BaseException) -> bool:
    return not getattr(exc, _RECORDED, False)


class _ServerSpan:
    """A SERVER span current while a route's pipeline runs: ``answered`` with what it
    returned, failed with what left it; the context detached and the span ended either way."""

    __slots__ = ("span", "token", "detach")

    def __init__(self, span: Span, token: Any, detach: Callable[[Any], None]) -> None:
        self.span, self.token, self.detach = span, token, detach

    def __enter__(self) -> _ServerSpan:
        return self

    def answered(self, result: Any) -> Any:
        _answered(self.span, status_of(result))
        return result

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc is not None:
                _failed(self.span, exc, _unrecorded(exc))
        finally:
            self.detach(self.token)
            self.span.end()


class Tracing:
    """What ``app.enable_tracing`` set up: the tracer whose spans the routes make, and the
    provider to flush at each stop (``flush_timeout`` seconds at most)."""

    def __init__(self, provider: TracerProvider, flush_timeout: float) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("ringbolt", __version__)
        self.flush_timeout = flush_timeout

    def record_exceptions(self, handler: Handler) -> Handler:
        """``handler`` recording what it raises on the current span: for a route whose
        middleware or exception handlers may turn an exception into an answer."""
        if _is_async(handler):  # as the pipeline will judge it (an object's async __call__ too)
            async def recording_async(req: Any) -> Any:
                try:
                    return await handler(req)
                except Exception as exc:
                    _record(exc)
                    raise

            return recording_async

        def recording(req: Any) -> Any:
            try:
                return handler(req)
            except Exception as exc:
                _record(exc)
                raise

        return recording

    def server_span(self, path: str, fn: Handler, is_async: bool) -> Handler:
        """``fn`` (a route's whole pipeline) inside a SERVER span named "{method}
        {route}", the context the client propagated as its parent, current while ``fn``
        runs (an async ``fn``'s task has a context of its own)."""
        route = openapi_path(path)
        names: dict[str, tuple[str, str]] = {}
        tracer = self.tracer
        attach, detach, set_span = otel_context.attach, otel_context.detach, trace.set_span_in_context
        server = SpanKind.SERVER

        def start(req: Any) -> tuple[Span, Any]:
            method = req.method
            named = names.get(method)
            if named is None:
                known = method in KNOWN_METHODS
                named = names[method] = (f"{method} {route}" if known else f"HTTP {route}",
                                         method if known else "_OTHER")
            parent = extract(req.headers, getter=_GETTER)
            span = tracer.start_span(named[0], parent, server, request_attributes(req, named[1], route),
                                     record_exception=False, set_status_on_exception=False)
            return span, attach(set_span(span, parent))

        if is_async:
            async def traced_async(req: Any) -> Any:
                with _ServerSpan(*start(req), detach) as span:
                    return span.answered(await fn(req))

            return traced_async

        def traced(req: Any) -> Any:
            with _ServerSpan(*start(req), detach) as span:
                return span.answered(fn(req))

        return traced

    def flush(self) -> None:
        """Export what the provider's processors hold (at each stop, after the drain and
        the shutdown hooks). A provider without ``force_flush`` (the API's no-op one) has
        nothing to flush."""
        force_flush = getattr(self.provider, "force_flush", None)
        if force_flush is None:
            return
        if not force_flush(int(self.flush_timeout * 1000)):
            logger.warning("tracing: spans not exported within %.3g s of the stop", self.flush_timeout)


def _sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _exporter(endpoint: str | None, protocol: str | None, headers: Mapping[str, str] | None,
              timeout: float | None) -> Any:
    chosen = (protocol or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
              or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if chosen not in PROTOCOLS:  # from OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL
        raise ValueError(f"OTLP protocol must be one of {', '.join(PROTOCOLS)}, not {chosen!r} "
                         "(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL)")
    kwargs: dict[str, Any] = {"endpoint": endpoint, "headers": dict(headers) if headers is not None else None,
                              "timeout": timeout}
    if chosen == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter
        except ImportError as exc:
            raise ImportError("the OTLP gRPC protocol needs opentelemetry-exporter-otlp-proto-grpc: "
                              "pip install opentelemetry-exporter-otlp-proto-grpc") from exc
        return GRPCExporter(**kwargs)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ImportError("tracing's OTLP exporter needs the otel extra: pip install 'ringbolt[otel]' "
                          "(opentelemetry-exporter-otlp-proto-http)") from exc
    return OTLPSpanExporter(**kwargs)


def _provider(endpoint: str | None, protocol: str | None, headers: Mapping[str, str] | None,
              service_name: str | None, timeout: float | None) -> TracerProvider:
    """An SDK TracerProvider exporting over OTLP through a BatchSpanProcessor: the
    exporter, sampler, limits and resource from the standard OTEL_* variables, the
    arguments given taking their place."""
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError("tracing needs the OpenTelemetry SDK: pip install 'ringbolt[otel]'") from exc
    resource = Resource.create({SERVICE_NAME: service_name} if service_name is not None else {})
    provider = SDKTracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_exporter(endpoint, protocol, headers, timeout)))
    return provider


def _global_is_set() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def set_up(
    tracer_provider: TracerProvider | None,
    *,
    endpoint: str | None,
    protocol: str | None,
    headers: Mapping[str, str] | None,
    service_name: str | None,
    timeout: float | None,
    flush_timeout: float,
) -> Tracing | None:
    """``App.enable_tracing``'s work: the provider chosen or made (None: OTEL_SDK_DISABLED
    is true, and no route gets a wrapper)."""
    exporter_args = {"endpoint": endpoint, "protocol": protocol, "headers": headers, "service_name": service_name,
                     "timeout": timeout}
    for name in ("endpoint", "protocol", "service_name"):
        value = exporter_args[name]
        if value is not None and (not isinstance(value, str) or not value):
            raise TypeError(f"{name} must be a non-empty str, not {value!r}")
    if headers is not None and not (isinstance(headers, Mapping)
                                    and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
        raise TypeError(f"headers must be a mapping of str to str, not {headers!r}")
    for name, seconds in (("timeout", timeout), ("flush_timeout", flush_timeout)):
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                    or not seconds > 0):
            raise ValueError(f"{name} must be a number of seconds more than 0, not {seconds!r}")
    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"OTLP protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    given = [name for name, value in exporter_args.items() if value is not None]
    if _sdk_disabled():
        logger.info("tracing: OTEL_SDK_DISABLED is true, no route is traced")
        return None
    if tracer_provider is not None:
        if given:
            raise ValueError(f"{', '.join(given)}: the exporter of a tracer_provider you pass is yours to "
                             "configure (these options configure the provider ringbolt makes)")
        if not hasattr(tracer_provider, "get_tracer"):
            raise TypeError(f"tracer_provider must be an OpenTelemetry TracerProvider, not {tracer_provider!r}")
        return Tracing(tracer_provider, flush_timeout)
    if _global_is_set():
        if given:
            raise ValueError(f"{', '.join(given)}: a global tracer provider is already set "
                             "(trace.set_tracer_provider or opentelemetry-instrument); ringbolt uses it, "
                             "configure its exporter there")
        return Tracing(trace.get_tracer_provider(), flush_timeout)
    provider = _provider(endpoint, protocol, headers, service_name, timeout)
    trace.set_tracer_provider(provider)  # the handlers' trace.get_tracer(...) spans go there too
    return Tracing(provider, flush_timeout)


__all__ = ["KNOWN_METHODS", "Tracing", "request_attributes", "status_of"]
