"""One app over one Redis for tests/py/test_redis_outage.py: routes under a Redis rate
limit, on the Redis response cache and reading Redis sessions, sync and async, and the
health probes. RINGBOLT_TEST_REDIS_URL: the server."""

from __future__ import annotations

import itertools
import os
from typing import Annotated, Any

from ringbolt import App, Depends, RateLimit, Request
from ringbolt.caching import RedisStore as CacheStore
from ringbolt.rate_limit import RedisSettings
from ringbolt.sessions import RedisStore as SessionStore, Session

URL = os.environ["RINGBOLT_TEST_REDIS_URL"]
TIMEOUTS = {"connect_timeout": 0.05, "timeout": 0.2, "retry_after": float(os.environ["RINGBOLT_TEST_REDIS_RETRY_AFTER"])}

app = App()
app.health()
app.cache.store = CacheStore(URL, prefix="outage:cache:", **TIMEOUTS)
sessions = app.add_sessions(["k" * 32], store=SessionStore(URL, prefix="outage:session:", **TIMEOUTS), secure=False)
limit = RateLimit("5/minute", algorithm="token_bucket", key="header:X-Client", redis=RedisSettings(URL, **TIMEOUTS))
runs = itertools.count(1)


@app.get("/limit", rate_limit=limit)
def limited(req: Request) -> Any:
    return {"ok": True}


@app.get("/limit-async", rate_limit=limit)
async def limited_async(req: Request) -> Any:
    return {"ok": True}


@app.get("/cached", cache=60)
def cached(req: Request) -> Any:
    return {"run": next(runs)}


@app.get("/cached-async", cache=60)
async def cached_async(req: Request) -> Any:
    return {"run": next(runs)}


@app.post("/login")
def login(req: Request, session: Annotated[Session, Depends(sessions)]) -> Any:
    session.regenerate()
    session["user"] = req.json()["user"]
    return {"user": session["user"]}


@app.get("/session")
def read(session: Annotated[Session, Depends(sessions)]) -> Any:
    return dict(session)


@app.get("/session-async")
async def read_async(session: Annotated[Session, Depends(sessions.load)]) -> Any:
    return dict(session)


@app.get("/plain")
def plain(req: Request) -> Any:
    return {"plain": True}
