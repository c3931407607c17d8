"""examples/upload.py and examples/sse.py served by the CLI over a real socket."""

from __future__ import annotations

import hashlib
import os
from conftest import REPO, Reader, ServerProcess, get
from reqresp_helpers import WAIT_S, multipart, post, read_until

EXAMPLES = REPO / "examples"


def example(module: str, env: dict[str, str]) -> ServerProcess:
    # ServerProcess points --app-dir at tests/py/apps; a second --app-dir wins.
    return ServerProcess(f"{module}:app", "--app-dir", str(EXAMPLES), "--threads", "2",
                         "--max-body-size", str(64 << 20), env=env)


def test_upload_example(tmp_path):
    srv = example("upload", {"UPLOAD_DIR": str(tmp_path)})
    try:
        assert b"multipart/form-data" in get(srv, "/").body
        big = os.urandom(3 << 20)
        body = multipart([("files", "report.pdf", "application/pdf", big),
                          ("files", "notes.txt", "text/plain", b"hello"),
                          ("note", None, None, b"two files")])
        r = post(srv, "/upload", body, "multipart/form-data; boundary=b0undary")
        assert r.status == 201, r
        stored = r.json()["stored"]
        assert [s["filename"] for s in stored] == ["report.pdf", "notes.txt"]
        assert r.json()["note"] == "two files"
        listed = get(srv, "/files").json()["files"]
        assert {f["id"] for f in listed} == {s["id"] for s in stored}
        d = get(srv, f"/files/{stored[0]['id']}")
        assert d.status == 200 and hashlib.sha256(d.body).digest() == hashlib.sha256(big).digest()
        assert d.header("content-type") == "application/pdf"
        assert d.header("content-disposition") == 'attachment; filename="report.pdf"'
        assert get(srv, "/files/nope").status == 404
        r = post(srv, "/upload", multipart([("note", None, None, b"x")]), "multipart/form-data; boundary=b0undary")
        assert r.status == 400 and "no file" in r.json()["detail"]
        r = post(srv, "/upload", b"--b0undary\r\nbroken", "multipart/form-data; boundary=b0undary")
        assert r.status == 400
    finally:
        assert srv.stop() == 0, srv.output()


def test_sse_example():
    srv = example("sse", {"SSE_INTERVAL": "0.05"})
    try:
        with srv.connect(timeout=WAIT_S) as s:
            s.sendall(b"GET /events?count=3 HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 10\r\n\r\n")
            raw = read_until(s, b"\r\n0\r\n\r\n")
        assert b"Content-Type: text/event-stream" in raw
        assert b": connected\nretry: 3000\n" in raw
        for n in (11, 12, 13):
            assert f"event: tick\nid: {n}\ndata: {{\"n\":{n},".encode() in raw
        assert b"id: 14" not in raw
    finally:
        assert srv.stop() == 0, srv.output()
