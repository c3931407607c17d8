"""The TLS connection's facts reach the application (issue 12): the client certificate
for mTLS (subject and chain), the version and cipher, the server's certificate. ringbolt
handlers read req.tls / ws.tls, ASGI apps scope["extensions"]["tls"] (asgiref's TLS
extension; HTTP/1.1, h2 by ALPN, wss), WSGI apps mod_ssl's SSL_* variables. Plain HTTP
has none of it. Real sockets, both io backends."""

from __future__ import annotations

import contextlib
import json
import ssl
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from conftest import BACKENDS, ServerProcess
from test_tls import (_openssl, _ws_frame, _ws_read, certs, client_ctx, read_response,  # noqa: F401
                      tls_args, tls_connect)

APPS = {"ringbolt": "tls_info_app:app", "asgi": "tls_info_app:asgi", "wsgi": "tls_info_app:wsgi"}
# IANA codes of the suites the test clients may get (RFC 8446 §B.4, RFC 5289, RFC 7905).
SUITES = {"TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302, "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
          "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B, "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
          "ECDHE-ECDSA-CHACHA20-POLY1305": 0xCCA9}
# The chained client's subject, as RFC 4514 writes it: most specific first, the comma in
# O escaped, UTF-8 kept as text.
CHAINED_NAME = "CN=Zoë chained client,O=Ringbolt\\, Test,C=DE"


@pytest.fixture(scope="module")
def pki(certs: Path) -> Path:  # noqa: F811
    """test_tls's certificates plus an intermediate CA under `ca` and a client certificate
    it signed; chained-full.crt is the leaf followed by the intermediate (what the client sends)."""
    d = certs
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "inter.key",
             "-out", "inter.csr", "-subj", "/CN=ringbolt test intermediate", cwd=d)
    (d / "inter.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    _openssl("x509", "-req", "-in", "inter.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "inter.crt", "-days", "30", "-extfile", "inter.ext", cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "chained.key",
             "-out", "chained.csr", "-utf8", "-subj", "/C=DE/O=Ringbolt, Test/CN=Zoë chained client", cwd=d)
    (d / "chained.ext").write_text("extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", "chained.csr", "-CA", "inter.crt", "-CAkey", "inter.key", "-CAcreateserial",
             "-out", "chained.crt", "-days", "30", "-extfile", "chained.ext", cwd=d)
    (d / "chained-full.crt").write_text((d / "chained.crt").read_text() + (d / "inter.crt").read_text())
    return d


def der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def der_of(path: Path) -> bytes:
    return der(path.read_text())


def mtls_ctx(pki: Path, cert: str | None, version: ssl.TLSVersion | None = ssl.TLSVersion.TLSv1_3) -> ssl.SSLContext:
    ctx = client_ctx(version=version)
    if cert == "chained":
        ctx.load_cert_chain(pki / "chained-full.crt", pki / "chained.key")
    elif cert is not None:
        ctx.load_cert_chain(pki / f"{cert}.crt", pki / f"{cert}.key")
    return ctx


def https_json(srv: ServerProcess, path: str, ctx: ssl.SSLContext, requests: int = 1) -> tuple[list[Any], str]:
    """`requests` GETs on one keep-alive connection: their JSON bodies and the cipher the client saw."""
    out = []
    with tls_connect(srv, ctx, timeout=20) as s:
        buf = bytearray()
        for _ in range(requests):
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            status, _, body = read_response(s, buf)
            assert status == 200, body
            out.append(json.loads(body))
        cipher = s.cipher()
        assert cipher is not None
        return out, cipher[0]


def wss_message(srv: ServerProcess, ctx: ssl.SSLContext, path: str) -> Any:
    with tls_connect(srv, ctx, timeout=20) as s:
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, bytes(buf)
            buf += chunk
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        buf = bytearray(rest)
        opcode, payload = _ws_read(s, buf)
        assert opcode == 1, (opcode, payload)
        return json.loads(payload)


@contextlib.contextmanager
def served(pki: Path, app: str, io: str, *extra: str) -> Iterator[ServerProcess]:
    srv = ServerProcess(APPS[app], *tls_args(pki, *extra), "--threads", "2", env={"RINGBOLT_IO": io})
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.output()


def required(pki: Path) -> list[str]:
    return ["--ssl-ca-certs", str(pki / "ca.crt"), "--ssl-cert-reqs", "required"]


