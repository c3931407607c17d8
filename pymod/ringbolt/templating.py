"""Jinja2 templates rendered into ringbolt responses (docs/templates.md): one
environment built when ``Templates`` is made, autoescape on for HTML and XML, sync and
async rendering. Jinja2 is the optional extra ``ringbolt[templates]``; ringbolt itself
never imports this module."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping

try:
    import jinja2
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("ringbolt.templating needs Jinja2: pip install 'ringbolt[templates]'") from exc

from .datastructures import HeaderPairs
from .response import Response

__all__ = ["Templates", "TemplateNotFound"]

#: Raised (at render time, naming the template and the directories searched) for a
#: template that does not exist; in a handler it is a 500 with the failure logged.
TemplateNotFound = jinja2.TemplateNotFound

HTML = "text/html; charset=utf-8"
ContextProcessor = Callable[[Any], Mapping[str, Any]]


class Templates:
    """Templates under ``directory`` (a path or a list of them, searched in order).

    >>> templates = Templates(directory="templates")
    >>> @app.get("/hello/{name}")
    ... def hello(req):
    ...     return templates.response("hello.html", {"name": req.params["name"]})

    ``autoescape``: None (default) escapes templates named ``.html``, ``.htm``, ``.xml``
    (and templates made from strings, ``from_string``); True or False for all, or a
    callable ``(name) -> bool`` as Jinja2 takes. ``enable_async=True`` builds an async
    environment (templates may then await in ``{{ }}``, and render with
    ``response_async``/``render_async``). ``context_processors``: callables ``(request)
    -> dict`` merged into every context a ``request`` is given with. Other keyword
    arguments go to ``jinja2.Environment`` (``trim_blocks``, ``extensions``, ...); or
    pass a ready ``env`` instead of ``directory``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
        *,
        autoescape: bool | Callable[[str | None], bool] | None = None,
        enable_async: bool = False,
        context_processors: Iterable[ContextProcessor] = (),
        env: jinja2.Environment | None = None,
        **env_options: Any,
    ) -> None:
        if (directory is None) == (env is None):
            raise TypeError("Templates takes a directory or an env, one of them")
        self.context_processors = list(context_processors)
        for fn in self.context_processors:
            if not callable(fn):
                raise TypeError(f"a context processor must be callable, not {type(fn).__name__}")
        if env is not None:
            if autoescape is not None or enable_async or env_options:
                raise TypeError("with env=, configure the jinja2.Environment itself")
            self.env = env
            self.directories: list[str] = []
            return
        assert directory is not None
        if isinstance(directory, (str, os.PathLike)):
            dirs = [os.fspath(directory)]
        else:
            dirs = [os.fspath(d) for d in directory]
        for d in dirs:
            if not os.path.isdir(d):
                raise FileNotFoundError(f"template directory {d!r} does not exist (or is not a directory)")
        self.directories = dirs
        if autoescape is None:
            autoescape = jinja2.select_autoescape(("html", "htm", "xml"), default_for_string=True, default=False)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(dirs), autoescape=autoescape,
                                      enable_async=enable_async, **env_options)

    def get_template(self, name: str) -> jinja2.Template:
        """The compiled template (Jinja2 caches it, reloading it when its file changes)."""
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            where = ", ".join(repr(d) for d in self.directories) or "the environment's loader"
            raise TemplateNotFound(name, f"template {name!r} not found in {where}") from exc

    def _context(self, context: Mapping[str, Any] | None, request: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {}
        if request is not None:
            ctx["request"] = request
            for fn in self.context_processors:
                ctx.update(fn(request))
        if context:
            ctx.update(context)
        return ctx

    def render(self, name: str, context: Mapping[str, Any] | None = None, *, request: Any = None) -> str:
        """The template rendered to a str (sync environment)."""
        if self.env.is_async:
            raise RuntimeError("Templates(enable_async=True) renders with await templates.render_async(...) "
                               "or await templates.response_async(...)")
        return self.get_template(name).render(self._context(context, request))

    async def render_async(self, name: str, context: Mapping[str, Any] | None = None, *,
                           request: Any = None) -> str:
        """The template rendered to a str, for ``async def`` handlers (either environment)."""
        template = self.get_template(name)
        ctx = self._context(context, request)
        if self.env.is_async:
            return await template.render_async(ctx)
        return template.render(ctx)

    def response(self, name: str, context: Mapping[str, Any] | None = None, status_code: int = 200,
                 headers: HeaderPairs = None, *, request: Any = None, media_type: str = HTML,
                 background: Any = None) -> Response:
        """A ``Response`` (``text/html; charset=utf-8`` unless ``media_type``) with the
        template rendered. ``request``: put in the context as ``request`` (and passed to
        the context processors)."""
        return Response(self.render(name, context, request=request), status_code, headers, media_type, background)

    async def response_async(self, name: str, context: Mapping[str, Any] | None = None, status_code: int = 200,
                             headers: HeaderPairs = None, *, request: Any = None, media_type: str = HTML,
                             background: Any = None) -> Response:
        """``response`` for ``async def`` handlers; needed with ``enable_async=True``."""
        body = await self.render_async(name, context, request=request)
        return Response(body, status_code, headers, media_type, background)

    # FastAPI's Jinja2Templates names, for code moving over (docs/templates.md)
    def TemplateResponse(self, request: Any, name: str, context: Mapping[str, Any] | None = None,  # noqa: N802
                         status_code: int = 200, headers: HeaderPairs = None, media_type: str | None = None,
                         background: Any = None) -> Response:
        """``Jinja2Templates.TemplateResponse(request, name, context, ...)`` as FastAPI
        spells it: the same as ``response(name, context, ..., request=request)``."""
        return self.response(name, context, status_code, headers, request=request, media_type=media_type or HTML,
                             background=background)
