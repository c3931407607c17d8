"""ringbolt.auth's API keys (header, query, cookie, a callable), HTTP Basic, scopes and
roles composed with & and |, the verifiers as a route's and a router's dependencies,
and what the OpenAPI document says of them (docs/auth.md)."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest
from openapi_spec_validator import validate

import h3_client
from auth_helpers import Served, auth_server, bearer, token
from h2_tls_helpers import Client as H2Client
from h2_tls_helpers import certs
from ringbolt import App, Depends, Security
from ringbolt.auth import APIKeyAuth, BasicAuth, JWTAuth, Principal, compare_secret, has_role, requires
from ringbolt.security import APIKeyHeader, HTTPBasic, HTTPBearer, OAuth2PasswordBearer
from ringbolt.testing import TestClient

__all__ = ["auth_server", "certs"]  # the module fixtures


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


KEY_CASES: list[tuple[str, dict[str, Any], int, Any]] = [
    # path, request options, status, body (or the 401/403 detail)
    ("/key/header", {"headers": {"x-api-key": "k-plain"}}, 200, {"sub": "plain", "scopes": [], "roles": []}),
    ("/key/header", {"headers": {"X-API-KEY": "k-reader"}}, 200, {"sub": "reader", "scopes": ["items:read"],
                                                                 "roles": []}),
    ("/key/header", {"headers": {"x-api-key": "k-plai"}}, 401, "the API key is not valid"),
    ("/key/header", {"headers": {"x-api-key": "k-plainX"}}, 401, "the API key is not valid"),
    ("/key/header", {"params": {"X-API-Key": "k-plain"}}, 401, "Not authenticated"),
    ("/key/header", {}, 401, "Not authenticated"),
    ("/key/header/scoped", {"headers": {"x-api-key": "k-reader"}}, 200, {"sub": "reader", "scopes": ["items:read"],
                                                                        "roles": []}),
    ("/key/header/scoped", {"headers": {"x-api-key": "k-plain"}}, 403, "the credentials lack a required scope"),
    ("/key/query", {"params": {"api_key": "k-plain"}}, 200, {"sub": "plain", "scopes": [], "roles": []}),
    ("/key/query", {"params": {"api_key": "nope"}}, 401, "the API key is not valid"),
    ("/key/query", {"headers": {"api_key": "k-plain"}}, 401, "Not authenticated"),
    ("/key/cookie", {"cookies": {"session_key": "k-cookie"}}, 200, {"sub": None, "scopes": [], "roles": []}),
    ("/key/cookie", {"cookies": {"session_key": "k-plain"}}, 401, "the API key is not valid"),
    ("/key/cookie", {}, 401, "Not authenticated"),
    ("/key/callable", {"headers": {"x-key": "good-1"}}, 200, {"sub": "caller", "scopes": [], "roles": []}),
    ("/key/callable", {"headers": {"x-key": "bad-1"}}, 401, "the API key is not valid"),
]


@pytest.mark.parametrize("path,options,status,expected", KEY_CASES)
def test_api_keys(auth_server: Served, path: str, options: dict[str, Any], status: int, expected: Any) -> None:
    cookies = options.pop("cookies", None)
    headers = dict(options.pop("headers", {}))
    if cookies:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    r = auth_server.client.get(path, headers=headers, **options)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == expected
        return
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == expected
    if status == 401:
        assert r.headers["www-authenticate"] == ('APIKey realm="shop"' if path == "/key/cookie" else "APIKey")
    else:
        assert "www-authenticate" not in r.headers


BASIC_CASES: list[tuple[str, dict[str, str], int, Any]] = [
    ("/basic", basic("ann", "s3cret"), 200, {"sub": "ann", "scopes": [], "roles": []}),
    ("/basic", basic("bob", "h\u00e9llo"), 200, {"sub": "bob", "scopes": [], "roles": []}),
    ("/basic", basic("ann", "s3cre"), 401, "wrong user name or password"),
    ("/basic", basic("ann", "s3cret "), 401, "wrong user name or password"),
    ("/basic", basic("eve", "s3cret"), 401, "wrong user name or password"),
    ("/basic", basic("ann", ""), 401, "wrong user name or password"),
    ("/basic", {"authorization": "Basic !!!"}, 401, "the Basic credentials are not base64 of user:password"),
    ("/basic", {"authorization": "Basic " + base64.b64encode(b"ann").decode()}, 401,
     "the Basic credentials are not base64 of user:password"),
    ("/basic", {"authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}, 401,
     "the Basic credentials are not base64 of user:password"),
    ("/basic", {"authorization": "Bearer x"}, 401, "Not authenticated"),
    ("/basic", {}, 401, "Not authenticated"),
    ("/basic/admin", basic("anna", "anna"), 200, {"sub": "anna", "scopes": [], "roles": ["admin"]}),
    ("/basic/admin", basic("anna", "ann"), 401, "wrong user name or password"),
]


@pytest.mark.parametrize("path,headers,status,expected", BASIC_CASES)
def test_basic(auth_server: Served, path: str, headers: dict[str, str], status: int, expected: Any) -> None:
    r = auth_server.client.get(path, headers=headers)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == expected
        return
    assert r.json()["detail"] == expected
    realm = "verify" if path == "/basic/admin" else "shop"
    assert r.headers["www-authenticate"] == f'Basic realm="{realm}", charset="UTF-8"'


GUARD_CASES: list[tuple[str, dict[str, Any], int]] = [
    # path, claims, status: /either needs scope items:read OR role admin;
    # /both needs scope items:write AND role editor; /admin/* (a Router's dependency) role admin;
    # /option (a route's dependencies=) scope items:read; /jwt/nested reads realm_access.roles
    ("/either", {"scope": "items:read"}, 200),
    ("/either", {"roles": ["admin"]}, 200),
    ("/either", {"scope": "items:write", "roles": ["editor"]}, 403),
    ("/either", {}, 403),
    ("/both", {"scope": "items:write", "roles": ["editor"]}, 200),
    ("/both", {"scope": "items:write"}, 403),
    ("/both", {"roles": "editor"}, 403),
    ("/both", {"scp": ["items:write"], "roles": "editor viewer"}, 200),
    ("/admin/stats", {"roles": ["admin"]}, 200),
    ("/admin/stats", {"roles": ["user"], "scope": "admin"}, 403),
    ("/option", {"scope": "items:read"}, 200),
    ("/option", {"scope": "items:list"}, 403),
    ("/jwt/nested", {"realm_access": {"roles": ["admin"]}, "aud": None}, 200),
    ("/jwt/nested", {"roles": ["admin"], "aud": None}, 403),
    ("/jwt/nested", {"realm_access": "admin", "aud": None}, 403),
]


@pytest.mark.parametrize("path,claims,status", GUARD_CASES)
def test_scopes_and_roles(auth_server: Served, path: str, claims: dict[str, Any], status: int) -> None:
    r = auth_server.client.get(path, headers=bearer(token(auth_server.keys.secret, "HS256", **claims)))
    assert r.status_code == status, r.text
    if status == 403:
        assert r.headers["www-authenticate"].startswith("Bearer ")
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
        detail = r.json()["detail"]
        assert detail == {"/either": "requires scope items:read or role admin",
                          "/both": "requires scope items:write and role editor",
                          "/admin/stats": "requires role admin", "/jwt/nested": "requires role admin",
                          "/option": "the token lacks a required scope"}[path]
        assert f'error_description="{detail}"' in r.headers["www-authenticate"]


def test_guards_need_credentials_first(auth_server: Served) -> None:
    for path in ("/either", "/admin/stats", "/option", "/jwt/nested"):
        r = auth_server.client.get(path)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
    bad = auth_server.client.get("/admin/stats", headers=bearer("x.y.z"))
    assert (bad.status_code, bad.json()["detail"]) == (401, "the token is malformed")


def test_openapi_shows_the_schemes_and_refusals(auth_server: Served) -> None:
    doc = auth_server.client.get("/openapi.json").json()
    validate(doc)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["JWTAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["APIKeyAuth"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["QueryKey"] == {"type": "apiKey", "in": "query", "name": "api_key"}
    assert schemes["CookieKey"] == {"type": "apiKey", "in": "cookie", "name": "session_key"}
    assert schemes["BasicAuth"] == {"type": "http", "scheme": "basic"}
    paths = doc["paths"]
    assert paths["/scoped"]["get"]["security"] == [{"JWTAuth": ["items:read", "items:list"]}]
    assert paths["/either"]["get"]["security"] == [{"JWTAuth": ["items:read"]}, {"JWTAuth": ["admin"]}]
    assert paths["/both"]["get"]["security"] == [{"JWTAuth": ["items:write", "editor"]}]
    assert paths["/admin/stats"]["get"]["security"] == [{"JWTAuth": ["admin"]}]
    assert paths["/option"]["get"]["security"] == [{"JWTAuth": ["items:read"]}]
    assert paths["/me"]["get"]["security"] == [{"ExampleBearer": []}]
    for path in ("/scoped", "/either", "/key/query", "/basic", "/me"):
        responses = paths[path]["get"]["responses"]
        assert {"200", "401", "403"} <= set(responses), (path, responses)
        assert "application/problem+json" in responses["401"]["content"]


def test_requirements_compose() -> None:
    p = Principal("x", scopes=["a", "b"], roles=["r"])
    assert (requires("a") & has_role("r")).allows(p)
    assert not (requires("a", "c") | has_role("s")).allows(p)
    assert ((requires("c") | requires("b")) & (has_role("s") | has_role("r"))).allows(p)
    assert ((requires("c") | requires("b")) & has_role("r")).alternatives() == [("c", "r"), ("b", "r")]
    assert ((requires("c") | requires("b")) & has_role("r", "s")).describe() == "(scope c or scope b) and role r and role s"
    assert (requires("a", "b") | has_role("r")).describe() == "(scope a and scope b) or role r"
    for bad in ("a b", 'a"b', "a\\b", "caf\u00e9", ""):
        with pytest.raises(ValueError, match="without spaces"):
            requires(bad)
    with pytest.raises(ValueError, match="one or more"):
        has_role()
    with pytest.raises(TypeError, match="requires"):
        requires("a") | "admin"  # type: ignore[operator]


def test_helpers_and_configuration_errors() -> None:
    assert compare_secret("s3cret", b"s3cret") and not compare_secret("s3cret", "s3cre")
    assert compare_secret("h\u00e9", "h\u00e9".encode())
    with pytest.raises(ValueError, match="'header', 'query' or 'cookie'"):
        APIKeyAuth("k", keys={"a"}, location="body")
    with pytest.raises(ValueError, match="non-empty strings"):
        APIKeyAuth("k", keys={""})
    with pytest.raises(ValueError, match="one of them"):
        BasicAuth()
    with pytest.raises(ValueError, match="one of them"):
        BasicAuth(users={}, verify=lambda u, p: True)


# ---- two Authorization fields (issue 63 item 7) ----

_SECRET = b"k" * 64


def _repeated_app() -> App:
    """Every reader of ``Authorization``, each on a route of its own."""
    app = App()
    kept = JWTAuth(key=_SECRET, algorithms=["HS256"], audience="api", scheme_name="Kept")
    readers: dict[str, Any] = {
        "jwt": Security(kept),
        "jwt-scoped": Security(kept, scopes=["s"]),
        "http-bearer": Depends(HTTPBearer()),
        "http-basic": Depends(HTTPBasic()),
        "oauth2": Depends(OAuth2PasswordBearer(tokenUrl="/token")),
        "api-key-header": Depends(APIKeyHeader(name="Authorization")),
        "basic-auth": Depends(BasicAuth(users={"ann": "pw"})),
        "api-key-auth": Depends(APIKeyAuth("Authorization", keys={"Bearer a", "Basic YW5uOnB3"})),
    }
    for name, marker in readers.items():
        def read(who: Any = marker) -> dict[str, str]:
            return {"read": type(who).__name__}
        app.get(f"/{name}")(read)
    return app


def _credentials() -> dict[str, tuple[str, str]]:
    good = token(_SECRET, "HS256", scope="s")
    other = token(b"o" * 64, "HS256", sub="eve", scope="s")
    basic_ann = "Basic " + base64.b64encode(b"ann:pw").decode()
    basic_eve = "Basic " + base64.b64encode(b"eve:x").decode()
    jwt_pair = ("Bearer " + good, "Bearer " + other)
    return {"jwt": jwt_pair, "jwt-scoped": jwt_pair, "http-bearer": ("Bearer a", "Bearer b"),
            "http-basic": (basic_ann, basic_eve), "oauth2": ("Bearer a", "Bearer b"),
            "api-key-header": ("Bearer a", "Bearer b"), "basic-auth": (basic_ann, basic_eve),
            "api-key-auth": ("Bearer a", "Basic eA==")}


@pytest.fixture(scope="module")
def repeated() -> Iterator[TestClient]:
    with TestClient(_repeated_app()) as client:
        yield client


@pytest.fixture(scope="module")
def repeated_h3(certs: Path) -> Iterator[TestClient]:
    """The same app over TLS with HTTP/3 on the UDP port of the same number."""
    with TestClient(_repeated_app(), ssl_certfile=str(certs / "server.crt"), ssl_keyfile=str(certs / "server.key"),
                    http3=True) as client:
        yield client


def _served(request: pytest.FixtureRequest, protocol: str) -> TestClient:
    client: TestClient = request.getfixturevalue("repeated_h3" if protocol == "h3" else "repeated")
    return client


class _Address:
    def __init__(self, port: int) -> None:
        self.port = port

    def connect(self, timeout: float = 20) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


def _send(client: TestClient, protocol: str, path: str, fields: list[str]) -> tuple[int, dict[str, Any]]:
    if protocol == "h3":
        r3 = h3_client.get(client.port, path, headers=[("authorization", f) for f in fields])
        return r3.status, json.loads(r3.body)
    if protocol == "h2":
        with H2Client(_Address(client.port)) as h2c:
            r = h2c.get(path, headers=[("authorization", f) for f in fields])
            return int(r["headers"][":status"]), json.loads(r["body"])
    head = "".join(f"Authorization: {f}\r\n" for f in fields)
    with socket.create_connection(("127.0.0.1", client.port), timeout=20) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{head}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    return int(head_bytes.split(b" ")[1]), json.loads(body)


PROTOCOLS = ["http1", "h2", "h3"]
#: each reader of the Authorization field, over each protocol
READERS = [pytest.param(reader, protocol, id=f"{reader}-{protocol}") for protocol in PROTOCOLS
           for reader in _credentials()]


@pytest.mark.parametrize("reader,protocol", READERS)
def test_one_authorization_field_is_read_by_every_reader(request: pytest.FixtureRequest, reader: str,
                                                         protocol: str) -> None:
    repeated = _served(request, protocol)
    first, _ = _credentials()[reader]
    for _ in range(2):  # a JWT the second time: kept
        status, body = _send(repeated, protocol, f"/{reader}", [first])
        assert status == 200, body


@pytest.mark.parametrize("reader,protocol", READERS)
def test_two_authorization_fields_are_a_400_for_every_reader(request: pytest.FixtureRequest, reader: str,
                                                              protocol: str) -> None:
    repeated = _served(request, protocol)
    good, other = _credentials()[reader]
    _send(repeated, protocol, f"/{reader}", [good])  # the good one kept, where a reader keeps
    for fields in ([good, other], [other, good], [good, good]):
        status, body = _send(repeated, protocol, f"/{reader}", fields)
        assert status == 400, (fields, body)
        assert "Authorization" in body["detail"] and "more than once" in body["detail"], body
