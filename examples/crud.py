"""A small CRUD service: items kept in a dict, under a Router with typed path
parameters, a timing middleware, an exception handler and HTTPError; every error is an
RFC 9457 problem (application/problem+json). CORS lets a browser front end on another
origin (here http://localhost:3000) call it: preflights are answered natively, and the
answers to allowed origins carry the CORS headers.

    python examples/crud.py      # then: curl -X POST localhost:8000/items -d '{"name": "a", "price": 2.5}'
    curl -i -X OPTIONS localhost:8000/items -H 'Origin: http://localhost:3000' \
         -H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: content-type'
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from ringbolt import App, HTTPError, Request, Response, Router, ValidationError
from ringbolt.routing import CallNext

app = App()
items = Router(prefix="/items")

# The front end's origin may call every route of the API, with a JSON body (Content-Type
# is not a CORS-safelisted value for application/json, so browsers preflight those calls)
# and read Location and Server-Timing from the answers.
app.enable_cors(
    allow_origins=["http://localhost:3000"],
    allow_methods=["GET", "POST", "PUT", "DELETE"],
    allow_headers=["content-type"],
    expose_headers=["location", "server-timing"],
    max_age=3600,
)

_items: dict[uuid.UUID, dict[str, Any]] = {}
_lock = threading.Lock()  # handlers may run on several reactor threads


class DuplicateName(Exception):
    """An item with that name exists already (mapped to 409 by an exception handler)."""


@app.middleware
def timing(req: Request, call_next: CallNext) -> Response:
    """Server-Timing on every answer of a route (errors included)."""
    start = time.perf_counter()
    resp: Response = call_next(req)
    resp.headers.append(("server-timing", f"app;dur={(time.perf_counter() - start) * 1000:.3f}"))
    return resp


@app.exception_handler(DuplicateName)
def duplicate_name(req: Request, exc: DuplicateName) -> Response:
    return HTTPError(409, str(exc), type="https://ringbolt.dev/problems/duplicate-name", title="Duplicate name").response()


def _item_from(req: Request) -> dict[str, Any]:
    """The request's JSON body checked: {"name": str, "price": number >= 0}."""
    body = req.json()  # invalid JSON: a 400 problem naming the error
    errors: list[dict[str, Any]] = []
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", errors=[{"loc": ["body"], "msg": "not an object"}])
    name = body.get("name")
    price = body.get("price")
    if not isinstance(name, str) or not name.strip():
        errors.append({"loc": ["body", "name"], "msg": "a non-empty string is required"})
    if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
        errors.append({"loc": ["body", "price"], "msg": "a number >= 0 is required"})
    if errors:
        raise ValidationError("the item is not valid", errors=errors)
    assert isinstance(name, str) and isinstance(price, (int, float))
    return {"name": name.strip(), "price": price}


def _public(item_id: uuid.UUID, item: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(item_id), **item}


def _get(item_id: uuid.UUID) -> dict[str, Any]:
    item = _items.get(item_id)
    if item is None:
        raise HTTPError(404, f"no item {item_id}")
    return item


@items.get("")
def list_items(req: Request) -> dict[str, Any]:
    limit_text = req.query.get("limit", "100") or "100"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise ValidationError("limit must be an integer 1..1000", errors=[{"loc": ["query", "limit"], "msg": limit_text}])
    with _lock:
        listed = [_public(k, v) for k, v in list(_items.items())[: int(limit_text)]]
    return {"items": listed, "count": len(listed)}


@items.post("")
def create_item(req: Request) -> Response:
    item = _item_from(req)
    with _lock:
        if any(v["name"] == item["name"] for v in _items.values()):
            raise DuplicateName(f"an item named {item['name']!r} exists")
        item_id = uuid.uuid4()
        _items[item_id] = item
    return Response(_public(item_id, item), status=201, headers={"location": f"/items/{item_id}"})


@items.get("/{item_id:uuid}")
def read_item(req: Request) -> dict[str, Any]:
    item_id: uuid.UUID = req.params["item_id"]
    with _lock:
        return _public(item_id, _get(item_id))


@items.put("/{item_id:uuid}")
def replace_item(req: Request) -> dict[str, Any]:
    item_id: uuid.UUID = req.params["item_id"]
    item = _item_from(req)
    with _lock:
        _get(item_id)
        if any(v["name"] == item["name"] for k, v in _items.items() if k != item_id):
            raise DuplicateName(f"an item named {item['name']!r} exists")
        _items[item_id] = item
    return _public(item_id, item)


@items.delete("/{item_id:uuid}")
def delete_item(req: Request) -> None:
    item_id: uuid.UUID = req.params["item_id"]
    with _lock:
        _get(item_id)
        del _items[item_id]


@app.get("/health")
def health(req: Request) -> dict[str, Any]:
    return {"ok": True, "items": len(_items)}


app.include(items)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
