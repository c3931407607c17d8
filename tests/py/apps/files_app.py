"""FileResponse routes (tests/py/test_files.py). Written against the API that lands with
the connection core. Files are served from $RINGBOLT_TEST_FILES (a test's temporary
directory)."""

import os

from ringbolt import App, FileResponse

app = App()

ROOT = os.environ.get("RINGBOLT_TEST_FILES", "/nonexistent-ringbolt-test-files")


@app.get("/json")
def json_route(req):
    return {"ok": True, "n": req.query.get("n")}


@app.get("/files/{name}")
def files(req):
    own = req.query.get("own_modified")  # a Last-Modified of the handler's
    return FileResponse(os.path.join(ROOT, req.params["name"]), media_type=req.query.get("media_type"),
                        headers=[("Last-Modified", own)] if own else None,
                        last_modified=req.query.get("last_modified") != "0")


@app.get("/afiles/{name}")
async def afiles(req):
    return FileResponse(os.path.join(ROOT, req.params["name"]))


@app.get("/root")
def root_dir(req):
    return FileResponse(ROOT)  # a directory: 404


@app.get("/download/ascii/{name}")
def download_ascii(req):
    return FileResponse(os.path.join(ROOT, req.params["name"]), filename="report 2024.csv")


@app.get("/download/unicode/{name}")
def download_unicode(req):
    return FileResponse(os.path.join(ROOT, req.params["name"]), filename="résumé 2024.pdf")
