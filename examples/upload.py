"""File upload and download: `python examples/upload.py`, then open http://127.0.0.1:8000/.

POST /upload takes a multipart form (the "files" field, repeated for several files, plus
an optional "note"); each file is moved from the server's temp spool into UPLOAD_DIR
(default: a new temp directory) under a generated id. GET /files lists them, GET
/files/{id} downloads one (sent natively with sendfile, under its original name)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from typing import Any

from ringbolt import App, FileResponse, HTTPError, Request, Response, UploadFile

UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or tempfile.mkdtemp(prefix="ringbolt-uploads-")
MAX_FILE = 100 << 20  # 100 MiB per file (the server's --max-body-size bounds the whole body)

app = App()
_index_lock = threading.Lock()

PAGE = """<!doctype html><title>upload</title>
<form method=post action=/upload enctype=multipart/form-data>
<input type=file name=files multiple> <input name=note placeholder=note> <button>upload</button>
</form><p><a href=/files>files</a>"""


def _index_path() -> str:
    return os.path.join(UPLOAD_DIR, "index.json")


def _load_index() -> dict[str, Any]:
    try:
        with open(_index_path()) as f:
            data: dict[str, Any] = json.load(f)
            return data
    except FileNotFoundError:
        return {}


@app.get("/")
def page(req: Request) -> Response:
    return Response.html(PAGE)


@app.post("/upload")
async def upload(req: Request) -> Response:
    # `await` works for every body: a large upload streams through the native parser
    # as it arrives, file parts over 1 MiB are spooled to disk on the way.
    form = await req.form(max_part_size=MAX_FILE)
    stored: list[dict[str, Any]] = []
    for item in form.getlist("files"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue
        file_id = uuid.uuid4().hex
        item.move(os.path.join(UPLOAD_DIR, file_id))  # a rename when the spool is on the same file system
        stored.append({"id": file_id, "filename": os.path.basename(item.filename), "size": item.size,
                       "content_type": item.content_type or "application/octet-stream"})
    if not stored:
        raise HTTPError(400, "no file in the 'files' field")
    with _index_lock:
        index = _load_index()
        for entry in stored:
            index[entry["id"]] = entry
        with open(_index_path(), "w") as f:
            json.dump(index, f)
    note = form.get("note")
    return Response.json({"stored": stored, "note": note if isinstance(note, str) else None}, status=201)


@app.get("/files")
def files(req: Request) -> dict[str, Any]:
    with _index_lock:
        return {"files": list(_load_index().values())}


@app.get("/files/{file_id}")
def download(req: Request) -> FileResponse:
    file_id = req.params["file_id"]
    with _index_lock:
        entry = _load_index().get(file_id)
    if entry is None:
        raise HTTPError(404, "no such file")
    return FileResponse(os.path.join(UPLOAD_DIR, file_id), media_type=entry["content_type"],
                        filename=entry["filename"])


if __name__ == "__main__":
    print(f"uploads go to {UPLOAD_DIR}")
    app.run()
