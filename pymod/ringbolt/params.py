"""The markers of the typed API, with FastAPI's names and keyword arguments: where a
handler's parameter comes from (``Query``, ``Path``, ``Header``, ``Cookie``, ``Body``,
``Form``, ``File``), what it depends on (``Depends``, ``Security``) and the
``SecurityScopes`` a dependency may ask for. A marker is data only: the route's plan
(``ringbolt.typed.plan``) reads it once, when the route is registered.

    @app.get("/items")
    def items(limit: Annotated[int, Query(ge=1, le=100)] = 10, q: str | None = None): ...
"""

from __future__ import annotations

from typing import Any, Callable, Sequence


class _Required:
    """The default of a marker that has none: the value must come with the request."""

    __slots__ = ()
    _instance: "_Required | None" = None

    def __new__(cls) -> "_Required":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Required"

    def __reduce__(self) -> str:
        return "Required"


#: ``Query(Required)`` (or ``Query(...)``, as in FastAPI): no default, the value is required.
Required: Any = _Required()


class Param:
    """What every source marker keeps: the default, the name on the wire (``alias``),
    the constraints and what OpenAPI shows (``title``, ``description``, ``examples``,
    ``deprecated``, ``include_in_schema``). ``source`` says where the value comes from."""

    source = ""

    __slots__ = ("default", "default_factory", "alias", "title", "description", "examples", "deprecated",
                 "include_in_schema", "gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length",
                 "pattern", "media_type", "extra")

    def __init__(
        self,
        default: Any = Required,
        *,
        default_factory: Callable[[], Any] | None = None,
        alias: str | None = None,
        title: str | None = None,
        description: str | None = None,
        examples: Sequence[Any] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        multiple_of: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        media_type: str | None = None,
        **extra: Any,
    ) -> None:
        if default is Ellipsis:
            default = Required
        if default_factory is not None and default is not Required:
            raise TypeError(f"{type(self).__name__}() takes a default or a default_factory, not both")
        if alias is not None and (not isinstance(alias, str) or not alias):
            raise ValueError(f"alias must be a non-empty string, not {alias!r}")
        if extra.pop("regex", None) is not None:
            raise TypeError("regex= is pattern= (as in FastAPI 0.100 and later)")
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.title = title
        self.description = description
        self.examples = list(examples) if examples is not None else None
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.gt = gt
        self.ge = ge
        self.lt = lt
        self.le = le
        self.multiple_of = multiple_of
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self.media_type = media_type
        self.extra = extra  # e.g. json_schema_extra, openapi_examples: kept for OpenAPI

    @property
    def required(self) -> bool:
        return self.default is Required and self.default_factory is None

    def constraints(self) -> dict[str, Any]:
        """The constraints that were given (``{"ge": 1, "max_length": 10}``)."""
        names = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def __repr__(self) -> str:
        shown = [] if self.required else [repr(self.default)]
        shown += [f"{k}={v!r}" for k, v in self.constraints().items()]
        if self.alias:
            shown.append(f"alias={self.alias!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


class Query(Param):
    """A query-string parameter (``?name=value``); ``list[T]`` takes every repeat."""

    source = "query"
    __slots__ = ()


class Path(Param):
    """A path parameter: ``{name}`` in the route's path. Always required."""

    source = "path"
    __slots__ = ()


class Header(Param):
    """A request header. The name is the parameter's with ``_`` as ``-``
    (``convert_underscores=False`` keeps it), matched in any case; ``list[T]`` takes
    every field of that name."""

    source = "header"
    __slots__ = ("convert_underscores",)

    def __init__(self, default: Any = Required, *, convert_underscores: bool = True, **kwargs: Any) -> None:
        super().__init__(default, **kwargs)
        self.convert_underscores = convert_underscores


class Cookie(Param):
    """A cookie of the request's ``Cookie`` header."""

    source = "cookie"
    __slots__ = ()


class Body(Param):
    """The JSON body, or (``embed=True``, or with more than one body parameter) one
    member of a JSON object body named after the parameter."""

    source = "body"
    __slots__ = ("embed",)

    def __init__(self, default: Any = Required, *, embed: bool | None = None, media_type: str = "application/json",
                 **kwargs: Any) -> None:
        super().__init__(default, media_type=media_type, **kwargs)
        self.embed = embed


class Form(Param):
    """A field of an ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body."""

    source = "form"
    __slots__ = ()

    def __init__(self, default: Any = Required, *, media_type: str = "application/x-www-form-urlencoded",
                 **kwargs: Any) -> None:
        super().__init__(default, media_type=media_type, **kwargs)


class File(Form):
    """A file part of a ``multipart/form-data`` body: an ``UploadFile``, or its content
    when the parameter is ``bytes`` (``list[...]`` for every part of that name)."""

    source = "file"
    __slots__ = ()

    def __init__(self, default: Any = Required, *, media_type: str = "multipart/form-data", **kwargs: Any) -> None:
        super().__init__(default, media_type=media_type, **kwargs)


class Depends:
    """The value of ``dependency(...)``, itself called with the parameters its own
    signature declares (query, headers, other dependencies...).

    ``use_cache`` (default True): called once per request however many parameters
    depend on it. A generator (``yield``) dependency's code after the ``yield`` runs
    once the response has been handed to the server, also when the handler raised (the
    exception is thrown in at the ``yield``); with ``scope="function"`` it runs as soon
    as the handler returns (or raises), before the response is written, and a clean-up
    that raises makes the answer a 500. ``scope="app"``: called once, when the
    app starts (or at its first use), and its value kept for every request; a
    generator's clean-up runs when the app stops. ``Depends()`` with no callable uses
    the parameter's annotation (a class)."""

    __slots__ = ("dependency", "use_cache", "scope")

    def __init__(self, dependency: Callable[..., Any] | None = None, *, use_cache: bool = True,
                 scope: str = "request") -> None:
        if dependency is not None and not callable(dependency):
            raise TypeError(f"Depends() takes a callable, not {type(dependency).__name__}")
        if scope not in ("request", "function", "app"):
            raise ValueError(f"Depends scope is 'request', 'function' or 'app', not {scope!r}")
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"{type(self).__name__}({name}{'' if self.use_cache else ', use_cache=False'})"


class Security(Depends):
    """A ``Depends`` that carries OAuth2 ``scopes``: the dependency (and those below it)
    can take a ``SecurityScopes`` parameter listing every scope required on the way."""

    __slots__ = ("scopes",)

    def __init__(self, dependency: Callable[..., Any] | None = None, *, scopes: Sequence[str] | None = None,
                 use_cache: bool = True) -> None:
        super().__init__(dependency, use_cache=use_cache)
        self.scopes = list(scopes or ())


class SecurityScopes:
    """Injected into a dependency that declares a parameter of this type: ``scopes``,
    the scopes of every ``Security`` from the route down to it, and ``scope_str``, them
    joined by spaces (for a ``WWW-Authenticate`` header)."""

    __slots__ = ("scopes", "scope_str")

    def __init__(self, scopes: Sequence[str] | None = None) -> None:
        self.scopes = list(scopes or ())
        self.scope_str = " ".join(self.scopes)

    def __repr__(self) -> str:
        return f"SecurityScopes({self.scopes!r})"
