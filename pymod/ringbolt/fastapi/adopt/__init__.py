"""An unchanged FastAPI (or Starlette) app served through ringbolt's own per-route plans.

``adopt(app)`` reads the app's route table once (``table.read``), and registers each
route it can plan on a ringbolt app under FastAPI's conventions, as ``ringbolt.fastapi``
registers a ported service's: the endpoint, its dependencies, response model and options
read from FastAPI's own objects (``markers``), its answers and the app's exception
handlers bridged (``answers``). The app itself is mounted as the ASGI fallback: its
document and docs pages, its mounts, WebSocket routes and every route that cannot be
planned go through it whole, as under any ASGI server, and so does the whole app when
its middleware must see every request (any middleware but CORS and GZip, which the
server runs natively, and TrustedHost and HTTPSRedirect, run before the planned routes).
What was decided, and why, is ``AdoptedApp.report`` (``ringbolt serve`` says it at
start-up; ``ringbolt routes`` lists it)."""

from __future__ import annotations

import inspect
import logging
import sys
from typing import Any, Callable

from ..._native import Request as NativeRequest
from ...app import App
from ..applications import FastAPI as _RingboltFastAPI
from . import table

logger = logging.getLogger("ringbolt")

__all__ = ["AdoptedApp", "adopt", "is_adoptable"]


def is_adoptable(obj: Any) -> bool:
    """Whether ``obj`` is a FastAPI or Starlette application (its own class or a subclass)."""
    applications = sys.modules.get("starlette.applications")
    return applications is not None and isinstance(obj, applications.Starlette)


class Report:
    """What ``adopt`` decided: the app's routes, each planned or why not, and the reason
    the whole app goes through ASGI (None: per route)."""

    def __init__(self, entries: list[table.Entry], whole: str | None) -> None:
        self.entries = entries
        self.whole = whole

    @property
    def counted(self) -> list[table.Entry]:
        return [e for e in self.entries if e.counted]

    @property
    def planned(self) -> int:
        return sum(1 for e in self.counted if e.planned)

    def summary(self) -> str:
        n = len(self.counted)
        if self.whole is not None:
            return f"0 of {n} routes planned: the whole app goes through ASGI ({self.whole})"
        return f"{self.planned} of {n} routes planned"

    def lines(self) -> list[str]:
        """One line per route: ``GET /items/{id}  planned`` or ``... ASGI: <reason>``."""
        width = max([len(e.describe()) for e in self.entries] + [0])
        out = []
        for e in self.entries:
            state = "planned" if e.planned else f"ASGI: {e.reason}"
            out.append(f"{e.describe():<{width}}  {state}")
        return out


class AdoptedApp(_RingboltFastAPI):
    """The ringbolt app serving an unchanged FastAPI (or Starlette) app: its planned
    routes, with the app mounted as the ASGI fallback (see the module's docstring)."""

    report: Report
    #: what a request raises when a dependency with yield swallowed its exception: the
    #: app's FastAPI's own FastAPIError (ringbolt.fastapi's otherwise)
    _rb_swallowed: Any = None

    def __init__(self, source: Any) -> None:
        super().__init__(openapi_url=None, docs_url=None, redoc_url=None)
        self.source = source
        self.redirect_slashes = False  # FastAPI's router decides redirects (it knows every route)
        self._head_paths: list[str] = []  # planned GET routes whose HEAD FastAPI answers (405)
        self._rb_swallowed = getattr(sys.modules.get("fastapi.exceptions"), "FastAPIError", None)

    def _resolved_routes(self) -> list[tuple[str, list[str], Any, bool, bool, bool]]:
        out = super()._resolved_routes()
        if self._asgi is not None:  # FastAPI's routes take no HEAD: its router answers one (a 405)
            out += [(path, ["HEAD"], self._asgi, False, True, False) for path in self._head_paths]
        return out


