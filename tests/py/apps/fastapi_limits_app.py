"""A ringbolt.fastapi app whose async route has FastAPI's max_body_size (300 kB): its
body, streamed as it arrives, is counted as the route reads it
(tests/py/test_fastapi_body_reading.py)."""

from pydantic import BaseModel

from ringbolt.fastapi import FastAPI


class Item(BaseModel):
    name: str


app = FastAPI()


@app.post("/big", max_body_size=300_000)
async def big(item: Item) -> dict[str, int]:
    return {"n": len(item.name)}


@app.post("/huge", max_body_size=20 * 1024 * 1024)
async def huge(item: Item) -> dict[str, int]:
    """A limit above the server's max_body_size (16 MiB unless --max-body-size): the
    server's own 413 answers first."""
    return {"n": len(item.name)}
