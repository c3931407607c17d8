"""The OpenAPI 3.1 document of an App, generated from the plans its routes were
registered with (``App.route_plans``, ``ringbolt._plan``): the parameters, bodies,
responses, dependencies and security schemes a request is checked against are the ones
the document lists, so the two cannot disagree. Plain ``def h(req)`` routes are listed
with a bare operation. ``App.openapi()`` makes it once and keeps it; ``/openapi.json``
serves it (see ``ringbolt._openapi_pages`` and docs/openapi.md).

``get_openapi(...)`` is FastAPI's function of the same name, for a custom document:

    def custom() -> dict:
        doc = get_openapi(title="Shop", version="2.0", routes=app.routes_for_openapi())
        doc["info"]["x-logo"] = {"url": "/static/logo.png"}
        return doc
    app.openapi = custom
"""

from __future__ import annotations

import http
import inspect
import logging
import re
from typing import Any, Iterable, Sequence

from . import _openapi_schemas as schemas
from ._plan import BodySpec, ParamSpec, RoutePlan, path_names
from .errors import PROBLEM_JSON
from .params import Required
from .security import SecurityBase

logger = logging.getLogger("ringbolt")

OPENAPI_VERSION = "3.1.0"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}")
_NO_BODY = (204, 205, 304)


class RouteInfo:
    """What the document reads of one route: its path and methods, the handler, its
    plan (None: a plain ``def h(req)`` handler) and the route's options (``tags``,
    ``summary``, ``responses``...)."""

    __slots__ = ("path", "methods", "handler", "plan", "options")

    def __init__(self, path: str, methods: Sequence[str], handler: Any, plan: RoutePlan | None,
                 options: dict[str, Any] | None) -> None:
        self.path = path
        self.methods = list(methods)
        self.handler = handler
        self.plan = plan
        self.options = dict(options or (plan.options if plan is not None else {}))


def openapi_path(path: str) -> str:
    """``/users/{uid:int}`` as OpenAPI writes it: ``/users/{uid}``."""
    return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def default_operation_id(name: str, path: str, method: str) -> str:
    """FastAPI's ``generate_unique_id``: the handler's name, the path, the method, each
    non-word character an ``_`` (``read_item_items__item_id__get``)."""
    return re.sub(r"\W", "_", f"{name}{openapi_path(path)}") + f"_{method.lower()}"


def _handler_name(handler: Any) -> str:
    return str(getattr(handler, "__name__", None) or type(handler).__name__)


def _summary(name: str) -> str:
    return name.replace("_", " ").title()


def _description(handler: Any) -> str | None:
    doc = inspect.getdoc(handler) if inspect.isfunction(handler) or inspect.ismethod(handler) else None
    if not doc:
        return None
    return doc.split("\f")[0].strip() or None  # FastAPI: text after a form feed is for the code only


def _is_error(code: str) -> bool:
    return code[:1] in ("4", "5")


def _response_order(item: tuple[str, Any]) -> tuple[int, str]:
    code = item[0]
    return (0 if code.isdigit() else 1 if code != "default" else 2, code)


def _status_text(code: str) -> str:
    try:
        return http.HTTPStatus(int(code)).phrase
    except ValueError:
        return "Additional Response"