def _holder_request_class(source: Any, adopted: AdoptedApp, root_path: str) -> type:
    """Starlette's ``Request`` of the adopted app's planned routes: ringbolt.fastapi's view
    of the native request (made once per request that asks for it), also an instance of
    Starlette's class, whose ``app`` is the FastAPI app and whose ``state`` starts as what
    its lifespan yielded."""
    from starlette.datastructures import State
    from starlette.requests import Request as StarletteRequest

    from ..requests import _KEY
    from ..requests import Request as RingboltRequest

    class Request(RingboltRequest, StarletteRequest):  # type: ignore[misc]
        @classmethod
        def _rb_from_request(cls, native: Any, app: Any) -> Any:
            own = native.__dict__
            found = own.get(_KEY)
            if type(found) is not cls:
                found = own[_KEY] = cls._of_native(native, source)
            return found

        @property
        def state(self) -> Any:
            if self._state is None:
                asgi = adopted._asgi
                self._state = State(dict(asgi.state) if asgi is not None else {})  # type: ignore[assignment]
            return self._state

        def _server_root(self) -> str:  # the app's, else the server's (--root-path), else a test client's
            return str(getattr(source, "root_path", "") or root_path or super()._server_root())

    Request.__qualname__ = Request.__name__ = "Request"
    return Request


#: the oldest FastAPI whose answers ringbolt's plans make (0.100 to 0.110 write pydantic's
#: "url" in each 422 error); tools/fastapi-lowest tests it, the installed one the newest
OLDEST_FASTAPI = (0, 111, 0)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _whole_app_reason(app: Any) -> str | None:
    """Why the whole app must go through ASGI, or None."""
    fastapi = sys.modules.get("fastapi")
    version = getattr(fastapi, "__version__", None)
    if version is not None and _version(version) < OLDEST_FASTAPI:
        return f"FastAPI {version} is older than {'.'.join(map(str, OLDEST_FASTAPI))}, the oldest ringbolt plans"
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and _version(getattr(pydantic, "VERSION", "2")) < (2,):
        return f"pydantic {pydantic.VERSION} (ringbolt's plans read pydantic 2)"
    if getattr(app, "debug", False):
        return "debug=True (Starlette's traceback pages)"
    for name in ("__call__", "build_middleware_stack"):
        own = getattr(type(app), name, None)
        if own is not None and getattr(own, "__module__", "") not in ("fastapi.applications", "starlette.applications"):
            return f"its class {type(app).__qualname__} has a {name} of its own (it may see every request)"
    telemetry = getattr(app, "_native_telemetry", None)
    enabled = getattr(telemetry, "enabled", None)
    if callable(enabled) and enabled():
        return "FastAPI's telemetry is on (it sees every request)"
    if getattr(app, "max_body_size", None) is not None:
        return f"FastAPI(max_body_size={app.max_body_size}) (its own body limit)"
    if getattr(app, "middleware_stack", None) is not None and any(
            _NATIVE_MIDDLEWARE.get(getattr(m.cls, "__name__", "")) for m in app.user_middleware):
        return "its middleware stack was built before ringbolt read it (CORS or GZip would run twice)"
    limits = getattr(getattr(app, "router", None), "form_limits", None)
    if limits:
        return f"FastAPI(form_limits={limits!r}) (its own form limits)"
    for m in app.user_middleware:
        cls = getattr(m, "cls", None)
        if _NATIVE_MIDDLEWARE.get(getattr(cls, "__name__", "")) is None or \
                not getattr(cls, "__module__", "").startswith("starlette.middleware."):
            dispatch = (getattr(m, "kwargs", None) or getattr(m, "options", None) or {}).get("dispatch")
            if dispatch is not None:  # @app.middleware("http"): a BaseHTTPMiddleware over the function
                return f"its HTTP middleware {getattr(dispatch, '__qualname__', dispatch)!s} (it sees every request)"
            return f"its middleware {getattr(cls, '__qualname__', cls)!s} (it sees every request)"
        if getattr(m, "args", ()):
            return f"its middleware {getattr(cls, '__qualname__', cls)!s} takes positional arguments"
    return None


#: Starlette's middleware ringbolt runs itself, by class name: True when the server runs
#: it for every request (taken out of the ASGI path's stack), False when it runs before
#: each planned route (and stays in the ASGI path's stack)
_NATIVE_MIDDLEWARE = {"CORSMiddleware": True, "GZipMiddleware": True, "TrustedHostMiddleware": False,
                      "HTTPSRedirectMiddleware": False}


def _install_middleware(app: Any, adopted: AdoptedApp) -> list[Any]:
    """The app's middleware as ringbolt's own; returns the middleware the ASGI path keeps."""
    from ..middleware import cors, gzip, httpsredirect, trustedhost
    ours = {"CORSMiddleware": cors.CORSMiddleware, "GZipMiddleware": gzip.GZipMiddleware,
            "TrustedHostMiddleware": trustedhost.TrustedHostMiddleware,
            "HTTPSRedirectMiddleware": httpsredirect.HTTPSRedirectMiddleware}
    kept = []
    for m in reversed(app.user_middleware):  # each installed outermost: the first listed ends outermost
        name = m.cls.__name__
        kwargs = getattr(m, "kwargs", None)
        if kwargs is None:
            kwargs = getattr(m, "options", {})
        ours[name]._rb_install(adopted, **kwargs)  # type: ignore[attr-defined]
        if not _NATIVE_MIDDLEWARE[name]:
            kept.append(m)
    return list(reversed(kept))


