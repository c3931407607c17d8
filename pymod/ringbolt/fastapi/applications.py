"""The FastAPI class."""

from __future__ import annotations

from typing import Any

from ..app import App
from .routing import _FastAPIRoutes


class FastAPI(_FastAPIRoutes, App):
    def __init__(self, *, debug: bool = False, title: str = "FastAPI", version: str = "0.1.0",
                 description: str = "", openapi_url: str | None = "/openapi.json", docs_url: str | None = "/docs",
                 redoc_url: str | None = "/redoc", dependencies: Any = None, lifespan: Any = None,
                 summary: str | None = None, openapi_tags: Any = None, servers: Any = None,
                 terms_of_service: str | None = None, contact: Any = None, license_info: Any = None,
                 swagger_ui_parameters: Any = None, swagger_ui_init_oauth: Any = None, **_: Any) -> None:
        super().__init__(debug=debug, title=title, version=version, summary=summary,
                         description=description or None, openapi_url=openapi_url, docs_url=docs_url,
                         redoc_url=redoc_url, openapi_tags=openapi_tags, servers=servers,
                         terms_of_service=terms_of_service, contact=contact, license_info=license_info,
                         swagger_ui_parameters=swagger_ui_parameters, swagger_ui_init_oauth=swagger_ui_init_oauth, conventions="fastapi")
        self._route_dependencies = list(dependencies or ())
