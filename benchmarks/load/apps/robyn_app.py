"""Robyn server for the load comparisons in benchmarks/load/.

    ROBYN_HOST=127.0.0.1 ROBYN_PORT=PORT python robyn_app.py --processes 1 --workers 1 \
        --log-level WARN --disable-openapi

Robyn parses its own command line, so the port comes from ROBYN_PORT.
"""
from __future__ import annotations

import json

from robyn import Request, Response, Robyn

BODY_10K = b"x" * 10240

app = Robyn(__file__)

TEXT = {"Content-Type": "text/plain"}
JSON = {"Content-Type": "application/json"}


@app.get("/plaintext")
def plaintext(request: Request) -> Response:
    return Response(status_code=200, headers=TEXT, description="Hello, World!")


@app.get("/json")
def json_(request: Request) -> Response:
    return Response(status_code=200, headers=JSON, description=json.dumps({"message": "Hello, World!"}))


@app.get("/users/:id")
def user(request: Request) -> Response:
    try:
        user_id = int(request.path_params["id"])
    except (KeyError, ValueError):
        return Response(status_code=404, headers=TEXT, description="Not Found")
    return Response(status_code=200, headers=JSON, description=json.dumps({"id": user_id}))


@app.post("/echo")
def echo(request: Request) -> Response:
    body = request.body
    data = json.loads(body if isinstance(body, (str, bytes)) else bytes(body))
    return Response(status_code=200, headers=JSON, description=json.dumps(data))


@app.get("/body10k")
def body10k(request: Request) -> Response:
    return Response(status_code=200, headers={"Content-Type": "application/octet-stream"},
                    description=BODY_10K)


if __name__ == "__main__":
    app.start(host="127.0.0.1", port=8080, _check_port=False)
