"""``APIRouter`` and the route decorators of ``FastAPI``: FastAPI's options on ringbolt's
routes. The response options are planned (``ringbolt.typed.plan.ResponseSpec``): the
``response_class`` a result is made into (the route's, else its router's or app's
``default_response_class``, else FastAPI's JSON), the ``response_model_*`` options; the
options only the OpenAPI document reads are kept in the route's options."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
from typing import Any, Callable, Iterable

from ..typed.plan import ResponseModelError
from ..routing import Router
from ._route_class import APIRoute, APIWebSocketRoute, Mount, Route, RouteClassMixin  # noqa: F401 - FastAPI's names
from .datastructures import DefaultPlaceholder
from ._body_limit import check_form_limits
from .exceptions import FastAPIError

#: options only the OpenAPI document reads: not planned, kept in the route's options
_DOCUMENT_ONLY = ("response_description", "openapi_extra", "callbacks", "generate_unique_id_function")
#: FastAPI's options the OpenAPI document reads (ringbolt.openapi): kept in the route's options
_DOCUMENT = (*_DOCUMENT_ONLY, "response_class", "response_model")
#: FastAPI's body options the route's plan reads (``RoutePlan.options``): the route's, else its
#: router's, else include_router's (``max_body_size``), else the app's. ``strict_content_type=False``:
#: a body sent without a Content-Type is JSON; ``max_body_size``: a larger body is 413 (bytes)
_BODY_SETTINGS = ("strict_content_type", "max_body_size")
#: FastAPI's form_limits: merged key by key, the route's over its router's, include_router's and
#: the app's (``_body_limit.form_within`` reads the route's form under them)
_FORM_LIMITS = "form_limits"


def check_max_body_size(value: Any) -> Any:
    """FastAPI's rule: a byte count (0: only an empty body) or None (the enclosing one)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError("max_body_size must be a non-negative integer or None")
    return value


def _merged_forms(outer: dict[str, int] | None, given: Any) -> dict[str, int]:
    """``given`` form limits (checked) over ``outer``'s, key by key."""
    return {**(outer or {}), **(check_form_limits(given) or {})}


def _settle(d: Any, kept: dict[str, Any]) -> None:
    """The body settings among ``kept`` into route ``d``'s plan (a plan of its own: an
    included route's may be its router's)."""
    body = {k: kept[k] for k in (*_BODY_SETTINGS, _FORM_LIMITS) if k in kept}
    if body and d.plan is not None:
        d.plan = dataclasses.replace(d.plan, options={**d.plan.options, **body})




class _Default:
    """The response class a route has when neither it nor its router or app names one:
    FastAPI's ``JSONResponse``, whose JSON ringbolt writes as it is (``_rb_default``)."""

    _rb_default = True

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Default({self.value.__name__})"


def _default_json() -> _Default:
    from .responses import JSONResponse
    return _Default(JSONResponse)


def _given(value: Any) -> Any:
    """A class that was named (not a placeholder), or None."""
    return None if value is None or isinstance(value, (DefaultPlaceholder, _Default)) else value


