"""ringbolt app with `async def` handlers (run on ringbolt's asyncio loop).

    python -m ringbolt serve benchmarks.load.apps.ringbolt_async:app --host 127.0.0.1 --port PORT --threads 1
"""
from ringbolt import App

BODY_10K = b"x" * 10240

app = App()


@app.get("/plaintext")
async def plaintext(req):
    return "Hello, World!"


@app.get("/json")
async def json_(req):
    return {"message": "Hello, World!"}


@app.get("/users/{id:int}")
async def user(req):
    return {"id": req.params["id"]}


@app.post("/echo")
async def echo(req):
    return req.json()


@app.get("/body10k")
async def body10k(req):
    return BODY_10K


@app.get("/sync/json")
def sync_json(req):
    # A sync route beside async ones: with one reactor the loop runs on its thread and the
    # ring is set up shared (COOP_TASKRUN, no DEFER_TASKRUN), which this route pays too.
    return {"message": "Hello, World!"}
