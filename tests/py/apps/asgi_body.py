"""The whole request body of an ASGI http scope, for test apps that answer after reading
it: every http.request message's body joined, up to the one without more_body."""

from typing import Any, Awaitable, Callable


async def read_body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body
