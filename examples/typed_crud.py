"""examples/crud.py's service in the typed API (docs/typed.md): the item is a pydantic
model validated from the request's bytes, the id a typed path parameter, the page size a
constrained query parameter, the store a dependency, a duplicate a 409 and a missing item
a 404 (HTTPException); every refusal is one 422 problem listing each failure.

    python examples/typed_crud.py      # then (a JSON body needs its Content-Type, as in FastAPI):
    curl localhost:8000/items -H 'content-type: application/json' -d '{"name": "a", "price": 2.5}'
"""

from __future__ import annotations

import threading
import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from ringbolt import App, Depends, HTTPException, Query, Response, Router

app = App()
items = Router(prefix="/items")


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(ge=0)


class Item(ItemIn):
    id: uuid.UUID


class Page(BaseModel):
    items: list[Item]
    count: int


class Store:
    """Items in a dict; handlers may run on several reactor threads, hence the lock."""

    def __init__(self) -> None:
        self.items: dict[uuid.UUID, Item] = {}
        self.lock = threading.Lock()

    def get(self, item_id: uuid.UUID) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise HTTPException(404, detail=f"no item {item_id}")
        return item

    def check_name(self, name: str, other_than: uuid.UUID | None = None) -> None:
        if any(v.name == name and k != other_than for k, v in self.items.items()):
            raise HTTPException(409, detail=f"an item named {name!r} exists")


_store = Store()


def store() -> Store:
    return _store


StoreDep = Annotated[Store, Depends(store)]


@items.get("", response_model=Page)
def list_items(db: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Page:
    with db.lock:
        listed = list(db.items.values())[:limit]
    return Page(items=listed, count=len(listed))


@items.post("", status_code=201)
def create_item(new: ItemIn, db: StoreDep) -> Response:
    with db.lock:
        db.check_name(new.name)
        item = Item(id=uuid.uuid4(), name=new.name, price=new.price)
        db.items[item.id] = item
    return Response(item.model_dump_json().encode(), status=201, headers={"location": f"/items/{item.id}"},
                    content_type="application/json")


@items.get("/{item_id}")
def read_item(item_id: uuid.UUID, db: StoreDep) -> Item:
    with db.lock:
        return db.get(item_id)


@items.put("/{item_id}")
def replace_item(item_id: uuid.UUID, new: ItemIn, db: StoreDep) -> Item:
    with db.lock:
        db.get(item_id)
        db.check_name(new.name, other_than=item_id)
        item = db.items[item_id] = Item(id=item_id, name=new.name, price=new.price)
    return item


@items.delete("/{item_id}", status_code=204)
def delete_item(item_id: uuid.UUID, db: StoreDep) -> None:
    with db.lock:
        db.get(item_id)
        del db.items[item_id]


app.include(items)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
