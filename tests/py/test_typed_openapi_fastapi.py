"""ringbolt.fastapi's OpenAPI document is FastAPI's (docs/openapi.md, "What is
generated"): each app of the table is made twice from one source, once with FastAPI's
imports and once with ringbolt.fastapi's, and the two documents are compared whole
(FastAPI itself is the reference: it must be installed). Each app gathers the rules of
one part of the document; the same apps under ``App()`` keep ringbolt's error parts."""

from __future__ import annotations

import http
import itertools
import json
import sys
import textwrap
import types
from typing import Any

import pytest
from openapi_spec_validator import validate

pytest.importorskip("fastapi", reason="FastAPI itself is the reference these documents are compared with")

# (its app with callbacks and a webhook: FastAPI registers it through its routers, the
# reference; its functions are planned here by hand)
from test_fastapi_openapi import CALLBACKS  # noqa: E402

PARAMETERS = '''
import enum
from typing import Annotated
from {fastapi} import FastAPI, Cookie, Header, Path, Query

class Model(str, enum.Enum):
    alexnet = "alexnet"
    resnet = "resnet"

app = FastAPI()

@app.get("/items/{{item_id}}")
async def read_item(
    *,
    q: Annotated[str | None, Query(alias="item-query", max_length=50, description="Search")] = None,
    item_id: Annotated[int, Path(title="The ID", ge=1)],
    tags: Annotated[list[str], Query()] = ["a", "b"],
    model: Model = Model.alexnet,
    user_agent: Annotated[str | None, Header()] = None,
    strange_header: Annotated[str | None, Header(convert_underscores=False)] = None,
    ads_id: Annotated[str | None, Cookie()] = None,
    old: Annotated[int | None, Query(deprecated=True, openapi_examples={{"one": {{"value": 1}}}})] = None,
    hidden: Annotated[str | None, Query(include_in_schema=False)] = None,
    size: Annotated[float, Query(gt=0, lt=10.5)] = 1.0,
    short: bool = False,
):
    return {{}}
'''

BODIES = '''
from typing import Annotated
from pydantic import BaseModel, Field
from {fastapi} import Body, FastAPI, File, Form, UploadFile

class Item(BaseModel):
    name: str
    description: str | None = Field(default=None, title="The description", max_length=300)
    price: float = Field(gt=0, description="The price must be greater than zero")
    tax: float | None = None

class User(BaseModel):
    username: str

app = FastAPI()

@app.post("/items/")
async def create_item(item: Item):
    return item

@app.put("/items/{{item_id}}")
async def update_item(item_id: int, item: Item, user: User, importance: Annotated[int, Body(gt=0)], q: str | None = None):
    return {{}}

@app.put("/embedded/{{item_id}}")
async def embedded(item_id: int, item: Annotated[Item, Body(embed=True)]):
    return {{}}

@app.post("/scalar/")
async def scalar(weights: Annotated[dict[int, float], Body()]):
    return weights

@app.post("/login/")
async def login(username: Annotated[str, Form()], password: Annotated[str, Form(min_length=3)]):
    return {{}}

@app.post("/files/")
async def files(file: Annotated[bytes, File(description="A file")], upload: UploadFile,
                many: list[UploadFile], token: Annotated[str, Form()]):
    return {{}}

@app.post("/optional-file/")
async def optional_file(file: UploadFile | None = None):
    return {{}}
'''

