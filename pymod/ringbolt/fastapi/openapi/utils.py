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

from typing import Any, Sequence

from ... import openapi as _openapi


def get_openapi(
    *,
    title: str,
    version: str,
    openapi_version: str = _openapi.OPENAPI_VERSION,
    summary: str | None = None,
    description: str | None = None,
    routes: Sequence[Any],
    webhooks: Sequence[Any] | None = None,
    tags: list[dict[str, Any]] | None = None,
    servers: list[dict[str, Any]] | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, Any] | None = None,
    license_info: dict[str, Any] | None = None,
    separate_input_output_schemas: bool = True,
    external_docs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The document of ``routes`` (an app's routes: those that are not HTTP routes,
    WebSocket endpoints and mounts, are left out, as FastAPI leaves them)."""
    return _openapi.get_openapi(
        title=title, version=version, openapi_version=openapi_version, summary=summary, description=description,
        routes=routes, webhooks=webhooks, tags=tags, servers=servers, terms_of_service=terms_of_service,
        contact=contact, license_info=license_info, separate_input_output_schemas=separate_input_output_schemas,
        external_docs=external_docs, conventions="fastapi")


__all__ = ["get_openapi"]
