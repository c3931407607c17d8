"""Rate limits (docs/rate-limits.md): routes with limits of their own, an app-wide limit
over a path prefix, and an ASGI app mounted under an app-wide limit."""

from __future__ import annotations

import os
from typing import Any

from ringbolt import App, RateLimit, Router

app = App()
app.rate_limit("4/minute", paths=["/api/"])  # /api/a and /api/b count together


def who(req: Any) -> dict[str, Any]:
    return {"client": req.client[0] if req.client else None, "pid": os.getpid()}


@app.get("/limited", rate_limit="5/minute")
def limited(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/short", rate_limit="3/2s")
def short(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/bucket", rate_limit=RateLimit("2/10s", algorithm="token_bucket"))
def bucket(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/keyed", rate_limit=RateLimit("2/minute", key="header:X-API-Key"))
def keyed(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/quiet", rate_limit=RateLimit("2/minute", headers=False))
def quiet(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/wide", rate_limit="40/minute")
def wide(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/tiny", rate_limit=RateLimit("1/minute", table_size=8))  # one bucket: full at the 9th client
def tiny(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/async", rate_limit="2/minute")
async def async_route(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/api/a")
def api_a(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/api/b")
def api_b(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/api/exempt", rate_limit=False)
def api_exempt(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/free")
def free(req: Any) -> dict[str, Any]:
    return who(req)


@app.get("/const", const=True, rate_limit="1/minute")  # answered natively: limited all the same
def const(req: Any) -> dict[str, Any]:
    return {"const": True}


users = Router(prefix="/users")


@users.get("/me", rate_limit="1/minute")  # a router's route keeps its limit when included
def me(req: Any) -> dict[str, Any]:
    return who(req)


app.include(users)


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"asgi " + scope["path"].encode()})


asgi = App()
asgi.mount_asgi(_asgi, lifespan="off")
asgi.rate_limit("2/minute")  # the mounted app, every path


# Counted in Redis (RateLimit(redis=...)): one limit for every server naming the same one.
redis_app = App()
_redis = os.environ.get("RINGBOLT_TEST_REDIS_URL", "redis://127.0.0.1:1/0")


@redis_app.get("/global", rate_limit=RateLimit("3/minute", algorithm="token_bucket", redis=_redis))
def global_sync(req: Any) -> dict[str, Any]:
    return who(req)


@redis_app.get("/global-async", rate_limit=RateLimit("3/minute", algorithm="token_bucket", redis=_redis))
async def global_async(req: Any) -> dict[str, Any]:
    return who(req)


# Native limits keyed on an IPv6 client's prefix (ipv6_prefix): 3 a minute on each route.
v6_app = App()
for _bits in (64, 48, 128, 60):
    def _v6(req: Any) -> dict[str, Any]:
        return who(req)
    v6_app.get(f"/v6/{_bits}", rate_limit=RateLimit("3/minute", ipv6_prefix=_bits))(_v6)
