"""`--http {auto,1,2}`: the HTTP versions a listener serves, over h2c and TLS, as real
clients see them (curl, httpx, the h2 library, raw sockets), on both io backends; and
the refusal of HTTP/1.1 on an HTTP/2-only port (a 505 naming the cause, then the close)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from conftest import ServerProcess
from h2_tls_helpers import (  # noqa: F401  (certs is a fixture)
    BACKENDS,
    CLIENT_ENV,
    Client,
    certs,
    client_ctx,
    env_io,
    read_response,
    running,
    status,
    tls_args,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_ONLY_DETAIL = "This port serves HTTP/2 only"
# (HTTP version, status); ("refused", 0) when TLS refused the handshake; ("curl exit", code)
Outcome = tuple[str, int]


@pytest.fixture(scope="module", params=[(io, mode, tls) for io in BACKENDS for mode in ("auto", "1", "2")
                                        for tls in (False, True)],
                ids=lambda p: f"{p[0]}-http{p[1]}-{'tls' if p[2] else 'plain'}")
def srv(request: pytest.FixtureRequest, certs: Path) -> Any:  # noqa: F811
    io, mode, tls = request.param
    s = ServerProcess("h2_app:app", "--http", mode, "--threads", "1", *(tls_args(certs) if tls else ()),
                      env=env_io(io))
    s.mode, s.tls = mode, tls  # type: ignore[attr-defined]
    yield s
    assert s.stop() == 0, s.output()


def url(srv: ServerProcess, path: str = "/inspect") -> str:
    return f"{'https' if srv.tls else 'http'}://127.0.0.1:{srv.port}{path}"  # type: ignore[attr-defined]


def curl_as(*flags: str) -> Callable[[ServerProcess], Outcome]:
    def run(srv: ServerProcess) -> Outcome:
        if shutil.which("curl") is None:
            pytest.fail("curl is needed (apt-get install curl)")
        out = subprocess.run(["curl", "-sk", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                              *flags, url(srv)], capture_output=True, env=CLIENT_ENV, timeout=60)
        if out.returncode == 35:  # CURLE_SSL_CONNECT_ERROR: the handshake was refused
            return ("refused", 0)
        if out.returncode != 0:
            return ("curl exit", out.returncode)
        version, code = out.stdout.decode().split()
        return (version, int(code))
    return run


def httpx_as(http2: bool) -> Callable[[ServerProcess], Outcome]:
    def run(srv: ServerProcess) -> Outcome:
        try:
            with httpx.Client(http2=http2, verify=False, timeout=30) as c:  # ALPN: h2 and http/1.1, or http/1.1
                r = c.get(url(srv))
        except httpx.ConnectError as exc:
            assert_alert(exc)
            return ("refused", 0)
        return (r.http_version.removeprefix("HTTP/"), r.status_code)
    return run


def assert_alert(exc: Exception) -> None:
    """The handshake ended with the server's no_application_protocol alert (RFC 7301 §3.2)."""
    assert "NO APPLICATION PROTOCOL" in str(exc).upper().replace("_", " "), exc


def _connect(srv: ServerProcess, alpn: list[str] | None) -> socket.socket:
    raw = srv.connect(timeout=20)
    if not srv.tls:  # type: ignore[attr-defined]
        return raw
    return client_ctx(alpn=alpn).wrap_socket(raw, server_hostname="localhost")


def h1_raw(alpn: list[str] | None) -> Callable[[ServerProcess], Outcome]:
    """An HTTP/1.1 request on a socket (TLS: with that ALPN list, or none)."""
    def run(srv: ServerProcess) -> Outcome:
        try:
            s = _connect(srv, alpn)
        except ssl.SSLError as exc:
            assert_alert(exc)
            return ("refused", 0)
        with s:
            s.sendall(b"GET /inspect HTTP/1.1\r\nHost: localhost\r\n\r\n")
            code, headers, body = read_response(s, bytearray())
            if code == 505:
                assert_refusal(srv, s, headers, body)
            return ("1.1", code)
    return run


def h2_preface(alpn: list[str] | None) -> Callable[[ServerProcess], Outcome]:
    """HTTP/2 with prior knowledge (the h2 library; TLS: with that ALPN list, or none). A
    server that does not speak it answers the preface as HTTP/1.1."""
    def run(srv: ServerProcess) -> Outcome:
        sock = _connect(srv, alpn)
        sock.sendall(PREFACE)
        sock.settimeout(20)
        first = sock.recv(65536)
        if first.startswith(b"HTTP/1.1 "):
            sock.close()
            return ("1.1", int(first.split()[1]))
        sock.close()
        with Client(srv, sock=_connect(srv, alpn)) as c:
            r = c.get("/inspect")
            assert json.loads(r["body"])["http_version"] == "2"
            return ("2", status(r))
    return run


