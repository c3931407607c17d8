"""The CLI tests' app: a factory, an env-reading route, a slow route, and an ASGI and a
WSGI callable (for --interface), whose ASGI lifespan can be told to fail."""

import os
import time

from ringbolt import App


def create_app():
    app = App()

    @app.get("/env")
    def env(req):
        return {"greeting": os.environ.get("CLI_GREETING", "")}

    @app.get("/sleep")
    def sleep(req):
        time.sleep(float(req.query.get("s", "1")))
        return "slept"

    return app


app = create_app()
not_an_app = 42


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        if os.environ.get("CLI_FAIL_STARTUP"):
            raise RuntimeError("database unreachable")
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": ("root_path=" + scope["root_path"]).encode()})


def wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi"]