RESPONSES = '''
from pydantic import BaseModel
from {fastapi} import FastAPI, status

class Item(BaseModel):
    id: str
    value: str
    tags: list[str] = []

class Message(BaseModel):
    message: str

app = FastAPI(title="Shop", version="2.0.0", description="**Shop**", summary="A shop",
              openapi_tags=[{{"name": "items", "description": "Items"}}])

@app.get("/items/{{item_id}}", response_model=Item, tags=["items"],
         responses={{404: {{"model": Message, "description": "Not found"}}, 418: {{}}, "5XX": {{"description": "Oops"}}}})
async def read_item(item_id: str):
    """Read an item.

    With Markdown.
    \\f
    For the code only."""
    return {{}}

@app.get("/list/", response_description="The items")
async def read_list() -> list[Item]:
    return []

@app.post("/items/", status_code=status.HTTP_201_CREATED, summary="Create", deprecated=True,
          operation_id="make_item")
async def create_item(item: Item) -> Item:
    return item

@app.delete("/items/{{item_id}}", status_code=204)
async def delete_item(item_id: str) -> None:
    return None

@app.get("/image/{{item_id}}", response_model=Item,
         responses={{200: {{"content": {{"image/png": {{}}}}, "description": "An item or its image"}},
                    404: {{"model": Message}}, 409: {{"model": Message, "content": {{"application/json": {{"example": {{"message": "x"}}}}}}}}}})
async def read_image(item_id: str):
    return {{}}

@app.get("/merged", response_model=Item, responses={{200: {{"model": Message}}, "default": {{"model": Message}}}})
async def merged():
    return {{}}

@app.get("/plain")
async def plain() -> dict[str, int]:
    return {{}}

@app.get("/extra", openapi_extra={{"x-aperture-labs-portal": "blue"}}, include_in_schema=True)
async def extra():
    return {{}}

@app.get("/hidden", include_in_schema=False)
async def hidden():
    return {{}}
'''

DEPENDENCIES = '''
from typing import Annotated
from {fastapi} import APIRouter, Depends, FastAPI, Header, Security
from {security} import APIKeyHeader, HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer
from {scopes} import SecurityScopes

oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={{"me": "Read me", "items": "Read items"}})
basic = HTTPBasic()
key = APIKeyHeader(name="x-key", auto_error=False)

async def common(q: str | None = None, skip: int = 0, limit: int = 100):
    return {{}}

async def verify_token(x_token: Annotated[str, Header()]):
    return x_token

async def current_user(scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]):
    return token

async def active_user(user: Annotated[str, Security(current_user, scopes=["me"])]):
    return user

app = FastAPI()
router = APIRouter()

@router.get("/items/{{item_id}}", dependencies=[Depends(verify_token)])
async def read_items(item_id: int, commons: Annotated[dict, Depends(common)],
                     again: Annotated[dict, Depends(common)]):
    return {{}}

app.include_router(router)

@app.get("/users/me/items/")
async def my_items(user: Annotated[str, Security(active_user, scopes=["items"])]):
    return {{}}

@app.get("/basic")
def who(credentials: Annotated[HTTPBasicCredentials, Depends(basic)], k: Annotated[str | None, Depends(key)]):
    return {{}}
'''

SCHEMAS = '''
from pydantic import BaseModel, computed_field
from {fastapi} import FastAPI

class Item(BaseModel):
    """An item.
    \\f
    Not for the document."""
    name: str
    description: str | None = None

class Rectangle(BaseModel):
    width: int

    @computed_field
    @property
    def area(self) -> int:
        return self.width * self.width

app = FastAPI()

@app.post("/items/")
def create_item(item: Item) -> Item:
    return item

@app.get("/items/")
def read_items() -> list[Item]:
    return []

@app.post("/rects/")
def rect(r: Rectangle) -> Rectangle:
    return r
'''

RESPONSE_CLASSES = '''
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from {fastapi} import FastAPI

app = FastAPI()
app.default_response_class = HTMLResponse  # FastAPI(default_response_class=...), for the routes added after
if hasattr(app, "router"):
    app.router.default_response_class = HTMLResponse  # (FastAPI's routes read their router's)

@app.get("/page")
def page():
    return "<p>hi</p>"

@app.get("/text", response_class=PlainTextResponse, response_description="Some text")
def text():
    return "hi"

@app.get("/json", response_class=JSONResponse)
def json_answer() -> dict[str, int]:
    return {{}}

@app.get("/go", response_class=RedirectResponse)
def go():
    return "/page"

@app.get("/raw", response_class=Response, status_code=202)
def raw():
    return Response(b"")
'''

