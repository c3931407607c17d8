"""PostgreSQL and the crud cache for the entry: one connection pool per worker process,
opened on the first request that needs it (and again after a failure), on the worker's
event loop. Two drivers, picked by PG_DRIVER: asyncpg (default) or psycopg 3
(psycopg_pool); both prepare each statement once per connection.

Pool size: DATABASE_MAX_CONN (the server's max_connections, 256 in HttpArena) shared by
the worker processes (WEB_CONCURRENCY), a tenth kept free for other clients.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Sequence

from ringbolt import RawJSON

log = logging.getLogger("arena.db")

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
DRIVER = os.environ.get("PG_DRIVER", "asyncpg")
WORKERS = max(1, int(os.environ.get("WEB_CONCURRENCY", "1")))
POOL_SIZE = max(2, int(os.environ.get("DATABASE_MAX_CONN", "256")) * 9 // 10 // WORKERS)
CACHE_TTL_MS = 200

_COLUMNS = "id, name, category, price, quantity, active, tags, rating_score, rating_count"
# Each statement in the driver's placeholder style: asyncpg $n, psycopg %s.
_SQL = {
    "range": f"SELECT {_COLUMNS} FROM items WHERE price BETWEEN $1 AND $2 LIMIT $3",
    "one": f"SELECT {_COLUMNS} FROM items WHERE id = $1",
    "list": f"SELECT {_COLUMNS} FROM items WHERE category = $1 ORDER BY id LIMIT $2 OFFSET $3",
    # The columns a create does not carry get the values HttpArena's reference entries use.
    "upsert": "INSERT INTO items (id, name, category, price, quantity, active, tags, rating_score, rating_count) "
              "VALUES ($1, $2, $3, $4, $5, true, '[\"bench\"]', 0, 0) "
              "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category, "
              "price = EXCLUDED.price, quantity = EXCLUDED.quantity",
    "update": "UPDATE items SET name = $1, price = $2, quantity = $3 WHERE id = $4",
}


def _item(row: Sequence[Any]) -> dict[str, Any]:
    tags = row[6]
    if isinstance(tags, str):  # asyncpg hands jsonb over as text (psycopg decodes it):
        tags = RawJSON(tags)  # written into the answer as it is, not parsed and written again
    return {"id": row[0], "name": row[1], "category": row[2], "price": row[3], "quantity": row[4],
            "active": row[5], "tags": tags, "rating": {"score": row[7], "count": row[8]}}


class _Asyncpg:
    def __init__(self) -> None:
        import asyncpg
        self._asyncpg = asyncpg
        self.pool: Any = None

    async def open(self) -> None:
        # No jsonb codec (set_type_codec): it costs a type introspection query on every
        # new connection; tags are decoded in _item instead. reset: these statements leave
        # no session state (no transaction, cursor, LISTEN, SET or lock), so a connection
        # goes back to the pool as it is, without asyncpg's default reset query (a round
        # trip to the server on every release).
        self.pool = await self._asyncpg.create_pool(DATABASE_URL, min_size=1, max_size=POOL_SIZE,
                                                    reset=_keep_session)

    async def fetch(self, name: str, *args: Any) -> list[Any]:
        return list(await self.pool.fetch(_SQL[name], *args))

    async def execute(self, name: str, *args: Any) -> int:
        status = await self.pool.execute(_SQL[name], *args)  # "UPDATE 1"
        return int(status.rsplit(" ", 1)[-1])

    async def close(self) -> None:
        await self.pool.close()


async def _keep_session(conn: Any) -> None:
    """asyncpg's pool reset hook: nothing to undo (see _Asyncpg.open)."""


class _Psycopg:
    def __init__(self) -> None:
        from psycopg_pool import AsyncConnectionPool
        self.pool = AsyncConnectionPool(DATABASE_URL, min_size=1, max_size=POOL_SIZE, open=False,
                                        kwargs={"autocommit": True, "prepare_threshold": 0})
        self._sql = {k: _dollar_to_percent(v) for k, v in _SQL.items()}

    async def open(self) -> None:
        await self.pool.open(wait=True)

    async def fetch(self, name: str, *args: Any) -> list[Any]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(self._sql[name], args)
            return await cur.fetchall()

    async def execute(self, name: str, *args: Any) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(self._sql[name], args)
            return cur.rowcount

    async def close(self) -> None:
        await self.pool.close()


def _dollar_to_percent(sql: str) -> str:
    """$n placeholders as psycopg's %s (every statement above uses each in order, once)."""
    import re
    return re.sub(r"\$\d+", "%s", sql)


_DRIVERS = {"asyncpg": _Asyncpg, "psycopg": _Psycopg}
_db: Any = None
_opening = asyncio.Lock()


async def _pool() -> Any:
    global _db
    if _db is None:
        async with _opening:
            if _db is None:
                if DRIVER not in _DRIVERS:
                    raise RuntimeError(f"PG_DRIVER={DRIVER!r}: use asyncpg or psycopg")
                db = _DRIVERS[DRIVER]()
                await db.open()
                _db = db
    return _db


async def _reset() -> None:
    """Drop a pool that failed (Postgres restarted, the network broke): the next request opens a new one."""
    global _db
    db, _db = _db, None
    if db is not None:
        try:
            await db.close()
        except Exception:
            pass


async def price_range(low: int, high: int, limit: int) -> list[dict[str, Any]]:
    """async-db: items priced in [low, high]; no rows (not an error) when Postgres is unreachable."""
    try:
        db = await _pool()
        return [_item(r) for r in await db.fetch("range", low, high, limit)]
    except Exception as exc:
        log.warning("async-db query failed (%s): answering no rows", exc)
        await _reset()
        return []


async def get_item(item_id: int) -> dict[str, Any] | None:
    rows = await (await _pool()).fetch("one", item_id)
    return _item(rows[0]) if rows else None


async def list_category(category: str, limit: int, offset: int) -> list[dict[str, Any]]:
    return [_item(r) for r in await (await _pool()).fetch("list", category, limit, offset)]


async def upsert(item_id: int, name: str, category: str, price: int, quantity: int) -> None:
    await (await _pool()).execute("upsert", item_id, name, category, price, quantity)


async def update(item_id: int, name: str, price: int, quantity: int) -> bool:
    return await (await _pool()).execute("update", name, price, quantity, item_id) > 0


# ---- the single-item cache: Redis shared by the worker processes, or this process's dict ----

_redis: Any = None
_local: dict[int, tuple[bytes, float]] = {}


def _redis_client() -> Any:
    global _redis
    if _redis is None:
        import redis.asyncio
        _redis = redis.asyncio.from_url(REDIS_URL)
    return _redis


async def cache_get(item_id: int) -> bytes | None:
    if REDIS_URL:
        value: bytes | None = await _redis_client().get(f"item:{item_id}")
        return value
    hit = _local.get(item_id)
    if hit is None or hit[1] <= time.monotonic():
        return None
    return hit[0]


async def cache_put(item_id: int, body: bytes) -> None:
    if REDIS_URL:
        await _redis_client().set(f"item:{item_id}", body, px=CACHE_TTL_MS)
    else:
        now = time.monotonic()
        if len(_local) > 100_000:  # forget what expired, so ids never read again go
            for key in [k for k, (_, until) in _local.items() if until <= now]:
                del _local[key]
        _local[item_id] = (body, now + CACHE_TTL_MS / 1000)


async def cache_drop(item_id: int) -> None:
    if REDIS_URL:
        await _redis_client().delete(f"item:{item_id}")
    else:
        _local.pop(item_id, None)


async def close() -> None:
    await _reset()
    if _redis is not None:
        await _redis.aclose()