def _fallback(app: Any, kept: list[Any]) -> None:
    """The app's own middleware stack without the middleware the server runs natively
    (built now, as Starlette builds it at its first request)."""
    if getattr(app, "middleware_stack", None) is not None:
        return  # already built (served before): it stays as it is
    held = app.user_middleware
    app.user_middleware = kept
    try:
        app.middleware_stack = app.build_middleware_stack()
    finally:
        app.user_middleware = held


def adopt(app: Any, *, plan: bool = True, lifespan: str = "auto", root_path: str = "") -> AdoptedApp:
    """A ringbolt app serving the FastAPI (or Starlette) ``app``: the routes it can plan
    through ringbolt's plans, the rest (and with ``plan=False`` everything) through the
    app itself on ringbolt's ASGI path. ``lifespan`` and ``root_path`` are the ASGI
    path's (``ringbolt serve --lifespan``, ``--root-path``)."""
    if not is_adoptable(app):
        raise TypeError(f"adopt() takes a FastAPI or Starlette application, not {type(app).__name__}")
    adopted = AdoptedApp(app)
    entries = table.read(app)
    whole = "planning is off (--no-plan)" if not plan else _whole_app_reason(app)
    if whole is None:
        try:
            kept = _install_middleware(app, adopted)
        except (TypeError, ValueError) as exc:
            whole = f"its middleware: {exc}"
    if whole is None:
        try:
            _plan_routes(app, adopted, entries, root_path)
            _fallback(app, kept)
        except Exception as exc:  # noqa: BLE001 - an app read otherwise than expected is served as it is
            logger.warning("ringbolt could not plan the app's routes, serving it whole through ASGI", exc_info=True)
            whole = f"ringbolt could not read it: {type(exc).__name__}: {exc}"
            entries = table.read(app)
    if whole is not None:
        adopted = AdoptedApp(app)
        for e in entries:
            if e.reason is None:
                e.reason = whole if not plan else "the whole app goes through ASGI"
    adopted.report = Report(entries, whole)
    adopted.mount_asgi(app, lifespan=lifespan, root_path=root_path)
    return adopted


def _plan_routes(app: Any, adopted: AdoptedApp, entries: list[table.Entry], root_path: str) -> None:
    from ...typed.plan import PlanError
    from ..exceptions import FastAPIError
    from . import answers
    from .markers import Adapter, Unplannable

    try:
        from fastapi import FastAPI
        is_fastapi = isinstance(app, FastAPI)
    except ImportError:  # pragma: no cover - a Starlette app without FastAPI installed
        is_fastapi = False
    from starlette.responses import Response as StarletteResponse

    request_class = _holder_request_class(app, adopted, root_path)
    adopted._plan_adapter = Adapter(request_class, ((StarletteResponse,), answers.to_ringbolt))
    overrides = getattr(app, "dependency_overrides", None)  # (a Starlette app has none)
    adopted._dependencies.overrides = overrides if isinstance(overrides, dict) else {}  # the same dict: live

    make: Any = request_class._rb_from_request  # type: ignore[attr-defined]

    def request_of(native: Any) -> Any:
        return make(native, adopted)

    handlers, errors = answers.exception_handlers(app, request_of, is_fastapi)
    adopted._exception_handlers.update(handlers)
    adopted._plan_adapter.errors = errors
    head_shapes: set[str] = set()
    for i, e in enumerate(entries):
        if e.reason is not None:
            continue
        signed = table.signed(e.path)
        why = table.shadowed(entries, i) or (table.alone(entries, i) if signed else None)
        if why is not None:
            e.reason = why
            continue
        try:
            if e.kind == "api":
                _register_api(adopted, e.route, answers)
            else:
                _register_route(adopted, e.route, request_of)
        except Unplannable as exc:
            e.reason = str(exc)
            continue
        except (PlanError, FastAPIError) as exc:  # the planner's refusal, which names the parameter
            e.reason = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - any other refusal of the planner is a reason, said
            e.reason = f"{type(exc).__name__}: {exc}"
            continue
        if signed:  # "/items/-5": a path FastAPI's router matches to no route
            route = adopted._defs[-1]
            route.scopes = ([_unsigned(signed, route.plan, adopted, errors)], *route.scopes)
        if e.kind == "api" and "GET" in (e.methods or ()) and "HEAD" not in (e.methods or ()):
            shape = "/".join(k if k != table.LIT else v for k, v in table.segments(e.path))
            if shape not in head_shapes:
                head_shapes.add(shape)
                adopted._head_paths.append(e.path)


