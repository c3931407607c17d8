"""ringbolt.fastapi's document where FastAPI's app and router options shape it: callback
routes whose paths are no request paths (``{$callback_url}/...``), ``app.webhooks``,
routers' ``tags``/``responses``/``callbacks``/``deprecated``, ``generate_unique_id_function``
at each level, ``get_openapi(routes=app.routes)``, a path listed twice, an unannotated
parameter, and the ``servers`` a document is served with (a client's ``root_path``, a
mounted app's path). Each app is made twice from one source, with FastAPI's imports
(the reference: it must be installed) and with ringbolt.fastapi's; the documents are
compared whole, as served over a real socket."""

from __future__ import annotations

import itertools
import json
import sys
import textwrap
import types
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="FastAPI itself is the reference these documents are compared with")

CALLBACKS = '''
from datetime import datetime
from pydantic import BaseModel
from {fastapi} import APIRouter, FastAPI

class Invoice(BaseModel):
    id: str
    total: float

class InvoiceEvent(BaseModel):
    description: str
    paid: bool

class Received(BaseModel):
    ok: bool

class Subscription(BaseModel):
    username: str
    start_date: datetime

app = FastAPI()
callbacks = APIRouter()

@callbacks.post("{{$callback_url}}/invoices/{{$request.body.id}}", response_model=Received)
def invoice_notification(body: InvoiceEvent):
    pass

@app.webhooks.post("new-subscription")
def new_subscription(body: Subscription):
    """Sent when a user subscribes."""

@app.post("/invoices/", callbacks=callbacks.routes)
def create_invoice(invoice: Invoice, callback_url: str | None = None):
    return {{"msg": "Invoice received"}}
'''

ROUTERS = '''
from {fastapi} import APIRouter, FastAPI

def tag_and_name(route):
    return f"{{route.tags[0]}}-{{route.name}}"

def own_id(route):
    return f"own-{{route.name}}"

app = FastAPI(generate_unique_id_function=tag_and_name)
items = APIRouter(prefix="/items", tags=["items"], responses={{404: {{"description": "Not found"}}}})
old = APIRouter(prefix="/old", tags=["old"], deprecated=True, generate_unique_id_function=own_id)
hidden = APIRouter(prefix="/hidden", tags=["hidden"], include_in_schema=False)

@items.get("/")
def read_items():
    return []

@items.put("/{{item_id}}", tags=["custom"], responses={{403: {{"description": "Forbidden"}}}})
def update_item(item_id: str):
    return {{}}

@old.get("/")
def read_old():
    return []

@hidden.get("/")
def read_hidden():
    return []

@app.get("/users", tags=["users"])
def read_users():
    return ["Rick"]

@app.get("/users", tags=["users"])
def read_users2():
    return ["Bean"]

@app.get("/raw/{{anything}}", tags=["raw"])
def read_raw(anything):
    return {{"anything": anything}}

app.include_router(items)
app.include_router(old)
app.include_router(hidden)
'''

CUSTOM = '''
from {fastapi} import FastAPI
from {fastapi}.openapi.utils import get_openapi

app = FastAPI()

@app.get("/items/")
async def read_items():
    return [{{"name": "Foo"}}]

def custom_openapi():
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title="Custom", version="2.5.0", summary="Made by hand", routes=app.routes)
    schema["info"]["x-logo"] = {{"url": "/logo.png"}}
    app.openapi_schema = schema
    return schema

app.openapi = custom_openapi
'''

MOUNTED = '''
from {fastapi} import FastAPI

app = FastAPI(servers=[{{"url": "https://stag.example.com", "description": "Staging"}}])

@app.get("/app")
def read_main():
    return {{}}

subapi = FastAPI()

@subapi.get("/sub")
def read_sub():
    return {{}}

app.mount("/subapi", subapi)
'''

_made = itertools.count()


def build(source: str, fastapi: bool) -> types.ModuleType:
    """``source`` run as a module of its own with FastAPI's imports or ringbolt.fastapi's."""
    mod = types.ModuleType(f"fastapi_openapi_case_{next(_made)}")
    sys.modules[mod.__name__] = mod
    exec(textwrap.dedent(source).format(fastapi="fastapi" if fastapi else "ringbolt.fastapi"),  # noqa: S102
         mod.__dict__)
    return mod


def served(mod: types.ModuleType, url: str, fastapi: bool, app: str = "app", root_path: str = "") -> Any:
    """The document served at ``url`` (by FastAPI's TestClient, or ringbolt's over a socket)."""
    if fastapi:
        from fastapi.testclient import TestClient as Reference
        return Reference(getattr(mod, app), root_path=root_path).get(url).json()
    from ringbolt.fastapi.testclient import TestClient
    with TestClient(getattr(mod, app), root_path=root_path) as client:
        response = client.get(url)
        assert response.status_code == 200, response.text
        return response.json()