def assert_refusal(srv: ServerProcess, s: socket.socket, headers: dict[str, str], body: bytes) -> None:
    """The HTTP/2-only port's answer to HTTP/1.1: the problem naming it, then the close."""
    assert headers["content-type"] == "application/problem+json" and headers.get("connection") == "close", headers
    problem = json.loads(body)
    assert problem["status"] == 505 and problem["detail"].startswith(H2_ONLY_DETAIL), problem
    s.settimeout(20)
    assert s.recv(1) == b"", "the connection stayed open after the refusal"


# client -> ((plain: auto, 1, 2), (TLS: auto, 1, 2))
CASES: dict[str, tuple[Callable[[ServerProcess], Outcome], tuple[Outcome, ...], tuple[Outcome, ...]]] = {
    "curl --http1.1": (curl_as("--http1.1"),
                       (("1.1", 200), ("1.1", 200), ("1.1", 505)),
                       (("1.1", 200), ("1.1", 200), ("refused", 0))),  # ALPN http/1.1 only: the alert
    "curl --http2 (Upgrade: h2c / ALPN)": (curl_as("--http2"),
                                           (("2", 200), ("1.1", 200), ("1.1", 505)),
                                           (("2", 200), ("1.1", 200), ("2", 200))),
    "curl --http2-prior-knowledge": (curl_as("--http2-prior-knowledge"),
                                     # HTTP/1 only: the preface is answered with an HTTP/1.1 505
                                     # (the h2 library rows read it), which curl's HTTP/2 layer
                                     # reports as an empty reply (exit 52)
                                     (("2", 200), ("curl exit", 52), ("2", 200)),
                                     (("2", 200), ("1.1", 200), ("2", 200))),  # TLS: ALPN h2, h2+1.1
    "httpx http2=True": (httpx_as(True),
                         (("1.1", 200), ("1.1", 200), ("1.1", 505)),  # httpx does no h2c: HTTP/1.1
                         (("2", 200), ("1.1", 200), ("2", 200))),
    "httpx http1 only": (httpx_as(False),
                         (("1.1", 200), ("1.1", 200), ("1.1", 505)),
                         (("1.1", 200), ("1.1", 200), ("refused", 0))),
    "raw HTTP/1.1, no ALPN": (h1_raw(None),
                              (("1.1", 200), ("1.1", 200), ("1.1", 505)),
                              (("1.1", 200), ("1.1", 200), ("1.1", 505))),
    "h2 library, prior knowledge, no ALPN": (h2_preface(None),
                                            (("2", 200), ("1.1", 505), ("2", 200)),
                                            (("2", 200), ("1.1", 505), ("2", 200))),
    "h2 library, ALPN h2": (h2_preface(["h2"]),
                           (("2", 200), ("1.1", 505), ("2", 200)),
                           (("2", 200), ("1.1", 505), ("2", 200))),  # HTTP/1 only: no ALPN, preface refused
}


@pytest.mark.parametrize("client", list(CASES))
def test_versions_served(srv: ServerProcess, client: str) -> None:
    run, plain, tls = CASES[client]
    want = (tls if srv.tls else plain)[("auto", "1", "2").index(srv.mode)]  # type: ignore[attr-defined]
    assert run(srv) == want


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("io", BACKENDS)
def test_http2_only_refuses_an_upload_cleanly(io: str, tls: bool, certs: Path) -> None:  # noqa: F811
    # A POST with a body already on the wire: the 505 arrives whole and the connection
    # ends with a FIN (the body is read and discarded while it lingers), not a reset.
    with running("h2_app:app", "--http", "2", *(tls_args(certs) if tls else ()), io=io) as s:
        s.tls = tls  # type: ignore[attr-defined]
        with _connect(s, None) as sock:
            body = b"u" * 300_000
            sock.sendall(b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            code, headers, problem = read_response(sock, bytearray())
            assert code == 505
            assert_refusal(s, sock, headers, problem)
        with Client(s, sock=_connect(s, ["h2"])) as c:  # the port goes on serving HTTP/2
            assert status(c.get("/inspect")) == 200


@pytest.mark.parametrize("options, error", [
    (["--http", "3"], "invalid choice: '3'"),
    (["--http", "2", "--no-http2"], "http='2' (HTTP/2 only) contradicts http2=False"),
])
def test_bad_http_option_is_refused(options: list[str], error: str) -> None:
    with pytest.raises(RuntimeError, match="server exited") as info:
        ServerProcess("h2_app:app", *options)
    assert error in str(info.value), info.value
