"""What the cache key of a typed route must hold, decided once from its plan when the
route is registered (docs/caching.md, "Guards run on every request"). Every dependency
runs before the lookup (any of them may refuse); the handler alone is skipped on a hit,
so the key holds every value the handler is given that comes from the request: the
headers, cookies and query parameters it and its dependencies read, and the value of
each dependency that reads the Request itself. What the key cannot hold is refused
here with a ValueError naming it; ``key_part`` turns a kept value into key text."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from typing import Any, Union

from .typed.param_models import names_read
from .typed.plan import REQUEST, DependencySpec, ParamSpec, RoutePlan
from .security.auth import Principal
from .security import HTTPAuthorizationCredentials, HTTPBasicCredentials
from .security.sessions import Session, Sessions

# What a dependency that takes the Request may hand the handler for the key to hold it
_KEYABLE = (str, int, float, bool, bytes, type(None), Principal, HTTPAuthorizationCredentials, HTTPBasicCredentials,
            Session)


@dataclasses.dataclass(frozen=True)
class KeyPlan:
    """The request values a typed cached route's key holds beyond its ``Cache`` options."""

    headers: tuple[str, ...]  #: header parameters (lower-case) the handler is made from
    cookies: tuple[str, ...]  #: cookie parameters
    query: tuple[str, ...]  #: query parameters (added to a ``key_query`` that leaves them out)
    readers: tuple[DependencySpec, ...]  #: dependencies that take the Request: keyed on their values
    keys_session: bool  #: a session reader is among ``readers`` (its data is in the key)
    reads_request: bool  #: the handler takes the Request itself (it may read a session)


def _name(call: Any) -> str:
    return str(getattr(call, "__qualname__", None) or getattr(type(call), "__qualname__", None) or repr(call))


def _returns(call: Any) -> Any:
    """The return annotation of what a dependency calls (``inspect.Parameter.empty``: none)."""
    if isinstance(call, functools.partial):
        call = call.func
    if inspect.isclass(call):
        return call  # calling a class makes one of it
    target = call if inspect.isroutine(call) else type(call).__call__
    try:
        return typing.get_type_hints(target).get("return", inspect.Parameter.empty)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve is no promise
        return inspect.Parameter.empty


def _keyable(annotation: Any) -> bool:
    """Whether values of ``annotation`` have a text form that tells them apart (``key_part``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return all(_keyable(a) for a in typing.get_args(annotation))
    return annotation is None or annotation in _KEYABLE


def _is_session_reader(call: Any) -> bool:
    return isinstance(call, Sessions) or (inspect.ismethod(call) and isinstance(call.__self__, Sessions))


class _Walk:
    def __init__(self, path: str) -> None:
        self.path = path
        self.headers: dict[str, None] = {}
        self.cookies: dict[str, None] = {}
        self.query: dict[str, None] = {}
        self.readers: list[DependencySpec] = []
        self.keys_session = False

    def param(self, p: ParamSpec) -> None:
        if p.source in ("body", "form", "file"):
            raise ValueError(f"route {self.path}: cache= keys an answer on the request's path, query and headers, "
                             f"and this route reads the request body ({p.source} parameter {p.name!r}): answers "
                             "made from different bodies would share a key. Drop cache= (a GET's answer should not "
                             "depend on a body)")
        names: tuple[str, ...] = (p.key,)
        if p.models:  # a parameter model: every field's names
            read = names_read(p.models, p.marker)
            if read is None:
                raise ValueError(f"route {self.path}: cache= cannot key on the {p.source} model {p.name!r}: it "
                                 f"allows extra fields (extra='allow'), so its value holds every {p.source} value "
                                 "of the request and no key lists them. Drop cache= or the model's extra='allow'")
            names = read
        kept = {"header": self.headers, "cookie": self.cookies, "query": self.query}.get(p.source)
        if kept is not None:  # (a path parameter: the path is in every key)
            kept.update(dict.fromkeys(names))

    def dependency(self, d: DependencySpec) -> None:
        if d.scope == "app":
            return  # made once for the app: the same for every request
        if any(a.what is REQUEST for a in d.spec.args):
            returns = _returns(d.call)
            if not _keyable(returns):
                said = ("it has no return annotation" if returns is inspect.Parameter.empty
                        else f"it returns {getattr(returns, '__qualname__', None) or returns}")
                raise ValueError(
                    f"route {self.path}: cache= cannot key on the dependency {_name(d.call)}: it takes the Request, "
                    f"the handler is made from its value, and {said}, not a value the key can hold (str, int, "
                    "float, bool, bytes, None, a Principal, HTTP credentials, a Session), so one client's answer "
                    "would be served to another. Annotate its return if it is one of those, take what it reads as "
                    "parameters (Header(), Cookie(), Query(), Security(APIKeyHeader(...))) so the key holds them, "
                    "let it not take the Request if its value is the same for every client (scope=\"app\"), pass "
                    "it in dependencies=[...] if the handler does not need its value, or drop cache=")
            self.readers.append(d)
            self.keys_session = self.keys_session or _is_session_reader(d.call)
            return
        for a in d.spec.args:
            self.arg(a.what)

    def arg(self, what: Any) -> None:
        if isinstance(what, ParamSpec):
            self.param(what)
        elif isinstance(what, DependencySpec):
            self.dependency(what)
        # the Request of the handler itself, BackgroundTasks, SecurityScopes: no value to key


def key_plan(plan: RoutePlan, path: str) -> KeyPlan:
    """What the key of ``plan``'s route (served at ``path`` with ``cache=``) holds; a
    ValueError naming what it cannot hold (a body, a dependency that reads the Request
    and hands the handler a value with no text form)."""
    walk = _Walk(path)
    for p in plan.params():  # (the handler's and every dependency's, dependencies=[...] included)
        if p.source in ("body", "form", "file"):
            walk.param(p)
    for a in plan.call.args:
        walk.arg(a.what)
    return KeyPlan(tuple(walk.headers), tuple(walk.cookies), tuple(walk.query), tuple(walk.readers),
                   walk.keys_session, any(a.what is REQUEST for a in plan.call.args))


def key_part(value: Any) -> Any:
    """A reader's value as JSON the key holds; TypeError for a value of another type (its
    annotation said otherwise: that request is neither served from the cache nor stored)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    if kind is bytes:
        return value.hex()
    if kind is HTTPAuthorizationCredentials:
        return [value.scheme, value.credentials]
    if kind is HTTPBasicCredentials:
        return [value.username, value.password]
    if isinstance(value, Principal):
        return [value.subject, sorted(value.scopes), sorted(value.roles), dict(value.claims)]
    if isinstance(value, dict):  # a Session: its data
        return value
    raise TypeError(f"no key for a {kind.__name__}")
