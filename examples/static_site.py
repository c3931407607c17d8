"""A static site beside a JSON API: `python examples/static_site.py`, then open
http://127.0.0.1:8000/site/ (docs/static.md walks through it).

Files under examples/static_site/ are served at /site natively (no Python per request);
js/app.js.gz is sent to clients that accept gzip. /api/time is an ordinary route."""

import time
from pathlib import Path

from ringbolt import App, Request

HERE = Path(__file__).resolve().parent

app = App()
app.static("/site", HERE / "static_site", cache_control="public, max-age=300")


@app.get("/api/time")
def now(req: Request) -> dict[str, float]:
    return {"now": time.time()}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
