"""The one function a typed route's request runs, compiled from its plan
(``ringbolt.typed.plan.RoutePlan``) when the app starts: straight-line Python, generated
once, with each parameter a local variable, each converter and validator a constant
bound in its namespace, each dependency called once into a local (so "cached per
request" costs nothing), and the handler called positionally. Per request there is
no loop over the plan, no dict of keyword arguments and no signature walking.

The shape of what is generated (a GET with a query parameter and a dependency):

    def run(req):
        if OV: return override(req)
        err = None
        q = req.query
        v = q.get('limit')
        if v is None:
            a0 = D0
        else:
            try: a0 = C0(v)
            except Bad as e: err = bad(err, L0, e, v)
        if err is not None: return invalid(err)
        d0 = F0()
        r = H(a0, d0)
        return W(r)
"""

from __future__ import annotations

import functools
import inspect
import json
import keyword
import logging
import types
from typing import Any, Callable

from . import depends as _depends, models as _models, problem as _problem
from .convert import BOOL_BAD, BOOL_WORDS, FINITE, Bad
from .depends import AppDependencies, AppValue
from .models import BodyInvalid, any_writer, is_json_type
from .._native import RawJSON
from .plan import BACKGROUND, REQUEST, Adapted, CallSpec, DependencySpec, ParamSpec, Planner, RoutePlan, copy_default
from .._request_body import request_read
from .writers import RESPONSES, body_allowed, jsonable_writer, write_fastapi
from ..datastructures import ResponseHeaders
from ..forms import FormData
from ..params import SecurityScopes
from ..response import FileResponse, Response, StreamingResponse

logger = logging.getLogger("ringbolt")

_SOURCE_VAR = {"query": "q", "header": "h", "cookie": "c", "path": "p", "form": "f", "file": "f"}
_SOURCE_GET = {"q": "q = req.query", "h": "h = req.headers", "c": "c = req.cookies", "p": "p = req.params"}
_PASS = frozenset((dict, list, str, bytes, type(None), tuple, Response, StreamingResponse, FileResponse, RawJSON,
                   bytearray, memoryview))
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_EMPTY_FORM = FormData([])


def _form(req: Any) -> Any:
    """The request's form, or an empty one when the body is not a form (its fields are
    then missing: a 422, as FastAPI answers)."""
    ctype = req.headers.get("content-type") or ""
    if ctype.split(";", 1)[0].strip().lower() not in _FORM_TYPES:
        return _EMPTY_FORM
    return req.form()


def _last(pairs: list[tuple[str, str]], name: str) -> str | None:
    """The last value of ``name`` among a query's (name, value) pairs."""
    found = None
    for k, v in pairs:
        if k == name:
            found = v
    return found


def _empty_file(v: Any) -> bool:
    return type(v) is not str and v.filename == "" and v.size == 0


def _form_last(form: Any, name: str) -> Any:
    """A form field as FastAPI reads it: the last value of the name; an empty one (or a
    file part left empty) is none."""
    found = None
    for k, v in form._items:
        if k == name:
            found = v
    if found is None or found == "" or (type(found) is not str and _empty_file(found)):
        return None
    return found


def _form_all(form: Any, name: str) -> list[Any]:
    """Every value of a form field, as FastAPI reads a list: file parts left empty left out."""
    return [v for k, v in form._items if k == name and (type(v) is str or not _empty_file(v))]


def _body_of(req: Any, kind: str | None, raw: bytes | None) -> Any:
    """The body of a refused request as FastAPI's ``RequestValidationError.body`` holds it
    (read again: only on the way to an app's handler of the refusal): the form, the JSON
    value (the text of malformed JSON), the bytes of a body whose type is not JSON, None."""
    if kind is None:
        return None
    if kind == "form":
        return _form(req)
    if not raw:
        return None
    if not is_json_type(req.header("content-type")):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _out(result: Any) -> Any:
    data = any_writer(result)
    if data is None:
        return result
    return _problem.json_response(data, 200) if type(data) is bytes else data


