"""ringbolt's HttpArena entry: every HTTP/1.1, HTTP/2 and WebSocket profile it can serve,
written with the public ringbolt App API the way its docs show (no private API, no
benchmark switch). The endpoint contracts are HttpArena's
(site/content/docs/test-profiles/**/implementation.md); launcher.py starts one
`ringbolt serve` per port (8080 plain, 8081 TLS HTTP/1.1, 8443 TLS with h2, 8082 h2c only).

Paths follow HttpArena's mounts (/data, /certs) and can be moved with DATASET_PATH and
STATIC_DIR; the database profiles read DATABASE_URL, DATABASE_MAX_CONN and REDIS_URL.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ringbolt import App, Request, Response
from ringbolt.websocket import WebSocket

import db

DATASET_PATH = os.environ.get("DATASET_PATH", "/data/dataset.json")
STATIC_DIR = os.environ.get("STATIC_DIR", "/data/static")

with open(DATASET_PATH, encoding="utf-8") as f:
    DATASET: list[dict[str, Any]] = json.load(f)

app = App()
# json-comp: the response compression the framework documents (br or gzip from the
# client's Accept-Encoding; nothing when it sends none). Static files never go through
# it: they are served as stored or as their precompressed .br/.gz siblings.
app.enable_compression()
app.static("/static", STATIC_DIR)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _query_sum(req: Request) -> int:
    """The sum of the integer query parameters (a=13&b=42 -> 55); others count 0."""
    total = 0
    for value in req.query.values():
        try:
            total += int(value)
        except ValueError:
            pass
    return total


# ---- baseline, limited-conn, pipelined, baseline-h2, baseline-h2c ----

@app.get("/pipeline", const=True)
def pipeline(req: Request) -> str:
    return "ok"


@app.route("/baseline11", methods=["GET", "POST"])
def baseline11(req: Request) -> str:
    total = _query_sum(req)
    if req.method == "POST":
        body = req.text()  # a body that is not UTF-8 is a 400 (BadRequest)
        try:
            total += int(body)  # int() takes surrounding whitespace; "" counts 0
        except ValueError:
            pass
    return str(total)


@app.get("/baseline2")
def baseline2(req: Request) -> str:
    return str(_query_sum(req))


# ---- json, json-comp, json-tls, json-h2c ----

@app.get("/json/{count:int}")
def json_items(req: Request) -> dict[str, Any]:
    count = max(0, min(req.params["count"], len(DATASET)))
    m = _int(req.query.get("m"), 1)
    items = []
    for item in DATASET[:count]:
        out = dict(item)
        out["total"] = item["price"] * item["quantity"] * m
        items.append(out)
    return {"items": items, "count": len(items)}


# ---- upload: the body is counted as it arrives, never held whole ----

@app.post("/upload")
async def upload(req: Request) -> str:
    size = 0
    async for chunk in req.stream():
        size += len(chunk)
    return str(size)


# ---- echo-ws ----

@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for message in ws:
        await ws.send(message)


# ---- async-db, api-4, api-16 ----

@app.get("/async-db")
async def async_db(req: Request) -> dict[str, Any]:
    low = _int(req.query.get("min"), 10)
    high = _int(req.query.get("max"), 50)
    limit = max(1, min(_int(req.query.get("limit"), 50), 50))
    items = await db.price_range(low, high, limit)
    return {"items": items, "count": len(items)}


# ---- crud: Postgres through the pool, single-item reads cached 200 ms (Redis when
# REDIS_URL is set, the cache shared by every worker process; else in-process) ----

_JSON = "application/json"


@app.get("/crud/items")
async def crud_list(req: Request) -> dict[str, Any]:
    category = req.query.get("category") or "electronics"
    page = max(1, _int(req.query.get("page"), 1))
    limit = _int(req.query.get("limit"), 10)
    if not 1 <= limit <= 50:
        limit = 10
    items = await db.list_category(category, limit, (page - 1) * limit)
    return {"items": items, "total": len(items), "page": page, "limit": limit}


@app.get("/crud/items/{item_id:int}")
async def crud_get(req: Request) -> Response:
    item_id = req.params["item_id"]
    cached = await db.cache_get(item_id)
    if cached is not None:
        return Response(cached, headers=[("x-cache", "HIT")], content_type=_JSON)
    item = await db.get_item(item_id)
    if item is None:
        return Response({"error": "not found"}, status=404, headers=[("x-cache", "MISS")])
    resp = Response.json(item, headers={"x-cache": "MISS"})  # serialized once, here
    await db.cache_put(item_id, resp.body)
    return resp


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else _int(str(value), 0)


def _fields(body: Any) -> tuple[str, str, int, int]:
    if not isinstance(body, dict):
        body = {}
    return (str(body.get("name") or "New Product"), str(body.get("category") or "test"),
            _number(body.get("price", 0)), _number(body.get("quantity", 0)))


@app.post("/crud/items")
async def crud_create(req: Request) -> Response:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("id"), int):
        return Response({"error": "an integer id is required"}, status=400)
    name, category, price, quantity = _fields(body)
    await db.upsert(body["id"], name, category, price, quantity)
    await db.cache_drop(body["id"])
    return Response({"id": body["id"], "name": name, "category": category, "price": price,
                     "quantity": quantity}, status=201)


@app.put("/crud/items/{item_id:int}")
async def crud_update(req: Request) -> Response:
    item_id = req.params["item_id"]
    name, _, price, quantity = _fields(req.json())
    if not await db.update(item_id, name, price, quantity):
        return Response({"error": "not found"}, status=404)
    await db.cache_drop(item_id)
    return Response({"id": item_id, "name": name, "price": price, "quantity": quantity})


@app.on_shutdown
async def close_pools() -> None:
    await db.close()
