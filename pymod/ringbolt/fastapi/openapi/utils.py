"""FastAPI's ``fastapi.openapi.utils.get_openapi``: the OpenAPI document of a list of
routes, as ``FastAPI.openapi()`` makes it (``ringbolt.openapi.get_openapi`` under
FastAPI's conventions), for an app that customises its own:

    def custom_openapi():
        doc = get_openapi(title="Shop", version="2.5.0", routes=app.routes)
        doc["info"]["x-logo"] = {"url": "/static/logo.png"}
        app.openapi_schema = doc
        return doc
"""

from __future__ import annotations

import functools

from ... import openapi as _openapi

# ringbolt's function under FastAPI's conventions (its error parts): the same keyword
# arguments as FastAPI's (title, version, routes, openapi_version, summary, description,
# webhooks, tags, servers, terms_of_service, contact, license_info,
# separate_input_output_schemas, external_docs). Routes that are not HTTP routes (WebSocket
# endpoints, mounts) are left out, as FastAPI leaves them.
get_openapi = functools.partial(_openapi.get_openapi, conventions="fastapi")

__all__ = ["get_openapi"]
