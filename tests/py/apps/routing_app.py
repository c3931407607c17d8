"""Path converters and Routers, for tests/py/test_routing.py."""

import uuid

from ringbolt import App, Router

app = App()


def typed(req):
    return {k: [type(v).__name__, str(v)] for k, v in req.params.items()}


app.get("/n/{v:int}")(lambda req: {"route": "int", **typed(req)})
app.get("/n/{v:float}")(lambda req: {"route": "float", **typed(req)})
app.get("/n/{v}")(lambda req: {"route": "str", **typed(req)})
app.get("/f/{v:float}")(lambda req: {"route": "float-only", **typed(req)})
app.get("/i/{v:int}")(lambda req: {"route": "int-only", **typed(req)})
app.get("/u/{id:uuid}")(lambda req: {"route": "uuid", "is_uuid": isinstance(req.params["id"], uuid.UUID), **typed(req)})
app.get("/u/{id:uuid}/items/{n:int}")(lambda req: {"route": "uuid-items", **typed(req)})
app.get("/files/{rest:path}")(lambda req: {"route": "path", **typed(req)})
app.get("/files/index")(lambda req: {"route": "static"})
app.get("/s/{name:str}")(lambda req: {"route": "str-explicit", **typed(req)})

api = Router(prefix="/api")
v1 = Router(prefix="/v1")


@v1.get("/things/{tid:int}")
def thing(req):
    return {"thing": req.params["tid"]}


@v1.route("", methods=["GET", "POST"])
def v1_root(req):
    return {"v1": req.method}


@api.get("/health")
def health(req):
    return {"ok": True}


@api.websocket("/ws")
async def ws(ws):
    await ws.accept()
    await ws.send(await ws.receive())
    await ws.close()


api.include(v1)
app.include(api)
# The same router included twice under different prefixes.
shared = Router()
shared.get("/ping")(lambda req: {"pong": req.path})
app.include(shared, prefix="/a")
app.include(shared, prefix="/b")
