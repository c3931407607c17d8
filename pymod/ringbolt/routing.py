"""Route groups and the request pipeline.

``RouteGroup`` holds what ``App`` and ``Router`` share: the route decorators, a prefix,
middleware, and ``include`` (a router's routes copied in, with its middleware kept by
reference). Conflicts (one method and one path shape twice) are refused when they are
registered.

The pipeline of a route (its middleware, outermost first, then the handler, with the
app's exception handlers) is assembled once at start-up. A route with no middleware in
an app with no exception handler and no ``debug`` is registered as it is: no Python runs
per request that the handler does not run itself.
"""

from __future__ import annotations

import inspect
import logging
import re
import traceback
import typing
from enum import Enum
from typing import Any, Awaitable, Callable, Iterable, TypeVar, Union

from ._error_log import log_failure
from ._native import Request
from .typed.plan import UNSET, RoutePlan, is_plain_handler, plan_route
from .caching import as_cache
from .datastructures import ResponseHeaders
from .rate_limit import RateLimit, route_limit
from .errors import HTTPError, problem, problem_response, require_str
from .params import Depends
from .response import FileResponse, Response, StreamingResponse

logger = logging.getLogger("ringbolt")

Handler = Callable[..., Any]
#: ``call_next(req)``: the rest of the pipeline; a ``Response`` (sync routes) or an
#: awaitable of one (async routes).
CallNext = Callable[["Request"], Any]
#: ``middleware(req, call_next)``: returns a ``Response`` (``call_next``'s, changed or not,
#: or its own to answer without the route); ``async def`` or plain ``def``.
Middleware = Callable[["Request", Any], Any]
#: ``handler(req, exc)``: returns what a route handler may return.
ExceptionHandler = Callable[["Request", Any], Any]
AnyResponse = Union[Response, StreamingResponse, FileResponse]

H = TypeVar("H", bound=Callable[..., Any])

_RESPONSE_TYPES = (Response, StreamingResponse, FileResponse)
_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}$")
_METHOD = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 §5.6.2 token


def _shape(path: str) -> str:
    """The path with parameter names dropped ("/u/{id:int}" -> "/u/{:int}"): two routes
    of one method with the same shape can never both match."""
    out = []
    for seg in path.split("/"):
        m = _PARAM.match(seg)
        out.append("{:" + (m.group(2) or "str") + "}" if m else seg)
    return "/".join(out)


