"""Who each interface says the client is, for test_proxy_protocol.py: `native` (a ringbolt
App: req.client, req.scheme, req.proxy_protocol), `asgi` (scope["client"],
scope["scheme"], scope["extensions"]["proxy_protocol"]) and `wsgi` (REMOTE_ADDR,
REMOTE_PORT, wsgi.url_scheme, environ["ringbolt.proxy_protocol"]). Each answers JSON of
what it saw: /who the client and scheme, /facts what the balancer's header said; `native`
and `asgi` also take a WebSocket on /ws, whose first message is the same JSON as /who plus
the header's version (WSGI has no WebSocket)."""

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


@native.websocket("/ws")
async def native_ws(ws):
    await ws.accept()
    proxy = ws.proxy_protocol
    await ws.send_json({"client": list(ws.client), "scheme": ws.url.partition(":")[0],
                        "proxy_version": None if proxy is None else proxy["version"]})
    await ws.close()


async def asgi(scope, receive, send):
    if scope["type"] == "websocket":
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        proxy = scope["extensions"].get("proxy_protocol")
        seen = {"client": list(scope["client"]), "scheme": scope["scheme"],
                "proxy_version": None if proxy is None else proxy["version"]}
        await send({"type": "websocket.send", "text": json.dumps(seen)})
        await send({"type": "websocket.close", "code": 1000})
        return
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
