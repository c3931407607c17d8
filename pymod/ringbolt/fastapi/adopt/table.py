"""An unchanged FastAPI (or Starlette) app's route table as ringbolt reads it once at
start-up: every route in the order its router tries them (``include_router``'s routes
where they were included: FastAPI 0.165's included-router contexts, or the copies older
releases made), what each is, why one cannot be planned, and which planned route would
take a request that FastAPI's router gives an earlier route (ringbolt's router prefers
static segments to parameters, FastAPI's the first route that matches): such a route is
left to the ASGI path, so every request is answered by the route FastAPI would pick."""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import Any, Iterator

from starlette import routing as sroute

#: a path's parameter: {name} or {name:convertor}
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?\}")
LIT, INT, FLOAT, UUID, STR, PATH, OTHER = "lit", "int", "float", "uuid", "str", "path", "other"
#: ringbolt's router tries a segment's children in this order (dispatch/router.hpp)
_ORDER = {LIT: 0, INT: 1, FLOAT: 2, UUID: 3, STR: 4, PATH: 5, OTHER: 6}
#: what Starlette's convertors match: ringbolt's int and float also take a leading '-'
#: (answered by the route as FastAPI's router answers an unmatched path: ``signed``)
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclasses.dataclass(eq=False)
class Entry:
    """One route of the app's table (its effective form: an included router's route with
    the prefix, dependencies and options of every include on its way)."""

    route: Any  #: the effective route: an APIRoute, FastAPI's included-route context, a Starlette route
    original: Any  #: the route object the app's routers hold
    kind: str  #: "api", "route", "websocket", "mount", "docs" or "other"
    path: str
    methods: frozenset[str] | None  #: None: any method (a mount)
    reason: str | None = None  #: why it goes through ASGI; None: planned
    counted: bool = True  #: one of the app's own routes ("N of M routes planned"); not its document

    @property
    def planned(self) -> bool:
        return self.reason is None

    def describe(self) -> str:
        shown = ",".join(sorted(self.methods)) if self.methods else ("WS" if self.kind == "websocket" else "*")
        return f"{shown} {self.path}"


def _effective(app: Any) -> Iterator[tuple[Any, Any]]:
    """(effective route, original route) in the order the app's router tries them."""
    contexts: Any = getattr(sys.modules.get("fastapi.routing"), "iter_route_contexts", None)
    if contexts is None:  # FastAPI before included-router contexts: include_router copied the routes
        for route in app.routes:
            yield route, route
        return
    for rc in contexts(app.routes):
        ctx = getattr(rc, "_route_context", None)
        if ctx is None:
            yield rc.route, rc.route
        else:
            yield (ctx.starlette_route or ctx), ctx.original_route


def _docs_paths(app: Any) -> set[str]:
    paths = {getattr(app, n, None) for n in ("openapi_url", "docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")}
    return {p for p in paths if p}


def read(app: Any) -> list[Entry]:
    """The app's routes as entries, each a kind and, for the ones that cannot be planned
    whatever the rest of the table is, the reason."""
    routing = sys.modules.get("fastapi.routing")  # (imported with the app, when it is FastAPI's)
    api_route: Any = getattr(routing, "APIRoute", ())
    api_websocket: Any = getattr(routing, "APIWebSocketRoute", ())
    docs = _docs_paths(app)
    out: list[Entry] = []
    for route, original in _effective(app):
        path = getattr(route, "path", None) or getattr(route, "path_format", "") or ""
        methods = getattr(route, "methods", None)
        frozen = frozenset(methods) if methods else None
        if isinstance(original, api_route):
            e = Entry(route, original, "api", path, frozen)
            if type(original) is not api_route:
                e.reason = f"its route class {type(original).__qualname__} (a custom APIRoute)"
        elif isinstance(original, (api_websocket, sroute.WebSocketRoute)):
            e = Entry(route, original, "websocket", path, frozenset())
            e.reason = "a WebSocket route (served by the ASGI path)"
        elif isinstance(original, sroute.Mount):
            target = type(getattr(original, "app", None)).__name__
            e = Entry(route, original, "mount", path.rstrip("/") + "/{path:path}", None)
            e.reason = f"a mounted app ({target} at {path or '/'})"
        elif isinstance(original, sroute.Host):
            e = Entry(route, original, "other", "/{path:path}", None)
            e.reason = f"a Host route ({original.host})"
        elif isinstance(original, sroute.Route):
            endpoint = getattr(route, "endpoint", None)
            is_docs = path in docs and getattr(endpoint, "__module__", "") == "fastapi.applications"
            e = Entry(route, original, "docs" if is_docs else "route", path, frozen)
            if is_docs:
                e.reason = "FastAPI's OpenAPI document or docs page (the app's own)"
                e.counted = False
            elif not _is_function(endpoint):
                e.reason = f"its endpoint {endpoint!r} is a class or an ASGI app, not a function"
        else:
            e = Entry(route, original, "other", "/{path:path}", None)
            e.reason = f"a {type(original).__qualname__} route"
        if e.reason is None:
            e.reason = path_reason(e.path)
        out.append(e)
    return out


def _is_function(fn: Any) -> bool:
    import inspect
    return inspect.isfunction(fn) or inspect.ismethod(fn)


