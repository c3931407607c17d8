"""app.static beside a mounted ASGI app (tests/py/test_static.py): the mount answers its
prefix, the ASGI app everything else."""

import os

from ringbolt import App


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"asgi " + scope["path"].encode()})


app = App()
app.static("/static", os.path.join(os.environ.get("RINGBOLT_TEST_STATIC", "/nonexistent"), "public"))
app.mount_asgi(asgi, lifespan="off")
