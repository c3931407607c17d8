"""Who each interface says the client is, for test_proxy_protocol.py: `native` (a ringbolt
App: req.client, req.scheme, req.proxy_protocol), `asgi` (scope["client"],
scope["scheme"], scope["extensions"]["proxy_protocol"]) and `wsgi` (REMOTE_ADDR,
REMOTE_PORT, wsgi.url_scheme, environ["ringbolt.proxy_protocol"]). Each answers JSON of
what it saw: /who the client and scheme, /facts what the balancer's header said."""

import json

from ringbolt import App

native = App()


def facts(header):
    """The header's dict as JSON can carry it (the unique id's bytes as hex)."""
    if header is None:
        return None
    out = dict(header)
    if out["unique_id"] is not None:
        out["unique_id"] = out["unique_id"].hex()
    return out


@native.get("/who")
def who(req):
    return {"client": list(req.client), "scheme": req.scheme}


@native.get("/facts")
def native_facts(req):
    return {"proxy_protocol": facts(req.proxy_protocol)}


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/facts":
        seen = {"proxy_protocol": facts(scope["extensions"].get("proxy_protocol"))}
    else:
        seen = {"client": list(scope["client"]), "scheme": scope["scheme"]}
    body = json.dumps(seen).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def wsgi(environ, start_response):
    if environ["PATH_INFO"] == "/facts":
        seen = {"proxy_protocol": facts(environ.get("ringbolt.proxy_protocol"))}
    else:
        seen = {"client": [environ["REMOTE_ADDR"], int(environ["REMOTE_PORT"])],
                "scheme": environ["wsgi.url_scheme"]}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]
