"""HTTP/2 over TLS (issue 12): ALPN picks h2 (preferred over http/1.1), the same frames
as h2c behind the TLS transport; curl --http2, h2load and the Python h2 library as
clients, on both io backends."""

from __future__ import annotations

import json
import os
import shutil
import ssl
from pathlib import Path
from typing import Any

import pytest

from conftest import ServerProcess
from h2_tls_helpers import (  # noqa: F401  (certs is a fixture)
    BACKENDS,
    Client,
    certs,
    client_ctx,
    curl,
    env_io,
    h2load,
    running,
    status,
    tls_args,
)


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, certs: Path) -> Any:  # noqa: F811
    s = ServerProcess("h2_app:app", *tls_args(certs), "--threads", "1", env=env_io(request.param))
    s.io = request.param  # type: ignore[attr-defined]
    yield s
    assert s.stop() == 0, s.output()


def tls_client(srv: ServerProcess, alpn: list[str]) -> tuple[Client, ssl.SSLSocket]:
    raw = srv.connect(timeout=20)
    sock = client_ctx(alpn=alpn).wrap_socket(raw, server_hostname="localhost")
    return Client(srv, sock=sock), sock


def test_alpn_prefers_h2_and_serves_streams(srv: ServerProcess) -> None:
    c, sock = tls_client(srv, ["http/1.1", "h2"])
    assert sock.selected_alpn_protocol() == "h2"
    sids = [c.request(f"/inspect?i={i}") for i in range(20)]
    c.wait(*sids)
    for i, sid in enumerate(sids):
        seen = json.loads(c.responses[sid]["body"])
        assert seen["http_version"] == "2" and seen["scheme"] == "https" and seen["query"] == {"i": str(i)}
    payload = os.urandom(2 * 1024 * 1024)
    r = c.get("/echo", method="POST", body=payload)
    assert status(r) == 200 and r["body"] == payload
    r = c.get("/stream/300")
    assert len(r["body"]) == 300 * 6000
    c.close()


def test_http11_by_alpn_still_works(srv: ServerProcess) -> None:
    raw = srv.connect(timeout=20)
    with client_ctx(alpn=["http/1.1"]).wrap_socket(raw, server_hostname="localhost") as s:
        assert s.selected_alpn_protocol() == "http/1.1"
        s.sendall(b"GET /inspect HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b'"http_version":"1.1"' in data


def test_prior_knowledge_inside_tls_without_alpn(srv: ServerProcess) -> None:
    c, sock = tls_client(srv, [])
    assert sock.selected_alpn_protocol() is None
    assert status(c.get("/")) == 200
    c.close()


def test_curl_http2(srv: ServerProcess) -> None:
    body, tail = curl("-k", "--http2", f"https://127.0.0.1:{srv.port}/inspect")
    assert tail == ["2", "200"]
    assert json.loads(body)["scheme"] == "https"


@pytest.mark.skipif(shutil.which("h2load") is None, reason="nghttp2-client is not installed")
def test_h2load_over_tls(srv: ServerProcess) -> None:
    out = h2load(f"https://127.0.0.1:{srv.port}/")
    assert "Application protocol: h2" in out, out
    assert "2000 succeeded, 0 failed, 0 errored, 0 timeout" in out, out


def test_no_http2_keeps_h2_out_of_alpn(certs: Path) -> None:  # noqa: F811
    with running("h2_app:app", *tls_args(certs), "--no-http2") as s:
        raw = s.connect(timeout=20)
        with client_ctx(alpn=["h2", "http/1.1"]).wrap_socket(raw, server_hostname="localhost") as sock:
            assert sock.selected_alpn_protocol() == "http/1.1"
