"""An ASGI app that waits for http.disconnect and records how long it waited."""
import time

events: list = []


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/events":
        body = repr(events).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["path"] == "/close-now":  # an answer that closes the connection
        await send({"type": "http.response.start", "status": 200, "headers": [(b"connection", b"close")]})
        await send({"type": "http.response.body", "body": b"bye"})
        return
    first = await receive()
    assert first["type"] == "http.request"
    started = time.monotonic()
    message = await receive()  # only the client leaving ends this wait
    events.append((scope["path"], message["type"], round(time.monotonic() - started, 1)))
