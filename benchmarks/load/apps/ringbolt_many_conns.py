"""The apps of benchmarks/load/many_conns_bench.py: one "Hello, World!" route served four
ways (the same answer, so only the path through the server differs).

    const_app   a const route: answered natively, no Python per request
    sync_app    a sync ``def`` handler, run inline on the reactor
    mixed_app   the same sync route with an ``async def`` route beside it (never called):
                the asyncio loop is then hosted on the reactor's thread

The raw ASGI app is asgi_hello.py (no ringbolt import: the peers serve it too).
"""
from typing import Any

from ringbolt import App

const_app = App()


@const_app.get("/", const=True)
def const_hello(req: Any) -> str:
    return "Hello, World!"


sync_app = App()


@sync_app.get("/")
def sync_hello(req: Any) -> str:
    return "Hello, World!"


mixed_app = App()


@mixed_app.get("/")
def mixed_hello(req: Any) -> str:
    return "Hello, World!"


@mixed_app.get("/async")
async def mixed_async(req: Any) -> str:
    return "Hello, World!"