STREAMS = '''
from collections.abc import AsyncIterable, Iterable
from pydantic import BaseModel
from fastapi.sse import EventSourceResponse, ServerSentEvent
from {fastapi} import FastAPI

class Item(BaseModel):
    name: str

app = FastAPI()

@app.get("/lines")
async def lines() -> AsyncIterable[Item]:
    yield Item(name="a")

@app.get("/lines-any")
def lines_any():
    yield {{"a": 1}}

@app.get("/events", response_class=EventSourceResponse)
def events() -> Iterable[Item]:
    yield Item(name="a")

@app.post("/raw-events", response_class=EventSourceResponse)
async def raw_events() -> AsyncIterable[ServerSentEvent]:
    yield ServerSentEvent(data="x")
'''

UNIQUE_IDS = '''
from pydantic import BaseModel
from {fastapi} import FastAPI

class Item(BaseModel):
    name: str

def unique_id(route):
    return f"{{route.tags[0]}}-{{route.name}}"

app = FastAPI(generate_unique_id_function=unique_id)
app.generate_unique_id_function = unique_id  # (ringbolt.fastapi's FastAPI keeps no such argument yet)

@app.post("/items/", tags=["items"])
def create_item(item: Item, other: Item) -> Item:
    return item

@app.post("/users/", tags=["users"], generate_unique_id_function=lambda route: "own-" + route.name)
def create_user(name: str, item: Item, other: Item):
    return {{}}
'''

ONE_SCHEMA = '''
from pydantic import BaseModel, ConfigDict, computed_field
from {fastapi} import FastAPI

class Item(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
    name: str
    description: str | None = None

class Square(BaseModel):
    side: int

    @computed_field
    @property
    def area(self) -> int:
        return self.side * self.side

app = FastAPI(separate_input_output_schemas={separate})
app.separate_input_output_schemas = {separate}  # (ringbolt.fastapi's FastAPI keeps no such argument yet)

@app.post("/items/")
def create_item(item: Item) -> Item:
    return item

@app.post("/squares/")
def square(s: Square) -> Square:
    return s
'''

APPS = {"parameters": PARAMETERS, "bodies": BODIES, "responses": RESPONSES, "dependencies": DEPENDENCIES,
        "schemas": SCHEMAS, "response_classes": RESPONSE_CLASSES,
        "streams": STREAMS, "unique_ids": UNIQUE_IDS,
        "separate_schemas": ONE_SCHEMA.replace("{separate}", "True"), "one_schema": ONE_SCHEMA.replace("{separate}", "False")}


_made = itertools.count()


def module(source: str, fastapi: bool, **names: str) -> types.ModuleType:
    """``source`` run as a module of its own (registered, so that pydantic resolves its
    names), with FastAPI's imports or ringbolt.fastapi's."""
    names.setdefault("fastapi", "fastapi" if fastapi else "ringbolt.fastapi")
    names.setdefault("security", "fastapi.security" if fastapi else "ringbolt.security")
    names.setdefault("scopes", "fastapi.security" if fastapi else "ringbolt.params")
    mod = types.ModuleType(f"openapi_case_{next(_made)}")
    sys.modules[mod.__name__] = mod
    exec(textwrap.dedent(source).format(**names), mod.__dict__)  # noqa: S102
    return mod


def build(source: str, fastapi: bool, **names: str) -> Any:
    return module(source, fastapi, **names).app


