"""The same Starlette app (apps/starlette_app.py) served by ringbolt and by uvicorn
(httptools, uvloop) answers a fixed set of requests alike: status, body, header names
and values (repeats included). Date and Server are each server's own and ignored.

No other difference needs an exception here: both servers chunk a body sent in several
messages and keep the app's Content-Length otherwise, on GET and on HEAD. What differs
and is not compared: header order (ringbolt writes Content-Length or Transfer-Encoding
after the app's headers, uvicorn where the app put them), and Starlette's Allow header,
which joins a set, so its order depends on each process's hash seed (compared sorted)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import APPS, REPO, ServerProcess, free_port, stop_process

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")
pytest.importorskip("uvloop")

APP = "starlette_app:app"
MIB = 1 << 20
IGNORED = {"date", "server"}


class Uvicorn:
    """uvicorn as a subprocess, stopped by its pid."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", APP, "--app-dir", str(APPS), "--port", str(self.port),
             "--http", "httptools", "--loop", "uvloop", "--log-level", "warning"],
            cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}: {self.proc.stdout.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)

    def stop(self) -> int:
        return stop_process(self.proc)


@pytest.fixture(scope="module")
def servers():
    ours = ServerProcess(APP, "--threads", "1")
    theirs = Uvicorn()
    try:
        yield {"ringbolt": f"http://127.0.0.1:{ours.port}", "uvicorn": f"http://127.0.0.1:{theirs.port}"}
    finally:
        theirs.stop()
        assert ours.stop() == 0, ours.output()


BIG = bytes(range(256)) * (3 * MIB // 256)

# name: (method, path, keyword arguments for httpx)
REQUESTS = {
    "get-text": ("GET", "/", {}),
    "get-path-param": ("GET", "/items/42", {}),
    "get-query-repeats": ("GET", "/query?a=1&a=2&b=x&a=3", {}),
    "get-unicode-path": ("GET", "/unicode/caf%C3%A9%20%E2%9C%93", {}),
    "get-invalid-utf8-path": ("GET", "/unicode/caf%E9%FF", {}),  # not UTF-8: U+FFFD, as uvicorn decodes it
    "get-malformed-escape": ("GET", "/unicode/100%zz", {}),
    "get-json-unicode": ("GET", "/json-get", {}),
    "post-json": ("POST", "/json", {"json": {"b": [1, 2], "a": "é"}}),
    "put-raw": ("PUT", "/echo", {"content": bytes(range(256)), "headers": {"content-type": "application/x-raw"}}),
    "post-large-body": ("POST", "/echo-length", {"content": BIG}),
    "post-form": ("POST", "/form", {"data": {"a": "1", "b": "två"}}),
    "post-multipart": ("POST", "/form", {"data": {"note": "n"}, "files": {"up": ("f.txt", b"file body", "text/plain")}}),
    "head-text": ("HEAD", "/", {}),
    "head-file": ("HEAD", "/file", {}),
    "get-file": ("GET", "/file", {}),
    "get-file-range": ("GET", "/file", {"headers": {"range": "bytes=5-24"}}),
    "get-stream": ("GET", "/stream", {}),
    "get-stream-connection-close": ("GET", "/stream", {"headers": {"connection": "close"}}),
    "get-text-connection-close": ("GET", "/", {"headers": {"connection": "close"}}),
    "redirect-307": ("GET", "/redirect", {}),
    "redirect-302": ("GET", "/redirect?status=302", {}),
    "not-found": ("GET", "/no/such/path", {}),
    "method-not-allowed": ("POST", "/", {}),
    "delete-not-allowed": ("DELETE", "/echo", {}),
    "unprocessable": ("GET", "/validate?n=abc", {}),
    "valid": ("GET", "/validate?n=12", {}),
    "no-content": ("GET", "/empty", {}),
    "repeated-set-cookie": ("GET", "/cookies", {}),
    "lifespan-state": ("GET", "/state", {}),
    "is-disconnected": ("GET", "/disconnected", {}),
    "handler-error": ("GET", "/error", {}),
}


def fetch(base: str, method: str, path: str, kwargs: dict) -> tuple[int, bytes, dict[str, list[str]]]:
    with httpx.Client(base_url=base, timeout=10) as c:
        r = c.request(method, path, **kwargs)
        headers: dict[str, list[str]] = {}
        for k, v in r.headers.multi_items():
            headers.setdefault(k.lower(), []).append(v)
        return r.status_code, r.content, headers


def normalise(name: str, headers: dict[str, list[str]]) -> dict[str, list[str]]:
    out = {k: v for k, v in headers.items() if k not in IGNORED}
    if "allow" in out:  # Starlette joins a set: the order varies with each process's hash seed
        out["allow"] = [", ".join(sorted(v.split(", "))) for v in out["allow"]]
    return out


@pytest.mark.parametrize("name", list(REQUESTS))
def test_same_answer_as_uvicorn(servers, name):
    method, path, kwargs = REQUESTS[name]
    ours = fetch(servers["ringbolt"], method, path, kwargs)
    theirs = fetch(servers["uvicorn"], method, path, kwargs)
    assert ours[0] == theirs[0], f"status: ringbolt {ours[0]}, uvicorn {theirs[0]}"
    assert ours[1] == theirs[1], f"body: ringbolt {ours[1][:200]!r}, uvicorn {theirs[1][:200]!r}"
    assert normalise(name, ours[2]) == normalise(name, theirs[2])
