"""async def handlers that really suspend."""

import asyncio

from ringbolt import App, HTTPError

app = App()


@app.get("/sleep")
async def sleep(req):
    await asyncio.sleep(float(req.query.get("s", "0.05")))
    return {"slept": True, "path": req.path}


@app.get("/timeout")
async def timeout(req):
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(1)
    except TimeoutError:
        return {"timed_out": True}
    return {"timed_out": False}


@app.get("/gather")
async def gather(req):
    results = await asyncio.gather(*(asyncio.sleep(0.01, result=i) for i in range(5)))
    return {"results": results}


@app.get("/error")
async def error(req):
    await asyncio.sleep(0.01)
    raise HTTPError(418, "after an await")


@app.get("/boom")
async def boom(req):
    await asyncio.sleep(0.01)
    raise ValueError("async-kaboom")


@app.post("/echo")
async def echo(req):
    await asyncio.sleep(0)
    return {"body": req.body.decode(), "n": req.query.get("n")}


@app.get("/sync/{n:int}")
def sync(req):
    return {"sync": req.params["n"]}


@app.get("/const", const=True)
def const(req):
    return "const"
