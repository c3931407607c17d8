"""Shared by tests/py/test_auth*.py: the keys (written where tests/py/apps/auth_app.py
reads them), a JWKS key server on 127.0.0.1 that counts its fetches, tokens made with
PyJWT, and the app served by ringbolt in a subprocess."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from conftest import ServerProcess, free_port

EXAMPLE_SECRET = "example-secret-of-at-least-32-bytes!"
ISSUER = "https://issuer.test"


@dataclass
class Keys:
    secret: bytes
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    ed: ed25519.Ed25519PrivateKey
    rsa_pub_pem: bytes


def make_keys(where: Path) -> Keys:
    keys = Keys(secrets.token_bytes(64), rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1()),
                ed25519.Ed25519PrivateKey.generate(), b"")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    keys.rsa_pub_pem = keys.rsa.public_key().public_bytes(serialization.Encoding.PEM, pub)
    (where / "hs.secret").write_bytes(keys.secret)
    (where / "rsa.pub.pem").write_bytes(keys.rsa_pub_pem)
    (where / "ec.pub.pem").write_bytes(keys.ec.public_key().public_bytes(serialization.Encoding.PEM, pub))
    (where / "ed.key.pem").write_bytes(keys.ed.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return keys


def jwk(private: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    """The public JWK of ``private`` with ``kid`` (and ``alg`` when given)."""
    cls = jwt.algorithms.RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
    out: dict[str, Any] = cls.to_jwk(private.public_key(), as_dict=True)
    out["kid"] = kid
    if alg is not None:
        out["alg"] = alg
    return out


class KeyServer:
    """A JWKS server: ``documents[path]`` is served at ``path``; ``fetches[path]`` counts
    the GETs; ``fetched`` is set at each one (the test waits on it, not on time)."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.fetches: dict[str, int] = {}
        self.fetched = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                doc = server.documents.get(self.path)
                with server.fetched:
                    server.fetches[self.path] = server.fetches.get(self.path, 0) + 1
                    server.fetched.notify_all()
                body = json.dumps(doc).encode() if doc is not None else b"not found"
                self.send_response(200 if doc is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_fetches(self, path: str, count: int, timeout: float = 5.0) -> None:
        with self.fetched:
            assert self.fetched.wait_for(lambda: self.fetches.get(path, 0) >= count, timeout), self.fetches

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def token(key: Any, alg: str, kid: str | None = None, **claims: Any) -> str:
    """A JWT of ``claims`` (defaults: sub ann, aud api, iss the test issuer, exp in an hour)."""
    now = int(time.time())
    payload = {"sub": "ann", "aud": "api", "iss": ISSUER, "iat": now, "exp": now + 3600, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid} if kid else None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], sign_with: bytes | None) -> str:
    """A token an attacker writes by hand: ``alg`` as they like, HMAC-SHA256 with
    ``sign_with`` (e.g. a public key's PEM) or no signature at all."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    signature = b"" if sign_with is None else hmac.new(sign_with, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def bearer(tok: str) -> dict[str, str]:
    return {"authorization": f"Bearer {tok}"}


@dataclass
class Served:
    client: httpx.Client
    keys: Keys
    jwks: KeyServer


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    where = tmp_path_factory.mktemp("auth-keys")
    keys = make_keys(where)
    jwks = KeyServer()
    env = {"AUTH_KEY_DIR": str(where), "AUTH_JWKS": jwks.url, "EXAMPLE_JWT_SECRET": EXAMPLE_SECRET,
           "AUTH_JWKS_DOWN": f"http://127.0.0.1:{free_port()}/jwks.json"}
    srv = ServerProcess("auth_app:app", "--threads", "1", env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as client:
            yield Served(client, keys, jwks)
    finally:
        srv.stop()
        jwks.close()
