"""Server-Sent Events: `python examples/sse.py`, then open http://127.0.0.1:8000/.

GET /events streams a numbered tick every second (event "tick", JSON data); a browser's
EventSource reconnects by itself and sends the last id it saw in Last-Event-ID, so the
count resumes where it stopped. Idle streams get a keep-alive comment every 15 s; a
client that leaves stops its generator."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, AsyncIterator

from ringbolt import App, Request, Response, SSEEvent, StreamingResponse

INTERVAL = float(os.environ.get("SSE_INTERVAL", "1.0"))

app = App()

PAGE = """<!doctype html><title>sse</title><pre id=log></pre><script>
const log = document.getElementById("log");
const es = new EventSource("/events");
es.addEventListener("tick", e => { log.textContent += e.lastEventId + " " + e.data + "\\n"; });
</script>"""


@app.get("/")
def page(req: Request) -> Response:
    return Response.html(PAGE)


@app.get("/events")
async def events(req: Request) -> StreamingResponse:
    start = int(req.last_event_id or 0) if (req.last_event_id or "0").isdigit() else 0
    count = int(req.query.get("count") or "0")  # 0: forever

    async def ticks() -> AsyncIterator[Any]:
        yield SSEEvent(retry=3000, comment="connected")  # reconnect after 3 s if the stream breaks
        n = start
        while count == 0 or n < start + count:
            n += 1
            yield SSEEvent({"n": n, "time": time.time()}, event="tick", id=str(n))
            await asyncio.sleep(INTERVAL)

    return Response.sse(ticks())


if __name__ == "__main__":
    app.run()
