"""``FastAPI(telemetry={...})`` on ringbolt: FastAPI's own OpenTelemetry tracing, decided
when the app starts. With a tracer provider (the config's, else the process's global one
once an SDK set it), each request a route answers gets ringbolt's SERVER span
(ringbolt.tracing: "GET /items/{item_id}", the HTTP semantic conventions), and, unless
``operation_spans`` is False, FastAPI's INTERNAL spans under it: ``fastapi.dependencies``
(the parameters read and the dependencies solved), ``fastapi.endpoint`` (the handler) and
``fastapi.serialization`` (its result written), each with ``code.function.name``. They
are put around the route's runner, its handler and its writer when the app starts, only
then: an app without a provider, or with ``tracing`` False, has no wrapper at all.

FastAPI's metrics and logs (``metrics``, ``logs``, ``meter_provider``, ``logger_provider``)
are not made here (docs/from-fastapi.md)."""

from __future__ import annotations

import contextvars
from typing import Any, Callable

#: the keys of FastAPI's TelemetryConfig
KEYS = frozenset(("tracer_provider", "meter_provider", "logger_provider", "tracing", "metrics", "logs",
                  "operation_spans", "auto_configure", "exclude"))


def check_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"telemetry= takes a dict (FastAPI's TelemetryConfig), not {type(config).__name__}")
    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise TypeError(f"telemetry= has no {', '.join(map(repr, unknown))} (it takes {', '.join(sorted(KEYS))})")
    if config.get("exclude") is not None:
        raise TypeError("telemetry={'exclude': ...} reads each request's ASGI scope, which ringbolt.fastapi's routes "
                        "do not make: leave the route out of tracing by serving it from an app without telemetry")
    return dict(config)


def provider_of(config: dict[str, Any]) -> Any:
    """The tracer provider the app's spans go to, or None (tracing off, or no provider:
    the OpenTelemetry API's default one records nothing, so no span is made at all)."""
    if config.get("tracing", True) is False:
        return None
    given = config.get("tracer_provider")
    if given is not None:
        return given
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    found = trace.get_tracer_provider()
    return None if isinstance(found, trace.ProxyTracerProvider) else found


class Operations:
    """FastAPI's operation spans of one app (``tracer``): wrappers made when it starts."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace import StatusCode

        from .._version import __version__
        self.tracer = provider.get_tracer("fastapi", __version__)
        self._attach, self._detach, self._set_span = context.attach, context.detach, trace.set_span_in_context
        self._error = StatusCode.ERROR
        self._current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("rb_fastapi_op", default=None)

    def run(self, run: Callable[[Any], Any], function: Any, is_async: bool) -> Callable[[Any], Any]:
        """A route's runner inside its ``fastapi.dependencies`` span (left for the handler's)."""
        current = self._current
        name = _function_name(function)

        if is_async:
            async def traced_async(req: Any) -> Any:
                if current.get() is not None:  # the runner for dependency_overrides, called by the route's
                    return await run(req)
                with _Request(self, name):
                    return await run(req)
            return traced_async

        def traced(req: Any) -> Any:
            if current.get() is not None:
                return run(req)
            with _Request(self, name):
                return run(req)
        return traced

    def step(self, fn: Callable[..., Any], step: str, is_async: bool) -> Callable[..., Any]:
        """``fn`` (the handler) run as the request's next operation span, ``step``."""
        current = self._current

        if is_async:
            async def stepped_async(*args: Any, **kwargs: Any) -> Any:
                op = current.get()
                if op is not None:
                    op.next(step)
                return await fn(*args, **kwargs)
            return stepped_async

        def stepped(*args: Any, **kwargs: Any) -> Any:
            op = current.get()
            if op is not None:
                op.next(step)
            return fn(*args, **kwargs)
        return stepped


    def writer(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The route's writer, its work the ``fastapi.serialization`` span (none for a
        Response the handler returned: FastAPI sends it as it is)."""
        from ..response import Response
        current = self._current

        def written(result: Any, *args: Any) -> Any:
            op = current.get()
            if op is not None and not isinstance(result, Response):
                op.next("serialization")
            return fn(result, *args)
        return written


class _Request:
    """The operation span open for one request, one at a time, each current while open;
    ``with`` it: the request's operation while the route runs, its span marked by an
    exception that escapes and closed at the end."""

    __slots__ = ("ops", "name", "span", "token", "current")

    def __init__(self, ops: Operations, name: str) -> None:
        self.ops, self.name = ops, name
        self.span: Any = None
        self.token: Any = None
        self.current: Any = None
        self.next("dependencies")

    def __enter__(self) -> _Request:
        self.current = self.ops._current.set(self)
        return self

    def __exit__(self, cls: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc is not None:
                self.failed(exc)
        finally:
            self.ops._current.reset(self.current)
            self.close()

    def next(self, step: str) -> None:
        self.close()
        ops = self.ops
        self.span = ops.tracer.start_span(f"fastapi.{step}", attributes={"code.function.name": self.name},
                                          record_exception=False, set_status_on_exception=False)
        self.token = ops._attach(ops._set_span(self.span))

    def failed(self, exc: BaseException) -> None:
        """FastAPI's: an exception other than a refusal (HTTPException, a validation error)
        marks the open span."""
        if self.span is None or not isinstance(exc, Exception) or _refusal(exc):
            return
        cls = type(exc)
        self.span.set_attribute("error.type", cls.__qualname__ if cls.__module__ == "builtins"
                                else f"{cls.__module__}.{cls.__qualname__}")
        self.span.set_status(self.ops._error)

    def close(self) -> None:
        if self.span is not None:
            self.ops._detach(self.token)
            self.span.end()
            self.span = self.token = None


def _refusal(exc: BaseException) -> bool:
    from ..errors import HTTPError
    from .exceptions import RequestValidationError
    return isinstance(exc, (HTTPError, RequestValidationError))


def _function_name(fn: Any) -> str:
    module = getattr(fn, "__module__", None) or type(fn).__module__
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qualname}"


__all__ = ["KEYS", "Operations", "check_config", "provider_of"]
