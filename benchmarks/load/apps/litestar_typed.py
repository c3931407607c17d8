"""The typed endpoints of apps/ringbolt_typed.py written in Litestar with msgspec Structs
(Litestar's fastest models), for the typed API's comparison (issue 51, "Speed"): the same
paths, checks and answers. Run under uvicorn or Granian:

    uvicorn litestar_typed:app --app-dir benchmarks/load/apps --loop uvloop --http httptools
    granian --interface asgi --working-dir benchmarks/load/apps litestar_typed:app
"""
from __future__ import annotations

from typing import Annotated, Any

from litestar import Litestar, get, post
from litestar.di import Provide
from litestar.params import Parameter

from typed_models import MItemIn as ItemIn
from typed_models import MItemOut as ItemOut


async def current_user(x_user: Annotated[str, Parameter(header="x-user")] = "anonymous") -> str:
    return x_user


@get("/q")
async def q(limit: Annotated[int, Parameter(ge=1, le=100)] = 10, offset: Annotated[int, Parameter(ge=0)] = 0,
            q: str = "") -> dict[str, Any]:
    return {"limit": limit, "offset": offset, "q": q}


@get("/plain")
async def plain() -> dict[str, Any]:
    return {"limit": 20, "offset": 5, "q": "abc"}


@post("/items", status_code=201, dependencies={"user": Provide(current_user)})
async def create(data: ItemIn, user: str, limit: Annotated[int, Parameter(ge=1, le=100)] = 10,
                 verbose: bool = False) -> ItemOut:
    return ItemOut(id=limit, owner=user, name=data.name, price=data.price, quantity=data.quantity, tags=data.tags)


app = Litestar([q, plain, create], openapi_config=None)
