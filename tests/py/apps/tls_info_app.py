"""The connection's TLS facts as each interface shows them, for test_tls_client_info.py:
`app` (ringbolt: req.tls, ws.tls), `asgi` (scope["extensions"]["tls"]) and `wsgi`
(mod_ssl's SSL_* environ variables). Each answers JSON of what it saw."""

import json

from ringbolt import App

from plain_lifespan import lifespan

app = App()

FIELDS = ("version", "version_code", "cipher", "cipher_suite", "alpn", "resumed", "server_cert", "client_cert",
          "client_cert_chain", "client_cert_name", "client_cert_issuer", "client_cert_error")


def _facts(tls):
    if tls is None:
        return None
    return {name: getattr(tls, name) for name in FIELDS}


@app.get("/tls")
def tls(req):
    return {"tls": _facts(req.tls), "scheme": req.scheme, "http_version": req.http_version,
            "same": req.tls is None or repr(req.tls).startswith("<TLSInfo ")}


KEPT = []  # TLSInfo objects kept after their connection closed


@app.get("/keep")
def keep(req):
    KEPT.append(req.tls)
    return {"kept": len(KEPT)}


@app.get("/kept")
def kept(req):
    return {"tls": [_facts(t) for t in KEPT]}


@app.websocket("/ws")
async def ws_tls(ws):
    await ws.accept()
    await ws.send(json.dumps({"tls": _facts(ws.tls)}))
    await ws.close()


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    extensions = scope.get("extensions") or {}
    seen = {"tls": extensions.get("tls"), "has_tls": "tls" in extensions, "scheme": scope["scheme"],
            "extensions": sorted(extensions)}
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(seen)})
        await send({"type": "websocket.close", "code": 1000})
        return
    seen["http_version"] = scope["http_version"]
    body = json.dumps(seen).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def wsgi(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith("SSL_") or k == "HTTPS"}
    seen["wsgi.url_scheme"] = environ["wsgi.url_scheme"]
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
