"""Who each interface says the client is, for test_proxy_protocol.py: `native` (a ringbolt
App: req.client, req.scheme), `asgi` (scope["client"], scope["scheme"]) and `wsgi`
(REMOTE_ADDR, REMOTE_PORT, wsgi.url_scheme). Each answers JSON of what it saw."""

import json

from ringbolt import App

native = App()


@native.get("/who")
def who(req):
    return {"client": list(req.client), "scheme": req.scheme}


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"client": list(scope["client"]), "scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def wsgi(environ, start_response):
    body = json.dumps({"client": [environ["REMOTE_ADDR"], int(environ["REMOTE_PORT"])],
                       "scheme": environ["wsgi.url_scheme"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