class _Builder:
    """One document: the operations, the components they share and the security
    schemes met."""

    def __init__(self) -> None:
        self.schemas = schemas.Schemas()
        self.security_schemes: dict[str, Any] = {}
        self.operation_ids: set[str] = set()
        self._validation_ref: str | None = None
        self._problem_ref: str | None = None

    def validation_ref(self) -> str:
        if self._validation_ref is None:
            item = self.schemas.add("ValidationError", schemas.VALIDATION_ERROR)
            name = self.schemas.add("HTTPValidationError", schemas.http_validation_error(schemas.REF_PREFIX + item))
            self._validation_ref = schemas.REF_PREFIX + name
        return self._validation_ref

    def problem_ref(self) -> str:
        if self._problem_ref is None:
            self._problem_ref = schemas.REF_PREFIX + self.schemas.add("Problem", schemas.PROBLEM)
        return self._problem_ref

    def problem(self) -> dict[str, Any]:
        """The content of an answer that is a problem (``HTTPException``, a refusal)."""
        return {PROBLEM_JSON: {"schema": {"$ref": self.problem_ref()}}}

    def unique_id(self, wanted: str) -> str:
        oid, n = wanted, 1
        while oid in self.operation_ids:
            n += 1
            oid = f"{wanted}_{n}"
        self.operation_ids.add(oid)
        return oid

    # ---- one operation ----
    def operation(self, route: RouteInfo, method: str, first: bool) -> dict[str, Any]:
        opts = route.options
        name = opts.get("name") or _handler_name(route.handler)
        op: dict[str, Any] = {}
        if opts.get("tags"):
            op["tags"] = list(opts["tags"])
        op["summary"] = opts.get("summary") or _summary(name)
        description = opts.get("description") or _description(route.handler)
        if description:
            op["description"] = description
        given = opts.get("operation_id")
        wanted = (given if first else f"{given}_{method}") if given else default_operation_id(name, route.path, method)
        op["operationId"] = self.unique_id(wanted)
        if opts.get("deprecated"):
            op["deprecated"] = True
        plan = route.plan
        converters = path_names(route.path)
        params = plan.params() if plan is not None else []
        parameters = self.parameters(params, converters)
        if parameters:
            op["parameters"] = parameters
        if plan is not None:
            body = self.request_body(plan.body, params, op["operationId"])
            if body is not None:
                op["requestBody"] = body
        op["responses"] = self.responses(route, params)
        if plan is not None:
            security = self.security(plan)
            if security:
                op["security"] = security
        return op

    def parameters(self, params: list[ParamSpec], converters: dict[str, str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for p in params:
            if p.source not in ("path", "query", "header", "cookie") or not p.marker.include_in_schema:
                continue
            wire = p.marker.alias if p.source == "header" and p.marker.alias else p.key
            where = (p.source, wire.lower() if p.source == "header" else wire)
            if where in seen:
                continue  # one value read by two dependencies: one parameter
            seen.add(where)
            one: dict[str, Any] = {"name": wire, "in": p.source,
                                   "required": True if p.source == "path" else p.required,
                                   "schema": schemas.param(p, converters.get(p.key))}
            if p.marker.description:
                one["description"] = p.marker.description
            if p.marker.deprecated:
                one["deprecated"] = True
            examples = p.marker.extra.get("openapi_examples")
            if isinstance(examples, dict):
                one["examples"] = examples
            if p.is_list and p.source == "query":
                one["style"], one["explode"] = "form", True
            out.append(one)
        for name, converter in converters.items():  # a path parameter the handler does not take
            if ("path", name) not in seen:
                out.insert(0, {"name": name, "in": "path", "required": True,
                               "schema": {**schemas.path_converter(converter), "title": _summary(name)}})
        return out

    def request_body(self, body: BodySpec | None, params: list[ParamSpec], oid: str) -> dict[str, Any] | None:
        if body is not None:
            return self.json_body(body, oid)
        fields = [p for p in params if p.source in ("form", "file") and p.marker.include_in_schema]
        if not fields:
            return None
        multipart = any(p.source == "file" or (p.marker.media_type or "").startswith("multipart/") for p in fields)
        media = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
        props: dict[str, Any] = {}
        required = []
        for p in fields:
            props.setdefault(p.key, schemas.param(p))
            if p.required and p.key not in required:
                required.append(p.key)
        obj: dict[str, Any] = {"title": f"Body_{oid}", "type": "object", "properties": props}
        if required:
            obj["required"] = required
        name = self.schemas.add(f"Body_{oid}", obj)
        return {"content": {media: {"schema": {"$ref": schemas.REF_PREFIX + name}}}, "required": bool(required)}

    def json_body(self, body: BodySpec, oid: str) -> dict[str, Any]:
        media: dict[str, Any] = {}
        out: dict[str, Any] = {"content": {body.media_type or "application/json": media}}
        if body.embed:
            media["schema"] = self.schemas.want(_embedded_model(body, f"Body_{oid}"))
        else:
            p = body.params[0]
            extra = {}
            if p.marker.examples:
                ok, value = schemas.jsonable(p.marker.examples)
                if ok:
                    extra["examples"] = value
            from . import _models
            tp = p.annotation
            try:
                tp = _models.constrained(tp, p.marker.constraints(), _models.library_for(tp))
            except ImportError:
                pass
            media["schema"] = self.schemas.want(tp, "validation", **extra)
            if p.marker.description:
                out["description"] = p.marker.description
            examples = p.marker.extra.get("openapi_examples")
            if isinstance(examples, dict):
                media["examples"] = examples
        if body.required:
            out["required"] = True
        return out

    def responses(self, route: RouteInfo, params: list[ParamSpec]) -> dict[str, Any]:
        plan = route.plan
        out: dict[str, Any] = {}
        status = str((plan.response.status_code if plan is not None else None) or 200)
        main: dict[str, Any] = {"description": "Successful Response"}
        if plan is not None and int(status) >= 200 and int(status) not in _NO_BODY:
            model = plan.response.model
            schema = self.schemas.want(model, "serialization") if model is not None else {}
            main["content"] = {"application/json": {"schema": schema}}
        out[status] = main
        if plan is not None and (params or plan.body is not None):
            out["422"] = {"description": "Validation Error",
                          "content": {PROBLEM_JSON: {"schema": {"$ref": self.validation_ref()}}}}
        if plan is not None and plan.body is not None:
            out["400"] = {"description": "Malformed JSON body", "content": self.problem()}
        elif any(p.source in ("form", "file") for p in params):
            out["400"] = {"description": "Malformed form body", "content": self.problem()}
        if any(c in ("int", "float", "uuid") for c in path_names(route.path).values()):
            # {x:int} and the like match only what they convert: another value is no route (404), not a 422
            out["404"] = {"description": "No route matches: a path value its converter does not take",
                          "content": self.problem()}
        for dep in plan.all_dependencies() if plan is not None else ():
            if isinstance(dep.call, SecurityBase):  # a verifier's 401 and 403
                for code, text in dep.call.openapi_responses(dep.scopes).items():
                    out.setdefault(code, {"description": text, "content": self.problem()})
        for code, extra in (route.options.get("responses") or {}).items():
            key = "default" if str(code).lower() == "default" else str(code).upper()
            declared = dict(extra) if isinstance(extra, dict) else {}
            model = declared.pop("model", None)
            into = out.setdefault(key, {})
            if model is not None:
                content = declared.pop("content", None) or {}
                media = dict(content.get("application/json", {}))
                media.setdefault("schema", self.schemas.want(model, "serialization"))
                into.setdefault("content", {})["application/json"] = media
                for kind, value in content.items():
                    if kind != "application/json":
                        into["content"][kind] = value
            for k, v in declared.items():
                if k == "content" and isinstance(v, dict):
                    into.setdefault("content", {}).update(v)
                else:
                    into[k] = v
            into.setdefault("description", _status_text(key))
            if "content" not in into and _is_error(key):
                # what HTTPException answers: a problem (a model= says otherwise)
                into["content"] = self.problem()
        return dict(sorted(out.items(), key=_response_order))

    def security(self, plan: RoutePlan) -> list[dict[str, list[str]]]:
        out: list[dict[str, list[str]]] = []
        for dep in plan.all_dependencies():
            call = dep.call
            if not isinstance(call, SecurityBase):
                continue
            self.security_schemes.setdefault(call.scheme_name, dict(call.model))
            for names in call.security_alternatives(dep.scopes):
                requirement = {call.scheme_name: names}
                if requirement not in out:
                    out.append(requirement)
        return out


def _embedded_model(body: BodySpec, name: str) -> Any:
    """The model of an embedded body (one member per body parameter) made as
    ``ringbolt._models.embedded_decoder`` makes the one it validates with, named
    ``Body_<operationId>`` (FastAPI's name), with each parameter's title, description
    and examples."""
    from . import _models
    types = [p.annotation for p in body.params]
    use_pydantic = any(_models.library_for(tp) == "pydantic" for tp in types) or not any(
        _models._mentions(tp, _models._is_struct) for tp in types)
    if use_pydantic:
        try:
            import pydantic
        except ImportError:
            use_pydantic = False
    if use_pydantic:
        spec: dict[str, Any] = {}
        for p in body.params:
            shown = {k: getattr(p.marker, k) for k in ("title", "description", "examples") if getattr(p.marker, k)}
            field = pydantic.Field(... if p.default is Required else p.default, **shown, **p.marker.constraints())
            spec[p.key] = (p.annotation, field)
        return pydantic.create_model(name, **spec)
    import msgspec
    members = []
    for p in body.params:
        shown = {k: getattr(p.marker, k) for k in ("title", "description", "examples") if getattr(p.marker, k)}
        tp = p.annotation
        if shown or p.marker.constraints():
            import typing
            tp = typing.Annotated[tp, msgspec.Meta(**p.marker.constraints(), **shown)]
        members.append((p.key, tp) if p.default is Required else (p.key, tp, p.default))
    members.sort(key=len)  # the members without a default first, as the decoder's
    return msgspec.defstruct(name, members)


def get_openapi(
    *,
    title: str,
    version: str,
    routes: Iterable[RouteInfo],
    openapi_version: str = OPENAPI_VERSION,
    summary: str | None = None,
    description: str | None = None,
    tags: list[dict[str, Any]] | None = None,
    servers: list[dict[str, Any]] | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, Any] | None = None,
    license_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (``App.routes_for_openapi()``), FastAPI's
    arguments."""
    info: dict[str, Any] = {"title": title, "version": version}
    for key, value in (("summary", summary), ("description", description), ("termsOfService", terms_of_service),
                       ("contact", contact), ("license", license_info)):
        if value:
            info[key] = value
    doc: dict[str, Any] = {"openapi": openapi_version, "info": info}
    if servers:
        doc["servers"] = list(servers)
    b = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not route.options.get("include_in_schema", True):
            continue
        item = paths.setdefault(openapi_path(route.path), {})
        first = True
        for method in route.methods:
            m = method.lower()
            if m not in METHODS or m in item:
                continue  # a method OpenAPI 3.1 has no field for; a second route of one path and method
            try:
                item[m] = b.operation(route, m, first)
            except Exception as exc:  # noqa: BLE001 - one route's failure must not take the document away
                logger.warning("OpenAPI: %s %s left out: %r", method, route.path, exc)
                continue
            first = False
        if not item:
            del paths[openapi_path(route.path)]
    doc["paths"] = paths
    components: dict[str, Any] = {}
    schemas_out = b.schemas.resolve()
    if schemas_out:
        components["schemas"] = dict(sorted(schemas_out.items()))
    if b.security_schemes:
        components["securitySchemes"] = b.security_schemes
    if components:
        doc["components"] = components
    if tags:
        doc["tags"] = list(tags)
    return doc


__all__ = ["OPENAPI_VERSION", "RouteInfo", "default_operation_id", "get_openapi", "openapi_path"]
