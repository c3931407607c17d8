"""The OpenAPI document generator (``ringbolt.openapi``'s names, imported from there
when first used: a worker that never makes a document does not load it)."""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import enum
import functools
import http
import inspect
import logging
import re
import typing
from typing import Any, Callable, Iterable, Sequence

from . import request
from . import schemas
from ..typed.plan import RoutePlan, path_names
from ..errors import PROBLEM_JSON

logger = logging.getLogger("ringbolt")

OPENAPI_VERSION = "3.1.0"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: the methods whose operations list a request body (FastAPI's)
METHODS_WITH_BODY = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"))
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}")
_STATUS_RANGES = {"1XX": "Information", "2XX": "Success", "3XX": "Redirection", "4XX": "Client Error",
                  "5XX": "Server Error", "DEFAULT": "Default Response"}


class RouteInfo:
    """What the document reads of one route: its path and methods, the handler, its
    plan (None: a plain ``def h(req)`` handler) and the route's options (``tags``,
    ``summary``, ``responses``, and FastAPI's ``response_description``,
    ``response_class``, ``openapi_extra``, ``callbacks``...)."""

    __slots__ = ("path", "methods", "handler", "plan", "options")

    def __init__(self, path: str, methods: Sequence[str], handler: Any, plan: RoutePlan | None,
                 options: dict[str, Any] | None) -> None:
        self.path = path
        self.methods = list(methods)
        self.handler = handler
        self.plan = plan
        self.options = dict(options or (plan.options if plan is not None else {}))

    @classmethod
    def of(cls, route: Any) -> "RouteInfo | None":
        """A RouteInfo of a RouteInfo or of a registered route (a ``RouteDef``, or any
        object with ``path``, ``methods``, ``handler`` or ``endpoint``, and ``plan`` and
        ``options``); None for what is no HTTP route (a WebSocket endpoint, a mount)."""
        if isinstance(route, RouteInfo):
            return route
        handler = getattr(route, "handler", None) or getattr(route, "endpoint", None)
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if getattr(route, "websocket", False) or not isinstance(path, str) or not methods or handler is None:
            return None
        if getattr(route, "include_in_schema", True) is False:  # a Route of app.routes: the docs pages
            return None
        plan = getattr(route, "plan", None) or getattr(route, "_rb_plan", None)  # an APIRoute of app.routes
        options = getattr(route, "options", None) or getattr(route, "_rb_options", None)
        return cls(path, list(methods), handler, plan, options)


def openapi_path(path: str) -> str:
    """``/users/{uid:int}`` as OpenAPI writes it: ``/users/{uid}``."""
    return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def default_operation_id(name: str, path: str, method: str) -> str:
    """FastAPI's ``generate_unique_id``: the route's name, the path, the method, each
    non-word character an ``_`` (``read_item_items__item_id__get``)."""
    return re.sub(r"\W", "_", f"{name}{openapi_path(path)}") + f"_{method.lower()}"


def _handler_name(handler: Any) -> str:
    return str(getattr(handler, "__name__", None) or type(handler).__name__)


def _description(handler: Any) -> str | None:
    doc = getattr(handler, "__doc__", None)
    if not isinstance(doc, str) or inspect.isclass(handler) and doc == type.__doc__:
        return None
    return inspect.cleandoc(doc).split("\f")[0].strip() or None  # FastAPI: after a form feed, for the code only


def body_allowed(status: str | int | None) -> bool:
    """Whether an answer of ``status`` may have a body (RFC 9110: none for 1xx, 204,
    205, 304)."""
    if status is None or str(status).upper() in _STATUS_RANGES:
        return True
    code = int(status)
    return not (code < 200 or code in (204, 205, 304))


class _RouteView:
    """The route as a ``generate_unique_id_function(route)`` reads it (FastAPI's
    APIRoute members)."""

    def __init__(self, route: RouteInfo, name: str) -> None:
        opts = route.options
        self.path = route.path
        self.path_format = openapi_path(route.path)
        self.methods = set(route.methods)
        self.name = name
        self.endpoint = route.handler
        self.tags = list(opts.get("tags") or [])
        self.summary = opts.get("summary")
        self.operation_id = opts.get("operation_id")
        self.responses = opts.get("responses") or {}