def differences(ref: Any, ours: Any, where: str = "") -> list[str]:
    if isinstance(ref, dict) and isinstance(ours, dict):
        out = [f"{where}.{k}: missing" for k in ref if k not in ours]
        out += [f"{where}.{k}: extra {json.dumps(ours[k])[:200]}" for k in ours if k not in ref]
        for k in ref:
            if k in ours:
                out += differences(ref[k], ours[k], f"{where}.{k}")
        return out
    if isinstance(ref, list) and isinstance(ours, list) and len(ref) == len(ours):
        return [d for i, (a, b) in enumerate(zip(ref, ours)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if ref == ours else [f"{where}: {json.dumps(ref)[:200]} != {json.dumps(ours)[:200]}"]


@pytest.mark.parametrize("name", list(APPS))
def test_document_is_fastapis(name: str) -> None:
    reference = json.loads(json.dumps(build(APPS[name], True).openapi()))
    ours = json.loads(json.dumps(build(APPS[name], False).openapi()))
    assert differences(reference, ours) == []
    if name != "streams":  # (FastAPI lists streams with OpenAPI 3.2's itemSchema, which 3.1 has not)
        validate(ours)


@pytest.mark.parametrize("name", list(APPS))
def test_document_is_served_as_made(name: str) -> None:
    from ringbolt.fastapi.testclient import TestClient

    app = build(APPS[name], False)
    with TestClient(app) as client:
        assert client.get("/openapi.json").json() == json.loads(json.dumps(app.openapi()))


PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
TEAPOT = http.HTTPStatus(418).phrase  # (its case changed in Python 3.13)
INVALID = {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}

ERROR_PARTS: list[tuple[str, str, str, dict[str, Any], dict[str, Any] | None]] = [
    # app, operation, status, what App() lists there, what FastAPI lists (None: nothing)
    ("bodies", "/items/ post", "422", {"description": "Validation Error", "content": {"application/problem+json": INVALID}},
     {"description": "Validation Error", "content": {"application/json": INVALID}}),
    ("bodies", "/items/ post", "400", {"description": "Malformed JSON body", "content": PROBLEM}, None),
    ("bodies", "/login/ post", "400", {"description": "Malformed form body", "content": PROBLEM}, None),
    ("responses", "/items/{item_id} get", "5XX", {"description": "Oops", "content": PROBLEM}, {"description": "Oops"}),
    ("responses", "/items/{item_id} get", "418", {"description": TEAPOT, "content": PROBLEM}, {"description": TEAPOT}),
]


@pytest.mark.parametrize("name,operation,status,ours,theirs", ERROR_PARTS)
def test_ringbolt_conventions_keep_ringbolts_error_parts(name: str, operation: str, status: str,
                                                         ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    """The same app with conventions="ringbolt" (an App's): everything FastAPI's but the
    error parts, which are the problems ringbolt answers."""
    app = build(APPS[name], False)
    app.conventions = "ringbolt"
    doc = app.openapi()
    validate(doc)
    path, method = operation.split()
    assert doc["paths"][path][method]["responses"][status] == ours
    assert set(doc["components"]["schemas"]["HTTPValidationError"]["properties"]) == {"type", "title", "status",
                                                                                      "detail"}
    reference = build(APPS[name], True).openapi()["paths"][path][method]["responses"]
    assert reference.get(status) == theirs
    assert build(APPS[name], False).openapi()["paths"][path][method]["responses"].get(status) == theirs


# ---- parameter and form models ----
# Planned as one parameter whose type is the model (ringbolt.typed.plan.ParamSpec with source
# "query", "header", "cookie" or "form"): the document lists the model's fields as FastAPI
# does. The plans are made here, as the planner makes a parameter's.

MODELS = '''
from typing import Annotated, Literal
from pydantic import BaseModel, ConfigDict, Field
from {fastapi} import Cookie, FastAPI, Form, Header, Query, UploadFile

class Filters(BaseModel):
    limit: int = Field(100, gt=0, le=100)
    order_by: Literal["created_at", "updated_at"] = "created_at"
    tags: list[str] = []

class Headers(BaseModel):
    host: str
    save_data: bool
    x_tag: list[str] = []

class Cookies(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str
    tracker: str | None = None

class Profile(BaseModel):
    name: str
    age: int | None = None

class Person(BaseModel):
    kind: Literal["person"]
    name: str

class Company(BaseModel):
    kind: Literal["company"]
    company_name: str

def items(filters: Annotated[Filters, Query()], headers: Annotated[Headers, Header()],
          cookies: Annotated[Cookies, Cookie()]): ...
def profile(profile: Annotated[Profile, Form()]): ...
def profile_and_file(profile: Annotated[Profile, Form()], avatar: UploadFile, token: Annotated[str, Form()]): ...
def maybe_profile(profile: Annotated[Profile | None, Form()] = None): ...
def contact(contact: Annotated[Person | Company | None, Form(discriminator="kind")] = None): ...

ROUTES = [("/items/", "GET", items), ("/profile/", "POST", profile), ("/profile-file/", "POST", profile_and_file),
          ("/maybe/", "POST", maybe_profile), ("/contact/", "POST", contact)]
app = FastAPI()
if {register}:
    for path, method, fn in ROUTES:
        app.api_route(path, methods=[method])(fn)
'''


def _planned(fn: Any, path: str, method: str) -> Any:
    """``fn``'s route as the document reads it, each parameter one ParamSpec of its type."""
    import inspect
    import typing

    from ringbolt.typed import plan as _plan
    from ringbolt.openapi import RouteInfo

    args = []
    hints = typing.get_type_hints(fn, include_extras=True)
    for name, p in inspect.signature(fn).parameters.items():
        hint = hints[name]
        base, marker = typing.get_args(hint)[:2] if typing.get_origin(hint) is typing.Annotated else (hint, None)
        if marker is None:
            from ringbolt.params import File
            marker = File()
        default = _plan.Required if p.default is p.empty else p.default
        key = name
        spec = _plan.ParamSpec(name, marker.source, key, base, marker, default is _plan.Required, default, False, None,
                               (marker.source, key))
        args.append(_plan.ArgSpec(name, False, spec))
    plan = _plan.RoutePlan(_plan.CallSpec(fn, "sync", args), [], None, _plan.ResponseSpec(None, None, None), {},
                           False, {})
    return RouteInfo(path, [method], fn, plan, {})


def test_parameter_and_form_models_are_listed_as_fastapi_lists_them() -> None:
    from ringbolt.openapi import get_openapi

    reference = json.loads(json.dumps(build(MODELS, True, register="True").openapi()))
    source = module(MODELS, False, register="False")
    routes = [_planned(fn, path, method) for path, method, fn in source.ROUTES]
    ours = json.loads(json.dumps(get_openapi(title="FastAPI", version="0.1.0", routes=routes, conventions="fastapi")))
    assert differences(reference, ours) == []
    validate(ours)


# ---- callbacks and webhooks ----

CALLBACK_PATH = "{$callback_url}/invoices/{$request.body.id}"


def test_callbacks_and_webhooks_as_fastapi_lists_them() -> None:
    """Callback routes (``callbacks=``) and webhooks (``app.webhooks``): their
    operations as FastAPI lists them, their models among the document's components,
    from routes planned here by hand (the app of tests/py/test_fastapi_openapi.py, where
    ringbolt.fastapi registers them through the routers, as a service does; FastAPI's
    registration of it is the reference)."""
    from ringbolt.typed.plan import plan_route
    from ringbolt.fastapi import FastAPI
    from ringbolt.openapi import RouteInfo

    reference_app = module(CALLBACKS, True).app
    ours = module(CALLBACKS, False)
    callback = RouteInfo(CALLBACK_PATH, ["POST"], ours.invoice_notification,
                         plan_route(CALLBACK_PATH, ours.invoice_notification, response_model=ours.Received), None)
    app = FastAPI()
    hook = ours.new_subscription
    app.webhooks = [RouteInfo("new-subscription", ["POST"], hook, plan_route("new-subscription", hook), None)]
    app.post("/invoices/", callbacks=[callback])(ours.create_invoice)
    reference = json.loads(json.dumps(reference_app.openapi()))
    assert "webhooks" in reference and "callbacks" in reference["paths"]["/invoices/"]["post"]
    assert differences(reference, json.loads(json.dumps(app.openapi()))) == []
