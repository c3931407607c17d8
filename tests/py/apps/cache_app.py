"""Response caching (cache=, etag=) for tests/py/test_cache.py. Each handler run is
counted in this process (the body says which run it is) and logged, one line per run,
to the file RINGBOLT_TEST_CACHE_LOG (shared by workers). RINGBOLT_TEST_REDIS: the
routes' store is that Redis server."""

import asyncio
import itertools
import os
import time

from ringbolt import App, Response
from ringbolt.caching import Cache, RedisStore

app = App()
if os.environ.get("RINGBOLT_TEST_REDIS"):
    app.cache.store = RedisStore(os.environ["RINGBOLT_TEST_REDIS"], prefix=os.environ["RINGBOLT_TEST_PREFIX"])

    @app.middleware
    async def worker(req, call_next):  # outside the cache: says which worker answered, hit or miss
        resp = await call_next(req)
        resp.headers["X-Worker"] = str(os.getpid())
        return resp
runs = itertools.count(1)


def ran(name: str) -> str:
    """This run's name (unique across workers), logged."""
    with open(os.environ["RINGBOLT_TEST_CACHE_LOG"], "a") as f:
        f.write(f"{name} {os.getpid()}\n")
    return f"{os.getpid()}-{next(runs)}"


@app.get("/cached", cache=60)
def cached(req):
    return {"run": ran("cached"), "q": req.query.get("q")}


@app.get("/async-cached", cache=60)
async def async_cached(req):
    await asyncio.sleep(0)
    return {"run": ran("async-cached")}


@app.get("/short", cache=Cache(ttl=0.3))
def short(req):
    return {"run": ran("short")}


@app.get("/query", cache=Cache(key_query=["q"]))
def query(req):
    return {"run": ran("query"), "q": req.query.get("q"), "other": req.query.get("other")}


@app.get("/lang", cache=Cache(key_headers=["accept-language"]))
def lang(req):
    return {"run": ran("lang"), "lang": req.headers.get("accept-language")}


@app.get("/vary", cache=60)
def vary(req):
    kind = req.headers.get("accept", "")
    return Response({"run": ran("vary"), "accept": kind}, headers={"Vary": "Accept"})


@app.get("/vary-star", cache=60)
def vary_star(req):
    return Response({"run": ran("vary-star")}, headers={"Vary": "*"})


@app.get("/no-store", cache=60)
def no_store(req):
    return Response({"run": ran("no-store")}, headers={"Cache-Control": "no-store"})


@app.get("/private", cache=60)
def private(req):
    return Response({"run": ran("private")}, headers={"Cache-Control": "private, max-age=60"})


@app.get("/cookie", cache=60)
def cookie(req):
    return Response({"run": ran("cookie")}).set_cookie("sid", "abc")


@app.get("/cookie-header", cache=60)
def cookie_header(req):
    return Response({"run": ran("cookie-header")}, headers={"Set-Cookie": "sid=abc; Path=/"})


@app.get("/req-cookie", cache=60)
def req_cookie(req):
    req.set_cookie("sid", "abc")
    return {"run": ran("req-cookie")}


@app.get("/not-found", cache=60)
def not_found(req):
    return Response({"run": ran("not-found")}, 404)


@app.get("/text", cache=60)
def text(req):
    return f"run {ran('text')} <b>"


@app.get("/items/{item_id}", cache=Cache(tags=lambda req: ["items", "item:" + req.params["item_id"]]))
def item(req):
    return {"run": ran("item"), "id": req.params["item_id"]}


@app.post("/invalidate/{tag}")
def invalidate(req):
    return {"dropped": app.cache.invalidate(tags=[req.params["tag"]])}


@app.post("/ainvalidate/{tag}")
async def ainvalidate(req):
    return {"dropped": await app.cache.ainvalidate(tags=[req.params["tag"]])}


@app.get("/typed", cache=Cache(key_query=["n"]))
def typed(n: int = 0):
    return {"run": ran("typed"), "n": n}



@app.get("/slow", cache=60)
async def slow(req):
    ran("slow")
    await asyncio.sleep(0.3)
    return {"slow": True}


@app.get("/slow-sync", cache=60)
def slow_sync(req):
    ran("slow-sync")
    time.sleep(0.3)  # blocks its reactor thread: the other thread's requests of the key wait for it
    return {"slow": True}


@app.get("/dynamic", etag=True)
def dynamic(req):
    return {"value": req.query.get("v", "same")}


@app.get("/dynamic-async", etag=True)
async def dynamic_async(req):
    return "hello"


@app.get("/own-etag", etag=True)
def own_etag(req):
    return Response(b"body", headers={"ETag": '"v1"'})