def _response_class_info(cls: Any) -> tuple[str | None, bool, int]:
    """(media type, JSON or not, default status) of a ``response_class=``."""
    if cls is None:
        return "application/json", True, 200
    media = getattr(cls, "media_type", None)
    is_json = _is_class(cls, "JSONResponse")
    status = 200
    try:
        default = inspect.signature(cls.__init__).parameters.get("status_code")
        if default is not None and isinstance(default.default, int):
            status = default.default
    except (TypeError, ValueError):
        pass
    return (media if isinstance(media, str) else None), is_json, status


#: the return annotations whose argument is a generator route's item type (FastAPI's)
_STREAMS = (collections.abc.AsyncIterable, collections.abc.AsyncIterator, collections.abc.AsyncGenerator,
            collections.abc.Iterable, collections.abc.Iterator, collections.abc.Generator)
#: an item of a text/event-stream (FastAPI's schema of a server-sent event)
SSE_EVENT: dict[str, Any] = {"type": "object", "properties": {"data": {"type": "string"}, "event": {"type": "string"},
                                              "id": {"type": "string"}, "retry": {"type": "integer", "minimum": 0}}}


def _stream_item(handler: Any) -> tuple[bool, Any]:
    """(a generator handler, the type of its items or None) for FastAPI's streams."""
    if not (inspect.isgeneratorfunction(handler) or inspect.isasyncgenfunction(handler)):
        return False, None
    try:
        ret = typing.get_type_hints(handler, include_extras=True).get("return")
    except Exception:  # noqa: BLE001 - an annotation the plan already read or left alone
        ret = None
    if typing.get_origin(ret) not in _STREAMS:
        return True, None
    args = typing.get_args(ret)
    item = args[0] if args else Any
    if inspect.isclass(item) and item.__name__ == "ServerSentEvent":
        return True, None  # the event itself: its data has no schema of its own
    return True, item


def _is_class(cls: Any, name: str) -> bool:
    return any(c.__name__ == name for c in getattr(cls, "__mro__", ()))


