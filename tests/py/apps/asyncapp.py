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


async def _maybe_suspend(req):
    if req.query.get("when") == "later":
        await asyncio.sleep(0.01)


@app.get("/exit")
async def exits(req):
    """SystemExit (?kind=exit) or KeyboardInterrupt (?kind=interrupt), before any await
    (?when=first) or after one (?when=later): that request's 500, never a dead loop."""
    await _maybe_suspend(req)
    raise SystemExit(3) if req.query.get("kind") == "exit" else KeyboardInterrupt()


@app.get("/cancel-self")
async def cancel_self(req):
    """Cancels its own task and lets the cancellation end it."""
    await _maybe_suspend(req)
    asyncio.current_task().cancel()
    await asyncio.sleep(1)
    return {"not": "reached"}


@app.get("/cancel-caught")
async def cancel_caught(req):
    """Cancels its own task, catches the CancelledError and answers anyway: the value
    comes back through the coroutine's throw(), as a StopIteration's value."""
    await _maybe_suspend(req)
    asyncio.current_task().cancel()
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        return {"caught": True, "when": req.query.get("when")}
    return {"caught": False}



@app.get("/finish-fails")
async def finish_fails(req):
    """A cookie makes the answer go through req._finish, which builds a Response from the
    returned (body, status) pair: a status that is not one raises there, after the
    handler returned (?when=later: after an await)."""
    await _maybe_suspend(req)
    req.set_cookie("sid", "1")
    return "body", "not-a-status"
