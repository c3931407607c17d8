"""A ringbolt.fastapi app for tests/py/test_fastapi_app.py: what it sees of the server's
--root-path."""

from __future__ import annotations

from typing import Any

from ringbolt.fastapi import FastAPI, Request

app = FastAPI()


@app.get("/items/{item_id}")
def read_item(request: Request, item_id: str) -> dict[str, Any]:
    return {"root_path": request.scope["root_path"], "url_for": str(request.url_for("read_item", item_id=item_id))}
