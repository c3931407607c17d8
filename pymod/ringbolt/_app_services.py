"""What ``App`` offers a production service around its routes, configured once before
it starts (docs/health.md, rate-limits.md, tracing.md, sessions.md): health probes, the
app's rate limit, OpenTelemetry tracing, sessions and CSRF. A mixin of ``App``: each
method records its choice on the app (``_health``, ``_rate_limit``, ``_tracing``,
``_shutdown``), which ``App`` reads when it builds its routes and starts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Unpack

from .rate_limit import AppRateLimit, RateLimit

if TYPE_CHECKING:
    from .health import HealthOptions, HealthProbes
    from .security.csrf import CSRF
    from .security.sessions import Sessions


class ServiceFeatures:
    _health: HealthProbes | None
    _rate_limit: AppRateLimit | None
    _tracing: Any
    _shutdown: list[Callable[[], Any]]

    def health(self, **options: Unpack[HealthOptions]) -> HealthProbes:
        """Serve health probes, answered natively by the reactors (no Python per probe;
        docs/health.md): ``live`` is 200 while the process serves; ``startup`` is 503
        until the startup hooks and lifespan have completed (the server listens while they
        run, and answers other requests 503 meanwhile), then 200; ``ready`` is 200 only
        when started, not stopping, and every check's last result passed. A path of None
        turns that probe off.

        ``checks``: names to callables (sync or async, no arguments; one passes unless it
        raises or returns False), run every ``interval`` seconds on a thread of their own
        (async ones on the worker's event loop), never per probe; one that takes longer
        than ``timeout`` counts as failed. ``drain_delay``: on SIGTERM/SIGINT ready turns
        503 at once and the server keeps serving (new connections too) for this many
        seconds before its drain begins, so load balancers stop sending first."""
        if self._health is not None:
            raise ValueError("health probes are already configured")
        from .health import HealthProbes  # (the apps with probes only)

        self._health = HealthProbes(**options)
        return self._health

    def rate_limit(
        self,
        limit: str,
        *,
        key: str = "client",
        algorithm: str = "sliding_window",
        headers: bool = True,
        table_size: int = 65536,
        paths: Iterable[str] | None = None,
        redis: str | None = None,
    ) -> RateLimit:
        """Limit the requests of each client (``key``) to ``limit`` (``"5/minute"``,
        ``"100 per hour"``, ``"3/2s"``), checked natively before any Python runs: past it
        the answer is 429 with ``Retry-After`` and the ``RateLimit-*`` headers
        (docs/rate-limits.md). Every route it covers counts against this one limit
        together, across all workers: the routes under the ``paths`` prefixes, or (None)
        every route and the mounted ASGI/WSGI app. A route's own ``rate_limit=`` replaces
        it (``False``: none). ``key``, ``algorithm``, ``headers``, ``table_size`` and
        ``redis`` (counted in Redis, across machines): see ``ringbolt.RateLimit``."""
        if self._rate_limit is not None:
            raise ValueError("the app's rate limit is already configured (routes take their own with rate_limit=)")
        limit_obj = RateLimit(limit, key=key, algorithm=algorithm, headers=headers, table_size=table_size, redis=redis)
        self._rate_limit = AppRateLimit(limit_obj, paths)
        return limit_obj

    def enable_tracing(
        self,
        tracer_provider: Any = None,
        *,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        service_name: str | None = None,
        timeout: float | None = None,
        flush_timeout: float = 5.0,
    ) -> Any:
        """Trace every request a route's handler answers with OpenTelemetry (docs/tracing.md;
        the ``otel`` extra): one SERVER span each, named "{method} {route}", continuing the
        client's W3C ``traceparent``/``tracestate``, with the HTTP semantic-convention
        attributes; the handler runs with it as the current span, so the app's own spans
        are its children. Without this call no route has a wrapper: tracing costs nothing.

        ``tracer_provider``: the provider to use; None: the global one if the process set
        one (``opentelemetry-instrument``, ``trace.set_tracer_provider``), else ringbolt
        makes an SDK ``TracerProvider`` exporting over OTLP through a
        ``BatchSpanProcessor`` and sets it as the global one. The OTEL_* variables
        configure it (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER,
        ...); ``endpoint`` (as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), ``protocol``
        ("http/protobuf" or "grpc"), ``headers``, ``service_name`` and ``timeout``
        (seconds per export) take their place. Each stop flushes the provider, after the
        drain and the shutdown hooks, for ``flush_timeout`` seconds at most. Returns the
        provider. OTEL_SDK_DISABLED=true leaves tracing off."""
        if self._tracing is not None:
            raise ValueError("tracing is already enabled")
        from . import tracing  # the otel extra, imported only when asked for

        self._tracing = tracing.set_up(tracer_provider, endpoint=endpoint, protocol=protocol, headers=headers,
                                       service_name=service_name, timeout=timeout, flush_timeout=flush_timeout)
        return self._tracing.provider if self._tracing is not None else None

    def add_sessions(self, secret_keys: Any, **options: Any) -> Sessions:
        """Signed cookie sessions (or Redis-backed with ``store=RedisStore(...)``): a
        ``ringbolt.sessions.Sessions`` that routes take as ``Depends(sessions)`` (see
        docs/sessions.md for the options). Routes that do not take it pay nothing. Its
        store's connections are closed at shutdown."""
        from .security.sessions import Sessions

        sessions = Sessions(secret_keys, **options)
        self._shutdown.append(sessions.close)
        return sessions

    def add_csrf(self, sessions: Sessions, **options: Any) -> CSRF:
        """A ``ringbolt.csrf.CSRF`` check over ``sessions`` (docs/sessions.md): routes take
        it as ``Depends(csrf)`` or a router as ``csrf.middleware``."""
        from .security.csrf import CSRF

        return CSRF(sessions, **options)
