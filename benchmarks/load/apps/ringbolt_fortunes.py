"""TechEmpower's "fortunes" on ringbolt: an async route, asyncpg (a pool made on the
worker's event loop at start-up, the statement prepared once per connection), a sort, and
the table rendered by ringbolt.templating (Jinja2, autoescaped). DATABASE_URL names the
database (benchmarks/load/fortunes_db.py). Served with
`ringbolt serve ringbolt_fortunes:app --app-dir benchmarks/load/apps`."""

import os
from operator import itemgetter
from pathlib import Path

import asyncpg

from ringbolt import App
from ringbolt.templating import Templates

EXTRA = (0, "Additional fortune added at request time.")
by_message = itemgetter(1)
templates = Templates(directory=Path(__file__).parent / "templates")
app = App(openapi_url=None)
pool: asyncpg.Pool | None = None


@app.on_startup
async def connect() -> None:
    global pool
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=int(os.environ.get("DB_POOL", "8")),
                                     max_size=int(os.environ.get("DB_POOL", "8")))


@app.on_shutdown
async def disconnect() -> None:
    if pool is not None:
        await pool.close()


@app.get("/fortunes")
async def fortunes(req):
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, message FROM fortune")
    items = [tuple(r) for r in rows]
    items.append(EXTRA)
    items.sort(key=by_message)
    return templates.response("fortunes.html", {"fortunes": items})
