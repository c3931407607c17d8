"""An ASGI app that waits for http.disconnect and records how long it waited."""
import time

events: list = []
waiting: list = []  # the paths whose request is in (or past) its second receive()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] in ("/events", "/waiting"):
        body = repr(events if scope["path"] == "/events" else waiting).encode()
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
    waiting.append(scope["path"])
    message = await receive()  # only the client leaving ends this wait
    events.append((scope["path"], message["type"], round(time.monotonic() - started, 1)))
