"""What an App serves of its OpenAPI document: ``/openapi.json`` (made once, at the
first start, then kept; a const route, answered natively), the Swagger UI page
(``/docs``) and the ReDoc page (``/redoc``), whose scripts and styles ringbolt serves
itself from an installed package (``ringbolt[docs]``), so the pages work with no
internet. ``OpenAPIApp`` is the part of ``App`` that holds the options (FastAPI's
names) and adds those routes when the app starts; nothing of it runs on another route."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
from typing import TYPE_CHECKING, Any, Callable

from .._static import check_static
from ..errors import problem, problem_response, require_str
from ..response import Response
from ..routing import _shape

if TYPE_CHECKING:
    from . import RouteInfo

logger = logging.getLogger("ringbolt")

#: The package that ships Swagger UI's dist and ReDoc's standalone bundle (the
#: ``docs`` extra). Its files are read; the package itself is never imported.
ASSET_PACKAGE = "drf_spectacular_sidecar"
EXTRA = "ringbolt[docs]"
_CACHE = "public, max-age=3600"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png",
          ".html": "text/html; charset=utf-8"}
#: the files the pages load (the ASGI path, with no native static mounts, serves these)
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "oauth2-redirect.html",
                 "oauth2-redirect.js")
REDOC_FILES = ("redoc.standalone.js",)
_HTML = "text/html; charset=utf-8"

Route = tuple[str, list[str], Callable[[Any], Any], bool, bool, bool]


def find_assets() -> tuple[str | None, str | None]:
    """The directories of Swagger UI's dist and of ReDoc's bundle, or None for each that
    is not installed. ``find_spec`` locates the package without running it (its
    ``__init__`` imports Django)."""
    try:
        spec = importlib.util.find_spec(ASSET_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None, None
    root = os.path.join(list(spec.submodule_search_locations)[0], "static", ASSET_PACKAGE)
    swagger = os.path.join(root, "swagger-ui-dist")
    redoc = os.path.join(root, "redoc", "bundles")
    return (swagger if os.path.isfile(os.path.join(swagger, SWAGGER_FILES[0])) else None,
            redoc if os.path.isfile(os.path.join(redoc, REDOC_FILES[0])) else None)


def _escape(text: str) -> str:
    """``text`` inside HTML (an element's text or a quoted attribute)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _js(value: Any) -> str:
    """``value`` as a JavaScript literal that is safe inside a ``<script>`` element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


#: Swagger UI's configuration before ``swagger_ui_parameters`` (FastAPI's
#: ``swagger_ui_default_parameters``)
SWAGGER_UI_DEFAULTS: dict[str, Any] = {"dom_id": "#swagger-ui", "layout": "BaseLayout", "deepLinking": True,
                                       "showExtensions": True, "showCommonExtensions": True}


def swagger_page(*, openapi_url: str, title: str, js_url: str, css_url: str, favicon_url: str,
                 oauth2_redirect_url: str | None = None, parameters: dict[str, Any] | None = None,
                 init_oauth: dict[str, Any] | None = None) -> str:
    """A Swagger UI page for the document at ``openapi_url`` (``title`` as it is), its
    script, style and icon at the URLs given, its configuration one member a line as
    FastAPI writes it (``SWAGGER_UI_DEFAULTS``, then ``parameters``)."""
    config = {**SWAGGER_UI_DEFAULTS, **(parameters or {})}
    lines = [f"url: {_js(openapi_url)},"] + [f"{_js(k)}: {_js(_plain(v))}," for k, v in config.items()]
    if oauth2_redirect_url:
        lines.append(f"oauth2RedirectUrl: new URL({_js(oauth2_redirect_url)}, window.location.href).href,")
    members = "\n".join(lines)
    oauth = f"\nui.initOAuth({_js(_plain(init_oauth))});" if init_oauth else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(title)}</title>
<link rel="stylesheet" type="text/css" href="{_escape(css_url)}">
<link rel="icon" type="image/png" href="{_escape(favicon_url)}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{_escape(js_url)}"></script>
<script>
const ui = SwaggerUIBundle({{
{members}
presets: [
    SwaggerUIBundle.presets.apis,
    SwaggerUIBundle.SwaggerUIStandalonePreset
],
}});{oauth}
</script>
</body>
</html>
"""


def swagger_ui_html(*, openapi_url: str, title: str, static: str, parameters: dict[str, Any] | None = None,
                    init_oauth: dict[str, Any] | None = None, oauth2_redirect_url: str | None = None) -> str:
    """The Swagger UI page for the document at ``openapi_url``, its assets under
    ``static`` (no request leaves the server: ``validatorUrl`` is off)."""
    return swagger_page(openapi_url=openapi_url, title=f"{title} - Swagger UI", js_url=f"{static}/swagger-ui-bundle.js",
                        css_url=f"{static}/swagger-ui.css", favicon_url=f"{static}/favicon-32x32.png",
                        oauth2_redirect_url=oauth2_redirect_url,
                        parameters={"validatorUrl": None, **(parameters or {})}, init_oauth=init_oauth)


def oauth2_redirect_html() -> str | None:
    """The page Swagger UI's OAuth2 login comes back to (Swagger UI's own script, from
    the docs extra, inline), or None when the extra is not installed."""
    swagger, _ = find_assets()
    if swagger is None:
        return None
    with open(os.path.join(swagger, "oauth2-redirect.js"), encoding="utf-8") as f:
        script = f.read().replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head><title>Swagger UI: OAuth2 Redirect</title></head>
<body>
<script>
{script}
</script>
</body>
</html>
"""


def _plain(value: Any) -> Any:
    from . import plain_json
    return plain_json(value)


def redoc_page(*, openapi_url: str, title: str, js_url: str, favicon_url: str | None = None,
               fonts_url: str | None = None) -> str:
    """A ReDoc page for the document at ``openapi_url`` (``title`` as it is), its bundle
    at ``js_url``."""
    head = "".join(f'\n<link rel="{rel}" href="{_escape(url)}">' for rel, url in
                   (("stylesheet", fonts_url), ("icon", favicon_url)) if url)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(title)}</title>{head}
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<noscript>ReDoc needs JavaScript to show the API documentation.</noscript>
<redoc spec-url="{_escape(openapi_url)}"></redoc>
<script src="{_escape(js_url)}"></script>
</body>
</html>
"""


def redoc_html(*, openapi_url: str, title: str, static: str) -> str:
    """The ReDoc page for the document at ``openapi_url``, its bundle under ``static``."""
    return redoc_page(openapi_url=openapi_url, title=f"{title} - ReDoc", js_url=f"{static}/redoc.standalone.js")


def missing_extra_html(*, what: str, openapi_url: str, title: str) -> str:
    """The page served instead of a UI whose files are not installed."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{_escape(title)} - {what}</title></head>
<body>
<h1>{what} is not installed</h1>
<p>ringbolt serves {what}'s files from a package: <code>pip install '{EXTRA}'</code>, then restart the server.</p>
<p>The OpenAPI document is at <a href="{_escape(openapi_url)}">{_escape(openapi_url)}</a>.</p>
</body>
</html>
"""


def _check_url(name: str, value: str | None) -> str | None:
    if value is None or value == "":  # FastAPI's: an empty URL turns it off
        return None
    if not isinstance(value, str) or not value.startswith("/") or (len(value) > 1 and value.endswith("/")):
        raise ValueError(f"{name} must be None or a path starting with '/' (and not ending with one), not {value!r}")
    if any(c in value for c in "{}?#% \t\r\n"):
        raise ValueError(f"{name} must be a plain path, not {value!r}")
    return value


def _page(body: str, status: int = 200) -> Callable[[Any], Response]:
    data = body.encode()

    def page(req: Any) -> Response:
        return Response(data, status, content_type=_HTML)
    return page


def _file(path: str) -> Callable[[Any], Response]:
    kind = _TYPES.get(os.path.splitext(path)[1], "application/octet-stream")

    def serve(req: Any) -> Response:
        with open(path, "rb") as f:
            return Response(f.read(), 200, {"cache-control": _CACHE}, content_type=kind)
    return serve


class OpenAPIApp:
    """The OpenAPI part of ``App``: the options (attributes with FastAPI's names: change
    them before the app starts), ``openapi()`` and the routes that serve it."""

    _defs: list[Any]
    _keys: dict[tuple[str, str], str]
    _statics: list[tuple[str, str, str, str, bool, bool]]

    def _init_openapi(self, *, title: str, version: str, summary: str | None, description: str | None,
                      openapi_url: str | None, docs_url: str | None, redoc_url: str | None,
                      openapi_tags: list[dict[str, Any]] | None, servers: list[dict[str, Any]] | None,
                      terms_of_service: str | None, contact: dict[str, Any] | None,
                      license_info: dict[str, Any] | None, swagger_ui_parameters: dict[str, Any] | None,
                      swagger_ui_init_oauth: dict[str, Any] | None) -> None:
        self.title = require_str("title", title)
        self.version = require_str("version", version)
        self.summary = summary
        self.description = description
        self.openapi_url = _check_url("openapi_url", openapi_url)
        self.docs_url = _check_url("docs_url", docs_url)
        self.redoc_url = _check_url("redoc_url", redoc_url)
        self.openapi_tags = openapi_tags
        self.servers = servers
        self.terms_of_service = terms_of_service
        self.contact = contact
        self.license_info = license_info
        self.swagger_ui_parameters = swagger_ui_parameters
        self.swagger_ui_init_oauth = swagger_ui_init_oauth
        #: where Swagger UI's OAuth2 login comes back to (served with the docs page)
        self.swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect"
        #: The document once made (``openapi()``); set it to None to have it made again.
        self.openapi_schema: dict[str, Any] | None = None
        self._openapi_made: tuple[int, int] | None = None

    def routes_for_openapi(self) -> list[RouteInfo]:
        """Every HTTP route (WebSocket endpoints aside) as the document reads it."""
        from . import RouteInfo  # the generator is imported when a document is made
        return [RouteInfo(d.path, d.methods, d.handler, d.plan, getattr(d, "options", None))
                for d in self._defs if not d.websocket]

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document (a dict), made at the first call and kept in
        ``openapi_schema``; made again when routes were added since. Replace this
        method (``app.openapi = custom``) to serve a document of your own."""
        made = self.openapi_schema
        if made is not None:
            ours = self._openapi_made is not None and self._openapi_made[1] == id(made)
            if not ours or self._openapi_made == (len(self._defs), id(made)):
                return made  # one the app set itself, or ours and still current
        from . import OPENAPI_VERSION, get_openapi
        webhooks = getattr(self, "webhooks", None)  # FastAPI's options, where the app has them
        made = get_openapi(title=self.title, version=self.version, summary=self.summary,
                           description=self.description, routes=self.routes_for_openapi(), tags=self.openapi_tags,
                           servers=self.servers, terms_of_service=self.terms_of_service, contact=self.contact,
                           license_info=self.license_info, conventions=getattr(self, "conventions", "ringbolt"),
                           openapi_version=getattr(self, "openapi_version", None) or OPENAPI_VERSION,
                           webhooks=getattr(webhooks, "_defs", webhooks),
                           separate_input_output_schemas=getattr(self, "separate_input_output_schemas", True),
                           external_docs=getattr(self, "openapi_external_docs", None))
        self.openapi_schema = made
        self._openapi_made = (len(self._defs), id(made))
        return made

    # ---- what the server is given ----
    def _openapi_serves(self) -> bool:
        """The documents are served when ``openapi_url`` is set and the app has routes
        of its own (an App that only mounts an ASGI/WSGI app leaves that app's
        ``/docs`` reachable)."""
        return self.openapi_url is not None and any(not d.websocket for d in self._defs)

    def _free(self, path: str) -> bool:
        return ("GET", _shape(path)) not in self._keys

    def _openapi_routes(self, under: str | None = None) -> list[Route]:
        """The const routes of the document and its pages (any the app's own routes
        already take are left to them). ``under``: the path this app is served under by
        the app it is mounted on (its root path and the mount's), for the document. The
        pages fetch the document, their files and the OAuth2 return page under the
        served root (``_served_root``: the browser sees the paths the proxy or mount adds)."""
        if not self._openapi_serves():
            return []
        assert self.openapi_url is not None
        root = self._served_root(under)
        document_url = root + self.openapi_url
        routes: list[Route] = []
        if self._free(self.openapi_url):
            serve = self._serve_document if under is None else functools.partial(self._serve_document, under=under)
            routes.append((self.openapi_url, ["GET"], serve, True, False, False))
        swagger, redoc = find_assets()
        for url, found, what in ((self.docs_url, swagger, "Swagger UI"), (self.redoc_url, redoc, "ReDoc")):
            if url is None or not self._free(url):
                continue
            if found is None:
                logger.warning("%s at %s needs its files: pip install '%s'", what, url, EXTRA)
                body = missing_extra_html(what=what, openapi_url=document_url, title=self.title)
            elif what == "Swagger UI":
                redirect_url = self.swagger_ui_oauth2_redirect_url
                body = swagger_ui_html(openapi_url=document_url, title=self.title, static=f"{root}{url}/static",
                                       parameters=self.swagger_ui_parameters, init_oauth=self.swagger_ui_init_oauth,
                                       oauth2_redirect_url=root + redirect_url if redirect_url else redirect_url)
            else:
                body = redoc_html(openapi_url=document_url, title=self.title, static=f"{root}{url}/static")
            routes.append((url, ["GET"], _page(body), True, False, False))
        redirect = self.swagger_ui_oauth2_redirect_url
        if self.docs_url is not None and redirect and swagger is not None and self._free(redirect):
            page = oauth2_redirect_html()
            if page is not None:
                routes.append((redirect, ["GET"], _page(page), True, False, False))
        return routes

    def _asset_mounts(self) -> list[tuple[str, str, tuple[str, ...]]]:
        if not self._openapi_serves():
            return []
        swagger, redoc = find_assets()
        out: list[tuple[str, str, tuple[str, ...]]] = []
        for url, found, files in ((self.docs_url, swagger, SWAGGER_FILES), (self.redoc_url, redoc, REDOC_FILES)):
            if url is not None and found is not None:
                out.append((f"{url.rstrip('/')}/static", found, files))
        return out

    def _openapi_statics(self) -> list[tuple[str, str, str, str, bool, bool]]:
        """The pages' assets as native static mounts (ringbolt's own server)."""
        taken = {m[0] for m in self._statics}
        return [check_static(prefix, directory, None, _CACHE, False, False)
                for prefix, directory, _ in self._asset_mounts() if prefix not in taken]

    def _openapi_asset_routes(self) -> list[tuple[str, list[str], Callable[[Any], Any]]]:
        """The same assets as const routes, for the App served by another ASGI server
        (where static mounts are not served)."""
        return [(f"{prefix}/{name}", ["GET"], _file(os.path.join(directory, name)))
                for prefix, directory, files in self._asset_mounts() for name in files
                if os.path.isfile(os.path.join(directory, name)) and self._free(f"{prefix}/{name}")]

    def _served_document(self, under: str | None = None) -> dict[str, Any]:
        """The document as served: an app behind a proxy at a root path (see
        ``_served_root``) lists that path first among its servers, as FastAPI's does."""
        doc = self.openapi()
        root = self._served_root(under)
        if root and getattr(self, "root_path_in_servers", True):
            servers = list(doc.get("servers") or [])
            if root not in {s.get("url") for s in servers if isinstance(s, dict)}:
                doc = {**doc, "servers": [{"url": root}, *servers]}
        return doc

    def _served_root(self, under: str | None = None) -> str:
        """The path the app is served under, for an app with FastAPI's ``root_path``:
        its own, else ``under`` (served by the app it is mounted on: Starlette's
        ``Mount`` adds its path to the root path), else the server's (``ringbolt serve
        --root-path`` sets the app's; a TestClient's ``root_path``). A ringbolt App has none."""
        if not hasattr(self, "root_path"):
            return ""
        own = str(getattr(self, "root_path", "") or "")
        if not own:
            own = under if under is not None else str(self.__dict__.get("_rb_server_root_path", ""))
        return own.rstrip("/")

    def _serve_document(self, req: Any, under: str | None = None) -> Response:
        try:
            data = json.dumps(self._served_document(under), ensure_ascii=False, separators=(",", ":"),
                              default=str).encode()
        except Exception as exc:  # noqa: BLE001 - a broken document is a 500 naming why, never a failed start
            logger.exception("the OpenAPI document could not be made")
            return problem_response(500, problem(500, f"the OpenAPI document could not be made: {exc!r}"))
        return Response(data, 200, content_type="application/json")
