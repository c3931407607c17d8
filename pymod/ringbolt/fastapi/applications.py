"""``FastAPI``: ringbolt's ``App`` with FastAPI's constructor, its conventions
(``conventions="fastapi"``: ``{"detail": ...}`` error bodies, redirects, return encoding,
the OpenAPI document's error schemas) and its app-level calls: ``exception_handler``
with a Starlette-style ``(request, exc)`` handler (by class or by status code),
``middleware("http")``, ``add_middleware`` for the middleware ringbolt runs itself,
``on_event``, ``mount``, ``state``, ``routes``, ``router``, ``url_path_for``,
``add_api_route``, ``websocket``, ``root_path``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import sys
import warnings
from typing import Any, Callable, Sequence

from ..app import App
from ._mounts import mount as _mount
from ._mounts import url_path_for as _url_path_for
from ._route_class import RouteClassMixin, routes_of
from .datastructures import State
from .exceptions import FastAPIDeprecationWarning
from .requests import request_of
from ._telemetry import Operations, check_config, provider_of
from ._body_limit import check_form_limits
from .routing import APIRouter, _FastAPIRoutes, check_max_body_size
from .websockets import add_websocket

logger = logging.getLogger("ringbolt")

_ON_EVENT = ("on_event is deprecated, use lifespan event handlers instead.\n\nRead more about it in the "
             "[FastAPI docs for Lifespan Events](https://fastapi.tiangolo.com/advanced/events/).")


_CONVERTER = {"str": "[^/]+", "path": ".*", "int": "-?[0-9]+", "float": "-?[0-9]+(?:\\.[0-9]+)?",
              "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"}


def _path_regex(pattern: str) -> "re.Pattern[str]":
    """A route's path as a regular expression (for the methods a path takes)."""
    out, pos = [], 0
    for m in re.finditer(r"\{[A-Za-z_][A-Za-z0-9_]*(?::([^{}]*))?\}", pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        out.append(_CONVERTER.get(m.group(1) or "str", "[^/]+"))
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


class NoMatchFound(Exception):
    """``url_path_for`` found no route of that name taking those parameters (Starlette's)."""

    def __init__(self, name: str, path_params: dict[str, Any]) -> None:
        params = ", ".join(list(path_params.keys()))
        super().__init__(f'No route exists for name "{name}" and params "{params}".')


class URLPath(str):
    """A path ``url_path_for`` made (Starlette's ``URLPath``: a str with ``make_absolute_url``)."""

    protocol = "http"
    host = ""

    def make_absolute_url(self, base_url: Any) -> Any:
        from .datastructures import URL
        base = URL(str(base_url))
        return base.replace(path=base.path.rstrip("/") + str(self))


class FastAPI(RouteClassMixin, _FastAPIRoutes, App):
    """A ringbolt app that behaves as a FastAPI app (see the module's docstring)."""

    _plain_handlers = False  # FastAPI plans every handler: def h(item_id) takes a value

    def __init__(self, *, debug: bool = False, routes: Sequence[Any] | None = None, title: str = "FastAPI",
                 summary: str | None = None, description: str = "", version: str = "0.1.0",
                 openapi_url: str | None = "/openapi.json", openapi_tags: list[dict[str, Any]] | None = None,
                 servers: list[dict[str, Any]] | None = None, dependencies: Sequence[Any] | None = None,
                 default_response_class: Any = None, redirect_slashes: bool = True, docs_url: str | None = "/docs",
                 redoc_url: str | None = "/redoc", swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
                 swagger_ui_init_oauth: dict[str, Any] | None = None, middleware: Sequence[Any] | None = None,
                 exception_handlers: dict[Any, Callable[..., Any]] | None = None,
                 on_startup: Sequence[Callable[[], Any]] | None = None,
                 on_shutdown: Sequence[Callable[[], Any]] | None = None, lifespan: Any = None,
                 terms_of_service: str | None = None, contact: dict[str, Any] | None = None,
                 license_info: dict[str, Any] | None = None, openapi_prefix: str = "", root_path: str = "",
                 root_path_in_servers: bool = True, responses: dict[int | str, Any] | None = None,
                 callbacks: Any = None, webhooks: Any = None, deprecated: bool | None = None,
                 include_in_schema: bool = True, swagger_ui_parameters: dict[str, Any] | None = None,
                 generate_unique_id_function: Any = None, separate_input_output_schemas: bool = True,
                 strict_content_type: bool = True, max_body_size: int | None = None, telemetry: Any = None,
                 form_limits: dict[str, int] | None = None, **extra: Any) -> None:
        super().__init__(debug=debug, title=title, version=version, summary=summary,
                         description=description or None, openapi_url=openapi_url, docs_url=docs_url,
                         redoc_url=redoc_url, openapi_tags=openapi_tags, servers=servers,
                         terms_of_service=terms_of_service, contact=contact, license_info=license_info,
                         swagger_ui_parameters=swagger_ui_parameters, swagger_ui_init_oauth=swagger_ui_init_oauth,
                         conventions="fastapi")
        if root_path:
            warnings.warn("The `root_path` parameter is deprecated. Configure the server's root path instead, for "
                          "example with `fastapi run --root-path /api/v1`.", FastAPIDeprecationWarning, stacklevel=2)
        if openapi_prefix:
            warnings.warn('"openapi_prefix" has been deprecated in favor of "root_path", which follows more '
                          "closely the ASGI standard, is simpler, and more automatic.", DeprecationWarning,
                          stacklevel=2)
        self._route_dependencies = list(dependencies or ())
        self._lifespan_state: dict[str, Any] = {}
        self.default_response_class = default_response_class  # the class its routes' results are made into
        self.state = State()
        self.extra = extra
        self.redirect_slashes = redirect_slashes
        #: the path the app is served under behind a proxy that takes it off (the
        #: Request's ``root_path``, in ``url_for`` and ``base_url``)
        self.root_path = root_path or openapi_prefix
        self.root_path_in_servers = root_path_in_servers
        self.default_response_class = default_response_class
        self.swagger_ui_oauth2_redirect_url = swagger_ui_oauth2_redirect_url
        self.dependencies = list(dependencies or ())
        self.separate_input_output_schemas = separate_input_output_schemas
        #: False: a body sent without a Content-Type is read as JSON (each route's plan reads it)
        self.strict_content_type = strict_content_type
        #: the largest body a route takes (bytes; None: no limit but the server's), unless
        #: the route or its router says (planned into each route: a larger body is 413)
        self.max_body_size = check_max_body_size(max_body_size)
        #: FastAPI's form limits (``max_fields``, ``max_files``, ``max_part_size``) of its routes
        self.form_limits = check_form_limits(form_limits)
        #: FastAPI's TelemetryConfig: its tracing is set up when the app starts (_telemetry)
        self.telemetry = check_config(telemetry)
        self._rb_operations: Any = None
        #: ``make(route) -> str``: the operation ids of routes that name none
        self.generate_unique_id_function = generate_unique_id_function
        #: the webhooks the document lists (``@app.webhooks.post("new-subscription")``)
        self.webhooks = webhooks if webhooks is not None else APIRouter()
        for exc_type, handler in (exception_handlers or {}).items():
            self.add_exception_handler(exc_type, handler)
        #: FastAPI runs its event handlers (on_startup, on_event, a router's) only when the
        #: app has no lifespan: the one or the others
        self._rb_has_lifespan = lifespan is not None
        for fn in on_startup or ():
            self._add_event("startup", fn)
        for fn in on_shutdown or ():
            self._add_event("shutdown", fn)
        if lifespan is not None:
            self._use_lifespan(lifespan)
        for mw in reversed(list(middleware or ())):  # (each goes outermost: the first given ends outermost)
            cls, args, kwargs = mw
            self.add_middleware(cls, *args, **kwargs)
        for route in routes or ():
            self._add_route_object(route)

    # ---- routes ----
    def _resolved_routes(self) -> list[Any]:
        """The routes as App resolves them, once the telemetry is settled: FastAPI's
        tracing (a SERVER span per request, its operation spans) when the app starts with
        a tracer provider, unless ``enable_tracing`` set ringbolt's own."""
        if self._tracing is None:
            provider = provider_of(self.telemetry)
            if provider is not None:
                from ..tracing import Tracing
                self._tracing = Tracing(provider, 5.0)
                if self.telemetry.get("operation_spans", True):
                    self._rb_operations = Operations(provider)
        return super()._resolved_routes()

    def _openapi_serves(self) -> bool:
        """FastAPI serves its document and pages whenever ``openapi_url`` is set, routes or not."""
        return self.openapi_url is not None

    @property
    def router(self) -> "FastAPI":
        """FastAPI's ``app.router``: the app itself holds its routes here (``route_class``,
        ``routes``, ``add_api_route``, ``include_router``, ``url_path_for`` all work on it)."""
        return self

    @property
    def routes(self) -> list[Any]:
        """The routes as FastAPI lists them (``APIRoute``, ``APIWebSocketRoute``, ``Route``
        for the document and its pages, ``Mount``): a view made at each read."""
        return routes_of(self)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called ``name`` with ``path_params`` put in (a static
        mount's name with ``path=``; ``"mount:route"`` inside a named mounted app)."""
        found = _url_path_for(self, name, path_params)
        if found is None:
            raise NoMatchFound(name, path_params)
        return URLPath(found)

    def add_api_websocket_route(self, path: str, endpoint: Callable[..., Any], name: str | None = None, *,
                                dependencies: Sequence[Any] | None = None) -> None:
        add_websocket(self, path, endpoint, name, dependencies)

    def add_websocket_route(self, path: str, route: Callable[..., Any], name: str | None = None) -> None:
        """Starlette's: ``route(websocket)`` gets the WebSocket as it is (no parameters read)."""
        App.websocket(self, path)(route)

    def websocket_route(self, path: str, name: str | None = None) -> Callable[[Any], Any]:
        def decorator(fn: Any) -> Any:
            self.add_websocket_route(path, fn, name)
            return fn
        return decorator

    def add_route(self, path: str, route: Callable[..., Any], methods: Sequence[str] | None = None,
                  name: str | None = None, include_in_schema: bool = True) -> None:
        """Starlette's: ``route(request)`` takes the Request and returns a Response."""
        app = self
        if inspect.iscoroutinefunction(route):
            async def endpoint_async(req: Any) -> Any:
                return await route(request_of(req, app))
            endpoint: Callable[..., Any] = endpoint_async
        else:
            def endpoint_sync(req: Any) -> Any:
                return route(request_of(req, app))
            endpoint = endpoint_sync
        endpoint.__name__ = getattr(route, "__name__", "endpoint")
        App.route(self, path, list(methods or ("GET",)), name=name or endpoint.__name__,
                  include_in_schema=False)(endpoint)

    def _add_route_object(self, route: Any) -> None:
        """A route given to ``FastAPI(routes=[...])``."""
        from ._route_class import APIRoute, APIWebSocketRoute, Mount, Route
        if isinstance(route, Route):
            self.add_route(route.path, route.endpoint, sorted(route.methods), route.name)  # type: ignore[arg-type]
        elif isinstance(route, APIRoute):
            self.add_api_route(route.path, route.endpoint, methods=sorted(route.methods), name=route.name)
        elif isinstance(route, APIWebSocketRoute):
            self.add_api_websocket_route(route.path, route.endpoint, route.name)
        elif isinstance(route, Mount):
            self.mount(route.path, route.app, route.name)
        else:
            raise TypeError(f"FastAPI(routes=...) takes APIRoute, APIWebSocketRoute and Mount objects, not "
                            f"{type(route).__name__}: register the others with the app's decorators")

    def host(self, host: str, app: Any, name: str | None = None) -> None:
        raise TypeError("ringbolt.fastapi routes by path only, not by Host (Starlette's app.host): serve the other "
                        "host's app on its own port, or check request.url.hostname in a dependency")

    # ---- errors ----
    def add_exception_handler(self, exc_class_or_status_code: Any, handler: Callable[..., Any]) -> None:
        """``handler(request, exc)`` for exceptions of a class (and its subclasses) or, by
        status code, for the ``HTTPException`` of that status a route raised."""
        key = exc_class_or_status_code
        if isinstance(key, bool) or not (isinstance(key, int) and 100 <= key <= 599 or isinstance(key, type) and
                                         issubclass(key, BaseException)):
            raise TypeError(f"exception_handler() takes an exception class or an HTTP status code, not {key!r}")
        app = self
        if inspect.iscoroutinefunction(handler):
            async def call_async(req: Any, exc: Any) -> Any:
                return await handler(request_of(req, app), exc)
            self._exception_handlers[exc_class_or_status_code] = call_async
        else:
            def call(req: Any, exc: Any) -> Any:
                return handler(request_of(req, app), exc)
            self._exception_handlers[exc_class_or_status_code] = call

    def exception_handler(self, exc_class_or_status_code: Any) -> Callable[[Any], Any]:
        def decorator(fn: Any) -> Any:
            self.add_exception_handler(exc_class_or_status_code, fn)
            return fn
        return decorator

    def _unmatched(self) -> tuple[Callable[..., Any], bool] | None:
        """With an exception handler for a 404 or 405 (by status, or for HTTPException),
        the requests no route takes go to it as Starlette's router sends them: an
        HTTPException(404), or (405) with ``Allow`` naming the methods the path takes.
        Without one, the router answers them natively."""
        from ..errors import HTTPError, HTTPException
        from ..routing import ErrorPolicy
        if not any(k in self._exception_handlers for k in (404, 405, HTTPException, HTTPError)):
            return None
        errors = ErrorPolicy(dict(self._exception_handlers), self.debug, True)
        patterns = [(_path_regex(d.path), d.methods) for d in self._defs if not d.websocket]

        async def unmatched(req: Any) -> Any:
            path = req.path
            allowed = sorted({m for regex, methods in patterns if regex.fullmatch(path) for m in methods} |
                             ({"HEAD"} if any("GET" in m for r, m in patterns if r.fullmatch(path)) else set()))
            exc = HTTPException(405, headers={"Allow": ", ".join(allowed)}) if allowed else HTTPException(404)
            return await errors.outer_async(req, exc)
        return unmatched, True

    # ---- middleware ----
    def middleware(self, middleware_type: Any) -> Any:
        """``@app.middleware("http")``: ``async def mw(request, call_next)``, around every
        route; as in Starlette, the last added is the outermost."""
        if middleware_type != "http":
            raise ValueError(f"only @app.middleware('http') is supported, not {middleware_type!r}")

        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._rb_http_middleware(fn)
            return fn
        return decorator

    def _rb_http_middleware(self, dispatch: Callable[..., Any]) -> None:
        """``dispatch(request, call_next)`` (FastAPI's Request) as the outermost middleware."""
        app = self

        async def mw(req: Any, call_next: Any) -> Any:
            async def next_(request: Any) -> Any:
                return await call_next(req)
            return await dispatch(request_of(req, app), next_)
        mw.__qualname__ = getattr(dispatch, "__qualname__", "middleware")
        self._middleware.insert(0, mw)

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        """Starlette's middleware ringbolt runs itself (CORS, GZip natively; TrustedHost,
        HTTPSRedirect, ``BaseHTTPMiddleware`` subclasses as middleware); the last added is
        the outermost. Another ASGI middleware is refused, naming what to do instead."""
        install = getattr(middleware_class, "_rb_install", None)
        if install is None:
            raise TypeError(f"ringbolt.fastapi cannot run the ASGI middleware {middleware_class!r} around its routes: "
                            "write it as @app.middleware('http') (or a BaseHTTPMiddleware subclass), or serve the "
                            "unchanged FastAPI app with `ringbolt serve`, which runs any middleware")
        install(self, *args, **kwargs)

    def _rb_add_check(self, fn: Callable[..., Any]) -> None:
        """A check that runs before every route and its middleware (TrustedHost...)."""
        self._middleware.insert(0, fn)

    # ---- lifecycle ----
    def on_event(self, event_type: str) -> Callable[[Any], Any]:
        """Deprecated in FastAPI (a DeprecationWarning, as there): use ``lifespan``."""
        warnings.warn(_ON_EVENT, DeprecationWarning, stacklevel=2)
        return self._on_event(event_type)

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        self._on_event(event_type)(func)

    def _on_event(self, event_type: str) -> Callable[[Any], Any]:
        if event_type not in ("startup", "shutdown"):
            raise ValueError(f"unknown event {event_type!r} (startup or shutdown)")

        def decorator(fn: Any) -> Any:
            self._add_event(event_type, fn)
            return fn
        return decorator

    def _add_event(self, event_type: str, fn: Callable[[], Any]) -> None:
        """A startup or shutdown event handler, run as FastAPI runs it: only when the app
        has no lifespan (with one, FastAPI runs the lifespan alone: said in the log)."""
        if self._rb_has_lifespan:
            logger.warning("the %s handler %s does not run: the app has a lifespan, and FastAPI runs the lifespan "
                           "or the event handlers, not both", event_type, getattr(fn, "__qualname__", fn))
            return
        if event_type == "startup":
            self.on_startup(fn)
        else:
            self.on_shutdown(fn)

    def _use_lifespan(self, lifespan: Any, nested: bool = False) -> None:
        """Run ``lifespan`` (an async context manager factory, or an async or sync
        generator function, as FastAPI takes them) around the serving. ``nested``: an
        included router's, entered after and left before the app's, its state under the
        app's (FastAPI's merge)."""
        held: list[Any] = []
        app = self
        factory = _as_lifespan(lifespan)

        async def start() -> None:
            cm = factory(app)
            state = await cm.__aenter__()
            held.append(cm)
            # what it yields is each request's ``request.state`` to start with (a copy per
            # request), as Starlette gives it
            own = dict(state) if state else {}
            app._lifespan_state = {**own, **app._lifespan_state} if nested else own

        async def stop() -> None:
            try:
                while held:
                    await held.pop().__aexit__(None, None, None)
            finally:
                app._lifespan_state = {}

        self.on_startup(start)
        if nested:
            self._shutdown.insert(0, stop)
        else:
            self.on_shutdown(stop)

    def _include_events(self, router: Any) -> None:
        """An included router's ``on_startup``/``on_shutdown`` handlers and lifespans
        (its own and those of the routers it included), FastAPI's order."""
        for fn in getattr(router, "on_startup", None) or ():
            self._add_event("startup", fn)
        for fn in getattr(router, "on_shutdown", None) or ():
            self._add_event("shutdown", fn)
        for lifespan in getattr(router, "_rb_lifespans", None) or ():
            self._use_lifespan(lifespan, nested=True)

    # ---- mounts ----
    def mount(self, path: str, app: Any, name: str | None = None) -> None:
        """Serve ``app`` under ``path``: StaticFiles, a ringbolt app (FastAPI), a WSGI
        app (``WSGIMiddleware``) or an ASGI app (ringbolt.fastapi._mounts)."""
        _mount(self, path.rstrip("/"), app, name)


def _as_lifespan(lifespan: Any) -> Any:
    """``lifespan`` as an async context manager factory (FastAPI takes async and sync
    generator functions too; a sync one is entered and left on a thread, as FastAPI does)."""
    if inspect.isasyncgenfunction(lifespan):
        return contextlib.asynccontextmanager(lifespan)
    if inspect.isgeneratorfunction(lifespan):
        sync = contextlib.contextmanager(lifespan)

        @contextlib.asynccontextmanager
        async def on_a_thread(app: Any) -> Any:
            cm = sync(app)
            state = await asyncio.to_thread(cm.__enter__)
            try:
                yield state
            except BaseException:
                if not await asyncio.to_thread(cm.__exit__, *sys.exc_info()):
                    raise
            else:
                await asyncio.to_thread(cm.__exit__, None, None, None)
        return on_a_thread
    return lifespan


def __getattr__(name: str) -> Any:
    if name == "Starlette":
        raise ImportError("ringbolt.fastapi has no Starlette class: use ringbolt.fastapi.FastAPI (or ringbolt.App), "
                          "which take the same routes, middleware and exception handlers")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