def segments(path: str) -> list[tuple[str, Any]]:
    """A path pattern as segments: (LIT, text), (STR, None), (PATH, None) (the rest, any
    number of segments) or (OTHER, regex) (a convertor, or text and parameters in one
    segment)."""
    out: list[tuple[str, Any]] = []
    for seg in path.lstrip("/").split("/"):
        params = list(_PARAM.finditer(seg))
        if not params:
            out.append((LIT, seg))
            continue
        if len(params) == 1 and params[0].group(0) == seg:
            conv = params[0].group(2) or "str"
            kind = {"str": STR, "int": INT, "float": FLOAT, "uuid": UUID, "path": PATH}.get(conv)
            if kind == PATH:
                out.append((PATH, None))
                break
            if kind is not None:
                out.append((kind, params[0].group(1)))
                continue
        pattern, pos = [], 0
        for m in params:
            pattern.append(re.escape(seg[pos:m.start()]))
            pattern.append(".*" if m.group(2) == "path" else "[^/]+")
            pos = m.end()
        pattern.append(re.escape(seg[pos:]))
        out.append((OTHER, re.compile("".join(pattern))))
    return out


def path_reason(path: str) -> str | None:
    """Why ringbolt's router cannot take ``path`` as FastAPI's router reads it, or None."""
    for m in _PARAM.finditer(path):
        if (m.group(2) or "str") not in ("str", "path", "int", "float", "uuid"):
            return f"the path convertor {{{m.group(1)}:{m.group(2)}}} (one of the app's own)"
    for kind, value in segments(path):
        if kind == OTHER:
            return f"its path {path} has a parameter inside a segment (ringbolt's router takes whole segments)"
    return None


def _seg_overlap(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    if a[0] == LIT and b[0] == LIT:
        return bool(a[1] == b[1])
    if a[0] == LIT:
        if b[0] == OTHER:
            return bool(b[1].fullmatch(a[1]))
        if b[0] in (INT, FLOAT):
            return bool(_NUMBER.fullmatch(a[1].lstrip("-")))
        return bool(a[1] != "")  # a str or uuid parameter: any non-empty segment (a uuid's: told apart no further)
    if b[0] == LIT:
        return _seg_overlap(b, a)
    return True


def overlap(a: list[tuple[str, Any]], b: list[tuple[str, Any]]) -> bool:
    """Whether some path matches both patterns (True when it cannot tell)."""
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if (x is not None and x[0] == PATH) or (y is not None and y[0] == PATH):
            return True
        if x is None or y is None:
            return False
        if not _seg_overlap(x, y):
            return False
    return True


def dominates(a: list[tuple[str, Any]], b: list[tuple[str, Any]]) -> bool:
    """Whether ringbolt's router, given a path both patterns match, picks ``a`` (static
    segments first, then parameters, then the rest of the path; two routes of one shape:
    the first registered)."""
    for x, y in zip(a, b):
        if x == y or (x[0] == y[0] and x[0] != LIT and x[0] != OTHER):
            continue
        return _ORDER[x[0]] < _ORDER[y[0]] and x[0] != OTHER
    return len(a) == len(b)


def shared_methods(a: Entry, b: Entry) -> bool:
    if a.kind == "websocket" or b.kind == "websocket":
        return a.kind == b.kind
    if a.methods is None or b.methods is None:
        return True
    return bool(a.methods & b.methods)


def signed(path: str) -> list[int]:
    """The segments (their indexes, after the leading '/') of ``path``'s int and float
    parameters: where ringbolt's router also takes a leading '-', which FastAPI's does not."""
    return [i for i, (kind, _) in enumerate(segments(path)) if kind in (INT, FLOAT)]


def _twin(path: str) -> str:
    """``path`` with its trailing slash toggled (Starlette's redirect_slashes)."""
    return path[:-1] if path.endswith("/") and path != "/" else path + "/"


def alone(entries: list[Entry], index: int) -> str | None:
    """Why ``entries[index]``, whose int or float parameter ringbolt's router also takes
    with a leading '-', cannot answer such a path as FastAPI's router would (no route
    takes it: 404): another route may match it, or its trailing-slash twin; or None."""
    me = entries[index]
    for path in (me.path, _twin(me.path)):
        mine = segments(path)
        for other in entries:
            if other is not me and other.kind != "websocket" and overlap(segments(other.path), mine):
                return (f"its negative numbers are another route's ({other.describe()}) in FastAPI's router, "
                        "whose int and float convertors take no '-'")
    return None


def shadowed(entries: list[Entry], index: int) -> str | None:
    """Why ``entries[index]`` (plannable on its own) must still go through ASGI: an
    earlier route FastAPI tries first that ringbolt's router would not prefer, or None."""
    me = entries[index]
    mine = segments(me.path)
    for earlier in entries[:index]:
        if not shared_methods(earlier, me):
            continue
        theirs = segments(earlier.path)
        if not overlap(theirs, mine):
            continue
        if not earlier.planned:
            return f"the earlier route {earlier.describe()}, served by the ASGI path, takes some of its requests first"
        if not dominates(theirs, mine):
            return (f"the earlier route {earlier.describe()} takes some of its requests first (FastAPI tries routes "
                    "in order; ringbolt's router prefers static segments)")
    return None
