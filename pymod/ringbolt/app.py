"""The App: route registration with decorators, the features and mounts it serves,
and the routes' pipelines built when it starts; serving them (``run``, workers, signals,
drain) is ``serving/app_server.py``'s mixin."""

from __future__ import annotations

import inspect
import os
import threading
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping

from . import _native
from .serving.app_server import AppServer, Handler
from .serving.app_server import _ensure_logging as _ensure_logging  # (the CLI's and reloader's import path)
from .serving.app_server import _freeze_startup_heap as _freeze_startup_heap
from .serving.app_server import resolve_workers as resolve_workers
from .typed.depends import AppDependencies
from .typed.plan import RoutePlan
from .typed.problem import RequestValidationError
from ._error_log import log_failure
from .openapi.pages import OpenAPIApp
from ._app_services import ServiceFeatures
from ._static import check_static
from .caching import Cache, ResponseCache
from .features import ResponseFeatures
from .rate_limit import AppRateLimit, RateLimit, RedisLimit, resolve
from .routing import ErrorPolicy, H, RouteGroup, _shape, build_pipeline

if TYPE_CHECKING:
    from .health import HealthProbes


class App(RouteGroup, OpenAPIApp, ServiceFeatures, AppServer):
    """A ringbolt application.

    >>> app = App()
    >>> @app.get("/users/{uid:int}")
    ... def user(req):
    ...     return {"id": req.params["uid"]}
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        json_default: Callable[[Any], Any] | None = None,
        title: str = "ringbolt",
        version: str = "0.1.0",
        summary: str | None = None,
        description: str | None = None,
        openapi_url: str | None = "/openapi.json",
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        openapi_tags: list[dict[str, Any]] | None = None,
        servers: list[dict[str, Any]] | None = None,
        terms_of_service: str | None = None,
        contact: dict[str, Any] | None = None,
        license_info: dict[str, Any] | None = None,
        swagger_ui_parameters: dict[str, Any] | None = None,
        swagger_ui_init_oauth: dict[str, Any] | None = None,
        conventions: str = "ringbolt",
    ) -> None:
        """``debug=True``: an unhandled exception answers a 500 problem whose ``detail``
        names it and whose ``traceback`` member holds the traceback (never in
        production: it shows code paths to clients).

        ``json_default``: called with each value of a returned dict/list (or Response
        body, HTTPError detail) that the JSON writer does not know; its result is written
        instead (see docs/json.md). Anything still unknown is a TypeError: a 500.

        The OpenAPI document (docs/openapi.md), FastAPI's options: ``title``,
        ``version``, ``summary``, ``description``, ``openapi_tags``, ``servers``,
        ``terms_of_service``, ``contact``, ``license_info`` go into it; it is served at
        ``openapi_url`` (None: no document and no pages), Swagger UI at ``docs_url``
        (with ``swagger_ui_parameters``, ``swagger_ui_init_oauth``) and ReDoc at
        ``redoc_url`` (None: that page off).

        ``conventions``: ``"ringbolt"`` (RFC 9457 problem bodies for errors) or
        ``"fastapi"``: FastAPI's (``{"detail": ...}`` error bodies, its redirects and
        return encoding, its OpenAPI document's error schemas), as ``ringbolt.fastapi``'s
        ``FastAPI`` sets it. Read when routes are planned and when the app starts, never
        per request."""
        if conventions not in ("ringbolt", "fastapi"):
            raise ValueError(f"conventions must be 'ringbolt' or 'fastapi', not {conventions!r}")
        self.conventions = conventions
        #: a path no route takes whose twin with the trailing slash toggled one does is
        #: answered 307 to the twin (Starlette's ``redirect_slashes``), natively
        self.redirect_slashes = conventions == "fastapi"
        super().__init__()
        self._init_openapi(title=title, version=version, summary=summary, description=description,
                           openapi_url=openapi_url, docs_url=docs_url, redoc_url=redoc_url, openapi_tags=openapi_tags,
                           servers=servers, terms_of_service=terms_of_service, contact=contact,
                           license_info=license_info, swagger_ui_parameters=swagger_ui_parameters,
                           swagger_ui_init_oauth=swagger_ui_init_oauth)
        if not isinstance(debug, bool):
            raise TypeError(f"debug must be True or False, not {debug!r}")
        if json_default is not None and not callable(json_default):
            raise TypeError(f"json_default must be callable, not {type(json_default).__name__}")
        self.debug = debug
        self.json_default = json_default
        # by exception class; under FastAPI's conventions also by an HTTPError's status (int)
        self._exception_handlers: dict[type[BaseException] | int, Callable[..., Any]] = {}
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._server: _native.Server | None = None
        self._lock = threading.Lock()
        self._metrics_path: str | None = None
        self._runner: Any = None
        self._asgi: Any = None  # ringbolt.asgi.ASGIHandler: takes what no route takes
        self._lifespan: Any = None
        self._wsgi: Any = None  # ringbolt.wsgi.WSGIHandler: takes what no route takes, on the handler pool
        self._wsgi_threads: int | None = None
        self._features = ResponseFeatures()  # enable_compression/cors/request_id/security_headers
        self._statics: list[tuple[str, str, str, str, bool, bool]] = []
        self._health: HealthProbes | None = None
        self._dependencies = AppDependencies()  # dependency_overrides and scope="app" values
        self._rate_limit: AppRateLimit | None = None
        self._tracing: Any = None  # ringbolt.tracing.Tracing once enable_tracing() made one
        self.cache = ResponseCache()  # routes' cache= store and invalidation by tag (docs/caching.md)
        #: set by a test client while it serves the app (ringbolt.fastapi.testclient): its
        #: ``http(fn, is_async)`` and ``websocket(fn)`` wrap each route when the app starts, to
        #: hand what a request raised to the client that sent it; None: nothing is wrapped
        self._route_wrapper: Any = None
        #: (prefix, App) of the apps mounted on this one (``ringbolt.fastapi``'s ``mount``):
        #: their routes are served under the prefix, each planned and answered as its own
        #: app plans and answers them
        self._mounted_apps: list[tuple[str, App]] = []

    @property
    def dependency_overrides(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        """``{dependency: replacement}``: typed routes call the replacement (with its own
        parameters) instead, from the next request on (for tests, as FastAPI's)."""
        return self._dependencies.overrides

    @dependency_overrides.setter
    def dependency_overrides(self, value: Mapping[Callable[..., Any], Callable[..., Any]] | None) -> None:
        held = self._dependencies.overrides
        new = dict(value or {})  # None: no overrides (FastAPI's tests reset them so)
        held.clear()
        held.update(new)

    def route_plans(self) -> list[tuple[str, list[str], RoutePlan]]:
        """Every typed route as ``(path, methods, plan)`` (``ringbolt.typed.plan.RoutePlan``):
        what the OpenAPI document is generated from."""
        return [(d.path, d.methods, d.plan) for d in self._defs if d.plan is not None and not d.websocket]

    # ---- routes: route/get/post/.../websocket/middleware/include come from RouteGroup ----
    def exception_handler(self, exc_type: type[BaseException]) -> Callable[[H], H]:
        """Register ``handler(req, exc)`` for exceptions of ``exc_type`` (and its
        subclasses; the most specific registered class wins) raised by a handler or a
        middleware. It returns what a route handler may return. ``HTTPError`` may be
        mapped too (by default it answers its problem+json)."""
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(f"exception_handler() takes an exception class, not {exc_type!r}")

        def decorator(fn: H) -> H:
            if not callable(fn):
                raise TypeError(f"exception handler for {exc_type.__name__} is not callable")
            if exc_type in self._exception_handlers:
                raise ValueError(f"an exception handler for {exc_type.__name__} is already registered")
            self._exception_handlers[exc_type] = fn
            return fn

        return decorator

    def _resolved_routes(self) -> list[tuple[str, list[str], Handler, bool, bool, bool]]:
        """Every route with its pipeline built: (path, methods, handler, const,
        is_coroutine, websocket). Built once per start (and per ASGI app)."""
        errors = ErrorPolicy(dict(self._exception_handlers), self.debug, self.conventions == "fastapi")
        # A handler for RequestValidationError (or a class above it): typed routes raise
        # it; else they answer their 422 directly (cheaper than raising).
        raise_invalid = any(cls in errors.handlers for cls in RequestValidationError.__mro__)
        out: list[tuple[str, list[str], Handler, bool, bool, bool]] = []
        in_redis: dict[int, RedisLimit] = {}  # id(RateLimit): its Redis check, one per limit
        #: each route's own rate limit, in the order of ``out`` (for ``_build``)
        self._resolved_limits: list[RateLimit | bool | None] = []
        taken: set[tuple[str, str]] = set()
        for d in self._defs:
            if d.plan is not None:  # a typed route: its plan compiled (the typed layer's runner, imported by such apps)
                from .typed.runner import build_runner
            methods = d.methods
            if not d.path.startswith("/"):
                continue  # documented, never served: a FastAPI callback's or webhook's path
            if self._first_route_wins:  # FastAPI's rule: a repeat of an earlier route is never reached
                shape = _shape(d.path)
                if d.websocket:
                    methods = [] if ("WS", shape) in taken else methods
                    taken.add(("WS", shape))
                else:
                    methods = [m for m in methods if (m, shape) not in taken]
                    taken.update((m, shape) for m in methods)
                if not methods:
                    continue
            self._resolved_limits.append(d.rate_limit)
            limit = resolve(d.rate_limit, d.path, self._rate_limit)
            if limit is not None and limit.redis is not None and (d.const or d.websocket):
                raise ValueError(f"route {d.path}: a Redis rate limit runs in Python, and a const or WebSocket "
                                 "route never does (give it a native limit, or rate_limit=False)")
            if d.const and any(d.scopes):
                guards = ", ".join(getattr(mw, "__qualname__", repr(mw)) for scope in d.scopes for mw in scope)
                raise ValueError(f"route {' '.join(d.methods)} {d.path}: a const route is answered natively and "
                                 f"would skip its router's middleware ({guards}), which may refuse requests: "
                                 "drop const=True or register the route outside that router")
            if d.const or d.websocket:
                handler = d.handler
                if d.websocket and d.plan is not None:  # a typed endpoint (ringbolt.fastapi's)
                    from .websocket import typed_endpoint

                    handler = typed_endpoint(build_runner(d.plan, self._dependencies, True, self))
                if d.websocket and self._route_wrapper is not None:
                    handler = self._route_wrapper.websocket(handler)
                out.append((d.path, methods, handler, d.const, inspect.iscoroutinefunction(d.handler), d.websocket))
                continue
            chain = [*self._middleware, *(mw for scope in d.scopes for mw in scope)]
            spec: Cache | None = d.options.get("cache") if d.options is not None else None
            etag = bool(d.options.get("etag")) if d.options is not None else False
            custom = d.options.get("route_class") if d.options is not None else None
            if d.plan is None:
                handler = d.handler
            elif custom is not None and getattr(custom, "_rb_custom", False):  # a route_class's get_route_handler
                handler = custom._rb_route_handler(d, build_runner(d.plan, self._dependencies, True, self), self)
                spec, etag = None, False
            else:  # a cached typed route: its cache between its dependencies (guards) and its handler
                gate = self._cache_gate(d.plan, d.path, spec) if spec is not None else None
                handler = build_runner(d.plan, self._dependencies, raise_invalid, self, gate)
                if gate is not None:
                    spec, etag = None, False  # (its ETags come with its cache; etag=True alone: around it)
            if spec is not None or etag:
                handler = self._cache_around(handler, d.path, spec, etag)
            tracing = self._tracing
            if tracing is not None and (chain or errors.handlers or errors.debug):
                handler = tracing.record_exceptions(handler)  # what the pipeline may turn into an answer
            fn, is_async = build_pipeline(d.path, handler, chain, errors, self.conventions == "fastapi")
            if limit is not None and limit.redis is not None:
                if id(limit) not in in_redis:
                    shared = self._rate_limit is not None and limit is self._rate_limit.limit
                    in_redis[id(limit)] = RedisLimit(limit, "app" if shared else d.path)
                fn = in_redis[id(limit)].wrap(fn, is_async)
            if tracing is not None:  # a span per request only with tracing on: else no wrapper
                fn = tracing.server_span(d.path, fn, is_async)
            if self._route_wrapper is not None:
                fn = self._route_wrapper.http(fn, is_async)
            out.append((d.path, methods, fn, False, is_async, False))
        for prefix, sub in self._mounted_apps:  # each with its own handlers, middleware and document
            under = self._served_root() + prefix  # the path its document is served under
            for path, methods, fn, const, is_async, websocket in [*sub._resolved_routes(), *sub._docs_routes(under)]:
                if self._route_wrapper is not None and not const:
                    fn = self._route_wrapper.websocket(fn) if websocket else self._route_wrapper.http(fn, is_async)
                out.append((prefix + path, methods, fn, const, is_async, websocket))
                self._resolved_limits.append(False)  # (the mounted app's routes: no limit of this app's)
        return out

    def _docs_routes(self, under: str | None = None) -> list[tuple[str, list[str], Handler, bool, bool, bool]]:
        """The document and its pages: const routes, answered natively; under FastAPI's
        conventions, with app middleware, through it (FastAPI runs its middleware for
        them too), made at each request."""
        docs = self._openapi_routes(under)
        if not (self._middleware and self.conventions == "fastapi"):
            return docs
        errors = ErrorPolicy(dict(self._exception_handlers), self.debug, True)
        out: list[tuple[str, list[str], Handler, bool, bool, bool]] = []
        for path, methods, fn, _const, _is_async, websocket in docs:
            piped, is_async = build_pipeline(path, fn, list(self._middleware), errors, True)
            if self._route_wrapper is not None:
                piped = self._route_wrapper.http(piped, is_async)
            out.append((path, methods, piped, False, is_async, websocket))
        return out

    def _static_mounts(self) -> list[tuple[str, str, str, str, bool, bool]]:
        """The static directories served natively: the app's, its docs pages' assets, and
        those of the apps mounted on it under their prefix."""
        out = [*self._statics, *self._openapi_statics()]
        for prefix, sub in self._mounted_apps:
            out += [(prefix + m[0] if m[0] != "/" else prefix, *m[1:]) for m in sub._static_mounts()]
        return out

    def _cache_around(self, handler: Handler, path: str, spec: Cache | None, etag: bool) -> Handler:
        """A plain route's handler with its response cache and ETags, or a typed route's
        runner with ETags only (ringbolt._cached_route)."""
        from ._cached_route import wrap_handler
        store = None if spec is None else spec.store or self.cache.store
        return wrap_handler(handler, inspect.iscoroutinefunction(handler), spec, etag, store, path, self.json_default)

    def _cache_gate(self, plan: RoutePlan, path: str, spec: Cache) -> Any:
        """A typed route's cache, which its runner calls after every dependency."""
        from ._cached_route import route_gate
        return route_gate(plan, spec, spec.store or self.cache.store, path, self.json_default)

    # ---- lifecycle ----
    def on_startup(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn`` once before serving (an exception stops the server)."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn`` once after the server has drained."""
        self._shutdown.append(fn)
        return fn

    def mount_asgi(self, app: Any, *, lifespan: str = "auto", root_path: str = "") -> None:
        """Serve the ASGI 3 application ``app`` for every request no ringbolt route
        takes (any path, any method). Its lifespan (``"auto"``, ``"on"`` or ``"off"``)
        runs on the worker's event loop, the one its requests run on."""
        if self._asgi is not None or self._wsgi is not None:
            raise ValueError("an ASGI or WSGI application is already mounted")
        if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
            raise ValueError(f"root_path must start with '/' and not end with one: {root_path!r}")
        from .serving.asgi_server import ASGIHandler, Lifespan  # (imported by the apps that mount one)

        self._asgi = ASGIHandler(app, root_path=root_path)
        self._lifespan = Lifespan(app, lifespan, self._asgi.state)

    def mount_wsgi(self, app: Any, *, threads: int | None = None, root_path: str = "") -> None:
        """Serve the WSGI (PEP 3333) application ``app`` for every request no ringbolt
        route takes (any path, any method). It runs on the worker's handler pool, never
        on a reactor thread: ``threads`` per worker (default: twice the CPUs available,
        4 to 32; see ``ringbolt.wsgi.default_threads``). The pool is shared with every
        sync route of this App. ``root_path`` is the environ's ``SCRIPT_NAME``."""
        if self._asgi is not None or self._wsgi is not None:
            raise ValueError("an ASGI or WSGI application is already mounted")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
            raise ValueError(f"root_path must start with '/' and not end with one: {root_path!r}")
        from .serving.wsgi_server import WSGIHandler  # (imported by the apps that mount one)

        self._wsgi = WSGIHandler(app, root_path=root_path)
        self._wsgi_threads = threads

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The App as an ASGI 3 application: ``uvicorn main:app`` serves it too (a
        pure-Python path with the same routes, requests and answers; ringbolt's own
        server is the fast one)."""
        await _serve_asgi(self, scope, receive, send)

    def static(
        self,
        prefix: str,
        directory: str | os.PathLike[str],
        *,
        index: str | None = "index.html",
        cache_control: str | None = None,
        precompressed: bool = True,
        dotfiles: bool = False,
    ) -> None:
        """Serve the files under ``directory`` at ``prefix`` (GET and HEAD), natively: no
        Python per request. See docs/static.md (validators, ranges, precompressed
        ``.zst``/``.br``/``.gz`` siblings, index files, what is refused)."""
        mount = check_static(prefix, directory, index, cache_control, precompressed, dotfiles)
        if any(m[0] == mount[0] for m in self._statics):
            raise ValueError(f"a static directory is already mounted at {prefix!r}")
        self._statics.append(mount)

    def enable_metrics(self, path: str = "/metrics") -> None:
        """Serve per-core counters and per-route latency histograms in Prometheus text
        format at ``path`` (GET), answered natively by the reactors, never by Python."""
        if not path.startswith("/"):
            raise ValueError(f"metrics path must start with '/': {path!r}")
        self._metrics_path = path

    # ---- native response features (no Python per request; see docs/middleware-native.md) ----
    def enable_compression(
        self,
        min_size: int = 1024,
        algorithms: Iterable[str] = ("zstd", "br", "gzip"),
        level: int | Mapping[str, int] | None = None,
        *,
        exclude_types: Iterable[str] = (),
    ) -> None:
        """Compress response bodies of ``min_size`` bytes or more with the best coding
        the client's ``Accept-Encoding`` allows (``algorithms`` in the server's order of
        preference among equal q-values). ``level``: one int for every algorithm, a dict
        per algorithm, or None: automatic, by CPU per byte saved (whole bodies under 32
        KiB ringbolt's fast modes, gzip first among equal q; up to 64 KiB and streamed
        pieces zstd 3, br 1, gzip 1; larger bodies zstd 3, br 4, gzip 6; see
        docs/middleware-native.md). Streamed
        responses are compressed piece by piece, each flushed. Never compressed: images
        (but SVG), audio, video, archives, ``application/octet-stream``, the media types
        in ``exclude_types``, file responses, HEAD/204/304/206, and bodies the handler
        already set ``Content-Encoding`` on."""
        self._features.set_compression(min_size, algorithms, level, exclude_types)

    def enable_cors(
        self,
        allow_origins: str | Iterable[str] = (),
        allow_methods: str | Iterable[str] = ("GET", "HEAD", "POST"),
        allow_headers: str | Iterable[str] = (),
        allow_credentials: bool = False,
        expose_headers: str | Iterable[str] = (),
        max_age: int | None = 600,
    ) -> None:
        """Answer CORS preflights natively (204, or 403 with a problem+json reason) and
        add the CORS headers to the responses of allowed origins. Origins are exact
        (``"https://app.example.com"``), ``"*"``, or ``"https://*.example.com"`` for any
        subdomain. With ``allow_credentials`` the origin is echoed (never ``*``)."""
        self._features.set_cors(allow_origins, allow_methods, allow_headers, allow_credentials, expose_headers,
                                max_age)

    def enable_request_id(self, header: str = "X-Request-ID") -> None:
        """Give every request an id: the client's ``header`` when it is 1-128 safe
        characters (letters, digits, ``._:+/=@-``), else 32 new hex digits. It is echoed in
        the response and is ``req.request_id`` in handlers."""
        if not isinstance(header, str) or not header:
            raise ValueError(f"header must be a header name, not {header!r}")
        self._features.request_id = header

    def enable_security_headers(
        self,
        *,
        content_type_options: bool = True,
        frame_options: str | None = "DENY",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        hsts: bool | int = False,
        hsts_include_subdomains: bool = False,
        hsts_preload: bool = False,
        content_security_policy: str | None = None,
        cross_origin_opener_policy: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """Add security headers to every response (a handler's own value of one wins):
        ``X-Content-Type-Options: nosniff``, ``X-Frame-Options``, ``Referrer-Policy`` by
        default; ``Strict-Transport-Security`` only with ``hsts`` (True: one year, or a
        max-age in seconds); CSP and COOP when given; ``extra`` for any other."""
        self._features.set_security(content_type_options=content_type_options, frame_options=frame_options,
                                    referrer_policy=referrer_policy, hsts=hsts,
                                    hsts_include_subdomains=hsts_include_subdomains, hsts_preload=hsts_preload,
                                    content_security_policy=content_security_policy,
                                    cross_origin_opener_policy=cross_origin_opener_policy, extra=extra or {})

    def _unmatched(self) -> tuple[Handler, bool] | None:
        """``(handler, is_async)`` for the requests no route takes, when no ASGI/WSGI app is
        mounted; None: the router answers them itself (404, 405, natively).
        ``ringbolt.fastapi`` gives one when the app has exception handlers for them."""
        return None


async def _serve_asgi_first(app: App, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The first scope an App gets under another server imports the ASGI adapter (a
    worker of ringbolt's own server never does) and puts its entry in ``_serve_asgi``'s
    place: the scopes after it call that directly."""
    global _serve_asgi
    from .serving.asgi_app import serve_scope

    _serve_asgi = serve_scope
    await serve_scope(app, scope, receive, send)


_serve_asgi: Callable[[App, dict[str, Any], Any, Any], Awaitable[None]] = _serve_asgi_first


def _log_exception(exc: BaseException, method: str, target: str) -> None:
    log_failure(exc, "Exception in handler for %s %s", method, target)  # the first of its kind in full
