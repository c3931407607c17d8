"""The OpenAPI 3.1 document of an App, generated from the plans its routes were
registered with (``App.route_plans``, ``ringbolt.typed.plan``) by FastAPI's rules, so that a
FastAPI service moved to ringbolt serves the document it served before: the same
operations, ids, parameters, bodies, responses and components. The parameters, bodies,
responses, dependencies and security schemes a request is checked against are the ones
the document lists. ``App.openapi()`` makes it once and keeps it; ``/openapi.json``
serves it (see ``ringbolt.openapi.pages`` and docs/openapi.md).

The error parts follow ``App.conventions``: under ``"fastapi"`` FastAPI's
``HTTPValidationError`` (``{"detail": [...]}``, ``application/json``); under
``"ringbolt"`` the problems ringbolt answers (``application/problem+json``, with the 400,
404, 401 and 403 notes of what the route refuses).

``get_openapi(...)`` is FastAPI's function of the same name, for a custom document:

    def custom() -> dict:
        doc = get_openapi(title="Shop", version="2.0", routes=app.routes_for_openapi())
        doc["info"]["x-logo"] = {"url": "/static/logo.png"}
        return doc
    app.openapi = custom
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (the names, for a type checker; at run time __getattr__ imports them)
    from ._document import METHODS as METHODS
    from ._document import METHODS_WITH_BODY as METHODS_WITH_BODY
    from ._document import OPENAPI_VERSION as OPENAPI_VERSION
    from ._document import SSE_EVENT as SSE_EVENT
    from ._document import RouteInfo as RouteInfo
    from ._document import body_allowed as body_allowed
    from ._document import default_operation_id as default_operation_id
    from ._document import get_openapi as get_openapi
    from ._document import openapi_path as openapi_path
    from ._document import plain_json as plain_json


def __getattr__(name: str) -> Any:
    # The generator (and its schema and request parts) is imported at the first use of
    # one of its names: serving an App needs ``pages`` alone, which imports this package.
    if name.startswith("__"):
        raise AttributeError(name)
    document = importlib.import_module(f"{__name__}._document")
    try:
        return getattr(document, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


__all__ = ["OPENAPI_VERSION", "RouteInfo", "default_operation_id", "get_openapi", "openapi_path"]
