"""The same cookies, forms and background tasks when uvicorn serves the App as an ASGI
app (ringbolt/_asgi_app.py): answers compared with ringbolt's own server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from conftest import APPS, ServerProcess, free_port, get
from reqresp_helpers import APP, multipart, post, wait_for

pytest.importorskip("uvicorn", reason="uvicorn is a test dependency (tools/install-deps.sh)")


class _Uvicorn:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", APP, "--app-dir", str(APPS), "--port", str(self.port),
             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError("uvicorn did not start")
                time.sleep(0.05)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def both():
    native = ServerProcess(APP, "--threads", "1")
    uv = _Uvicorn()
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
])
def test_same_answers(both, path, header):
    a, b = (get(s, path, header) for s in both)
    assert (a.status, cookies_of(a)) == (b.status, cookies_of(b))
    if path != "/info":
        assert a.body == b.body
    else:
        assert a.json()["last_event_id"] == b.json()["last_event_id"] == "9"


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