def call_of(dep: Any) -> Any:
    """What the plan calls for the dependency ``dep``: the native equivalent ringbolt's own
    dependencies carry as ``_rb_fast_call`` (``Sessions``, ``JWTAuth``), or, for an object
    whose class defines ``__call__`` in Python, that method bound (called straight, without
    the interpreter's ``slot_tp_call`` lookup of ``__call__`` on each call), else ``dep``."""
    own = getattr(dep, "__dict__", None)
    fast = own.get("_rb_fast_call") if isinstance(own, dict) else None
    if fast is not None:
        return fast
    if not (inspect.isroutine(dep) or inspect.isclass(dep) or isinstance(dep, functools.partial)):
        method = inspect.getattr_static(type(dep), "__call__", None)  # a staticmethod stays as it is
        if isinstance(method, types.FunctionType):
            return types.MethodType(method, dep)
    return dep


def _status_writer(status: int) -> Callable[[Any], Any]:
    def write(result: Any) -> Any:
        if type(result) in _PASS and type(result) not in (tuple, Response, StreamingResponse, FileResponse):
            resp = Response.__new__(Response)
            resp.body = result
            resp.status = status
            resp.headers = _problem._empty_headers(ResponseHeaders)
            resp.content_type = None
            resp._after = None
            resp._cookies = None
            resp.background = None
            return resp
        if type(result) in (tuple, Response, StreamingResponse, FileResponse):
            return result
        data = any_writer(result)
        return _problem.json_response(data, status) if type(data) is bytes else (data, status)
    return write


def _model_writer(write: Callable[[Any], bytes], status: int) -> Callable[[Any], Any]:
    json_response = _problem.json_response
    passed = (tuple, Response, StreamingResponse, FileResponse)

    def respond(result: Any) -> Any:
        if type(result) in passed:
            return result
        return json_response(write(result), status)
    return respond


def _jsonable_writer(status: int) -> Callable[[Any], Any]:
    """FastAPI's answer to what a handler without a response model returns: a response
    object as it is, anything else as JSON by ``jsonable_encoder``'s rules (a str, None or
    an int too), with the route's status; no body for a status that has none."""
    if not body_allowed(status):
        def empty(result: Any) -> Any:
            return result if isinstance(result, RESPONSES) else Response(None, status, None, "")
        return empty
    return jsonable_writer(status)


def _swallowed_error() -> type[BaseException]:
    """What a FastAPI app raises when a yield dependency swallowed the request's exception:
    its ``FastAPIError`` (imported here: only an app under its conventions gets here)."""
    from ..fastapi.exceptions import FastAPIError
    return FastAPIError