class _Builder:
    """One document: the operations, the components they share and the security
    schemes met."""

    def __init__(self, conventions: str, separate: bool) -> None:
        self.fastapi = conventions == "fastapi"
        self.schemas = schemas.Schemas(separate)
        self.security_schemes: dict[str, Any] = {}
        self.operation_ids: set[str] = set()
        self._validation_ref: str | None = None
        self._problem_ref: str | None = None
        self._after: list[Callable[[], None]] = []  #: what waits for the schemas (openapi_extra)

    # ---- the error components ----
    def validation_ref(self) -> str:
        if self._validation_ref is None:
            item = self.schemas.add("ValidationError", copy.deepcopy(schemas.VALIDATION_ERROR))
            body = (schemas.http_validation_error if self.fastapi else schemas.problem_validation_error)(
                schemas.REF_PREFIX + item)
            self._validation_ref = schemas.REF_PREFIX + self.schemas.add("HTTPValidationError", body)
        return self._validation_ref

    def problem(self) -> dict[str, Any]:
        """The content of an answer that is a problem (``HTTPException``, a refusal)."""
        if self._problem_ref is None:
            self._problem_ref = schemas.REF_PREFIX + self.schemas.add("Problem", schemas.PROBLEM)
        return {PROBLEM_JSON: {"schema": {"$ref": self._problem_ref}}}

    def unique_id(self, wanted: str, method: str) -> str:
        """The operation id; a second operation of one id (the other methods of a
        route) gets ``_<method>`` added, so the document stays valid."""
        oid = wanted if wanted not in self.operation_ids else f"{wanted}_{method}"
        n = 1
        while oid in self.operation_ids:
            n += 1
            oid = f"{wanted}_{method}_{n}"
        self.operation_ids.add(oid)
        return oid

    # ---- one path item ----
    def path_item(self, route: RouteInfo) -> dict[str, Any]:
        opts = route.options
        name = opts.get("name") or _handler_name(route.handler)
        make_id = opts.get("generate_unique_id_function")
        methods = [m for m in route.methods if m.lower() in METHODS]
        if not methods:
            return {}
        route_id = opts.get("operation_id") or (make_id(_RouteView(route, name)) if callable(make_id)
                                                else default_operation_id(name, route.path, methods[0]))
        reads = request.walk(route.plan) if route.plan is not None else request.Reads([], [], [])
        item: dict[str, Any] = {}
        for method in methods:
            m = method.lower()
            if m in item:
                continue
            item[m] = self.operation(route, method, name, route_id, reads)
        return item

    def operation(self, route: RouteInfo, method: str, name: str, route_id: str,
                  reads: request.Reads) -> dict[str, Any]:
        opts = route.options
        op: dict[str, Any] = {}
        if opts.get("tags"):
            op["tags"] = list(opts["tags"])
        op["summary"] = opts.get("summary") or name.replace("_", " ").title()
        description = opts.get("description") or _description(route.handler)
        if description:
            op["description"] = description
        op["operationId"] = self.unique_id(route_id, method.lower())
        if opts.get("deprecated"):
            op["deprecated"] = True
        security = self.security(reads)
        if security:
            op["security"] = security
        parameters = self.parameters(route, reads)
        if parameters:
            op["parameters"] = parameters
        body = request.body_field(reads.body, route_id) if method.upper() in METHODS_WITH_BODY else None
        if body is not None:
            op["requestBody"] = self.request_body(body)
        callbacks = opts.get("callbacks")
        if callbacks:
            op["callbacks"] = {}
            for cb in callbacks:
                cb_route = RouteInfo.of(cb)
                if cb_route is None:
                    continue
                cb_name = cb_route.options.get("name") or _handler_name(cb_route.handler)
                op["callbacks"][cb_name] = {cb_route.path: self.path_item(cb_route)}
        op["responses"] = self.responses(route, route_id, reads, body is not None or bool(reads.body))
        extra = opts.get("openapi_extra")
        if extra:
            self._after.append(lambda: schemas.deep_update(op, copy.deepcopy(extra)))
        return op

    def parameters(self, route: RouteInfo, reads: request.Reads) -> list[dict[str, Any]]:
        converters = path_names(route.path)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for p in reads.params:
            if not p.marker.include_in_schema:
                continue
            for one in request.parameters(p, converters.get(p.key) if p.source == "path" else None):
                if self.fastapi and id(p) in reads.untyped:
                    one.tp = Any  # FastAPI's: no annotation, any value (the plan reads it as text)
                out: dict[str, Any] = {"name": one.name, "in": one.where, "required": one.required,
                                       "schema": self.schemas.want(one.tp, field=one.field, title=one.title,
                                                                   plain=one.plain, config=one.config)}
                if one.description:
                    out["description"] = one.description
                if one.openapi_examples:
                    out["examples"] = one.openapi_examples
                elif one.example is not request.UNSET:
                    out["example"] = one.example
                if one.deprecated:
                    out["deprecated"] = True
                key = (one.where, one.name)
                before = found.get(key)  # a parameter read twice: the last declaration, a required one first
                if before is None or out["required"] or not before["required"]:
                    found[key] = out
        if not self.fastapi:  # a path parameter the handler does not take: listed, as OpenAPI wants each
            for pname, converter in converters.items():
                if ("path", pname) not in found:
                    schema = {**schemas.path_converter_schema(converter), "title": schemas.field_title(pname)}
                    found[("path", pname)] = {"name": pname, "in": "path", "required": True, "schema": schema}
            ordered = sorted(found.values(), key=lambda o: o["in"] != "path")
            return ordered
        return list(found.values())

    def request_body(self, body: request.BodyField) -> dict[str, Any]:
        media: dict[str, Any] = {}
        if body.tp is None and body.plain is not None:  # several parameters, no library: the object made here
            obj = body.plain()
            media["schema"] = {"$ref": schemas.REF_PREFIX + self.schemas.add(obj["title"], obj)}
        else:
            media["schema"] = self.schemas.want(body.tp, field=body.field, title=body.title, plain=body.plain)
        if body.openapi_examples:
            media["examples"] = body.openapi_examples
        elif body.example is not request.UNSET:
            media["example"] = body.example
        out: dict[str, Any] = {}
        if body.required:
            out["required"] = True
        out["content"] = {body.media_type: media}
        return out

    def _response_model(self, route: RouteInfo) -> Any:
        plan = route.plan
        if plan is None:
            return None
        if plan.response.model is not None or not self.fastapi or "response_model" in route.options:
            return plan.response.model if plan.response.model is not None else route.options.get("response_model")
        try:  # FastAPI: the return annotation, unless it is a Response
            ret = typing.get_type_hints(route.handler, include_extras=True).get("return")
        except Exception:  # noqa: BLE001 - the plan read (or left) the annotations already
            return None
        if ret is None or ret is type(None) or (inspect.isclass(ret) and any(
                c.__name__ in ("Response", "StreamingResponse", "FileResponse") for c in ret.__mro__)):
            return None
        return ret

    def responses(self, route: RouteInfo, route_id: str, reads: request.Reads, has_body: bool) -> dict[str, Any]:
        opts = route.options
        plan = route.plan
        given_class = opts.get("response_class")
        response_class = given_class or opts.get("default_response_class")
        media, is_json, default_status = _response_class_info(response_class)
        given = plan.response.status_code if plan is not None else None
        if given is None:
            given = opts.get("status_code")
        status = str(int(given)) if given is not None else str(default_status)
        out: dict[str, Any] = {status: {"description": opts.get("response_description") or "Successful Response"}}
        if body_allowed(given):
            stream, item = _stream_item(route.handler)
            schema: dict[str, Any]
            if stream and self.fastapi and given_class is None:  # JSON Lines
                schema = ({} if item is None else self.schemas.want(item, "serialization",
                                                                    title="StreamItem_" + route_id))
                out[status]["content"] = {"application/jsonl": {"itemSchema": schema}}
            elif stream and _is_class(response_class, "EventSourceResponse"):
                event = copy.deepcopy(SSE_EVENT)
                if item is not None:
                    event["required"] = ["data"]
                    event["properties"]["data"] = {
                        "type": "string", "contentMediaType": "application/json",
                        "contentSchema": self.schemas.want(item, "serialization", title="StreamItem_" + route_id)}
                out[status]["content"] = {"text/event-stream": {"itemSchema": event}}
            elif media:
                model = self._response_model(route) if is_json else None
                schema = {"type": "string"} if not is_json else {}
                if model is not None:
                    schema = self.schemas.want(model, "serialization", title="Response_" + route_id)
                out[status]["content"] = {media: {"schema": schema}}
        self.declared_responses(out, opts.get("responses") or {}, route_id, media)
        params = route.plan.params() if route.plan is not None else []
        if (params or has_body) and not any(code in out for code in ("422", "4XX", "default")):
            media_422 = "application/json" if self.fastapi else PROBLEM_JSON
            out["422"] = {"description": "Validation Error",
                          "content": {media_422: {"schema": {"$ref": self.validation_ref()}}}}
        if not self.fastapi:
            self.ringbolt_refusals(out, route, reads, has_body)
        else:
            for scheme, scopes in reads.security:
                for code, text in scheme.openapi_responses(scopes).items():
                    out.setdefault(code, {"description": text})
        return out

    def declared_responses(self, out: dict[str, Any], declared: dict[Any, Any], route_id: str,
                           media: str | None) -> None:
        """``responses={...}`` merged into the operation's, as FastAPI merges them."""
        for code, extra in declared.items():
            given = copy.deepcopy(extra) if isinstance(extra, dict) else {}
            model = given.pop("model", None)
            key = str(code).upper()
            if key == "DEFAULT":
                key = "default"
            into = out.setdefault(key, {})
            if model is not None:
                where = given.setdefault("content", {}).setdefault(media or "application/json", {})
                schema = where.setdefault("schema", {})
                self.schemas.want(model, "serialization", title=f"Response_{code}_{route_id}", into=schema)
            text = _STATUS_RANGES.get(str(code).upper())
            if text is None:
                try:
                    text = http.HTTPStatus(int(code)).phrase
                except ValueError:
                    text = None
            description = given.get("description") or into.get("description") or text or "Additional Response"
            into["description"] = description
            problem = self.problem if not self.fastapi and key[:1] in ("4", "5") else None
            # merged once the model's schema is made (FastAPI merges it into the one given)
            self._after.append(functools.partial(_merge_response, into, given, description, problem))

    def ringbolt_refusals(self, out: dict[str, Any], route: RouteInfo, reads: request.Reads,
                          has_body: bool) -> None:
        """What ringbolt refuses before the handler runs, each with its problem: a
        malformed body (400), a value a path converter does not take (404), the
        verifiers' 401 and 403."""
        if has_body:
            json_body = route.plan is not None and route.plan.body is not None
            out.setdefault("400", {"description": "Malformed JSON body" if json_body else "Malformed form body",
                                   "content": self.problem()})
        if any(c in ("int", "float", "uuid") for c in path_names(route.path).values()):
            out.setdefault("404", {"description": "No route matches: a path value its converter does not take",
                                   "content": self.problem()})
        for scheme, scopes in reads.security:
            for code, text in scheme.openapi_responses(scopes).items():
                out.setdefault(code, {"description": text, "content": self.problem()})

    def security(self, reads: request.Reads) -> list[dict[str, list[str]]]:
        """The requirements of the schemes met under the route: one per scheme, its
        scopes merged (FastAPI's), and a verifier's alternatives (roles) each of its own."""
        merged: dict[str, list[str]] = {}
        alternatives: list[dict[str, list[str]]] = []
        for scheme, scopes in reads.security:
            self.security_schemes[scheme.scheme_name] = dict(scheme.model)
            options = scheme.security_alternatives(scopes)
            if len(options) == 1:
                names = merged.setdefault(scheme.scheme_name, [])
                names += [s for s in options[0] if s not in names]
            else:
                alternatives += [{scheme.scheme_name: list(o)} for o in options
                                 if {scheme.scheme_name: list(o)} not in alternatives]
        return [{name: scopes} for name, scopes in merged.items()] + alternatives


