"""Granian RSGI app for the load comparisons in benchmarks/load/.

    granian --interface rsgi --workers 1 --runtime-threads 1 granian_rsgi:app
"""
from __future__ import annotations

import json
from typing import Any

PLAINTEXT = "Hello, World!"
BODY_10K = b"x" * 10240

TEXT_HEADERS = [("content-type", "text/plain")]
JSON_HEADERS = [("content-type", "application/json")]
BYTES_HEADERS = [("content-type", "application/octet-stream")]


async def app(scope: Any, proto: Any) -> None:
    path: str = scope.path
    method: str = scope.method
    if method == "GET":
        if path == "/plaintext":
            return proto.response_str(200, TEXT_HEADERS, PLAINTEXT)
        if path == "/json":
            return proto.response_str(200, JSON_HEADERS, json.dumps({"message": "Hello, World!"}))
        if path == "/body10k":
            return proto.response_bytes(200, BYTES_HEADERS, BODY_10K)
        if path.startswith("/users/"):
            try:
                user_id = int(path[len("/users/"):])
            except ValueError:
                return proto.response_str(404, TEXT_HEADERS, "Not Found")
            return proto.response_str(200, JSON_HEADERS, json.dumps({"id": user_id}))
    elif method == "POST" and path == "/echo":
        data = json.loads(await proto())  # awaiting the protocol reads the whole body
        return proto.response_str(200, JSON_HEADERS, json.dumps(data))
    proto.response_str(404, TEXT_HEADERS, "Not Found")
