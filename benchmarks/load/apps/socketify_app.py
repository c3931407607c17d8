"""socketify (App API) server for the load comparisons in benchmarks/load/.

    python socketify_app.py PORT
"""
from __future__ import annotations

import json
import sys
from collections import deque

from socketify import App, AppListenOptions

BODY_10K = b"x" * 10240


def plaintext(res, req):
    res.send("Hello, World!", content_type=b"text/plain")


def json_(res, req):
    res.send({"message": "Hello, World!"}, content_type=b"application/json")


def user(res, req):
    try:
        user_id = int(req.get_parameter(0))
    except (TypeError, ValueError):
        res.send("Not Found", status=404)
        return
    res.send({"id": user_id}, content_type=b"application/json")


# socketify 0.0.31 hands uWS a cffi handle to the response object for its body
# callbacks but does not keep that object alive; under load a later callback can
# find it collected and the process aborts ("ffi.from_handle() ... garbage"). Keeping
# the most recent responses referenced here works around it.
_KEEP: deque = deque(maxlen=4096)


async def echo(res, req):
    _KEEP.append(res)
    body = await res.get_data()  # BytesIO with the whole body
    data = json.loads(body.getvalue())
    res.send(data, content_type=b"application/json")


def body10k(res, req):
    res.send(BODY_10K, content_type=b"application/octet-stream")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    app = App()
    app.get("/plaintext", plaintext)
    app.get("/json", json_)
    app.get("/users/:id", user)
    app.post("/echo", echo)
    app.get("/body10k", body10k)
    app.listen(AppListenOptions(port=port, host="127.0.0.1"), lambda config: None)
    app.run()


if __name__ == "__main__":
    main()
