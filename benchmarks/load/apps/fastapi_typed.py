"""The typed endpoints of ringbolt_typed.py in FastAPI, written its fastest way (``async
def``), for the same counts (benchmarks/load/instr_per_request.py ``--peer``): under
uvicorn (uvloop, httptools) and under ringbolt as an ASGI app."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query

from ringbolt_typed import ItemIn, ItemOut

app = FastAPI()


async def current_user(x_user: Annotated[str, Header()] = "anonymous") -> str:
    return x_user


@app.get("/q")
async def q(limit: Annotated[int, Query(ge=1, le=100)] = 10, offset: Annotated[int, Query(ge=0)] = 0,
            q: str = "") -> dict[str, Any]:
    return {"limit": limit, "offset": offset, "q": q}


@app.post("/items", status_code=201)
async def create(item: ItemIn, user: Annotated[str, Depends(current_user)],
                 limit: Annotated[int, Query(ge=1, le=100)] = 10, verbose: bool = False) -> ItemOut:
    return ItemOut(id=limit, owner=user, name=item.name, price=item.price, quantity=item.quantity, tags=item.tags)