CASES = [
    # source, the app served, its document's URL, the client's root path
    (CALLBACKS, "app", "/openapi.json", ""),
    (ROUTERS, "app", "/openapi.json", ""),
    (CUSTOM, "app", "/openapi.json", ""),
    (MOUNTED, "app", "/openapi.json", ""),
    (MOUNTED, "app", "/openapi.json", "/api/v1"),  # the client's root path listed first
    (MOUNTED, "app", "/subapi/openapi.json", ""),  # the mounted app's document: its path is a server
    (MOUNTED, "app", "/api/v1/subapi/openapi.json", "/api/v1"),
    (MOUNTED, "subapi", "/openapi.json", "/proxy"),  # served alone: its mount does not count
]


@pytest.mark.parametrize("source,app,url,root_path", CASES)
def test_served_document_is_fastapis(source: str, app: str, url: str, root_path: str) -> None:
    reference = served(build(source, True), url, True, app, root_path)
    ours = served(build(source, False), url, False, app, root_path)
    assert ours == reference


def test_the_document_reads_what_fastapi_lets_routes_declare() -> None:
    """What the comparison above holds, said plainly (so a change to FastAPI's rules is
    seen here, not only as a difference)."""
    doc = build(ROUTERS, False).app.openapi()
    assert doc["paths"]["/items/{item_id}"]["put"]["tags"] == ["items", "custom"]
    assert set(doc["paths"]["/items/{item_id}"]["put"]["responses"]) == {"200", "403", "404", "422"}
    assert doc["paths"]["/items/"]["get"]["operationId"] == "items-read_items"
    assert doc["paths"]["/old/"]["get"]["operationId"] == "own-read_old"  # the router's own, not the app's
    assert doc["paths"]["/old/"]["get"]["deprecated"] is True
    assert "/hidden/" not in doc["paths"]
    assert doc["paths"]["/users"]["get"]["operationId"] == "users-read_users2"  # the last route of a path
    assert doc["paths"]["/raw/{anything}"]["get"]["parameters"][0]["schema"] == {"title": "Anything"}
    callbacks = build(CALLBACKS, False)
    doc = callbacks.app.openapi()
    assert list(doc["paths"]["/invoices/"]["post"]["callbacks"]) == ["invoice_notification"]
    assert list(doc["webhooks"]) == ["new-subscription"]
    assert "/openapi.json" not in build(CUSTOM, False).app.openapi()["paths"]


def test_callback_and_webhook_routes_are_never_served() -> None:
    """A path that is no request path is documented only: requests for it find no route,
    while the app's own routes answer."""
    from ringbolt.fastapi.testclient import TestClient

    mod = build(CALLBACKS, False)
    with TestClient(mod.app) as client:
        ok = client.post("/invoices/", json={"id": "a", "total": 1.5})
        assert ok.status_code == 200 and ok.json() == {"msg": "Invoice received"}
        for path in ("/new-subscription", "/{$callback_url}/invoices/{$request.body.id}", "/invoices/a"):
            response = client.post(path, json={})
            assert response.status_code == 404 and response.json() == {"detail": "Not Found"}, path
    assert [r.path for r in mod.app.webhooks.routes] == ["new-subscription"]


@pytest.mark.parametrize("path", ["", "items", "new-subscription"])
def test_a_prefixed_router_still_refuses_a_relative_path(path: str) -> None:
    """Only a router without a prefix takes a documented-only path (FastAPI's callbacks
    router); under a prefix it would make no path at all."""
    from ringbolt.fastapi import APIRouter

    router = APIRouter(prefix="/api")
    if path == "":
        router.get(path)(lambda: {})  # the prefix itself: FastAPI's route at "/api"
        assert [r.path for r in router.routes] == ["/api"]
        return
    with pytest.raises(ValueError, match="must start with '/'"):
        router.get(path)(lambda: {})


PAGE_URLS = r"""(?:url|href|src|oauth2RedirectUrl)\s*[:=]\s*['"]([^'"]+)['"]"""


@pytest.mark.parametrize("page,root_path", [
    ("/docs", ""), ("/docs", "/api/v1"), ("/redoc", "/api/v1"), ("/subapi/docs", ""), ("/subapi/docs", "/api/v1"),
    ("/subapi/redoc", "/proxy"),
])
def test_pages_fetch_the_document_under_the_served_root(page: str, root_path: str) -> None:
    """Behind a proxy (a client's root path) or mounted, the pages ask for the document
    (and, on ringbolt, for their own files) under the path the browser sees, as FastAPI's
    do; each URL the page names is served."""
    import re

    from fastapi.testclient import TestClient as Reference

    from ringbolt.fastapi.testclient import TestClient

    theirs = Reference(build(MOUNTED, True).app, root_path=root_path).get(root_path + page).text
    want = [u for u in re.findall(PAGE_URLS, theirs) if u.endswith("openapi.json")]
    with TestClient(build(MOUNTED, False).app, root_path=root_path) as client:
        ours = client.get(root_path + page)
        assert ours.status_code == 200
        urls = re.findall(PAGE_URLS, ours.text)
        assert [u for u in urls if u.endswith("openapi.json")] == want and want
        for url in urls:
            assert url.startswith(root_path + "/"), url
            assert client.get(url).status_code == 200, url
