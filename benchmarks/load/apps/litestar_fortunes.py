"""TechEmpower's "fortunes" on Litestar: the same query through asyncpg (a pool made at
start-up), sort and template (apps/templates/fortunes.html) through Litestar's
JinjaTemplateEngine. DATABASE_URL names the database."""

import os
from operator import itemgetter
from pathlib import Path

import asyncpg
from litestar import Litestar, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

EXTRA = (0, "Additional fortune added at request time.")
by_message = itemgetter(1)
state = {}


async def connect() -> None:
    size = int(os.environ.get("DB_POOL", "8"))
    state["pool"] = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=size, max_size=size)


async def disconnect() -> None:
    await state["pool"].close()


@get("/fortunes")
async def fortunes() -> Template:
    async with state["pool"].acquire() as conn:
        rows = await conn.fetch("SELECT id, message FROM fortune")
    items = [tuple(r) for r in rows]
    items.append(EXTRA)
    items.sort(key=by_message)
    return Template(template_name="fortunes.html", context={"fortunes": items})


app = Litestar(
    route_handlers=[fortunes],
    on_startup=[connect],
    on_shutdown=[disconnect],
    template_config=TemplateConfig(directory=Path(__file__).parent / "templates", engine=JinjaTemplateEngine),
    openapi_config=None,
)
