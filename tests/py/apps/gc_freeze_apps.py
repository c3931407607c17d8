"""Apps that report what the cyclic garbage collector still walks (tests/py/
test_gc_freeze.py): `GET /gc` answers how many objects were frozen since the
module was imported (`gc.get_freeze_count()`), whether an object made when the module was imported and one
made by the startup hook (or the ASGI lifespan startup) are still in the collector's
generations, and how many cycles of garbage a full collection found after the request
made one: objects of the loaded app are frozen, those of requests are still collected."""

from __future__ import annotations

import gc
import json
from typing import Any

from ringbolt import App, Request

# What the interpreter froze itself before anything ran (3.12 starts with a few hundred
# objects in its permanent generation; 3.11 and 3.13 with none).
FROZEN_BEFORE = gc.get_freeze_count()
AT_IMPORT = [[i] for i in range(5000)]  # lives as long as the process, as an app's modules do
STARTED: dict[str, Any] = {}


def report() -> dict[str, Any]:
    cycle: list[Any] = []
    cycle.append(cycle)  # garbage only the collector can free
    del cycle
    tracked = {id(o) for o in gc.get_objects()}  # the three generations, not the frozen heap
    return {"frozen": gc.get_freeze_count() - FROZEN_BEFORE, "import_walked": id(AT_IMPORT) in tracked,
            "startup_walked": id(STARTED.get("made")) in tracked, "collected": gc.collect()}


# A ringbolt App with a startup hook.
app = App()


@app.on_startup
def start() -> None:
    STARTED["made"] = [[i] for i in range(100)]


@app.get("/gc")
def gc_route(req: Request) -> dict[str, Any]:
    return report()


# An ASGI app whose lifespan startup makes its state.
async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                STARTED["made"] = [[i] for i in range(100)]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = json.dumps(report()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


# A WSGI app (no startup of its own: the module's import is its start).
def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    STARTED.setdefault("made", AT_IMPORT)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report()).encode()]
