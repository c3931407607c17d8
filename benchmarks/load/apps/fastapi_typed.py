"""The typed endpoints of apps/ringbolt_typed.py written in FastAPI, its fastest way
(``async def``, Pydantic v2 models), for the typed API's comparison (issue 51, "Speed"):
the same paths, the same checks, the same answers. Run under uvicorn (uvloop, httptools)
or served by ringbolt as an ASGI app:

    uvicorn fastapi_typed:app --app-dir benchmarks/load/apps --loop uvloop --http httptools
    ringbolt serve fastapi_typed:app --app-dir benchmarks/load/apps

    GET  /q?limit=20&offset=5&q=abc     three query parameters, two with constraints
    GET  /plain                         the same answer with no parameter read
    POST /items?limit=5&verbose=true    a 6-field body (a nested model and a list), two
                                        constrained query parameters, one dependency (a
                                        header), a response model; 201
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query
from typed_models import ItemIn, ItemOut

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


async def current_user(x_user: Annotated[str, Header()] = "anonymous") -> str:
    return x_user


@app.get("/q")
async def q(limit: Annotated[int, Query(ge=1, le=100)] = 10, offset: Annotated[int, Query(ge=0)] = 0,
            q: str = "") -> dict[str, Any]:
    return {"limit": limit, "offset": offset, "q": q}


@app.get("/plain")
async def plain() -> dict[str, Any]:
    return {"limit": 20, "offset": 5, "q": "abc"}


@app.post("/items", status_code=201)
async def create(item: ItemIn, user: Annotated[str, Depends(current_user)],
                 limit: Annotated[int, Query(ge=1, le=100)] = 10, verbose: bool = False) -> ItemOut:
    return ItemOut(id=limit, owner=user, name=item.name, price=item.price, quantity=item.quantity, tags=item.tags)
