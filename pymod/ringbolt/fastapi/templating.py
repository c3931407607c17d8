"""``Jinja2Templates``: ringbolt's Jinja2 templates (``TemplateResponse`` as FastAPI's),
with Starlette's ``url_for`` in every template: ``{{ url_for('read_item', id=1) }}`` is the
URL of that route (or of a static file: ``url_for('static', path='/app.css')``) as the
``request`` in the context makes it, root path and mounts included."""

from __future__ import annotations

from typing import Any

import jinja2

from ..templating import Templates


@jinja2.pass_context
def url_for(context: Any, name: str, /, **path_params: Any) -> Any:
    request = context.get("request")
    if request is None or not hasattr(request, "url_for"):
        raise RuntimeError("url_for in a template needs the request: TemplateResponse(request, name, context)")
    return request.url_for(name, **path_params)


class Jinja2Templates(Templates):
    """Starlette's ``Jinja2Templates`` (see the module's docstring)."""

    def __init__(self, directory: Any = None, **options: Any) -> None:
        super().__init__(directory, **options)
        self.env.globals.setdefault("url_for", url_for)


__all__ = ["Jinja2Templates"]
