"""FastAPI's route objects on ringbolt: ``APIRoute`` (and its ``route_class`` contract),
``APIWebSocketRoute``, ``Mount`` and ``Route``, as ``app.routes`` lists them.

A route is planned by ringbolt when it is registered, not by its class: an ``APIRoute``
here describes the route (``path``, ``endpoint``, ``methods``, ``name``, ``tags``...).
FastAPI's one customisation point that changes how a request is handled,
``get_route_handler``, is kept: a subclass's ``get_route_handler`` is called once when the
app starts, and what it returns serves every request of its routes; the handler that
``super().get_route_handler()`` returns runs the route's plan with the ``Request`` it is
given (its ``body()`` included: a ``GzipRequest`` that decompresses is honoured), returns
the ``Response``, and raises ``RequestValidationError`` for a refused request, as
FastAPI's does. A subclass overriding anything else FastAPI's ``APIRoute`` does per
request (``matches``, ``handle``, ``url_path_for``, ``app``...) is refused when it is set,
naming what ringbolt plans instead."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from .requests import Request, request_of

#: APIRoute methods a subclass may override: the route handler, and the constructor.
_CUSTOMISABLE = {"get_route_handler", "__init__"}
#: Starlette/FastAPI per-request route methods ringbolt decides in its router and plan.
_PLANNED = ("matches", "handle", "url_path_for", "app", "__call__")


class APIRoute:
    """One HTTP route as FastAPI describes it (see the module's docstring)."""

    _rb_custom = False  # a subclass with its own get_route_handler (set per subclass)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_route_class(cls)
        cls._rb_custom = cls.get_route_handler is not APIRoute.get_route_handler

    def __init__(self, path: str, endpoint: Callable[..., Any], *, methods: Any = None, name: str | None = None,
                 **options: Any) -> None:
        self.path = path
        self.path_format = path
        self.endpoint = endpoint
        self.methods = {m.upper() for m in (methods or ("GET",))}
        self.name = name or getattr(endpoint, "__name__", None) or repr(endpoint)
        self.tags = list(options.get("tags") or [])
        self.summary = options.get("summary")
        self.description = options.get("description")
        self.response_model = options.get("response_model")
        self.status_code = options.get("status_code")
        self.dependencies = list(options.get("dependencies") or [])
        self.responses = dict(options.get("responses") or {})
        self.deprecated = options.get("deprecated")
        self.operation_id = options.get("operation_id")
        self.include_in_schema = options.get("include_in_schema", True)
        self.response_class = options.get("response_class")
        self.openapi_extra = options.get("openapi_extra")
        self.callbacks = options.get("callbacks")
        self.unique_id = options.get("operation_id") or self.name
        self._rb_plan: Any = None
        self._rb_options: dict[str, Any] | None = None
        self._rb_runner: Callable[[Any], Any] | None = None

    def get_route_handler(self) -> Callable[[Request], Any]:
        """``async handler(request) -> Response``: the route's plan run with ``request``."""
        runner = self._rb_runner
        if runner is None:
            raise RuntimeError(f"route {self.path}: its handler is made when the app starts")
        is_async = inspect.iscoroutinefunction(runner)

        async def route_handler(request: Request) -> Any:
            native = request._native
            body = await request.body()
            if type(request) is Request and body is native.body:
                req = native  # the request as it came: nothing to put in its place
            else:
                req = _RequestAs(native, body, request)
            result = runner(req)
            return await result if is_async else result
        return route_handler

    @classmethod
    def _rb_route_handler(cls, d: Any, runner: Callable[[Any], Any], app: Any) -> Callable[[Any], Any]:
        """The function the server calls for route ``d`` of ``app`` (a custom route class's
        handler): the class's ``get_route_handler()``, called now, with FastAPI's Request."""
        options = dict(d.options or {})
        for key in ("methods", "name", "route_class", "cache", "etag"):
            options.pop(key, None)
        route = cls(d.path, d.handler, methods=d.methods, name=(d.options or {}).get("name"), **options)
        route._rb_runner = runner
        handler = route.get_route_handler()
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"{cls.__name__}.get_route_handler() returned {handler!r}: FastAPI's route handler is "
                            "an async def taking the Request")

        async def serve(req: Any) -> Any:
            return await handler(request_of(req, app))
        serve.__qualname__ = getattr(d.handler, "__qualname__", "serve")
        return serve

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}, methods={sorted(self.methods)!r})"