class _Compiler:
    """Writes one runner. ``overrides``: the app's dependency_overrides as they are now;
    ``app_deps``: where ``scope="app"`` values live."""

    def __init__(self, plan: RoutePlan, app_deps: AppDependencies, overrides: dict[Any, Any],
                 raise_invalid: bool, is_async: bool, app: Any = None, gate: Any = None) -> None:
        self.plan = plan
        self.gate = gate  # the route's cache (ringbolt._cached_route.CacheGate), or None
        self.live_overrides = app_deps.overrides
        self.app_deps = app_deps
        self.overrides = overrides
        self.raise_invalid = raise_invalid
        self.is_async = is_async
        self.app = app
        self.ns: dict[str, Any] = {
            "Bad": Bad, "bad": _problem.bad, "missing": _problem.missing, "extend": _problem.extend,
            "BodyInvalid": BodyInvalid, "copy_default": copy_default, "exit_later": _depends.exit_later,
            "close_now": _depends.close_now, "close_now_async": _depends.close_now_async,
            "invalid": _problem.invalid_response, "RVE": _problem.RequestValidationError,
            "read_body": request_read, "form_of": _form, "last": _last, "form_last": _form_last,
            "form_all": _form_all, "BOOL_WORDS": BOOL_WORDS, "BOOL_BAD": BOOL_BAD,
            "FINITE": FINITE, "is_json": is_json_type, "APP": app,
        }
        # FastAPI's conventions (App(conventions="fastapi")): its 422 body and its writer,
        # its order of solving dependencies and its exit of yield dependencies
        self.fastapi = getattr(app, "conventions", "ringbolt") == "fastapi"
        if self.fastapi:
            self.ns["invalid"] = _problem.detail_invalid_response
            self.ns["unwind"] = _depends.unwind
            self.ns["unwind_async"] = _depends.unwind_async
            # (an unchanged FastAPI app's own FastAPIError when it is served: ringbolt.fastapi.adopt)
            self.ns["SWALLOWED"] = getattr(app, "_rb_swallowed", None) or _swallowed_error()
        if plan.rules == "fastapi":
            self.ns["body_of"] = _body_of  # FastAPI's exc.body, read on the error path only
        #: FastAPI's max_body_size planned into the route (bytes), or None: no check at all
        self.body_limit: int | None = plan.options.get("max_body_size") if self.fastapi else None
        if self.body_limit is not None:
            from ..fastapi import _body_limit
            self.ns.update(too_large=_body_limit.too_large, over=_body_limit.over,
                           read_within=_body_limit.read_within)
        # FastAPI's order (a route with dependencies under its conventions): each dependency
        # called as soon as the parameters under it are valid, the others' errors gathered
        self.ordered = False
        # phase 1: values from the request, errors gathered, by source in FastAPI's order
        self.sections: dict[str, list[str]] = {"path": [], "query": [], "header": [], "cookie": [], "body": []}
        self.calls: list[str] = []  # phase 2: the dependencies, in order
        self.sources: set[str] = set()
        self.cache: dict[Any, str] = {}
        self.dep_locals: dict[int, str] = {}  # id(DependencySpec) as planned: the local holding its value
        self.has_stack = False  # a generator dependency finished after the response
        self.has_fstack = False  # one finished when the handler returns (scope="function")
        self.n = 0
        # for overrides: their own parameters (read as the app's routes are)
        self.planner = Planner(plan.path_names, plan.rules, getattr(app, "_plan_adapter", None))

    def const(self, prefix: str, value: Any) -> str:
        self.n += 1
        name = f"{prefix}{self.n}"
        self.ns[name] = value
        return name

    def local(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # ---- phase 1 ----
    def param(self, spec: ParamSpec) -> str:
        var = _SOURCE_VAR[spec.source]
        if spec.models:
            return self.model_param(spec, var)
        if var not in ("h", "c") or spec.is_list:  # one header's or cookie's value: from the request's bytes
            self.sources.add(var)
        out = self.local("a")
        loc = self.const("L", spec.loc)
        key = spec.key
        x = self.lines(spec)
        if var == "q" and not spec.is_list:
            # a repeated name: the last value, as FastAPI (Starlette) reads it; q._items
            # is None when no name repeats (then the dict's value is the only one)
            get = f"q.get({key!r}) if qm is None else last(qm, {key!r})"
            self.sources.add("qm")
        elif var == "h" and not spec.is_list:
            get = f"req.header({key!r})"
        elif var == "c" and not spec.is_list:
            get = f"req.cookie({key!r})"
        elif var == "f" and spec.form_read == "last":
            get = f"{'form_all' if spec.is_list else 'form_last'}(f, {key!r})"
        elif spec.is_list:
            get = f"{var}.getlist({key!r})"
        else:
            get = f"{var}.get({key!r})"
        x.append(f"v = {get}")
        x.append("if not v:" if spec.is_list else "if v is None:")
        if spec.required:
            x.append(f"    err = missing(err, {loc})")
        elif spec.marker.default_factory is not None:
            x.append(f"    {out} = {self.const('DF', spec.marker.default_factory)}()")
        elif spec.fresh_default:
            x.append(f"    {out} = copy_default({self.const('D', spec.default)})")
        else:
            x.append(f"    {out} = {self.const('D', spec.default)}")
        if spec.inline is not None and (spec.inline[0] != "str" or spec.inline[1]):
            self.inline(spec, out, loc)
        elif spec.convert is None:
            x.append(f"else: {out} = v")
        else:
            conv = self.const("C", spec.convert)
            x.append("else:")
            x.append(f"    try: {out} = {conv}(v)")
            x.append(f"    except Bad as e: err = bad(err, {loc}, e, v)")
        return out

    def model_param(self, spec: ParamSpec, var: str) -> str:
        """A parameter model: its reader takes the whole source (it gives the default, or
        raises, when the model may be absent and nothing of it was sent)."""
        self.sources.add(var)
        out = self.local("a")
        loc = self.const("L", spec.loc)
        read = self.const("C", spec.convert)
        x = self.lines(spec)
        x.append(f"try: {out} = {read}({var})")
        x.append(f"except Bad as e: {out} = None; err = bad(err, {loc}, e, None)")
        return out

    def inline(self, spec: ParamSpec, out: str, loc: str) -> None:
        """The conversion and checks written out (no call on the way that succeeds)."""
        kind, checks = spec.inline
        x = self.lines(spec)
        x.append("else:")
        if kind == "bool":
            x.append(f"    {out} = BOOL_WORDS.get(v.lower())")
            x.append(f"    if {out} is None: err = bad(err, {loc}, BOOL_BAD, v)")
            return
        if kind == "str":
            x.append(f"    {out} = v")
        else:
            conv = self.const("C", spec.convert)
            # the builtin for ASCII text (its fast way); the converter for the rest, for
            # pydantic's reading ("3.0" is 3, "٣" is refused) and its exact error
            x.append(f"    try: {out} = {kind}(v) if v.isascii() else {conv}(v)")
            x.append("    except ValueError:")
            x.append(f"        {out} = None")
            x.append(f"        try: {out} = {conv}(v)")
            x.append(f"        except Bad as e: err = bad(err, {loc}, e, v)")
            x.append(f"    except Bad as e: {out} = None; err = bad(err, {loc}, e, v)")
        if kind == "float":  # inf and nan refused (FINITE): x - x is 0.0 for every finite x
            x.append(f"    if {out} is not None and {out} - {out} != 0.0: {out} = None; err = bad(err, {loc}, FINITE, v)")
        if not checks:
            return
        prefix = f"    if {out} is not None:" if kind != "str" else None
        if prefix:
            x.append(prefix)
        indent = "        " if prefix else "    "
        for i, (op, bound, failure) in enumerate(checks):
            b = self.const("K", bound)
            k = self.const("E", failure)
            cond = f"len({out}) {op[3:]} {b}" if op.startswith("len") else f"{out} {op} {b}"
            x.append(f"{indent}{'if' if i == 0 else 'elif'} not {cond}: err = bad(err, {loc}, {k}, v)")

    def body(self) -> dict[int, str]:
        """The body's code: the locals of its parameters by id."""
        spec = self.plan.body
        if spec is None:
            return {}
        x = self.sections["body"]
        names = {id(p): self.local("b") for p in spec.params}
        if self.is_async and self.body_limit is not None:  # FastAPI's max_body_size, counted as it comes
            x.append(f"raw = req.body if req._body_stream is None else await read_within(req, {self.body_limit})")
            x.append("if raw is None: return too_large()")
        elif self.is_async:
            x.append("raw = req.body if req._body_stream is None else await read_body(req)")
        else:
            x.append("raw = req.body")
        decode = self.const("B", spec.decode)
        not_json = self.const("B", spec.not_json)
        # FastAPI's CSRF guard: only a JSON Content-Type is read as JSON (a cross-site form
        # sends text/plain, or no type, without a preflight); other bytes are validated as
        # they are, which a model refuses. FastAPI's strict_content_type=False (the route's
        # option, else the app's): a body with no type is JSON too.
        strict = self.plan.options.get("strict_content_type")
        if strict is None:
            strict = getattr(self.app, "strict_content_type", True)
        is_json = "ct == 'application/json' or is_json(ct)" if strict else "not ct or ct == 'application/json' or is_json(ct)"
        # (under FastAPI's rules the decoders read a refused body again as FastAPI does,
        # ringbolt.typed.fastapi_bodies: its 422 json_invalid, its 400 for a parser's failure)
        read = [f"body = {decode}(raw) if {is_json} else {not_json}(raw)"]
        if spec.empty is not None:  # a body not sent is read as its members (FastAPI's embedded body)
            x.append(f"if not raw: body = {self.const('B', spec.empty)}(raw)")
            x.append("else:")
            x.append("    ct = req.header('content-type')")
            x += [f"    {line}" for line in read]
            indent = ""
        else:
            x.append("if not raw:")
            if spec.required:  # (a name several parameters take: a missing for each, as FastAPI)
                x += ["    err = missing(err, ('body',))"] * len(spec.params)
            else:
                for p in spec.params:
                    default = self.const("D", p.default)
                    x.append(f"    {names[id(p)]} = copy_default({default})" if p.fresh_default
                             else f"    {names[id(p)]} = {default}")
            x.append("else:")
            x.append("    ct = req.header('content-type')")
            x += [f"    {line}" for line in read]
            indent = "    "
        x.append(f"{indent}if type(body) is BodyInvalid: err = extend(err, body)")
        if spec.embed:
            x.append(f"{indent}else:")
            for p in spec.params:
                member = f"body.{p.key}" if p.key.isidentifier() and not keyword.iskeyword(p.key) else (
                    f"getattr(body, {p.key!r})")  # an alias that is no Python name ("the-item")
                x.append(f"{indent}    {names[id(p)]} = {member}")
        else:
            x.append(f"{indent}else: {' = '.join(names[id(p)] for p in spec.params)} = body")
        return names

    def lines(self, spec: ParamSpec) -> list[str]:
        """Where a parameter's code goes: its source's section (FastAPI's order of
        dependencies is ``solved``'s, which gives each dependency sections of its own)."""
        return self.sections[spec.loc[0]]

    # ---- phase 2 ----
    def args(self, spec: CallSpec, body: dict[int, str]) -> str:
        parts = []
        for a in spec.args:
            what = a.what
            if isinstance(what, ParamSpec):
                expr = body[id(what)] if what.source == "body" else self.param(what)
            elif isinstance(what, DependencySpec):
                expr = self.dependency(what, body)
            elif what is REQUEST:
                expr = "req"
            elif what is BACKGROUND:
                expr = "req.background"
            elif isinstance(what, Adapted):
                expr = f"{self.const('RA', what.make)}(req, APP)"
            elif isinstance(what, SecurityScopes):
                expr = self.const("S", what)
            else:  # pragma: no cover - the planner makes no other kind
                raise AssertionError(what)
            parts.append(f"{a.name}={expr}" if a.keyword else expr)
        return ", ".join(parts)

    def _override(self, dep: DependencySpec) -> DependencySpec:
        replacement = self.overrides.get(dep.call)
        if replacement is None or replacement is dep.call:
            return dep
        spec = self.planner.call(replacement, dep.scopes)
        body = self.planner.body_params
        if body:
            raise TypeError(f"the override {replacement!r} takes a body parameter: an override cannot add one")
        return DependencySpec(replacement, dep.marker, spec, dep.scopes, dep.use_cache, dep.scope).settle()

    def dependency(self, dep: DependencySpec, body: dict[int, str]) -> str:
        planned = id(dep)
        dep = self._override(dep)
        key = dep.cache_key
        if dep.use_cache and key in self.cache:
            self.dep_locals[planned] = self.cache[key]
            if self.ordered and self._fallible(dep)[0]:
                self.revalidate(dep)
            return self.cache[key]
        if dep.scope == "app":
            out = self.app_value(dep)
        elif self.ordered:
            out = self.solved(dep, body)
        else:
            args = self.args(dep.spec, body)
            out = self.local("d")
            self.calls += self.call_lines(dep, args, out)
        self.cache.setdefault(key, out)  # a use_cache=False value too, for a later use that caches (FastAPI's)
        self.dep_locals[planned] = out
        return out

    def call_lines(self, dep: DependencySpec, args: str, out: str) -> list[str]:
        """The call of ``dep`` with ``args``, its value into ``out``."""
        fn = self.const("F", call_of(dep.call))
        kind = dep.spec.kind
        if kind in ("async", "asyncgen") and not self.is_async:
            raise TypeError(f"the dependency {dep.call!r} is async, but the route runs sync (its plan was made "
                            "with no async part): make the override sync too")
        if kind == "sync":
            return [f"{out} = {fn}({args})"]
        if kind == "async":
            return [f"{out} = await {fn}({args})"]
        # a generator: its clean-up after the response, or (scope="function") after the handler
        where = "fstack" if dep.scope == "function" else "stack"
        if where == "fstack":
            self.has_fstack = True
        else:
            self.has_stack = True
        first = "next(g)" if kind == "gen" else "await g.__anext__()"
        return [f"g = {fn}({args}); {where}.append(g); {out} = {first}"]

    # ---- FastAPI's order of solving ----
    def _fallible(self, dep: DependencySpec) -> tuple[bool, bool]:
        """Whether a request can be refused under ``dep``: by a parameter of it or of a
        dependency below it, by the body (a body parameter below it)."""
        params = body = False
        for a in dep.spec.args:
            what = a.what
            if isinstance(what, ParamSpec):
                if what.source == "body":
                    body = True
                else:
                    params = True
            elif isinstance(what, DependencySpec) and what.scope != "app":
                p, b = self._fallible(self._override(what))
                params, body = params or p, body or b
        return params, body

    def solved(self, dep: DependencySpec, body: dict[int, str]) -> str:
        """``dep`` solved as FastAPI does: the dependencies under it first (each called once
        what is under it is valid), then its own parameters, then ``dep`` itself, called
        only when nothing under it was refused (the errors are gathered either way)."""
        fallible, in_body = self._fallible(dep)
        start = self.local("k")
        if fallible:
            self.calls.append(f"{start} = 0 if err is None else len(err)")
        saved, self.sections = self.sections, {k: [] for k in self.sections}
        args = self.args(dep.spec, body)  # the blocks of those under it go into self.calls
        own, self.sections = self.sections, saved
        for lines in own.values():  # path, query, header, cookie, then form fields
            self.calls += lines
        out = self.local("d")
        call = self.call_lines(dep, args, out)
        checks = ([f"(0 if err is None else len(err)) == {start}"] if fallible else []) + (
            ["berr is None"] if in_body else [])
        if checks:
            self.calls.append(f"if {' and '.join(checks)}:")
            self.calls += [f"    {line}" for line in call]
        else:
            self.calls += call
        return out

    def revalidate(self, dep: DependencySpec) -> None:
        """A cached dependency met again: as FastAPI solves it again, the parameters under
        it are checked again when the request has errors already (its value is reused only
        when they all held, and each of its refusals is listed once per use)."""
        saved = self.sections
        lines: list[str] = []

        def walk(d: DependencySpec) -> None:
            for a in d.spec.args:
                if isinstance(a.what, DependencySpec) and a.what.scope != "app":
                    walk(self._override(a.what))
            self.sections = {k: [] for k in saved}
            for a in d.spec.args:
                if isinstance(a.what, ParamSpec) and a.what.source != "body":
                    self.param(a.what)
            for section in self.sections.values():
                lines.extend(section)
        walk(dep)
        self.sections = saved
        self.calls.append("if err is not None:")
        self.calls += [f"    {line}" for line in lines]

    def app_value(self, dep: DependencySpec) -> str:
        holder = self._holder(dep)
        name = self.const("A", holder)
        out = self.local("d")
        get = f"await {name}.get_async()" if self.is_async else f"{name}.get()"
        self.calls.append(f"{out} = {name}.value if {name}.ready else {get}")
        return out

    def _holder(self, dep: DependencySpec) -> AppValue:
        subs = []
        for a in dep.spec.args:
            assert isinstance(a.what, DependencySpec)
            subs.append(self._holder(self._override(a.what)))
        return self.app_deps.value_of(dep.call, subs)

    # ---- the whole ----
    def compile(self, override_hook: Callable[..., Any] | None) -> Callable[..., Any]:
        plan = self.plan
        self.ordered = self.fastapi and bool(plan.all_dependencies())
        body = self.body()
        body_lines: list[str] = []
        if self.ordered:  # FastAPI reads the body before it solves; its errors are listed last
            body_lines, self.sections["body"] = self.sections["body"], []
        for d in plan.dependencies:
            self.dependency(d, body)  # route-level: called for their effect, values unused
        call_args = self.args(plan.call, body)
        handler = self.const("H", plan.call.call)
        writer = self.writer()
        # FastAPI(telemetry=...)'s operation spans (ringbolt.fastapi._telemetry), when the app
        # started with them: its handler and writer each start the next one
        ops = getattr(self.ns["APP"], "_rb_operations", None) if self.fastapi else None
        if ops is not None:
            self.ns[handler] = ops.step(plan.call.call, "endpoint", plan.call.kind == "async")
            if writer:
                self.ns[writer] = ops.writer(self.ns[writer])
        aw = "await " if self.is_async else ""
        lines = [f"{'async def' if self.is_async else 'def'} run(req):"]
        if override_hook is not None:
            self.ns["OV"] = self.live_overrides
            self.ns["override"] = override_hook
            lines.append(f"    if OV: return {aw}override(req)")
        if self.body_limit is not None:  # before anything is read (Starlette's 413)
            lines.append(f"    if over(req, {self.body_limit}): return too_large()")
        lines.append("    err = None")
        for var in ("q", "h", "c", "p"):
            if var in self.sources:
                lines.append(f"    {_SOURCE_GET[var]}")
        if "qm" in self.sources:
            lines.append("    qm = q._items")
        if "f" in self.sources:
            limits = self.plan.options.get("form_limits") if self.fastapi else None
            if limits:  # FastAPI's form_limits: the form read under them (ringbolt.fastapi._body_limit)
                from ..fastapi._body_limit import form_within
                self.ns["form_within"] = form_within
                lines.append(f"    f = {'await ' if self.is_async else ''}form_within(req, {self.const('FL', limits)})")
            else:
                lines.append(f"    f = {'await ' if self.is_async else ''}form_of(req)")
        stacks = self.has_stack or self.has_fstack
        checks = [line for section in self.sections.values() for line in section]  # path, query, header, cookie, body
        if self.raise_invalid and plan.rules == "fastapi":  # FastAPI's exc.errors() (its order) and exc.body
            self.ns["RVE"] = _problem.in_order
            kind = "form" if "f" in self.sources else "json" if plan.body is not None else None
            raw = "raw" if kind == "json" else "None"
            raise_invalid = f"if err is not None: raise RVE(err, body_of(req, {kind!r}, {raw}))"
        else:
            raise_invalid = "if err is not None: raise RVE(err)"
        if self.ordered:
            if body_lines:
                lines += [f"    {line}" for line in body_lines]
                lines.append("    berr = err; err = None")
                checks.append("if berr is not None: err = berr if err is None else err + berr")
            # the handler's own parameters after its dependencies; a refusal raised through
            # the yield dependencies, which see it as FastAPI's do
            calls = [*self.calls, *checks]
            calls.append(raise_invalid if self.raise_invalid or stacks
                         else "if err is not None: return invalid(err)")
        else:
            lines += [f"    {line}" for line in checks]
            if self.raise_invalid:
                lines.append(f"    {raise_invalid}")
            else:
                lines.append("    if err is not None: return invalid(err)")
            calls = self.calls
        call = [f"r = {aw if plan.call.kind == 'async' else ''}{handler}({call_args})"]
        if plan.response.convert is not None:  # another framework's response objects, as ringbolt's
            kinds, convert = plan.response.convert
            call.append(f"if isinstance(r, {self.const('FR', kinds)}): r = {self.const('FC', convert)}(r)")
        self.ns["PASS"] = _PASS
        self.ns["out"] = _out
        ret = f"return {writer}(r)" if writer else "return r if type(r) in PASS else out(r)"
        write = f"r = {writer}(r)" if writer else "r = r if type(r) in PASS else out(r)"
        if plan.response.merge is not None and writer:  # FastAPI's temporal response merged in
            merge = self.const("M", plan.response.merge)
            ret = f"return {merge}(req, r, {writer})"
            write = f"r = {merge}(req, r, {writer})"
        if stacks:
            close = "await close_now_async" if self.is_async else "close_now"
            lines.append("    stack = []")
            lines.append("    fstack = []")
            lines.append("    try:")
            lines += [f"        {line}" for line in calls]
            handle = [*call, *([f"{close}(fstack, None)"] if self.has_fstack else []), write]
            if self.gate is None:
                lines += [f"        {line}" for line in handle]
            else:  # a hit closes what the handler would have used, at once
                lines += [f"        {line}" for line in self.gated(handle, aw, f"{close}(fstack, None)")]
            lines.append("    except BaseException as exc:")
            lines += [f"        {line}" for line in self.failed(aw, close)]
            lines.append("    if stack: exit_later(req, stack, None)")
            lines.append("    return r")
        elif self.gate is None:
            lines += [f"    {line}" for line in calls]
            lines += [f"    {line}" for line in call]
            lines.append(f"    {ret}")
        else:
            lines += [f"    {line}" for line in calls]
            lines += [f"    {line}" for line in self.gated([*call, write], aw, None)]
            lines.append("    return r")
        if plan.response.errors is not None:  # another framework's HTTPException, answered here
            kinds, answer = plan.response.errors
            lines = [lines[0], "    try:", *(f"    {line}" for line in lines[1:]),
                     f"    except {self.const('ER', kinds)} as e: return {self.const('EA', answer)}(e)"]
        source = "\n".join(lines) + "\n"
        code = compile(source, f"<ringbolt route {getattr(plan.call.call, '__qualname__', '?')}>", "exec")
        exec(code, self.ns)  # noqa: S102 - our own generated code over constants in self.ns
        run: Callable[..., Any] = self.ns["run"]
        if ops is not None:  # the runner inside the request's fastapi.dependencies span
            run = ops.run(run, plan.call.call, self.is_async)
        run.__qualname__ = getattr(plan.call.call, "__qualname__", "run")
        run.__wrapped_source__ = source  # type: ignore[attr-defined]  # for debugging a plan
        return run

    def failed(self, aw: str, close: str) -> list[str]:
        """What a request whose dependencies or handler raised ``exc`` does with its
        generator dependencies. ringbolt's: the function-scope ones finished at once, the
        others after the error's answer, both seeing ``exc``. FastAPI's: all finished
        before the answer, which is the exception they leave (``_depends.unwind``)."""
        if not self.fastapi:
            return ["try:", f"    if fstack: {close}(fstack, exc)", "finally:",
                    "    if stack: exit_later(req, stack, exc)", "raise"]
        out = [f"e = {aw}unwind{'_async' if self.is_async else ''}(fstack, stack, exc, SWALLOWED)"]
        if not self.raise_invalid:  # the refusal raised only to be seen: answered as the others are
            out.append("if e is exc and err is not None and type(e) is RVE: return invalid(err)")
        out.append("raise e")
        return out

    def gated(self, handle: list[str], aw: str, on_hit: str | None) -> list[str]:
        """``handle`` (the handler's call and its writer, into ``r``) behind the route's cache:
        every dependency has run (each guard refused or let the request through), then a
        hit answers without the handler; a miss runs it and hands its answer to the cache."""
        gate = self.gate
        begin, end, abort = self.const("CB", gate.begin), self.const("CE", gate.end), self.const("CA", gate.abort)
        miss = self.const("MISS", gate.miss)
        values = [self.dep_locals.get(id(d), "None") for d in gate.readers]
        parts = f"({', '.join(values)},)" if values else "()"
        out = [f"t = {aw}{begin}(req, {parts})", f"if type(t) is not {miss}:"]
        out += [f"    {on_hit}"] if on_hit else []
        out += ["    r = t", "else:", "    try:"]
        out += [f"        {line}" for line in handle]
        out += ["    except BaseException:", f"        {abort}(t)", "        raise", f"    r = {aw}{end}(req, t, r)"]
        return out

    def writer(self) -> str | None:
        resp = self.plan.response
        if resp.response_class is not None:  # a route of ringbolt.fastapi: FastAPI's rules
            return self.const("W", write_fastapi(resp))
        if resp.write is not None:
            return self.const("W", _model_writer(resp.write, resp.status_code or 200))
        if self.fastapi:
            return self.const("W", _jsonable_writer(resp.status_code or 200))
        if resp.status_code is not None:
            return self.const("W", _status_writer(resp.status_code))
        return None


def build_runner(plan: RoutePlan, app_deps: AppDependencies, raise_invalid: bool, app: Any = None,
                 gate: Any = None) -> Callable[..., Any]:
    """The function registered for a typed route. With ``app.dependency_overrides``
    non-empty, a request runs a runner compiled for those overrides (made at the first
    request that sees them, kept while they stay the same; such a runner does not use
    the route's cache, whose key was planned for the dependencies as declared).
    ``gate``: the route's cache (``ringbolt._cached_route.CacheGate``), called after every
    dependency and before the handler."""
    overrides = app_deps.overrides
    compiled: dict[Any, Callable[..., Any]] = {}

    def with_overrides(req: Any) -> Any:
        try:
            key: Any = tuple(overrides.items())
            hash(key)
        except TypeError:
            key = None
        run = compiled.get(key) if key is not None else None
        if run is None:
            run = _compile(plan, app_deps, dict(overrides), raise_invalid, None, app)
            if key is not None:
                if len(compiled) > 64:
                    compiled.clear()
                compiled[key] = run
        return run(req)

    return _compile(plan, app_deps, overrides, raise_invalid, with_overrides, app, gate)


def _compile(plan: RoutePlan, app_deps: AppDependencies, overrides: dict[Any, Any], raise_invalid: bool,
             hook: Callable[..., Any] | None, app: Any = None, gate: Any = None) -> Callable[..., Any]:
    compiler = _Compiler(plan, app_deps, overrides if hook is None else {}, raise_invalid, plan.is_async, app,
                         gate)
    return compiler.compile(hook)