def _unsigned(indexes: list[int], plan: Any, adopted: AdoptedApp, errors: Any) -> Callable[..., Any]:
    """The check before a planned route with int or float parameters: a value sent with a
    leading '-' (which ringbolt's router takes, FastAPI's does not) is answered as FastAPI
    answers a path no route matches, a 404 through the app's handlers (the route was
    planned only where no other route may take that path: ``table.alone``)."""
    from starlette.exceptions import HTTPException

    def negative(req: Any) -> bool:
        raw = req.raw_path
        parts = (raw.encode("latin-1") if isinstance(raw, str) else raw).split(b"/")
        return any(i + 1 < len(parts) and (parts[i + 1][:1] == b"-" or parts[i + 1][:3].lower() == b"%2d")
                   for i in indexes)

    def not_found() -> Any:
        if errors is not None:  # FastAPI's own answer (the app's handlers do not take it)
            return errors[1](HTTPException(404))
        raise HTTPException(404)

    promoted = any(inspect.iscoroutinefunction(h) for h in adopted._exception_handlers.values())
    if (plan is not None and plan.is_async) or promoted:
        async def unsigned_async(req: Any, call_next: Any) -> Any:
            return not_found() if negative(req) else await call_next(req)
        return unsigned_async

    def unsigned(req: Any, call_next: Any) -> Any:
        return not_found() if negative(req) else call_next(req)
    return unsigned


def _register_api(adopted: AdoptedApp, route: Any, answers: Any) -> None:
    """One APIRoute (or FastAPI's context of an included one) as a ringbolt.fastapi route."""
    from fastapi.datastructures import DefaultPlaceholder

    from ..routing import _default_json
    from .markers import Unplannable, depends

    for name, default in (("max_body_size", None), ("strict_content_type", True)):
        value = getattr(route, name, default)
        if isinstance(value, DefaultPlaceholder):
            value = value.value
        if value != default:
            raise Unplannable(f"{name}={value!r}")
    limits = getattr(route, "form_limits", None) or getattr(getattr(route, "original_route", None), "form_limits", None)
    if limits:
        raise Unplannable(f"form_limits={limits!r}")
    endpoint = route.endpoint
    is_gen = inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint)
    given = route.response_class
    if isinstance(given, DefaultPlaceholder):
        from starlette.responses import JSONResponse
        cls = _default_json() if given.value is JSONResponse or is_gen else answers.response_class(given.value)
    else:
        cls = answers.response_class(given)
    options: dict[str, Any] = {
        "status_code": route.status_code,
        "dependencies": [depends(d, f"dependencies= of {route.path}") for d in route.dependencies],
        "response_class": cls,
        "name": route.name,
        "response_model_include": route.response_model_include,
        "response_model_exclude": route.response_model_exclude,
        "response_model_by_alias": route.response_model_by_alias,
        "response_model_exclude_unset": route.response_model_exclude_unset,
        "response_model_exclude_defaults": route.response_model_exclude_defaults,
        "response_model_exclude_none": route.response_model_exclude_none,
    }
    if not is_gen:  # FastAPI's own reading of the return annotation (a Response class: no model)
        options["response_model"] = route.response_model
    adopted.api_route(route.path, sorted(route.methods), **options)(endpoint)


def _register_route(adopted: AdoptedApp, route: Any, request_of: Callable[[Any], Any]) -> None:
    """A Starlette ``Route``: ``endpoint(request)`` returning a Starlette response."""
    endpoint = route.endpoint
    if inspect.iscoroutinefunction(endpoint):
        async def call_async(req: NativeRequest) -> Any:
            return await endpoint(request_of(req))
        handler: Callable[..., Any] = call_async
    else:
        def call(req: NativeRequest) -> Any:
            return endpoint(request_of(req))
        handler = call
    handler.__qualname__ = getattr(endpoint, "__qualname__", "endpoint")
    App.route(adopted, route.path, sorted(route.methods or ("GET",)), name=route.name)(handler)
