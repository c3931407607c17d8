"""Shared by tests/py/test_typed_*.py: one way to send a request to the typed app
(tests/py/apps/typed_app.py) whichever way it is served: ``TestClient`` in this
process, ringbolt's server in a subprocess over HTTP/1.1, h2c, HTTP/2 over TLS or
HTTP/3, and uvicorn serving the App as an ASGI app. Each transport answers ``Answer``s."""

from __future__ import annotations

import http.client
import json
import sys
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from conftest import APPS, ServerProcess, UvicornProcess
from h2_tls_helpers import Client, client_ctx, tls_connect

if str(APPS) not in sys.path:
    sys.path.insert(0, str(APPS))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  #: lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def detail(self) -> list[tuple[str, tuple[Any, ...]]]:
        """A 422's failures as (type, loc) pairs."""
        assert self.status == 422, (self.status, self.body)
        assert self.content_type == "application/problem+json"
        return [(e["type"], tuple(e["loc"])) for e in self.json()["detail"]]


class Transport:
    name = ""

    def call(self, method: str, path: str, headers: list[tuple[str, str]] | None = None,
             body: bytes | None = None) -> Answer:
        raise NotImplementedError

    def get(self, path: str, headers: list[tuple[str, str]] | None = None) -> Answer:
        return self.call("GET", path, headers)

    def post_json(self, path: str, value: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
        return self.call("POST", path, [("content-type", "application/json"), *(headers or [])],
                         json.dumps(value).encode())

    def close(self) -> None:
        pass


class InProcess(Transport):
    name = "testclient"

    def __init__(self, app: Any) -> None:
        from ringbolt.testing import TestClient
        self.client = TestClient(app)
        self.client.start()

    def call(self, method: str, path: str, headers: list[tuple[str, str]] | None = None,
             body: bytes | None = None) -> Answer:
        r = self.client.request(method, path, headers=headers or [], content=body)
        return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)

    def close(self) -> None:
        self.client.close()


class Http1(Transport):
    """HTTP/1.1 with http.client to a server in a subprocess (ringbolt's, or uvicorn's)."""

    def __init__(self, srv: ServerProcess, name: str = "http1") -> None:
        self.srv = srv
        self.name = name

    def call(self, method: str, path: str, headers: list[tuple[str, str]] | None = None,
             body: bytes | None = None) -> Answer:
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers or []:
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def close(self) -> None:
        self.srv.stop()


class H2(Transport):
    """HTTP/2: h2c by prior knowledge, or over TLS (ALPN h2) when ``tls``."""

    def __init__(self, srv: ServerProcess, tls: bool = False) -> None:
        self.srv = srv
        self.tls = tls
        self.name = "h2-tls" if tls else "h2c"

    def call(self, method: str, path: str, headers: list[tuple[str, str]] | None = None,
             body: bytes | None = None) -> Answer:
        sock = tls_connect(self.srv, client_ctx(alpn=["h2"])) if self.tls else None
        with Client(self.srv, sock=sock) as c:
            extra = [(k.lower(), v) for k, v in headers or []]
            if body is not None:
                extra.append(("content-length", str(len(body))))
            r = c.get(path, method=method, body=body, headers=extra)
        hdrs = {k: v for k, v in r["headers"].items() if not k.startswith(":")}
        return Answer(int(r["headers"][":status"]), hdrs, r["body"])

    def close(self) -> None:
        self.srv.stop()


class H3(Transport):
    """HTTP/3 with aioquic's client (tests/py/h3_client.py), a connection per request."""

    name = "h3"

    def __init__(self, srv: ServerProcess) -> None:
        self.srv = srv

    def call(self, method: str, path: str, headers: list[tuple[str, str]] | None = None,
             body: bytes | None = None) -> Answer:
        import h3_client
        extra = list(headers or [])
        if body:
            extra.append(("content-length", str(len(body))))
        r = h3_client.run(self.srv.port, lambda c: c.request(method, path, body or b"", extra))
        return Answer(r.status, {k.lower(): v for k, v in r.headers}, bytes(r.body))


def transport(kind: str, app: str = "typed_app:app", *args: str) -> Transport:
    """A transport of ``kind``: testclient, http1, h2c or uvicorn."""
    if kind == "testclient":
        module, _, attr = app.partition(":")
        return InProcess(getattr(__import__(module), attr))
    if kind == "http1":
        return Http1(ServerProcess(app, *args))
    if kind == "h2c":
        return H2(ServerProcess(app, *args))
    if kind == "uvicorn":
        return Http1(UvicornProcess(app), "uvicorn")
    raise AssertionError(kind)


def transport_fixture(*kinds: str, app: str = "typed_app:app") -> Any:
    """A module-scoped ``served`` fixture over each of ``kinds``."""

    @pytest.fixture(scope="module", params=list(kinds))
    def served(request: pytest.FixtureRequest) -> Iterator[Transport]:
        t = transport(request.param, app)
        try:
            yield t
        finally:
            t.close()

    return served


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "typedB0undary") -> tuple[str, bytes]:
    """(content type, body) of a multipart/form-data body of (name, filename, data) parts."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return f"multipart/form-data; boundary={boundary}", out + f"--{boundary}--\r\n".encode()
