"""TechEmpower's "fortunes" on FastAPI: the same query through asyncpg (a pool made in
the lifespan), sort and template (apps/templates/fortunes.html) through FastAPI's
Jinja2Templates. DATABASE_URL names the database."""

import contextlib
import os
from operator import itemgetter
from pathlib import Path

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

EXTRA = (0, "Additional fortune added at request time.")
by_message = itemgetter(1)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
state = {}


@contextlib.asynccontextmanager
async def lifespan(app):
    size = int(os.environ.get("DB_POOL", "8"))
    state["pool"] = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=size, max_size=size)
    yield
    await state["pool"].close()


app = FastAPI(lifespan=lifespan, openapi_url=None)


@app.get("/fortunes", response_class=HTMLResponse)
async def fortunes(request: Request):
    async with state["pool"].acquire() as conn:
        rows = await conn.fetch("SELECT id, message FROM fortune")
    items = [tuple(r) for r in rows]
    items.append(EXTRA)
    items.sort(key=by_message)
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": items})
