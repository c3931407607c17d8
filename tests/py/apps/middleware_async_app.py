"""Only async middleware (app level), sync and async routes; for test_middleware.py."""

import asyncio

from ringbolt import App, Response, Router

app = App()


@app.middleware
async def timing(req, call_next):
    if req.path == "/short":
        return Response("short", status=418)
    resp = await call_next(req)
    resp.headers.append(("x-async-mw", "1"))
    return resp


@app.get("/sync")
def sync_route(req):
    return {"kind": "sync"}


@app.get("/async")
async def async_route(req):
    return {"kind": "async"}


@app.get("/short")
def short(req):
    return {"reached": True}


@app.get("/wrong")
async def wrong(req):
    return 42  # not a response value: 500


# A router whose middleware is async too, inside the app's.
admin = Router(prefix="/admin")


@admin.middleware
async def require_token(req, call_next):
    if req.headers.get("authorization") != "Bearer secret":
        return Response({"error": "unauthorized"}, status=401)
    await asyncio.sleep(0)
    resp = await call_next(req)
    resp.headers.append(("x-admin", "checked"))
    return resp


@admin.get("/stats")
async def stats(req):
    await asyncio.sleep(0)
    return {"stats": 1}


@admin.get("/sync")
def admin_sync(req):
    return {"sync": "under async middleware"}


app.include(admin)
