"""A ringbolt App is an ASGI app too: uvicorn serves tests/py/apps/basic.py, and for a
fixed set of requests it answers what ringbolt's own server answers (status, body, the
content type and the headers the handlers set)."""

from __future__ import annotations

import socket

import pytest

from conftest import Reader, ServerProcess, UvicornProcess

pytest.importorskip("uvicorn", reason="uvicorn is a test dependency (tools/install-deps.sh)")

REQUESTS = [
    ("GET", "/", b""),
    ("GET", "/users/42", b""),
    ("GET", "/users/x", b""),
    ("GET", "/files/a%20b/v/3", b""),
    ("POST", "/echo", b"hello body"),
    ("GET", "/caf%C3%A9/x", b""),
    ("POST", "/json", b'{"a": [1, 2]}'),
    ("POST", "/json", b"{not json"),
    ("GET", "/text", b""),
    ("GET", "/bytes", b""),
    ("GET", "/list", b""),
    ("GET", "/none", b""),
    ("GET", "/tuple", b""),
    ("GET", "/response-json", b""),
    ("GET", "/response-status", b""),
    ("GET", "/boom", b""),
    ("GET", "/bad-header-raw", b""),  # a tuple's headers are checked as a Response's: the native 500
    ("GET", "/bad-return", b""),
    ("GET", "/http-error", b""),
    ("GET", "/const", b""),
    ("GET", "/async", b""),
    ("GET", "/nope", b""),
    ("DELETE", "/users/1", b""),
    ("HEAD", "/", b""),
]
COMPARED_HEADERS = ("content-type", "location", "x-method", "allow")


def ask(port: int, method: str, path: str, body: bytes):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        s.sendall(head.encode() + body)
        return Reader(s).read(head_request=method == "HEAD")


@pytest.fixture(scope="module")
def servers():
    ringbolt = ServerProcess("basic:app", "--threads", "1")
    try:
        uvicorn = UvicornProcess("basic:app", "--lifespan", "on")
    except BaseException:
        ringbolt.stop()
        raise
    yield ringbolt.port, uvicorn.port
    ringbolt.stop()
    uvicorn.stop()


@pytest.mark.parametrize("method, path, body", REQUESTS, ids=[f"{m} {p}" for m, p, _ in REQUESTS])
def test_same_answer_under_uvicorn(servers, method, path, body):
    native_port, uvicorn_port = servers
    a = ask(native_port, method, path, body)
    b = ask(uvicorn_port, method, path, body)
    assert a.status == b.status, (a, b)
    if method != "HEAD":
        assert a.body == b.body, (a.body[:200], b.body[:200])
    for name in COMPARED_HEADERS:
        av, bv = a.header(name), b.header(name)
        if name == "allow" and av and bv:
            av, bv = sorted(av.split(", ")), sorted(bv.split(", "))
        assert av == bv, f"{name}: ringbolt {av!r}, uvicorn {bv!r}"
