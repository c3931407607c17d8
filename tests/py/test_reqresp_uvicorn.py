"""The same cookies, forms and background tasks when uvicorn serves the App as an ASGI
app (ringbolt/serving/asgi_app.py): answers compared with ringbolt's own server."""

from __future__ import annotations

import pytest

from conftest import ServerProcess, UvicornProcess, get
from reqresp_helpers import APP, multipart, post, wait_for

pytest.importorskip("uvicorn", reason="uvicorn is a test dependency (tools/install-deps.sh)")


@pytest.fixture(scope="module")
def both():
    native = ServerProcess(APP, "--threads", "1")
    uv = UvicornProcess(APP)
    yield native, uv
    native.stop()
    uv.stop()


def cookies_of(r) -> list[str]:
    return [v for k, v in r.headers if k.lower() == "set-cookie"]


@pytest.mark.parametrize("path, header", [
    ("/cookies", "Cookie: a=1; b=\"two\"; a=3; =x; junk\r\n"),
    ("/set-cookie", ""),
    ("/req-cookie", ""),
    ("/req-cookie-tuple", ""),
    ("/async-cookie", ""),
    ("/info", "Last-Event-ID: 9\r\n"),
    ("/header", "X-Twice: one\r\nx-twice: two\r\nX-Latin: v a l\r\n"),
])
def test_same_answers(both, path, header):
    a, b = (get(s, path, header) for s in both)
    assert (a.status, cookies_of(a)) == (b.status, cookies_of(b))
    if path not in ("/info", "/header"):
        assert a.body == b.body
    elif path == "/info":
        assert a.json()["last_event_id"] == b.json()["last_event_id"] == "9"
    if path == "/header":  # req.header(name) as req.headers.get(name), on both servers
        for answer in (a, b):
            got = answer.json()
            assert got["header"] == got["headers"] == ["one", "one", "v a l", None, "test"], got


def test_forms(both):
    body = multipart([("t", None, None, b"v"), ("f", "x.bin", "application/octet-stream", b"z" * 3000)])
    for srv in both:
        r = post(srv, "/form?spool_threshold=100", body, "multipart/form-data; boundary=b0undary")
        assert r.status == 200, r
        fields = r.json()["fields"]
        assert fields[0] == ["t", "v"] and fields[1][1]["size"] == 3000
        r = post(srv, "/form", b"a=%zz", "application/x-www-form-urlencoded")
        assert r.status == 400 and "invalid percent-encoding" in r.json()["detail"]


def test_background(both):
    for i, srv in enumerate(both):
        key = f"uv{i}"
        assert get(srv, f"/bg/{key}").json() == {"queued": key}  # answered while the task waits
        assert wait_for(lambda: get(srv, f"/bg-state/{key}").json()["state"] == "started")
        get(srv, f"/bg-release/{key}")
        assert wait_for(lambda: get(srv, f"/bg-state/{key}").json()["state"] == "done")