def _merge_response(into: dict[str, Any], given: dict[str, Any], description: str,
                    problem: Callable[[], dict[str, Any]] | None) -> None:
    schemas.deep_update(into, given)
    into["description"] = description
    if problem is not None and "content" not in into:
        into["content"] = problem()  # what HTTPException answers: a problem


def plain_json(value: Any) -> Any:
    """The document as JSON values, as FastAPI hands it out: members whose value is
    None left out, enums as their values, tuples and sets as lists, models as dicts."""
    if isinstance(value, dict):
        return {(k.value if isinstance(k, enum.Enum) else k): plain_json(v) for k, v in value.items()
                if v is not None}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_json(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain_json(value.value)
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return plain_json(dump(mode="json", by_alias=True, exclude_none=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain_json(dataclasses.asdict(value))
    return value


def get_openapi(
    *,
    title: str,
    version: str,
    routes: Iterable[Any],
    openapi_version: str = OPENAPI_VERSION,
    summary: str | None = None,
    description: str | None = None,
    webhooks: Iterable[Any] | None = None,
    tags: list[dict[str, Any]] | None = None,
    servers: list[dict[str, Any]] | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, Any] | None = None,
    license_info: dict[str, Any] | None = None,
    separate_input_output_schemas: bool = True,
    external_docs: dict[str, Any] | None = None,
    conventions: str = "ringbolt",
) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (``App.routes_for_openapi()``, or registered
    routes), FastAPI's arguments; ``conventions`` as the App's (the error parts)."""
    info: dict[str, Any] = {"title": title, "version": version}
    for key, value in (("summary", summary), ("description", description), ("termsOfService", terms_of_service),
                       ("contact", contact), ("license", license_info)):
        if value:
            info[key] = value
    doc: dict[str, Any] = {"openapi": openapi_version, "info": info}
    if servers:
        doc["servers"] = list(servers)
    b = _Builder(conventions, separate_input_output_schemas)
    sections: list[tuple[dict[str, dict[str, Any]], Iterable[Any], bool]] = [({}, routes, True)]
    if webhooks:
        sections.append(({}, webhooks, False))
    for paths, section, as_path in sections:
        for one in section:
            route = RouteInfo.of(one)
            if route is None or not route.options.get("include_in_schema", True):
                continue
            key = openapi_path(route.path) if as_path else route.path
            try:
                item = b.path_item(route)
            except Exception as exc:  # noqa: BLE001 - one route's failure must not take the document away
                logger.warning("OpenAPI: %s %s left out: %r", ",".join(route.methods), route.path, exc)
                continue
            if item:  # a method of a path listed twice (FastAPI keeps both routes): its last operation
                paths.setdefault(key, {}).update(item)
    components: dict[str, Any] = {}
    found = b.schemas.resolve()
    for after in b._after:
        after()
    if found:
        components["schemas"] = dict(sorted(found.items()))
    if b.security_schemes:
        components["securitySchemes"] = b.security_schemes
    if components:
        doc["components"] = components
    doc["paths"] = sections[0][0]
    if len(sections) > 1 and sections[1][0]:
        doc["webhooks"] = sections[1][0]
    if tags:
        doc["tags"] = list(tags)
    if external_docs:
        doc["externalDocs"] = external_docs
    out: dict[str, Any] = plain_json(doc)
    return out


__all__ = ["OPENAPI_VERSION", "RouteInfo", "default_operation_id", "get_openapi", "openapi_path"]