def optional(pki: Path) -> list[str]:
    return ["--ssl-ca-certs", str(pki / "ca.crt"), "--ssl-cert-reqs", "optional"]


def assert_chained_client(tls: dict, pki: Path) -> None:
    """`tls` (TLSInfo's or the ASGI extension's facts) names the chained client and holds
    its chain, leaf first, as PEM."""
    assert tls["client_cert_name"] == CHAINED_NAME
    seen_chain = tls["client_cert_chain"]
    assert [der(p) for p in seen_chain] == [der_of(pki / "chained.crt"), der_of(pki / "inter.crt")]
    assert all(p.startswith("-----BEGIN CERTIFICATE-----\n") and p.endswith("-----END CERTIFICATE-----\n")
               for p in seen_chain)


def chained_wss_message(srv: ServerProcess, pki: Path) -> Any:
    """The first message of /ws over wss with the chained client certificate, whose TLS
    facts name that client (assert_chained_client)."""
    msg = wss_message(srv, mtls_ctx(pki, "chained"), "/ws")
    assert_chained_client(msg["tls"], pki)
    return msg


# ---- mTLS with a required client certificate ----

@pytest.mark.parametrize("io", BACKENDS)
def test_ringbolt_handler_sees_the_client_chain(pki: Path, io: str) -> None:
    with served(pki, "ringbolt", io, *required(pki)) as srv:
        bodies, cipher = https_json(srv, "/tls", mtls_ctx(pki, "chained"), requests=3)
        for body in bodies:  # every request of the connection sees the same facts
            tls = body["tls"]
            assert body["scheme"] == "https"
            assert tls["client_cert_issuer"] == "CN=ringbolt test intermediate"
            assert_chained_client(tls, pki)
            assert tls["client_cert"] == tls["client_cert_chain"][0]
            assert tls["client_cert_error"] is None
            assert tls["version"] == "TLSv1.3" and tls["version_code"] == 0x0304
            assert tls["cipher"] == cipher and tls["cipher_suite"] == SUITES[cipher]
            assert der(tls["server_cert"]) == der_of(pki / "server.crt")
            assert tls["alpn"] is None and tls["resumed"] is False
        assert bodies[0] == bodies[2]
        # TLS 1.2, a leaf signed by the root itself (chain of one), ALPN http/1.1.
        ctx = mtls_ctx(pki, "client", ssl.TLSVersion.TLSv1_2)
        ctx.set_alpn_protocols(["http/1.1"])
        (body,), cipher = https_json(srv, "/tls", ctx)
        tls = body["tls"]
        assert tls["version"] == "TLSv1.2" and tls["version_code"] == 0x0303
        assert tls["cipher"] == cipher and tls["cipher_suite"] == SUITES[tls["cipher"]]
        assert tls["client_cert_name"] == "CN=test client"
        assert [der(p) for p in tls["client_cert_chain"]] == [der_of(pki / "client.crt")]
        assert tls["alpn"] == "http/1.1"
        # Without a certificate the handshake fails; the server goes on serving.
        with pytest.raises((ssl.SSLError, ConnectionError)):
            https_json(srv, "/tls", mtls_ctx(pki, None))
        assert https_json(srv, "/tls", mtls_ctx(pki, "chained"))[0][0]["tls"]["client_cert_name"] == CHAINED_NAME
        # ws.tls over wss.
        chained_wss_message(srv, pki)


