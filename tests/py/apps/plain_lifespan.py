"""The lifespan protocol for ASGI test apps with nothing to set up or tear down: startup
and shutdown acknowledged as they come."""

from typing import Any


_REPLY = {"lifespan.startup": "lifespan.startup.complete", "lifespan.shutdown": "lifespan.shutdown.complete"}


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        kind = (await receive())["type"]
        await send({"type": _REPLY[kind]})
        if kind == "lifespan.shutdown":
            return