def _name(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


def _named(deps: Iterable[Any]) -> str:
    """Dependencies (guards) for a refusal: ``Security(APIKeyAuth(...)), Depends(login)``."""
    return ", ".join(repr(d) for d in deps)


def _taken(fn: Any) -> str:
    """What a handler takes, for a refusal: its parameters, each with its marker."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return "parameters"
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - the annotations as written
        hints = {}
    out = []
    for p in params:
        markers = [m for m in getattr(hints.get(p.name, p.annotation), "__metadata__", ()) if isinstance(m, Depends)]
        if isinstance(p.default, Depends):
            markers.append(p.default)
        out.append(f"{p.name}: {markers[0]!r}" if markers else p.name)
    return ", ".join(out) if out else "no parameter"


def _is_async(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and not inspect.isfunction(fn) and inspect.iscoroutinefunction(call)


class RouteDef:
    """One registered route (or WebSocket endpoint) as its group holds it."""

    __slots__ = ("path", "methods", "handler", "const", "websocket", "scopes", "plan", "options", "rate_limit",
                 "dependencies", "replan")

    def __init__(self, path: str, methods: list[str], handler: Handler, const: bool = False,
                 websocket: bool = False, scopes: tuple[list[Middleware], ...] = (),
                 plan: RoutePlan | None = None, options: dict[str, Any] | None = None,
                 rate_limit: RateLimit | bool | None = None, dependencies: tuple[Any, ...] = (),
                 replan: Callable[[list[Any]], RoutePlan | None] | None = None) -> None:
        self.path = path
        # The dependencies its plan calls before the handler: those of every router it
        # came through, outermost first, then its own dependencies=.
        self.dependencies = dependencies
        # The route planned again with other dependencies (an include into a router that
        # has some), or another response class (``cls=``: ringbolt.fastapi's include of a
        # router into an app with a default_response_class); None for a const or
        # WebSocket route, which runs none.
        self.replan = replan
        # Its own rate limit (ringbolt.rate_limit), False for none, None for the app's.
        self.rate_limit = rate_limit
        # The typed route's plan (ringbolt.typed.plan), or None: a plain ``def h(req)``.
        self.plan = plan
        # The route's OpenAPI options (tags, summary, ...), also for a plain handler.
        self.options = options
        self.methods = methods
        self.handler = handler
        self.const = const
        self.websocket = websocket
        # Middleware lists of the routers it came through, outermost first (references:
        # middleware added to a router after include still applies).
        self.scopes = scopes


class RouteGroup:
    """Route registration shared by ``App`` and ``Router``."""

    #: A handler that takes the request alone (``def h(req)``) is served as it is, with
    #: no plan; FastAPI's routes (ringbolt.fastapi) plan every handler.
    _plain_handlers = True
    #: a route repeating an earlier one's method and path shape: refused (ringbolt's rule),
    #: or kept but never reached, the earlier one answering (FastAPI's, ringbolt.fastapi)
    _first_route_wins = False
    #: another framework's markers and types read as ringbolt's when its routes are
    #: planned (``ringbolt.typed.plan.PlanAdapter``: an unchanged FastAPI app's), or None
    _plan_adapter: Any = None

    def __init__(self, prefix: str = "") -> None:
        require_str("prefix", prefix)
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"prefix must start with '/' and not end with one: {prefix!r}")
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix cannot hold path parameters: {prefix!r}")
        self.prefix = prefix
        self._defs: list[RouteDef] = []
        self._keys: dict[tuple[str, str], str] = {}
        self._middleware: list[Middleware] = []
        self._route_dependencies: list[Any] = []  # Router(dependencies=...): before each route's own

    # ---- registration ----
    def _full_path(self, path: str) -> str:
        require_str("route path", path)
        if path == "" and self.prefix:
            return self.prefix
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        return self.prefix + path

    def _add(self, defs: list[RouteDef], where: str = "") -> None:
        """Register `defs` all or none: a conflict raises ValueError naming both routes."""
        new: dict[tuple[str, str], str] = {}
        for d in defs:
            shape = _shape(d.path)
            for method in d.methods:
                key = (method, shape)
                previous = self._keys.get(key, new.get(key))
                if previous is not None and not self._first_route_wins:
                    same = previous == d.path
                    raise ValueError(f"route {method} {d.path}{where} conflicts with {method} {previous}, "
                                     f"{'registered before' if same else 'which matches the same paths'}")
                new.setdefault(key, d.path)
        for key, path in new.items():
            self._keys.setdefault(key, path)
        self._defs.extend(defs)

    def route(
        self,
        path: str,
        methods: Iterable[str] = ("GET",),
        *,
        const: bool = False,
        response_model: Any = UNSET,
        status_code: int | None = None,
        dependencies: Iterable[Any] | None = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool | None = None,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        response_class: Any = None,
        responses: dict[int | str, Any] | None = None,
        tags: list[str | Enum] | None = None,
        summary: str | None = None,
        description: str | None = None,
        include_in_schema: bool = True,
        operation_id: str | None = None,
        deprecated: bool | None = None,
        name: str | None = None,
        cache: Any = None,
        etag: bool = False,
        rate_limit: str | RateLimit | bool | None = None,
    ) -> Callable[[H], H]:
        """Register a handler for ``path`` (after the group's prefix) and ``methods``.

        A handler that takes ``req`` (the Request) alone is called with it, as it is. Any
        other signature is a typed route (docs/typed.md): its parameters are read from
        the request by their annotations and markers (``Query``, ``Path``, ``Header``,
        ``Cookie``, ``Body``, ``Form``, ``File``, ``Depends``, ``Security``), planned once
        here. ``response_model`` (default: the return annotation when it is a model;
        None: no model) filters and writes the result; ``status_code`` is the success
        status; ``dependencies`` are called before the handler, their values unused.
        ``response_model_include``/``_exclude`` (field names), ``_by_alias``,
        ``_exclude_unset``/``_defaults``/``_none``: how the model writes the result (a
        pydantic model's, as FastAPI takes them). ``response_class``: a
        ``ringbolt.fastapi.responses`` class that a result other than a response is made
        into, by FastAPI's rules (``ringbolt.fastapi``'s routes pass it).
        ``responses``, ``tags``, ``summary``, ``description``, ``include_in_schema``,
        ``operation_id``, ``deprecated`` and ``name`` are kept for the OpenAPI document.

        Path parameters: ``{name}`` or ``{name:str}`` (one segment), ``{name:int}``,
        ``{name:float}``, ``{name:uuid}``, ``{name:path}`` (the rest of the path, last
        only); in ``req.params`` as int, float, uuid.UUID or str. A value that does not
        convert does not match (another route may, else 404).

        ``rate_limit``: ``"5/minute"`` or a ``RateLimit``, checked natively before the
        handler runs (429 past it; docs/rate-limits.md); None: the app's
        (``app.rate_limit``) if it covers the path; False: none.

        ``const=True``: the handler is called once at start-up (with ``req=None``) and its
        response is then served natively for every request, never entering Python (so
        no middleware runs for it; inside a router with middleware it is refused when the
        app starts, since that middleware may be a guard).

        ``cache``: GET/HEAD routes only, a ``ringbolt.caching.Cache`` or a ttl in seconds:
        answers are kept and served from ``app.cache.store`` (docs/caching.md).
        ``etag=True``: a strong ETag on 200 answers and 304 for a matching
        ``If-None-Match`` (a cached route has them by default).
        """
        if isinstance(methods, str):
            methods = [methods]
        method_list = [m.upper() if isinstance(m, str) else m for m in methods]
        for m in method_list:
            if not isinstance(m, str) or not _METHOD.match(m):
                raise ValueError(f"invalid HTTP method {m!r} for route {path!r}")
        if not method_list:
            raise ValueError(f"route {path!r} has no methods")
        full = self._full_path(path)
        limit = route_limit(rate_limit, full)
        cache_spec = as_cache(cache)
        if cache_spec is not None or etag:
            if const:
                raise ValueError(f"route {path!r}: a const route is answered natively, without cache= or etag=")
            if set(method_list) - {"GET", "HEAD"}:
                raise ValueError(f"route {path!r}: cache= and etag= are for GET and HEAD routes, "
                                 f"not {', '.join(m for m in method_list if m not in ('GET', 'HEAD'))}")

        deps = [*self._route_dependencies, *(dependencies or ())]
        if const and deps:
            raise ValueError(f"route {path!r}: a const route is answered natively, without dependencies= "
                             f"(its own or its router's), and would never run {_named(deps)}")
        model_options = {k: v for k, v in (
            ("include", response_model_include), ("exclude", response_model_exclude),
            ("by_alias", response_model_by_alias), ("exclude_unset", response_model_exclude_unset),
            ("exclude_defaults", response_model_exclude_defaults), ("exclude_none", response_model_exclude_none))
            if v is not None and (v is not False or k == "by_alias")}
        if const and (model_options or response_class is not None):
            raise ValueError(f"route {path!r}: a const route is answered natively, without response model options "
                             "or response_class")
        options = {"responses": responses, "tags": list(tags or ()), "summary": summary, "description": description,
                   "include_in_schema": include_in_schema, "operation_id": operation_id, "deprecated": deprecated,
                   "name": name, "methods": list(dict.fromkeys(method_list))}

        def decorator(fn: H) -> H:
            if not callable(fn):
                raise TypeError(f"handler for {path!r} is not callable")
            if const and not is_plain_handler(fn):
                raise ValueError(f"route {path!r}: a const route is answered natively, once at start-up and with "
                                 f"no request, so its handler takes the request alone (def h(req)); {_name(fn)} "
                                 f"takes {_taken(fn)}, which would never run or be checked: drop const=True")

            def replan(with_deps: list[Any], cls: Any = response_class) -> RoutePlan | None:
                return plan_route(full, fn, response_model=response_model, status_code=status_code,
                                  dependencies=with_deps or None, plain_handlers=self._plain_handlers,
                                  response_class=cls, response_options=model_options,
                                  adapter=self._plan_adapter, **options)

            plan = None if const else replan(deps)
            if cache_spec is not None and plan is not None:
                from ._cache_plan import key_plan
                key_plan(plan, full)  # what its key cannot hold is refused now (docs/caching.md)
            opts = options if cache_spec is None and not etag else {**options, "cache": cache_spec, "etag": etag}
            self._add([RouteDef(full, list(dict.fromkeys(method_list)), fn, const, plan=plan, options=opts,
                                rate_limit=limit, dependencies=tuple(deps), replan=None if const else replan)])
            return fn

        return decorator

    def get(self, path: str, *, const: bool = False, **options: Any) -> Callable[[H], H]:
        return self.route(path, ["GET"], const=const, **options)

    def post(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route(path, ["POST"], **options)

    def put(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route(path, ["PUT"], **options)

    def delete(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route(path, ["DELETE"], **options)

    def patch(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route(path, ["PATCH"], **options)

    def head(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route(path, ["HEAD"], **options)

    def options(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route(path, ["OPTIONS"], **options)

    def websocket(self, path: str) -> Callable[[H], H]:
        """Register an ``async def handler(ws)`` for WebSocket handshakes on ``path``
        (path parameters as for routes, in ``ws.params``). The handler accepts with
        ``await ws.accept()``; returning without accepting refuses with 403. A plain
        HTTP request to the path gets 426 Upgrade Required. Middleware does not run
        for WebSocket endpoints."""
        full = self._full_path(path)
        if self._route_dependencies:
            raise ValueError(f"WebSocket endpoint {path!r}: a WebSocket endpoint does not run dependencies, and "
                             "this router has dependencies= (check the handshake in the handler)")

        def decorator(fn: H) -> H:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"a WebSocket handler must be an async def, not {fn!r}")
            self._add([RouteDef(full, ["GET"], fn, websocket=True)])
            return fn

        return decorator

    def middleware(self, fn: H) -> H:
        """Register ``fn(req, call_next)`` (``def`` or ``async def``) around every route
        of this group, routes registered before and after it alike. The first
        registered is the outermost. ``call_next(req)`` runs the rest and returns a
        ``Response`` (awaited in ``async def`` middleware); the middleware returns it,
        changed or not, or a ``Response`` of its own without calling ``call_next``.

        A route with any ``async`` part (its handler or a middleware) runs on the event
        loop, and every middleware around it must then be ``async def``.
        """
        if not callable(fn):
            raise TypeError(f"middleware must be callable, not {type(fn).__name__}")
        self._middleware.append(fn)
        return fn

    def include(self, router: "Router", *, prefix: str = "") -> None:
        """Add ``router``'s routes (as they are now) under this group's prefix and
        ``prefix``; its middleware (also what it gets later) runs inside this group's,
        and this group's dependencies before theirs (FastAPI's order: outermost first)."""
        if not isinstance(router, Router):
            raise TypeError(f"include() takes a ringbolt.Router, not {type(router).__name__}")
        if router is self:
            raise ValueError("a router cannot include itself")
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"prefix must start with '/' and not end with one: {prefix!r}")
        where = f" (from the router with prefix {router.prefix!r})"
        copies = [self._copy(d, self.prefix + prefix + d.path, router._middleware, where) for d in router._defs]
        self._add(copies, where=where)

    def _copy(self, d: RouteDef, path: str, middleware: list[Middleware], where: str) -> RouteDef:
        """``d`` as this group holds it: planned again when this group has dependencies
        (the route's plan is its whole dependency list, made once, here)."""
        plan, deps = d.plan, d.dependencies
        if self._route_dependencies:
            if d.replan is None:
                kind = "a WebSocket endpoint does not run dependencies" if d.websocket else \
                    "a const route is answered natively, without dependencies="
                raise ValueError(f"route {' '.join(d.methods)} {path}{where}: {kind}, and the router it is "
                                 f"included into has dependencies= that would never run: "
                                 f"{_named(self._route_dependencies)}")
            deps = (*self._route_dependencies, *deps)
            plan = d.replan(list(deps))
        return RouteDef(path, d.methods, d.handler, d.const, d.websocket, (middleware, *d.scopes), plan, d.options,
                        d.rate_limit, deps, d.replan)


class Router(RouteGroup):
    """A group of routes under a common ``prefix`` with its own middleware, added to an
    app (or another router) with ``include``. ``dependencies`` (``Depends``/``Security``
    markers) are called before each route registered on it or on a router included into
    it (after those of the routers this one is included into), before the route's own
    ``dependencies=``.

    >>> items = Router(prefix="/items")
    >>> @items.get("/{item_id:int}")
    ... def get_item(req):
    ...     return {"id": req.params["item_id"]}
    >>> app.include(items)
    """

    def __init__(self, prefix: str = "", *, dependencies: Iterable[Any] | None = None) -> None:
        super().__init__(prefix)
        # called before each route's own dependencies, on every route registered here or
        # included (an authentication verifier: ``dependencies=[Security(jwt_auth)]``)
        self._route_dependencies = list(dependencies or ())

    def __repr__(self) -> str:
        return f"Router(prefix={self.prefix!r}, routes={len(self._defs)})"


# ---- the pipeline ----

def _as_response(result: Any) -> Any:
    """A handler's return value as a Response object for middleware (the body stays as
    it is: a dict is still written by the native JSON writer)."""
    if isinstance(result, _RESPONSE_TYPES):
        return result
    if isinstance(result, tuple):
        if len(result) not in (2, 3):
            raise TypeError("a tuple return value must be (body, status) or (body, status, headers)")
        return Response(result[0], result[1], result[2] if len(result) == 3 else None)
    if result is None:
        return Response(None, 204)
    resp = _new_response(Response)
    resp.body = result
    resp.status = 200
    resp.headers = _new_list(ResponseHeaders)  # empty, without a call to __init__
    resp.content_type = None
    return resp


_new_response = object.__new__  # Response without __init__'s checks: nothing to check here
_new_list = list.__new__


class ErrorPolicy:
    """What an exception in a pipeline becomes: the most specific exception handler's
    answer, else an HTTPError's problem, else (``debug``) a 500 problem carrying the
    traceback, else it propagates to the native 500."""

    def __init__(self, handlers: dict[Any, ExceptionHandler], debug: bool,
                 detail_errors: bool = False) -> None:
        self.handlers = handlers
        self.debug = debug
        # FastAPI's conventions: an HTTPError answers {"detail": ...}, not its problem
        self.detail_errors = detail_errors

    def http_error(self, exc: HTTPError) -> Any:
        return exc.detail_response() if self.detail_errors else exc.response()

    def find(self, exc: BaseException) -> ExceptionHandler | None:
        """The handler for ``exc``: by its class, the most specific first; an HTTPError's
        by its status first (FastAPI's ``exception_handler(404)``). Under FastAPI's
        conventions an HTTPError has a handler of its own by default (FastAPI's), so a
        handler for a class above HTTPError (``Exception``) does not take it."""
        is_http = isinstance(exc, HTTPError)
        if isinstance(exc, HTTPError):
            h = self.handlers.get(exc.status)
            if h is not None:
                return h
        for cls in type(exc).__mro__:
            h = self.handlers.get(cls)
            if h is not None:
                return h
            if is_http and cls is HTTPError and self.detail_errors:
                return None
        return None

    def internal(self, req: Any, exc: BaseException) -> Any:
        if not self.debug:
            raise exc
        log_failure(exc, "Exception in handler for %s %s", getattr(req, "method", "?"), getattr(req, "target", "?"))
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return problem_response(500, problem(500, f"{type(exc).__name__}: {exc}", traceback=tb))

    # inside the middleware chain: middleware sees the answer
    def inner(self, req: Any, exc: Exception) -> Any:
        h = self.find(exc)
        if h is not None:
            return _as_response(h(req, exc))
        if isinstance(exc, HTTPError):
            return self.http_error(exc)
        raise exc

    async def inner_async(self, req: Any, exc: Exception) -> Any:
        h = self.find(exc)
        if h is not None:
            result = h(req, exc)
            return _as_response(await result if inspect.isawaitable(result) else result)
        if isinstance(exc, HTTPError):
            return self.http_error(exc)
        raise exc

    # outside it: what middleware (or the handler, with none) raised
    def outer(self, req: Any, exc: Exception) -> Any:
        h = self.find(exc)
        if h is not None:
            try:
                return h(req, exc)
            except Exception as again:  # noqa: BLE001 - the handler failed: a 500
                exc = again
        if isinstance(exc, HTTPError):
            return self.http_error(exc)
        return self.internal(req, exc)

    async def outer_async(self, req: Any, exc: Exception) -> Any:
        h = self.find(exc)
        if h is not None:
            try:
                result = h(req, exc)
                return await result if inspect.isawaitable(result) else result
            except Exception as again:  # noqa: BLE001 - the handler failed: a 500
                exc = again
        if isinstance(exc, HTTPError):
            return self.http_error(exc)
        return self.internal(req, exc)


def _check_result(mw: Middleware, result: Any) -> Any:
    if not isinstance(result, _RESPONSE_TYPES):
        raise TypeError(f"middleware {_name(mw)} returned {type(result).__name__}, not a Response "
                        "(return what call_next(req) returned, or a Response)")
    return result


def _wrap_sync(mw: Middleware, inner: CallNext) -> CallNext:
    def call(req: Any) -> Any:
        return _check_result(mw, mw(req, inner))

    return call


def _wrap_async(mw: Middleware, inner: CallNext) -> CallNext:
    async def call(req: Any) -> Any:
        return _check_result(mw, await mw(req, inner))

    return call


def build_pipeline(path: str, fn: Handler, chain: list[Middleware], errors: ErrorPolicy,
                   async_handlers_promote: bool = False) -> tuple[Handler, bool]:
    """The callable registered for a route, and whether it is async. ``chain``: the
    middleware around it, outermost first. ``async_handlers_promote``: an ``async def``
    exception handler makes the route run on the event loop (FastAPI's conventions: its
    handlers are async whatever the route is) instead of being refused."""
    fn_async = inspect.iscoroutinefunction(fn)
    if not chain and not errors.handlers and not errors.debug:
        return fn, fn_async  # nothing to add: the handler itself, no cost per request
    is_async = fn_async or any(_is_async(m) for m in chain) or (
        async_handlers_promote and any(_is_async(h) for h in errors.handlers.values()))
    if is_async:
        for m in chain:
            if not _is_async(m):
                raise TypeError(f"middleware {_name(m)} is a plain def, but route {path} runs on the event loop "
                                f"(its handler or another middleware is async): make {_name(m)} an async def")
        return _build_async(fn, fn_async, chain, errors), True
    for h in errors.handlers.values():
        if _is_async(h):
            raise TypeError(f"exception handler {_name(h)} is an async def, but route {path} is sync: "
                            f"make {_name(h)} a plain def")
    return _build_sync(fn, chain, errors), False


def _build_sync(fn: Handler, chain: list[Middleware], errors: ErrorPolicy) -> Handler:
    if not chain:
        def direct(req: Any) -> Any:
            try:
                return fn(req)
            except Exception as exc:  # noqa: BLE001 - exception handlers decide
                return errors.outer(req, exc)

        return direct

    def endpoint(req: Any) -> Any:
        try:
            result = fn(req)
        except Exception as exc:  # noqa: BLE001 - exception handlers decide
            return errors.inner(req, exc)
        return _as_response(result)

    call: CallNext = endpoint
    for mw in reversed(chain):
        call = _wrap_sync(mw, call)
    outermost = call

    def pipeline(req: Any) -> Any:
        try:
            return outermost(req)
        except Exception as exc:  # noqa: BLE001 - exception handlers decide
            return errors.outer(req, exc)

    return pipeline


def _build_async(fn: Handler, fn_async: bool, chain: list[Middleware],
                 errors: ErrorPolicy) -> Callable[[Any], Awaitable[Any]]:
    async def endpoint(req: Any) -> Any:
        try:
            result = (await fn(req)) if fn_async else fn(req)
        except Exception as exc:  # noqa: BLE001 - exception handlers decide
            if not chain:
                return await errors.outer_async(req, exc)
            return await errors.inner_async(req, exc)
        return _as_response(result) if chain else result

    if not chain:
        return endpoint
    call: CallNext = endpoint
    for mw in reversed(chain):
        call = _wrap_async(mw, call)
    outermost = call

    async def pipeline(req: Any) -> Any:
        try:
            return await outermost(req)
        except Exception as exc:  # noqa: BLE001 - exception handlers decide
            return await errors.outer_async(req, exc)

    return pipeline