class _FastAPIRoutes:
    default_response_class: Any = None

    def _router_options(self, options: dict[str, Any]) -> None:
        """The options a router gives each of its routes (an APIRouter's ``tags``...)."""

    def _include_events(self, router: Any) -> None:
        """An included router's events and lifespans, kept for the app that includes this
        router (FastAPI merges them into the including router's)."""
        self.on_startup += list(getattr(router, "on_startup", None) or ())  # type: ignore[attr-defined]
        self.on_shutdown += list(getattr(router, "on_shutdown", None) or ())  # type: ignore[attr-defined]
        self._rb_lifespans += list(getattr(router, "_rb_lifespans", None) or ())  # type: ignore[attr-defined]

    def _fastapi_route(self, path: str, methods: list[str], options: dict[str, Any]) -> Callable[[Any], Any]:
        self._router_options(options)
        kept = {k: options[k] for k in _DOCUMENT if k in options}
        forms = _merged_forms(getattr(self, _FORM_LIMITS, None), options.pop(_FORM_LIMITS, None))
        if forms:
            kept[_FORM_LIMITS] = forms
        check_max_body_size(options.get("max_body_size"))
        for k in _BODY_SETTINGS:
            value = _given(options.pop(k, None))
            if value is None:
                value = _given(getattr(self, k, None))
            if value is not None:
                kept[k] = value
        make_id = getattr(self, "generate_unique_id_function", None)  # the app's or router's
        if callable(make_id):
            kept.setdefault("generate_unique_id_function", make_id)
        if self.default_response_class is not None:  # the document's media type for the route
            dflt = self.default_response_class
            kept["default_response_class"] = dflt.value if isinstance(dflt, DefaultPlaceholder) else dflt
        given = options.pop("response_class", None)
        cls = _given(given) or _given(self.default_response_class)
        if cls is None:
            placeholder = given if isinstance(given, DefaultPlaceholder) else self.default_response_class
            cls = _Default(placeholder.value) if isinstance(placeholder, DefaultPlaceholder) else _default_json()
        route_options = {k: v for k, v in options.items() if k not in _DOCUMENT_ONLY}
        try:
            decorator = self.route(path, methods, response_class=cls, **route_options)  # type: ignore[attr-defined]
        except ResponseModelError as exc:
            raise FastAPIError(str(exc)) from None

        def register(fn: Any) -> Any:
            try:
                out = decorator(fn)
            except ResponseModelError as exc:
                raise FastAPIError(str(exc)) from None
            if kept:
                d = self._defs[-1]  # type: ignore[attr-defined]
                d.options.update(kept)  # (the options a replan is made with: include_router's)
                _settle(d, kept)
            return out
        return register

    def get(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["GET"], options)

    def post(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["POST"], options)

    def put(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["PUT"], options)

    def delete(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["DELETE"], options)

    def patch(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["PATCH"], options)

    def head(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["HEAD"], options)

    def options(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["OPTIONS"], options)

    def trace(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["TRACE"], options)

    def api_route(self, path: str, methods: Iterable[str] | None = None, **options: Any) -> Any:
        return self._fastapi_route(path, list(methods or ("GET",)), options)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], *, methods: Iterable[str] | None = None,
                      **options: Any) -> None:
        self.api_route(path, methods, **options)(endpoint)

    def websocket(self, path: str, name: str | None = None, *, dependencies: Any = None) -> Any:
        from .websockets import websocket_decorator
        return websocket_decorator(self, path, name, dependencies)

    def include_router(self, router: Any, *, prefix: str = "", default_response_class: Any = None,
                       **options: Any) -> None:
        """``router``'s routes under ``prefix`` (``_route_class.include_router``). A route
        that names no response class, of a router that has no default one, takes
        ``default_response_class``, else this app's (or router's): FastAPI's order; it is
        planned again with it."""
        from ._route_class import include_router
        before = len(self._defs)  # type: ignore[attr-defined]
        limit = check_max_body_size(options.pop("max_body_size", None))
        forms = _merged_forms(getattr(self, _FORM_LIMITS, None), options.pop(_FORM_LIMITS, None))
        callbacks = options.pop("callbacks", None)
        make_id = _given(options.pop("generate_unique_id_function", None)) or \
            _given(getattr(self, "generate_unique_id_function", None))
        include_router(self, router, prefix, **options)
        self._include_events(router)
        settings = {k: v for k in _BODY_SETTINGS if (v := _given(getattr(self, k, None))) is not None}
        if limit is not None:  # include_router's, before this app's (or router's)
            settings["max_body_size"] = limit
        for d in self._defs[before:]:  # type: ignore[attr-defined]
            missing = {k: v for k, v in settings.items() if k not in (d.options or {})}
            if forms and not d.websocket:  # this app's and include_router's under the route's own
                missing[_FORM_LIMITS] = {**forms, **((d.options or {}).get(_FORM_LIMITS) or {})}
            if missing:  # the app's, for a route whose router set none (the copy's own options)
                d.options = {**(d.options or {}), **missing}
                _settle(d, missing)
            if d.websocket or not (callbacks or callable(make_id)):
                continue
            d.options = dict(d.options or {})  # (the copy's own: the router's route keeps its options)
            if callbacks:
                d.options["callbacks"] = [*(d.options.get("callbacks") or ()), *callbacks]
            if callable(make_id):  # the route's or its router's first, else this one
                d.options.setdefault("generate_unique_id_function", make_id)
        cls = _given(default_response_class) or _given(self.default_response_class)
        if cls is None or _given(getattr(router, "default_response_class", None)) is not None:
            return
        for d in self._defs[before:]:  # type: ignore[attr-defined]
            if d.replan is None or d.plan is None or "response_class" in (d.options or {}) or \
                    not d.plan.response.default_class:
                continue  # its own class, or its own router's default
            d.replan = functools.partial(d.replan, cls=cls)
            d.plan = d.replan(list(d.dependencies))


