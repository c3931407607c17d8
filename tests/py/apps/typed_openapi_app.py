"""A service of realistic shape for tests/py/test_typed_openapi*.py: items CRUD with
nested pydantic models, pagination with limits, a bearer token, an API key and an
OAuth2 password flow with scopes, a form login, a file upload, a msgspec body, every
scalar kind of parameter (enum, UUID, datetime, Decimal, lists, aliases, headers,
cookies), declared error responses, tags, a deprecated route, a hidden route and a
plain ``def h(req)`` route. Every answer it gives is in its own OpenAPI document (the
schemathesis test checks that)."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, Field

from ringbolt import App, Body, Cookie, Depends, File, Form, Header, HTTPException, Path, Query, Router, Security
from ringbolt import UploadFile
from ringbolt.security import (APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer,
                               OAuth2PasswordRequestForm)

app = App(
    title="Shop",
    version="2.1.0",
    description="Items and users of a **shop**.",
    summary="A shop",
    openapi_tags=[{"name": "items", "description": "What the shop sells"}, {"name": "users"}],
    servers=[{"url": "/", "description": "this server"}],
    contact={"name": "Shop team", "email": "shop@example.com"},
    license_info={"name": "MIT", "identifier": "MIT"},
)

bearer = HTTPBearer(bearerFormat="JWT", description="A token from /token")
api_key = APIKeyHeader(name="x-api-key", scheme_name="ApiKey")
oauth2 = OAuth2PasswordBearer(tokenUrl="/token", scopes={"items:write": "Change items", "me": "Read yourself"})

NOT_AUTHENTICATED = {401: {"description": "Not authenticated"}}


class Color(str, enum.Enum):
    red = "red"
    blue = "blue"


class Tag(BaseModel):
    name: str = Field(min_length=1, max_length=20)


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=50, examples=["hammer"])
    price: float = Field(ge=0, le=1_000_000)
    color: Color = Color.red
    tags: list[Tag] = Field(default=[], max_length=5)


class Item(BaseModel):
    id: int
    name: str
    price: float
    color: Color
    tags: list[Tag]


class Page(BaseModel):
    items: list[Item]
    total: int
    limit: int
    offset: int


class Token(BaseModel):
    access_token: str
    token_type: str


class User(BaseModel):
    id: uuid.UUID
    name: str
    scopes: list[str]


ITEMS: dict[int, Item] = {}
NEXT = [1]


def user_from_token(token: Annotated[str, Depends(oauth2)]) -> str:
    if token != "good":
        raise HTTPException(401, detail="Invalid token", headers={"WWW-Authenticate": "Bearer"})
    return "ann"


def writer(cred: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    if cred.credentials != "good":
        raise HTTPException(401, detail="Invalid token", headers={"WWW-Authenticate": "Bearer"})
    return "ann"


def paging(limit: Annotated[int, Query(ge=1, le=100, description="At most this many")] = 10,
           offset: Annotated[int, Query(ge=0, le=10_000)] = 0) -> tuple[int, int]:
    return limit, offset


items = Router(prefix="/items")


@items.get("", tags=["items"], response_model=Page)
def list_items(page: Annotated[tuple[int, int], Depends(paging)],
               color: Color | None = None,
               tag: Annotated[list[str], Query(max_length=3)] = []) -> Any:
    """List the items, a page at a time.

    Filtered by colour and tags when given."""
    limit, offset = page
    found = [i for i in ITEMS.values() if (color is None or i.color == color)
             and all(t in {x.name for x in i.tags} for t in tag)]
    return {"items": found[offset:offset + limit], "total": len(found), "limit": limit, "offset": offset}


@items.post("", tags=["items"], status_code=201, response_model=Item,
            responses={**NOT_AUTHENTICATED, 409: {"description": "An item of that name exists"}})
def create_item(item: ItemIn, who: Annotated[str, Depends(writer)]) -> Any:
    if any(i.name == item.name for i in ITEMS.values()):
        raise HTTPException(409, detail=f"an item named {item.name!r} exists")
    if len(ITEMS) >= 1000:
        raise HTTPException(409, detail="the shop is full")
    new = Item(id=NEXT[0], **item.model_dump())
    NEXT[0] += 1
    ITEMS[new.id] = new
    return new


@items.get("/{item_id:int}", tags=["items"], response_model=Item, responses={404: {"description": "No such item"}})
def read_item(item_id: Annotated[int, Path(description="The item's id", examples=[1])]) -> Any:
    found = ITEMS.get(item_id)
    if found is None:
        raise HTTPException(404, detail="no such item")
    return found


@items.put("/{item_id:int}", tags=["items"], response_model=Item,
           responses={**NOT_AUTHENTICATED, 404: {"description": "No such item"}})
def replace_item(item_id: int, item: ItemIn, who: Annotated[str, Depends(writer)]) -> Any:
    if item_id not in ITEMS:
        raise HTTPException(404, detail="no such item")
    ITEMS[item_id] = Item(id=item_id, **item.model_dump())
    return ITEMS[item_id]


@items.delete("/{item_id:int}", tags=["items"], status_code=204,
              responses={**NOT_AUTHENTICATED, 404: {"description": "No such item"}})
def delete_item(item_id: int, who: Annotated[str, Security(user_from_token, scopes=["items:write"])]) -> None:
    if ITEMS.pop(item_id, None) is None:
        raise HTTPException(404, detail="no such item")


app.include(items)


@app.post("/token", tags=["users"], response_model=Token, responses={400: {"description": "Wrong user or password"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Any:
    if form.username != "ann" or form.password != "secret":
        raise HTTPException(400, detail="Incorrect username or password")
    return {"access_token": "good", "token_type": "bearer"}


@app.get("/users/me", tags=["users"], response_model=User, responses=NOT_AUTHENTICATED)
def me(name: Annotated[str, Security(user_from_token, scopes=["me"])]) -> Any:
    return {"id": uuid.UUID(int=1), "name": name, "scopes": ["me"]}


@app.get("/users/{user_id:uuid}", tags=["users"], response_model=User, responses=NOT_AUTHENTICATED)
def read_user(user_id: uuid.UUID, key: Annotated[str, Depends(api_key)]) -> Any:
    return {"id": user_id, "name": "someone", "scopes": []}


@app.get("/search", summary="Search everything", description="Every scalar kind of parameter.")
def search(
    q: Annotated[str, Query(min_length=2, max_length=30, pattern="^[a-z ]+$", alias="query")],
    when: datetime.datetime | None = None,
    day: datetime.date | None = None,
    price: Annotated[decimal.Decimal | None, Query(gt=0, le=1000)] = None,
    color: Color = Color.blue,
    mode: Literal["fast", "full"] = "fast",
    ref: uuid.UUID | None = None,
    ratio: Annotated[float, Query(ge=0, lt=1)] = 0.5,
    exact: bool = False,
    x_request_source: Annotated[str | None, Header(max_length=40)] = None,
    session: Annotated[str | None, Cookie(max_length=64)] = None,
    old: Annotated[int | None, Query(deprecated=True, openapi_examples={"one": {"value": 1}})] = None,
) -> dict[str, Any]:
    return {"q": q, "when": None if when is None else when.isoformat(), "day": None if day is None else str(day),
            "price": None if price is None else str(price), "color": color.value, "mode": mode,
            "ref": None if ref is None else str(ref), "ratio": ratio, "exact": exact,
            "source": x_request_source, "session": session, "old": old}


@app.post("/upload", tags=["files"])
def upload(file: Annotated[UploadFile, File(description="Any file")],
           note: Annotated[str, Form(max_length=100)] = "") -> dict[str, Any]:
    return {"name": file.filename, "size": len(file.read()), "note": note}


@app.post("/notes", tags=["notes"], status_code=201)
def add_note(text: Annotated[str, Body(min_length=1, max_length=200)],
             priority: Annotated[int, Body(ge=1, le=5)] = 3) -> dict[str, Any]:
    """A note of two members, embedded in one JSON object."""
    return {"text": text, "priority": priority}


class Point(msgspec.Struct):
    x: Annotated[int, msgspec.Meta(ge=-1000, le=1000)]
    y: Annotated[int, msgspec.Meta(ge=-1000, le=1000)] = 0


class Segment(msgspec.Struct):
    start: Point
    end: Point


class Length(msgspec.Struct):
    length: float


@app.post("/geometry/length", tags=["geometry"])
def length(segment: Segment) -> Length:
    dx, dy = segment.end.x - segment.start.x, segment.end.y - segment.start.y
    return Length((dx * dx + dy * dy) ** 0.5)


@app.get("/legacy", deprecated=True, operation_id="legacyThing")
def legacy(req):  # type: ignore[no-untyped-def]
    """A plain handler, listed with a bare operation."""
    return {"legacy": True}


@app.get("/hidden", include_in_schema=False)
def hidden() -> dict[str, Any]:
    return {"hidden": True}
