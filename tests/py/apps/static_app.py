"""app.static mounts for tests/py/test_static.py. The tree is built by the test under
$RINGBOLT_TEST_STATIC (public/ is served; files beside it must never be)."""

import os

from ringbolt import App

app = App()

ROOT = os.environ.get("RINGBOLT_TEST_STATIC", "/nonexistent-ringbolt-test-static")

app.static("/assets", os.path.join(ROOT, "public"), cache_control="public, max-age=60")
app.static("/plain/", os.path.join(ROOT, "public"), index=None, precompressed=False)


@app.get("/assets/route")
def route_under_mount(req):
    return {"from": "route"}


@app.post("/assets/upload")
def upload(req):
    return {"got": len(req.body)}


@app.get("/api")
def api(req):
    return {"ok": True}
