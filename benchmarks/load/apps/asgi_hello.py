"""The raw ASGI app of issue 29 and benchmarks/load/many_conns_bench.py: one "Hello,
World!" answer for every path, two send() calls, nothing else (no framework)."""
from typing import Any


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, World!"})