@pytest.mark.parametrize("io", BACKENDS)
def test_asgi_tls_extension_over_http11_h2_and_wss(pki: Path, io: str) -> None:
    with served(pki, "asgi", io, *required(pki)) as srv:
        (body,), cipher = https_json(srv, "/", mtls_ctx(pki, "chained"))
        assert body["http_version"] == "1.1" and body["scheme"] == "https"
        assert "http.response.pathsend" in body["extensions"]  # the others are kept
        tls = body["tls"]
        assert set(tls) == {"server_cert", "client_cert_chain", "client_cert_name", "client_cert_error",
                            "tls_version", "cipher_suite"}
        assert_chained_client(tls, pki)
        assert tls["client_cert_error"] is None
        assert tls["tls_version"] == 0x0304 and tls["cipher_suite"] == SUITES[cipher]
        assert der(tls["server_cert"]) == der_of(pki / "server.crt")

        # HTTP/2 by ALPN: every stream of the connection gets the extension.
        ctx = mtls_ctx(pki, "chained")
        with httpx.Client(http2=True, verify=ctx, timeout=20) as client:
            for _ in range(3):
                r = client.get(f"https://127.0.0.1:{srv.port}/h2")
                assert r.status_code == 200 and r.http_version == "HTTP/2"
                h2 = r.json()
                assert h2["http_version"] == "2" and h2["has_tls"]
                assert_chained_client(h2["tls"], pki)
                assert h2["tls"]["tls_version"] == 0x0304

        # wss: the websocket scope has it too (next to websocket.http.response).
        msg = chained_wss_message(srv, pki)
        assert msg["scheme"] == "wss" and msg["has_tls"]
        assert sorted(msg["extensions"]) == ["tls", "websocket.http.response"]


@pytest.mark.parametrize("io", BACKENDS)
def test_wsgi_gets_mod_ssl_variables(pki: Path, io: str) -> None:
    with served(pki, "wsgi", io, *required(pki)) as srv:
        (env,), cipher = https_json(srv, "/", mtls_ctx(pki, "chained"))
        assert env["HTTPS"] == "on" and env["wsgi.url_scheme"] == "https"
        assert env["SSL_PROTOCOL"] == "TLSv1.3"
        assert env["SSL_CIPHER"] == cipher
        assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
        assert env["SSL_CLIENT_S_DN"] == CHAINED_NAME
        assert env["SSL_CLIENT_I_DN"] == "CN=ringbolt test intermediate"
        assert der(env["SSL_CLIENT_CERT"]) == der_of(pki / "chained.crt")
        assert der(env["SSL_CLIENT_CERT_CHAIN_0"]) == der_of(pki / "inter.crt")
        assert "SSL_CLIENT_CERT_CHAIN_1" not in env
        assert der(env["SSL_SERVER_CERT"]) == der_of(pki / "server.crt")
        assert env["SSL_SESSION_RESUMED"] == "Initial"
        # The same over HTTP/2 (ALPN h2).
        with httpx.Client(http2=True, verify=mtls_ctx(pki, "chained"), timeout=20) as client:
            r = client.get(f"https://127.0.0.1:{srv.port}/h2")
        assert r.status_code == 200 and r.http_version == "HTTP/2"
        h2 = r.json()
        assert h2["SSL_CLIENT_S_DN"] == CHAINED_NAME and h2["SSL_PROTOCOL"] == "TLSv1.3"
        assert der(h2["SSL_CLIENT_CERT_CHAIN_0"]) == der_of(pki / "inter.crt")


# ---- optional client certificates ----

@pytest.mark.parametrize("io", BACKENDS)
@pytest.mark.parametrize("app", ["ringbolt", "asgi", "wsgi"])
def test_optional_mode_without_a_certificate_and_with_an_unknown_ca(pki: Path, io: str, app: str) -> None:
    with served(pki, app, io, *optional(pki)) as srv:
        path = "/tls" if app == "ringbolt" else "/"
        (body,), _ = https_json(srv, path, mtls_ctx(pki, None))
        if app == "ringbolt":
            tls = body["tls"]
            assert tls["client_cert"] is None and tls["client_cert_chain"] == []
            assert tls["client_cert_name"] is None and tls["client_cert_issuer"] is None
            assert tls["client_cert_error"] is None and tls["version_code"] == 0x0304
        elif app == "asgi":
            tls = body["tls"]
            assert tls["client_cert_chain"] == [] and tls["client_cert_name"] is None
            assert tls["client_cert_error"] is None and tls["tls_version"] == 0x0304
            assert der(tls["server_cert"]) == der_of(pki / "server.crt")
        else:
            assert body["SSL_CLIENT_VERIFY"] == "NONE" and body["SSL_PROTOCOL"] == "TLSv1.3"
            assert not {"SSL_CLIENT_CERT", "SSL_CLIENT_S_DN", "SSL_CLIENT_CERT_CHAIN_0"} & set(body)
        # A certificate from a CA the server does not trust: sent, so checked, and the
        # handshake is refused (as uvicorn's CERT_OPTIONAL does); client_cert_error is
        # therefore never set. TLS 1.3: the alert arrives on the client's first read.
        with pytest.raises((ssl.SSLError, ConnectionError)):
            https_json(srv, path, mtls_ctx(pki, "stranger"))
        (body,), _ = https_json(srv, path, mtls_ctx(pki, "client"))  # still serving; a good one is seen
        if app == "ringbolt":
            assert body["tls"]["client_cert_name"] == "CN=test client"
        elif app == "asgi":
            assert body["tls"]["client_cert_name"] == "CN=test client"
        else:
            assert body["SSL_CLIENT_VERIFY"] == "SUCCESS" and body["SSL_CLIENT_S_DN"] == "CN=test client"


