"""The upload endpoint of HttpArena's uvicorn entry (frameworks/uvicorn/app.py,
upload_endpoint), alone: an ASGI app that counts the request body's bytes as
`receive()` hands them over and answers the count. For Granian (or any ASGI server) in
benchmarks/load/upload_bench.py.

    granian --interface asgi --port PORT benchmarks.load.apps.asgi_upload:app
"""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
