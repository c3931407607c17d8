"""The OpenAPI document and its pages (docs/openapi.md): what the document says of each
route of a realistic service (tests/py/apps/typed_openapi_app.py: parameters, bodies,
responses, components and their $refs, tags, security), that it validates as OpenAPI
3.1, that /openapi.json, /docs, /redoc and the pages' assets are served over HTTP/1.1,
h2c, under TestClient and under uvicorn with no external URL, the options that turn
them off or move them, and what happens when the docs extra is missing."""

import decimal
import json
import logging
import re
from enum import Enum, StrEnum
from typing import Annotated, Any

import msgspec
import pydantic
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from ringbolt import App, Body, Query, Router
from ringbolt.openapi import pages as _openapi_pages
from ringbolt.openapi import default_operation_id, get_openapi, openapi_path
from ringbolt.testing import TestClient
from typed_helpers import Transport, transport_fixture

import typed_openapi_app  # noqa: E402 - tests/py/apps is on sys.path (typed_helpers)

served = transport_fixture("testclient", "http1", "h2c", "uvicorn", app="typed_openapi_app:app")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return typed_openapi_app.app.openapi()


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` followed (into components.schemas)."""
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/components/schemas/"), ref
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def op(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return doc["paths"][path][method.lower()]


# ---- the document's content ----

def test_document_validates_and_has_the_app_info(doc: dict[str, Any]) -> None:
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "Shop", "version": "2.1.0", "summary": "A shop",
                           "description": "Items and users of a **shop**.",
                           "contact": {"name": "Shop team", "email": "shop@example.com"},
                           "license": {"name": "MIT", "identifier": "MIT"}}
    assert doc["servers"] == [{"url": "/", "description": "this server"}]
    assert doc["tags"] == [{"name": "items", "description": "What the shop sells"}, {"name": "users"}]


OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    # method, OpenAPI path, the operation's members (responses: the codes)
    ("GET", "/items", {"operationId": "list_items_items_get", "tags": ["items"], "summary": "List Items",
                       "description": "List the items, a page at a time.\n\nFiltered by colour and tags when given.",
                       "responses": ["200", "422"], "security": None, "requestBody": None}),
    ("POST", "/items", {"operationId": "create_item_items_post", "summary": "Create Item",
                        "responses": ["201", "401", "409", "422", "400"], "security": [{"HTTPBearer": []}],
                        "requestBody": {"application/json": "ItemIn"}}),
    ("GET", "/items/{item_id}", {"operationId": "read_item_items__item_id__get",
                                 "responses": ["200", "404", "422"], "security": None}),
    ("PUT", "/items/{item_id}", {"responses": ["200", "401", "404", "422", "400"], "security": [{"HTTPBearer": []}],
                                 "requestBody": {"application/json": "ItemIn"}}),
    ("DELETE", "/items/{item_id}", {"responses": ["204", "401", "404", "422"],
                                    "security": [{"OAuth2PasswordBearer": ["items:write"]}]}),
    ("POST", "/token", {"tags": ["users"], "responses": ["200", "400", "422"],
                        "requestBody": {"application/x-www-form-urlencoded": "Body_login_token_post"}}),
    ("GET", "/users/me", {"responses": ["200", "401"], "security": [{"OAuth2PasswordBearer": ["me"]}]}),
    ("GET", "/users/{user_id}", {"responses": ["200", "401", "422", "404"], "security": [{"ApiKey": []}]}),
    ("GET", "/search", {"summary": "Search everything", "description": "Every scalar kind of parameter.",
                        "tags": None, "responses": ["200", "422"]}),
    ("POST", "/upload", {"tags": ["files"], "responses": ["200", "422", "400"],
                         "requestBody": {"multipart/form-data": "Body_upload_upload_post"}}),
    ("POST", "/notes", {"description": "A note of two members, embedded in one JSON object.",
                        "responses": ["201", "422", "400"],
                        "requestBody": {"application/json": "Body_add_note_notes_post"}}),
    ("POST", "/geometry/length", {"responses": ["200", "422", "400"],
                                  "requestBody": {"application/json": "Segment"}}),
    ("GET", "/legacy", {"operationId": "legacyThing", "deprecated": True, "summary": "Legacy",
                        "description": "A plain handler, listed with a bare operation.", "responses": ["200"],
                        "parameters": None, "requestBody": None}),
]


@pytest.mark.parametrize("method,path,expected", OPERATIONS)
def test_operation(doc: dict[str, Any], method: str, path: str, expected: dict[str, Any]) -> None:
    o = op(doc, method, path)
    for key, want in expected.items():
        if key == "responses":
            assert list(o["responses"]) == want
        elif key == "requestBody" and want is not None:
            content = o["requestBody"]["content"]
            assert list(content) == list(want)
            for media, name in want.items():
                assert content[media]["schema"] == {"$ref": f"#/components/schemas/{name}"}
        else:
            assert o.get(key) == want, key


def test_hidden_routes_and_docs_routes_are_not_listed(doc: dict[str, Any]) -> None:
    assert "/hidden" not in doc["paths"]
    assert not {"/openapi.json", "/docs", "/redoc"} & set(doc["paths"])
    ids = [o["operationId"] for item in doc["paths"].values() for o in item.values()]
    assert len(ids) == len(set(ids)) == 13


PARAMETERS: list[tuple[str, str, str, str, bool, dict[str, Any]]] = [
    # method, path, name on the wire, in, required, schema (the members it has)
    ("GET", "/items", "limit", "query", False,
     {"type": "integer", "minimum": 1, "maximum": 100, "default": 10, "description": "At most this many"}),
    ("GET", "/items", "offset", "query", False, {"type": "integer", "minimum": 0, "maximum": 10_000, "default": 0}),
    ("GET", "/items", "tag", "query", False, {"type": "array", "items": {"type": "string"}, "maxItems": 3}),
    ("GET", "/items", "color", "query", False,  # an Enum: a component; a None default: not written
     {"anyOf": [{"$ref": "#/components/schemas/Color"}, {"type": "null"}], "title": "Color"}),
    ("GET", "/items/{item_id}", "item_id", "path", True,
     {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1, "description": "The item's id", "examples": [1]}),
    ("GET", "/users/{user_id}", "user_id", "path", True, {"type": "string", "format": "uuid"}),
    ("GET", "/search", "query", "query", True,  # alias="query"
     {"type": "string", "minLength": 2, "maxLength": 30, "pattern": "^[a-z ]+$"}),
    ("GET", "/search", "when", "query", False,
     {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}),
    ("GET", "/search", "day", "query", False, {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}),
    ("GET", "/search", "price", "query", False,
     # pydantic's own schema of it (2.14 dropped the pattern of a Decimal's string form)
     pydantic.TypeAdapter(Annotated[decimal.Decimal | None, pydantic.Field(gt=0, le=1000)]).json_schema()),
    ("GET", "/search", "color", "query", False, {"$ref": "#/components/schemas/Color", "default": "blue"}),
    ("GET", "/search", "mode", "query", False, {"type": "string", "enum": ["fast", "full"], "default": "fast"}),
    ("GET", "/search", "ref", "query", False, {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]}),
    ("GET", "/search", "ratio", "query", False, {"type": "number", "minimum": 0, "exclusiveMaximum": 1}),
    ("GET", "/search", "exact", "query", False, {"type": "boolean", "default": False}),
    ("GET", "/search", "x-request-source", "header", False,
     {"anyOf": [{"type": "string", "maxLength": 40}, {"type": "null"}]}),
    ("GET", "/search", "session", "cookie", False, {"anyOf": [{"type": "string", "maxLength": 64}, {"type": "null"}]}),
]


@pytest.mark.parametrize("method,path,name,where,required,schema", PARAMETERS)
def test_parameter(doc: dict[str, Any], method: str, path: str, name: str, where: str, required: bool,
                   schema: dict[str, Any]) -> None:
    found = [p for p in op(doc, method, path)["parameters"] if p["name"] == name and p["in"] == where]
    assert len(found) == 1, op(doc, method, path)["parameters"]
    assert found[0]["required"] is required
    for key, value in schema.items():
        assert found[0]["schema"][key] == value, key


def test_parameter_options(doc: dict[str, Any]) -> None:
    old = [p for p in op(doc, "GET", "/search")["parameters"] if p["name"] == "old"][0]
    assert old["deprecated"] is True and old["examples"] == {"one": {"value": 1}}
    # the dependency's parameters are the route's; the security scheme's header is not a parameter
    assert [p["name"] for p in op(doc, "GET", "/items")["parameters"]] == ["color", "tag", "limit", "offset"]
    assert "parameters" not in op(doc, "GET", "/users/me")


def test_components_and_refs(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    item_in = schemas["ItemIn"]
    assert item_in["required"] == ["name", "price"]
    assert item_in["properties"]["name"]["examples"] == ["hammer"]  # the model's own examples
    assert item_in["properties"]["price"] == {"maximum": 1_000_000, "minimum": 0, "title": "Price", "type": "number"}
    assert item_in["properties"]["tags"]["items"] == {"$ref": "#/components/schemas/Tag"}
    assert item_in["properties"]["color"]["$ref"] == "#/components/schemas/Color"
    page = op(doc, "GET", "/items")["responses"]["200"]["content"]["application/json"]["schema"]
    assert resolve(doc, page)["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    # msgspec: Segment refers to Point, with msgspec's own constraints
    assert schemas["Segment"]["properties"]["start"] == {"$ref": "#/components/schemas/Point"}
    assert schemas["Point"]["properties"]["x"] == {"type": "integer", "minimum": -1000, "maximum": 1000}
    length = op(doc, "POST", "/geometry/length")["responses"]["200"]["content"]["application/json"]["schema"]
    assert resolve(doc, length)["properties"] == {"length": {"type": "number"}}
    # embedded body: one member per Body() parameter, the markers' constraints
    note = schemas["Body_add_note_notes_post"]
    assert note["required"] == ["text"]
    assert note["properties"]["priority"] == {"default": 3, "maximum": 5, "minimum": 1, "title": "Priority",
                                              "type": "integer"}
    # forms: the OAuth2 form's fields, a file as octets (FastAPI's schema of a file)
    login = schemas["Body_login_token_post"]
    assert login["required"] == ["username", "password"]
    assert login["properties"]["password"] == {"format": "password", "title": "Password", "type": "string"}
    assert schemas["Body_upload_upload_post"]["properties"]["file"] == {
        "contentMediaType": "application/octet-stream", "description": "Any file", "title": "File", "type": "string"}
    # every $ref resolves
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc))
    assert refs and set(refs) <= set(schemas)


def test_error_responses_are_the_problems_actually_sent(doc: dict[str, Any]) -> None:
    o = op(doc, "POST", "/items")
    assert o["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}
    invalid = doc["components"]["schemas"]["HTTPValidationError"]
    assert invalid["properties"]["detail"]["items"] == {"$ref": "#/components/schemas/ValidationError"}
    assert doc["components"]["schemas"]["ValidationError"]["required"] == ["loc", "msg", "type"]
    # a declared error with no model: what HTTPException answers
    assert o["responses"]["409"] == {"description": "An item of that name exists",
                                     "content": {"application/problem+json": {
                                         "schema": {"$ref": "#/components/schemas/Problem"}}}}
    assert "content" not in op(doc, "DELETE", "/items/{item_id}")["responses"]["204"]


def test_security_schemes(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A token from /token"},
        "OAuth2PasswordBearer": {"type": "oauth2", "flows": {"password": {
            "tokenUrl": "/token", "scopes": {"items:write": "Change items", "me": "Read yourself"}}}},
        "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    }


def test_the_document_matches_what_is_enforced() -> None:
    """What the document says is required, bounded or refused is what the server does."""
    with TestClient(typed_openapi_app.app) as c:
        r = c.get("/items?limit=101")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
        assert c.get("/items?limit=100").status_code == 200
        assert c.get("/items/x").status_code == 404  # {item_id:int}: the documented 404
        assert c.post("/items", json={"name": "a", "price": 1}).status_code == 401
        bad_json = {"authorization": "Bearer good", "content-type": "application/json"}
        assert c.post("/items", content=b"{", headers=bad_json).status_code == 400
        r = c.get("/search", params={"query": "ab"}, headers={"x-request-source": "x" * 41})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "x-request-source"]
        assert c.post("/notes", json={"text": "t", "priority": 6}).status_code == 422


# ---- served ----

def _local_urls(page: str) -> list[str]:
    urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"', page)
    assert not re.search(r"https?://", page), "the page loads something from outside"
    assert urls and all(u.startswith("/") for u in urls), urls
    return urls


ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png",
               ".json": "application/json"}


@pytest.mark.parametrize("page,title", [("/docs", "Shop - Swagger UI"), ("/redoc", "Shop - ReDoc")])
def test_pages_and_their_assets(served: Transport, page: str, title: str) -> None:
    r = served.get(page)
    assert r.status == 200 and r.content_type == "text/html; charset=utf-8"
    text = r.body.decode()
    assert f"<title>{title}</title>" in text
    urls = _local_urls(text)
    assert "/openapi.json" in text
    for url in urls:
        asset = served.get(url)
        assert asset.status == 200, url
        ext = url[url.rfind("."):]
        assert asset.content_type == ASSET_TYPES[ext], url
        assert len(asset.body) > 100, url
    if page == "/docs":
        assert "/docs/static/swagger-ui-bundle.js" in urls and "/docs/static/swagger-ui.css" in urls
        assert b"SwaggerUIBundle" in served.get("/docs/static/swagger-ui-bundle.js").body
    else:
        assert "/redoc/static/redoc.standalone.js" in urls


def test_document_served(served: Transport, doc: dict[str, Any]) -> None:
    r = served.get("/openapi.json")
    assert r.status == 200 and r.content_type == "application/json"
    assert r.json() == json.loads(json.dumps(doc))
    assert served.get("/docs/static/no-such-file.js").status == 404


def test_generated_once() -> None:
    app = App()
    calls: list[int] = []
    made = app.openapi

    def counting() -> dict[str, Any]:
        calls.append(1)
        return made()

    app.openapi = counting  # type: ignore[method-assign]

    @app.get("/one")
    def one(n: int = 1) -> dict[str, int]:
        return {"n": n}

    with TestClient(app) as c:
        bodies = {c.get("/openapi.json").content for _ in range(5)}
    assert len(bodies) == 1 and calls == [1]


# ---- options ----

def _small_app(**options: Any) -> App:
    app = App(**options)

    @app.get("/ping", tags=["t"])
    def ping(q: str = "x") -> dict[str, str]:
        return {"q": q}

    return app


SWITCHES: list[tuple[dict[str, Any], dict[str, int], str]] = [
    # App options, status per path, the document URL the pages name
    ({}, {"/openapi.json": 200, "/docs": 200, "/redoc": 200, "/docs/static/swagger-ui.css": 200}, "/openapi.json"),
    ({"openapi_url": None}, {"/openapi.json": 404, "/docs": 404, "/redoc": 404, "/docs/static/swagger-ui.css": 404,
                             "/redoc/static/redoc.standalone.js": 404, "/docs/oauth2-redirect": 404}, ""),
    ({"openapi_url": ""}, {"/openapi.json": 404, "/docs": 404, "/redoc": 404}, ""),  # FastAPI's "off" too
    ({"docs_url": None}, {"/openapi.json": 200, "/docs": 404, "/redoc": 200, "/docs/static/swagger-ui.css": 404},
     "/openapi.json"),
    ({"redoc_url": None}, {"/openapi.json": 200, "/docs": 200, "/redoc": 404,
                           "/redoc/static/redoc.standalone.js": 404}, "/openapi.json"),
    ({"openapi_url": "/api/schema.json", "docs_url": "/api/docs", "redoc_url": "/api/redoc"},
     {"/openapi.json": 404, "/docs": 404, "/api/schema.json": 200, "/api/docs": 200, "/api/redoc": 200,
      "/api/docs/static/swagger-ui-bundle.js": 200, "/api/redoc/static/redoc.standalone.js": 200},
     "/api/schema.json"),
]


@pytest.mark.parametrize("options,statuses,document", SWITCHES)
def test_switches(options: dict[str, Any], statuses: dict[str, int], document: str) -> None:
    with TestClient(_small_app(**options)) as c:
        for path, status in statuses.items():
            r = c.get(path)
            assert r.status_code == status, path
            if status == 200 and r.headers["content-type"].startswith("text/html"):
                assert f'"{document}"' in r.text and document in _local_urls(r.text) + [document]
        assert c.get("/ping").json() == {"q": "x"}


def test_oauth2_redirect_page_and_swagger_configuration() -> None:
    """Swagger UI's OAuth2 login comes back to FastAPI's URL, served with the docs page;
    the page's configuration is FastAPI's defaults, then swagger_ui_parameters."""
    app = _small_app(swagger_ui_parameters={"deepLinking": False, "syntaxHighlight": {"theme": "obsidian"}})
    with TestClient(app) as c:
        r = c.get("/docs/oauth2-redirect")
        assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
        assert "window.opener.swaggerUIRedirectOauth2" in r.text
        page = c.get("/docs").text
    for line in ('"dom_id": "#swagger-ui",', '"layout": "BaseLayout",', '"deepLinking": false,',
                 '"syntaxHighlight": {"theme": "obsidian"},', '"validatorUrl": null,', "presets: [",
                 'oauth2RedirectUrl: new URL("/docs/oauth2-redirect", window.location.href).href,'):
        assert line in page, line
    assert '"deepLinking": true' not in page
    _local_urls(page)
    with TestClient(_small_app(docs_url=None)) as c:
        assert c.get("/docs/oauth2-redirect").status_code == 404  # no docs page, no redirect page


def test_fastapi_page_functions() -> None:
    from ringbolt.fastapi.openapi import docs

    swagger = docs.get_swagger_ui_html(openapi_url="/openapi.json", title="T - Swagger UI",
                                       swagger_js_url="/s/ui.js", swagger_css_url="/s/ui.css",
                                       oauth2_redirect_url="/docs/oauth2-redirect",
                                       swagger_ui_parameters={"syntaxHighlight": False}, init_oauth={"clientId": "x"})
    text = swagger.body.decode()
    assert swagger.content_type == "text/html; charset=utf-8"
    for part in ('<title>T - Swagger UI</title>', 'src="/s/ui.js"', 'href="/s/ui.css"', '"syntaxHighlight": false,',
                 '"showCommonExtensions": true,', 'ui.initOAuth({"clientId": "x"})'):
        assert part in text, part
    redoc = docs.get_redoc_html(openapi_url="/o.json", title="T - ReDoc", redoc_js_url="/s/redoc.js",
                                with_google_fonts=False).body.decode()
    assert '<redoc spec-url="/o.json">' in redoc and 'src="/s/redoc.js"' in redoc and "googleapis" not in redoc
    assert "https://fonts.googleapis.com" in docs.get_redoc_html(openapi_url="/o", title="T").body.decode()
    assert "swaggerUIRedirectOauth2" in docs.get_swagger_ui_oauth2_redirect_html().body.decode()


def test_fastapi_get_openapi_is_the_apps_document() -> None:
    from ringbolt.fastapi import FastAPI
    from ringbolt.fastapi.openapi.utils import get_openapi as fastapi_get_openapi

    app = FastAPI(title="T", version="9")

    @app.get("/ping")
    def ping(q: str = "x") -> dict[str, str]:
        return {"q": q}

    made = fastapi_get_openapi(title="T", version="9", routes=app._defs)
    assert made == app.openapi()
    assert made["paths"]["/ping"]["get"]["responses"]["422"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}


@pytest.mark.parametrize("name,value", [("openapi_url", "docs"), ("docs_url", "/docs/"), ("redoc_url", "/a b"),
                                        ("openapi_url", 3)])
def test_bad_urls_refused(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        App(**{name: value})


def test_missing_extra_gives_a_page_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_openapi_pages, "ASSET_PACKAGE", "ringbolt_docs_assets_not_installed")
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("ringbolt")
    logger.addHandler(handler)
    try:
        with TestClient(_small_app()) as c:
            for page, what in (("/docs", "Swagger UI"), ("/redoc", "ReDoc")):
                r = c.get(page)
                assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
                assert f"{what} is not installed" in r.text and "pip install 'ringbolt[docs]'" in r.text
                _local_urls(r.text)
            assert c.get("/docs/static/swagger-ui.css").status_code == 404
            assert c.get("/openapi.json").status_code == 200
    finally:
        logger.removeHandler(handler)
    assert "Swagger UI at /docs needs its files: pip install 'ringbolt[docs]'" in lines
    assert "ReDoc at /redoc needs its files: pip install 'ringbolt[docs]'" in lines


def test_an_app_route_wins_over_the_pages() -> None:
    app = _small_app()

    @app.get("/docs")
    def my_docs(req):  # type: ignore[no-untyped-def]
        return "my own docs"

    with TestClient(app) as c:
        assert c.get("/docs").text == "my own docs"
        assert c.get("/redoc").status_code == 200
        assert "/docs" in c.get("/openapi.json").json()["paths"]  # the app's own route is listed


def test_an_app_with_only_a_mounted_app_leaves_its_docs() -> None:
    async def mounted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": f"mounted {scope['path']}".encode()})

    app = App()
    app.mount_asgi(mounted, lifespan="off")
    with TestClient(app) as c:
        assert c.get("/openapi.json").text == "mounted /openapi.json"
        assert c.get("/docs").text == "mounted /docs"


def test_document_follows_new_routes_and_a_custom_one() -> None:
    app = _small_app()
    first = app.openapi()
    assert app.openapi() is first and list(first["paths"]) == ["/ping"]

    @app.post("/later")
    def later(x: Annotated[int, Body(embed=True)]) -> dict[str, int]:
        return {"x": x}

    assert list(app.openapi()["paths"]) == ["/ping", "/later"]
    custom = {"openapi": "3.1.0", "info": {"title": "mine", "version": "1"}, "paths": {}}
    app.openapi_schema = custom
    assert app.openapi() is custom
    with TestClient(app) as c:
        assert c.get("/openapi.json").json() == custom


@pytest.mark.parametrize("servers,in_servers,expected", [
    (None, True, [{"url": "/api/v1"}]),
    ([{"url": "https://a.example"}], True, [{"url": "/api/v1"}, {"url": "https://a.example"}]),
    ([{"url": "/api/v1"}], True, [{"url": "/api/v1"}]),  # (listed already)
    ([{"url": "https://a.example"}], False, [{"url": "https://a.example"}]),
])
def test_root_path_is_the_first_server(servers: Any, in_servers: bool, expected: list[dict[str, str]]) -> None:
    """An app behind a proxy at root_path (FastAPI's option) serves its document with
    that path first among its servers; app.openapi() itself is left as made."""
    app = _small_app(servers=servers)
    app.root_path = "/api/v1/"  # type: ignore[attr-defined]
    app.root_path_in_servers = in_servers  # type: ignore[attr-defined]
    with TestClient(app) as c:
        assert c.get("/openapi.json").json().get("servers") == expected
    assert app.openapi().get("servers") == servers


def test_a_failing_document_is_a_500_not_a_failed_start() -> None:
    app = _small_app()

    def broken() -> dict[str, Any]:
        raise RuntimeError("no document today")

    app.openapi = broken  # type: ignore[method-assign]
    with TestClient(app) as c:
        r = c.get("/openapi.json")
        assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
        assert "no document today" in r.json()["detail"]
        assert c.get("/ping").status_code == 200


# ---- the generator on its own ----

def test_names_and_ids() -> None:
    assert openapi_path("/users/{uid:int}/files/{rest:path}") == "/users/{uid}/files/{rest}"
    assert default_operation_id("read_item", "/items/{item_id:int}", "GET") == "read_item_items__item_id__get"


def test_components_of_two_libraries_with_one_name() -> None:
    """A pydantic model and a msgspec Struct both named Thing: two components, each
    route's $ref to its own."""
    def make() -> App:
        class Thing(BaseModel):
            a: int

        class MThing(msgspec.Struct):
            b: str

        MThing.__name__ = MThing.__qualname__ = "Thing"
        app = App()

        @app.post("/p")
        def p(t: Thing) -> dict[str, Any]:
            return {}

        @app.post("/m")
        def m(t: MThing) -> dict[str, Any]:
            return {}

        return app

    d = make().openapi()
    validate(d)
    p = resolve(d, d["paths"]["/p"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    m = resolve(d, d["paths"]["/m"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert set(p["properties"]) == {"a"} and set(m["properties"]) == {"b"}
    assert {"Thing", "Thing2"} <= set(d["components"]["schemas"])


def test_router_routes_operation_ids_and_methods() -> None:
    app = App()
    r = Router(prefix="/r")

    @r.route("/x", ["GET", "POST"], operation_id="both")
    def both(n: Annotated[int, Query()] = 0) -> dict[str, int]:
        return {"n": n}

    @r.route("/y", ["PURGE", "GET"])
    def odd(req):  # type: ignore[no-untyped-def]
        return {}

    app.include(r, prefix="/v1")
    d = app.openapi()
    validate(d)
    assert d["paths"]["/v1/r/x"]["get"]["operationId"] == "both"
    assert d["paths"]["/v1/r/x"]["post"]["operationId"] == "both_post"
    assert list(d["paths"]["/v1/r/y"]) == ["get"]  # PURGE has no field in OpenAPI 3.1


class PlainTags(Enum):
    items = "items"


class StrTags(str, Enum):
    users = "users"


class NamedTags(StrEnum):
    files = "files"


# A tag given as an Enum member is written as its value, as FastAPI writes it
# (docs' "tags with Enums"): the member's name or str() is not the tag.
ENUM_TAGS: list[tuple[str, list[Any], list[str]]] = [
    ("plain Enum", [PlainTags.items], ["items"]),
    ("str, Enum", [StrTags.users], ["users"]),
    ("StrEnum", [NamedTags.files], ["files"]),
    ("str", ["orders"], ["orders"]),
    ("mixed", [PlainTags.items, "orders", StrTags.users], ["items", "orders", "users"]),
]


@pytest.mark.parametrize("case,tags,written", ENUM_TAGS, ids=[c[0] for c in ENUM_TAGS])
def test_enum_tags_are_written_as_their_values(case: str, tags: list[Any], written: list[str]) -> None:
    app = App()

    @app.get("/tagged", tags=tags)
    def tagged() -> dict[str, str]:
        return {}

    with TestClient(app) as c:
        served_doc = c.get("/openapi.json").json()
    validate(served_doc)
    assert served_doc["paths"]["/tagged"]["get"]["tags"] == written, case
    assert app.openapi()["paths"]["/tagged"]["get"]["tags"] == written, case


def test_get_openapi_is_the_function_behind_openapi() -> None:
    app = _small_app(title="T", version="9")
    assert get_openapi(title="T", version="9", routes=app.routes_for_openapi()) == app.openapi()


NO_PYDANTIC = """
import enum, json, sys
sys.modules["pydantic"] = None  # not installed: msgspec validates, ringbolt writes the parameters' schemas
from typing import Annotated
import msgspec
from ringbolt import App, Body, File, Form, Header, Query, UploadFile

class Color(enum.Enum):
    red = "red"
    blue = "blue"

class Item(msgspec.Struct):
    name: str
    price: float = 0

app = App()

@app.get("/items/{item_id:int}")
def read(item_id: int, q: str | None = None, color: Color = Color.red,
         tags: Annotated[list[str], Query(max_length=3)] = [], x_token: Annotated[str | None, Header()] = None) -> Item:
    return Item("a")

@app.post("/items")
def create(item: Item, n: Annotated[int, Body(ge=1)]) -> Item:
    return item

@app.post("/form")
def form(name: Annotated[str, Form(max_length=9)], f: Annotated[UploadFile, File()]) -> dict:
    return {}

print(json.dumps(app.openapi()))
"""


def test_document_without_pydantic() -> None:
    """With msgspec and no pydantic: the parameters' schemas are made by ringbolt, the
    models' by msgspec, the document still valid and titled by FastAPI's rules."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", NO_PYDANTIC], capture_output=True, text=True, timeout=60, check=True)
    d = json.loads(out.stdout)
    validate(d)
    params = {p["name"]: p["schema"] for p in d["paths"]["/items/{item_id}"]["get"]["parameters"]}
    assert params == {
        "item_id": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1, "title": "Item Id"},
        "q": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Q"},
        "color": {"type": "string", "enum": ["red", "blue"], "title": "Color", "default": "red"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "default": [], "title": "Tags"},
        "x-token": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "X-Token"},
    }
    schemas = d["components"]["schemas"]
    assert schemas["Body_create_items_post"]["properties"]["item"] == {"$ref": "#/components/schemas/Item"}
    assert schemas["Body_form_form_post"]["properties"] == {
        "name": {"type": "string", "maxLength": 9, "title": "Name"},
        "f": {"type": "string", "contentMediaType": "application/octet-stream", "title": "F"}}
    assert d["paths"]["/form"]["post"]["requestBody"]["content"] == {
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Body_form_form_post"}}}


APPS_TO_VALIDATE = ["typed_openapi_app", "typed_app"]


@pytest.mark.parametrize("module", APPS_TO_VALIDATE)
def test_documents_validate(module: str) -> None:
    d = __import__(module).app.openapi()
    validate(d)
    assert len(d["paths"]) >= 10