def _events_lifespan(router: Any) -> Callable[[Any], Any]:
    """FastAPI's default lifespan of a router without one: its ``on_startup`` handlers
    (as the router holds them when the app starts, those of the routers it included too),
    then, at the end, its ``on_shutdown`` handlers."""
    @contextlib.asynccontextmanager
    async def events(app: Any) -> Any:
        for fn in list(router.on_startup):
            result = fn()
            if inspect.isawaitable(result):
                await result
        yield None
        for fn in list(router.on_shutdown):
            result = fn()
            if inspect.isawaitable(result):
                await result
    return events


class APIRouter(RouteClassMixin, _FastAPIRoutes, Router):
    _plain_handlers = False  # as FastAPI's: every handler is planned

    def __init__(self, *, prefix: str = "", tags: list[Any] | None = None, dependencies: Any = None,
                 default_response_class: Any = None, responses: dict[int | str, Any] | None = None,
                 callbacks: list[Any] | None = None, route_class: type[APIRoute] = APIRoute,
                 deprecated: bool | None = None, include_in_schema: bool = True,
                 generate_unique_id_function: Any = None, strict_content_type: Any = None,
                 max_body_size: int | None = None, form_limits: dict[str, int] | None = None,
                 on_startup: Any = None, on_shutdown: Any = None, lifespan: Any = None, routes: Any = None,
                 **_: Any) -> None:
        super().__init__(prefix, dependencies=dependencies)
        if routes:
            raise TypeError("APIRouter(routes=...) is not taken: register the routes with the router's decorators "
                            "(or add_api_route)")
        #: FastAPI's router events: added to the app that includes the router
        self.on_startup = list(on_startup or ())
        self.on_shutdown = list(on_shutdown or ())
        #: the lifespans an app that includes this router runs nested in its own (FastAPI's
        #: merge): this router's, else one running its event handlers, then its routers'
        self._rb_lifespans: list[Any] = [lifespan if lifespan is not None else _events_lifespan(self)]
        #: FastAPI's form limits of its routes (merged under a route's own)
        self.form_limits = check_form_limits(form_limits)
        self.strict_content_type = _given(strict_content_type)
        #: the largest body its routes take (bytes; None: the app's), unless a route says
        self.max_body_size = check_max_body_size(max_body_size)
        self.tags = list(tags or [])
        self.route_class = route_class
        self.default_response_class = default_response_class
        self.responses = dict(responses or {})
        self.callbacks = list(callbacks or [])
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.generate_unique_id_function = _given(generate_unique_id_function)

    def _router_options(self, options: dict[str, Any]) -> None:
        """FastAPI's: the router's tags before the route's, its responses under the
        route's, its callbacks before the route's; deprecated if either is, in the
        document if both are."""
        if self.tags:
            options["tags"] = [*self.tags, *(options.get("tags") or ())]
        if self.responses:
            options["responses"] = {**self.responses, **(options.get("responses") or {})}
        if self.callbacks:
            options["callbacks"] = [*self.callbacks, *(options.get("callbacks") or ())]
        if self.deprecated:
            options["deprecated"] = options.get("deprecated") or self.deprecated
        if not self.include_in_schema:
            options["include_in_schema"] = False