class _RequestAs:
    """The native request with the body a custom ``Request`` read (``await
    request.body()``): what a route's plan reads, that ``Request`` itself included."""

    def __init__(self, native: Any, body: bytes, request: Request) -> None:
        self._n = native
        self.body = body
        self._body_stream = None
        self.__dict__["_rb_starlette"] = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._n, name)


def check_route_class(cls: Any) -> None:
    """Refuse a route class ringbolt cannot honour (said when it is defined or set)."""
    if not (isinstance(cls, type) and issubclass(cls, APIRoute)):
        raise TypeError(f"route_class must be a subclass of fastapi.routing.APIRoute, not {cls!r}")
    for name in _PLANNED:
        for klass in cls.__mro__:
            if klass is APIRoute:
                break
            if name in vars(klass):
                raise TypeError(f"{cls.__name__} overrides APIRoute.{name}: ringbolt matches and runs routes in its "
                                "own router and plan, so only get_route_handler() (and __init__) can be customised "
                                "(docs/from-fastapi.md)")


class APIWebSocketRoute:
    """A WebSocket endpoint as ``app.routes`` lists it."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, name: str | None = None, **_: Any) -> None:
        self.path = path
        self.path_format = path
        self.endpoint = endpoint
        self.name = name or getattr(endpoint, "__name__", None) or repr(endpoint)

    def __repr__(self) -> str:
        return f"APIWebSocketRoute(path={self.path!r}, name={self.name!r})"


class Route:
    """A route that is not an API route (the document and its pages, plain handlers)."""

    def __init__(self, path: str, endpoint: Callable[..., Any] | None, *, methods: Any = None,
                 name: str | None = None, include_in_schema: bool = True) -> None:
        self.path = path
        self.path_format = path
        self.endpoint = endpoint
        self.methods = set(methods or ("GET", "HEAD"))
        self.name = name or getattr(endpoint, "__name__", None) or path
        self.include_in_schema = include_in_schema

    def __repr__(self) -> str:
        return f"Route(path={self.path!r}, name={self.name!r}, methods={sorted(self.methods)!r})"


class Mount:
    """An app or directory mounted at ``path`` (``app.mount``)."""

    def __init__(self, path: str, app: Any = None, *, name: str | None = None) -> None:
        self.path = path
        self.app = app
        self.name = name or ""

    @property
    def routes(self) -> list[Any]:
        return list(getattr(self.app, "routes", []))

    def __repr__(self) -> str:
        return f"Mount(path={self.path!r}, name={self.name!r}, app={self.app!r})"


def routes_of(app: Any) -> list[Any]:
    """``app.routes``: a view made now of what the app (or router) has registered."""
    out: list[Any] = []
    for d in app._defs:
        options = d.options or {}
        if d.websocket:
            out.append(APIWebSocketRoute(d.path, d.handler, name=options.get("name")))
            continue
        cls = options.get("route_class") or APIRoute
        kwargs = {k: v for k, v in options.items() if k not in ("methods", "name", "route_class", "cache", "etag")}
        route = APIRoute.__new__(cls)
        APIRoute.__init__(route, d.path, d.handler, methods=d.methods, name=options.get("name"), **kwargs)
        if d.plan is not None:  # what the plan decided: the model, the status, the class
            route.response_model = d.plan.response.model
            route.status_code = d.plan.response.status_code
            route.response_class = getattr(d.plan.response, "response_class", None) or route.response_class
        route._rb_plan, route._rb_options = d.plan, d.options  # what the document reads (a callback's route)
        out.append(route)
    if hasattr(app, "_openapi_routes"):
        for path, methods, fn, _const, _is_async, _ws in app._openapi_routes():
            out.append(Route(path, fn, methods=methods, include_in_schema=False))
    names = {id(target): name for name, (_, target) in getattr(app, "__dict__", {}).get("_mount_names", {}).items()}
    for prefix, sub in getattr(app, "_mounted_apps", ()):
        out.append(Mount(prefix, sub, name=names.get(id(sub))))
    return out


def include_router(group: Any, router: Any, prefix: str = "", *, tags: Any = None, dependencies: Any = None,
                   responses: Any = None, deprecated: bool | None = None, include_in_schema: bool = True,
                   **_: Any) -> None:
    """FastAPI's ``include_router``: ``router``'s routes added to ``group`` under ``prefix``,
    with ``dependencies`` called after ``group``'s and before the router's own (each route
    planned again with them, once, here), ``tags`` before the routes' own, ``responses``
    under theirs, and ``deprecated``/``include_in_schema`` for the document."""
    from ..routing import Router
    if not isinstance(router, Router):
        raise TypeError(f"include_router() takes an APIRouter, not {type(router).__name__}")
    extra_deps = list(dependencies or ())
    if not (extra_deps or tags or responses or deprecated is not None or not include_in_schema):
        group.include(router, prefix=prefix)
        return
    if router is group:
        raise ValueError("a router cannot include itself")
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValueError(f"prefix must start with '/' and not end with one: {prefix!r}")
    where = f" (from the router with prefix {router.prefix!r})"
    copies = []
    for d in router._defs:
        c = group._copy(d, group.prefix + prefix + d.path, router._middleware, where)
        if extra_deps:
            if d.replan is None:
                raise ValueError(f"route {' '.join(d.methods)} {c.path}{where}: it runs no dependencies (a const "
                                 "or WebSocket route), and include_router() gives it dependencies=")
            c.dependencies = (*group._route_dependencies, *extra_deps, *d.dependencies)
            c.plan = d.replan(list(c.dependencies))
        options = dict(c.options or {})
        options["tags"] = [*(tags or ()), *(options.get("tags") or ())]
        if responses:
            options["responses"] = {**responses, **(options.get("responses") or {})}
        if deprecated is not None and options.get("deprecated") is None:
            options["deprecated"] = deprecated
        if not include_in_schema:
            options["include_in_schema"] = False
        c.options = options
        copies.append(c)
    group._add(copies, where=where)


class RouteClassMixin:
    """``route_class`` on an app or router: each route registered on it keeps the class
    it had then (an included route keeps its own, as in FastAPI)."""

    _route_class: type[APIRoute] = APIRoute
    _first_route_wins = True  # FastAPI's: a repeated route is kept, the first one answers

    @property
    def route_class(self) -> type[APIRoute]:
        return self._route_class

    @route_class.setter
    def route_class(self, cls: type[APIRoute]) -> None:
        check_route_class(cls)
        self._route_class = cls

    @property
    def routes(self) -> list[Any]:
        """The routes as FastAPI lists them: a view made at each read."""
        return routes_of(self)

    def _full_path(self, path: str) -> str:
        """FastAPI takes a path that does not start with ``/`` (a callback's
        ``{$callback_url}/invoices/{$request.body.id}``, a webhook's ``new-subscription``,
        a router's ``""`` included under a prefix): such a route is documented and never
        served (no request path can match it) until a prefix makes it a path."""
        if isinstance(path, str) and not path.startswith("/") and not self.prefix:  # type: ignore[attr-defined]
            return path
        return super()._full_path(path)  # type: ignore[misc,no-any-return]

    def _add(self, defs: list[Any], where: str = "") -> None:
        _refuse_shared_paths(self._defs, defs, where)  # type: ignore[attr-defined]
        for d in defs:
            if not d.websocket and (d.options is None or "route_class" not in d.options):
                d.options = {**(d.options or {}), "route_class": self._route_class}
        super()._add(defs, where)  # type: ignore[misc]


def _refuse_shared_paths(held: list[Any], new: list[Any], where: str) -> None:
    """A WebSocket endpoint and an HTTP GET route at one served path (Starlette routes
    them by the scope's type) share one native target (``App._build``: handshakes to the
    endpoint, plain requests to the route) when their paths are written alike; paths that
    match alike but name their parameters apart are refused when registered, naming what
    to do (the one target reads one pattern's names)."""
    from ..routing import _shape
    served: dict[tuple[str, bool], str] = {}
    for d in [*held, *new]:
        if not d.path.startswith("/") or not (d.websocket or "GET" in d.methods):
            continue
        shape = _shape(d.path)
        other = served.get((shape, not d.websocket))
        if other is not None and other != d.path:
            ws, http = (d.path, other) if d.websocket else (other, d.path)
            raise ValueError(f"WebSocket endpoint {ws}{where} matches the paths of the HTTP GET route {http} "
                             "with other parameter names: ringbolt serves a path's handshakes and GETs from one "
                             "pattern: write both paths alike (docs/from-fastapi.md)")
        served.setdefault((shape, d.websocket), d.path)


__all__ = ["APIRoute", "APIWebSocketRoute", "Route", "Mount", "RouteClassMixin", "routes_of", "check_route_class",
           "include_router"]
