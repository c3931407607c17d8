"""The lifespan protocol for ASGI test apps with nothing to set up or tear down: startup
and shutdown acknowledged as they come."""

from typing import Any


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
