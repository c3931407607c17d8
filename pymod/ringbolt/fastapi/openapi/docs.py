"""FastAPI's ``fastapi.openapi.docs``: the Swagger UI page, the ReDoc page and Swagger
UI's OAuth2 redirect page as responses, for an app that serves its own (other asset
URLs, its own path). The pages are ringbolt's (``ringbolt.openapi.pages``), with
FastAPI's arguments and defaults: scripts from a CDN unless given, as FastAPI's; the
pages ringbolt serves itself at ``docs_url`` and ``redoc_url`` load theirs from the
server (docs/openapi.md)."""

from __future__ import annotations

from typing import Any

from ...openapi.pages import EXTRA, SWAGGER_UI_DEFAULTS, oauth2_redirect_html, redoc_page, swagger_page
from ...response import Response

_HTML = "text/html; charset=utf-8"
#: FastAPI's defaults for the pages' files
SWAGGER_JS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
REDOC_JS_URL = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
FAVICON_URL = "https://fastapi.tiangolo.com/img/favicon.png"
FONTS_URL = "https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700"

#: Swagger UI's configuration before ``swagger_ui_parameters``
swagger_ui_default_parameters: dict[str, Any] = dict(SWAGGER_UI_DEFAULTS)


def _html(page: str, status: int = 200) -> Response:
    return Response(page.encode(), status, content_type=_HTML)


def get_swagger_ui_html(*, openapi_url: str, title: str, swagger_js_url: str = SWAGGER_JS_URL,
                        swagger_css_url: str = SWAGGER_CSS_URL, swagger_favicon_url: str = FAVICON_URL,
                        oauth2_redirect_url: str | None = None, init_oauth: dict[str, Any] | None = None,
                        swagger_ui_parameters: dict[str, Any] | None = None) -> Response:
    """The Swagger UI page for the document at ``openapi_url``, titled ``title``."""
    return _html(swagger_page(openapi_url=openapi_url, title=title, js_url=swagger_js_url, css_url=swagger_css_url,
                              favicon_url=swagger_favicon_url, oauth2_redirect_url=oauth2_redirect_url,
                              parameters=swagger_ui_parameters, init_oauth=init_oauth))


def get_redoc_html(*, openapi_url: str, title: str, redoc_js_url: str = REDOC_JS_URL,
                   redoc_favicon_url: str = FAVICON_URL, with_google_fonts: bool = True) -> Response:
    """The ReDoc page for the document at ``openapi_url``, titled ``title``."""
    return _html(redoc_page(openapi_url=openapi_url, title=title, js_url=redoc_js_url, favicon_url=redoc_favicon_url,
                            fonts_url=FONTS_URL if with_google_fonts else None))


def get_swagger_ui_oauth2_redirect_html() -> Response:
    """The page Swagger UI's OAuth2 login comes back to (Swagger UI's own script, from
    the ``ringbolt[docs]`` extra; a 500 page naming the extra when it is missing)."""
    page = oauth2_redirect_html()
    if page is None:
        return _html(f"<!DOCTYPE html><title>OAuth2 redirect</title><p>Swagger UI's OAuth2 redirect needs its "
                     f"files: <code>pip install '{EXTRA}'</code></p>", 500)
    return _html(page)


__all__ = ["get_redoc_html", "get_swagger_ui_html", "get_swagger_ui_oauth2_redirect_html",
           "swagger_ui_default_parameters"]