# ---- no client certificates asked for; plain HTTP ----

@pytest.mark.parametrize("io", BACKENDS)
def test_tls_without_mtls_and_session_resumption(pki: Path, io: str) -> None:
    with served(pki, "ringbolt", io) as srv:
        ctx = mtls_ctx(pki, "client")  # offered, but the server does not ask for it
        with tls_connect(srv, ctx, timeout=20) as s:
            s.sendall(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            first = json.loads(read_response(s, bytearray())[2])["tls"]
            s.recv(0)
            session = s.session
        assert first["client_cert"] is None and first["client_cert_chain"] == []
        assert first["resumed"] is False and der(first["server_cert"]) == der_of(pki / "server.crt")
        with tls_connect(srv, ctx, session=session, timeout=20) as s:
            s.sendall(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            again = json.loads(read_response(s, bytearray())[2])["tls"]
            resumed = s.session_reused
        assert again["resumed"] is resumed
        assert der(again["server_cert"]) == der_of(pki / "server.crt")


@pytest.mark.parametrize("io", BACKENDS)
@pytest.mark.parametrize("app", ["ringbolt", "asgi", "wsgi"])
def test_plain_http_has_no_tls_facts(app: str, io: str) -> None:
    srv = ServerProcess(APPS[app], env={"RINGBOLT_IO": io})
    try:
        with srv.connect(timeout=20) as s:
            s.sendall(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status, _, body = read_response(s, bytearray())
        assert status == 200
        seen = json.loads(body)
        if app == "ringbolt":
            assert seen["tls"] is None and seen["scheme"] == "http"
        elif app == "asgi":
            assert not seen["has_tls"] and seen["extensions"] == ["http.response.pathsend"]
        else:
            assert seen == {"wsgi.url_scheme": "http"}
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("io", BACKENDS)
def test_resumed_session_keeps_the_client_certificate(pki: Path, io: str) -> None:
    with served(pki, "ringbolt", io, *required(pki)) as srv:
        ctx = mtls_ctx(pki, "chained")
        with tls_connect(srv, ctx, timeout=20) as s:
            s.sendall(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            first = json.loads(read_response(s, bytearray())[2])["tls"]
            session = s.session  # TLS 1.3: the tickets arrived with the response
        with tls_connect(srv, ctx, session=session, timeout=20) as s:
            s.sendall(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            again = json.loads(read_response(s, bytearray())[2])["tls"]
            assert s.session_reused
        assert first["resumed"] is False and again["resumed"] is True
        # The session (ticket) carries the client's certificate and its verification, not
        # the intermediates it sent: a resumed connection shows the leaf alone.
        assert again["client_cert_name"] == CHAINED_NAME
        assert again["client_cert_issuer"] == "CN=ringbolt test intermediate"
        assert [der(p) for p in again["client_cert_chain"]] == [der_of(pki / "chained.crt")]
        assert again["client_cert_error"] is None


@pytest.mark.parametrize("io", BACKENDS)
def test_tls_info_outlives_its_connection(pki: Path, io: str) -> None:
    """A handler that keeps req.tls keeps the connection's record alive (a counted
    reference): it reads the same facts after the connection closed and others came."""
    with served(pki, "ringbolt", io, *required(pki)) as srv:
        for _ in range(3):
            with tls_connect(srv, mtls_ctx(pki, "chained"), timeout=20) as s:
                s.sendall(b"GET /keep HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                assert read_response(s, bytearray())[0] == 200
                while s.recv(4096):  # the server closes the connection after the answer
                    pass
        (seen,), _ = https_json(srv, "/kept", mtls_ctx(pki, "client"))
        assert len(seen["tls"]) == 3
        for tls in seen["tls"]:
            assert_chained_client(tls, pki)
