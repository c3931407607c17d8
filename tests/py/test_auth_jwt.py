"""ringbolt.auth.JWTAuth (docs/auth.md) on a real server: every algorithm verifies, and
every refusal (no token, alg none, algorithm confusion, a tampered or replayed token,
expired, not yet valid, wrong audience or issuer, malformed) is a 401 whose
WWW-Authenticate says why (RFC 6750 §3); a missing scope is a 403."""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, Iterator

import jwt
import pytest

from auth_helpers import EXAMPLE_SECRET, ISSUER, Served, auth_server, b64, bearer, forged, token
from ringbolt import App, HTTPException, Request, Security, SecurityScopes
from ringbolt.auth import JWTAuth, Principal
from ringbolt.testing import TestClient

__all__ = ["auth_server"]  # the module fixture


def challenge(value: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="api", error="x"`` as ("Bearer", {"realm": "api", "error": "x"})."""
    scheme, _, rest = value.partition(" ")
    return scheme, dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))


def refused(served: Served, path: str, tok: str, why: str, status: int = 401) -> dict[str, str]:
    r = served.client.get(path, headers=bearer(tok))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    scheme, params = challenge(r.headers["www-authenticate"])
    assert scheme == "Bearer"
    assert params["error"] == ("invalid_token" if status == 401 else "insufficient_scope")
    assert params["error_description"] == why
    assert r.json()["detail"] == why
    return params


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_algorithms_verify(auth_server: Served, alg: str) -> None:
    r = auth_server.client.get("/jwt/hs", headers=bearer(token(auth_server.keys.secret, alg, scope="a b")))
    assert r.status_code == 200, r.text
    assert r.json() == {"sub": "ann", "scopes": ["a", "b"], "roles": [], "aud": "api"}


@pytest.mark.parametrize("path,key", [("/jwt/rs", "rsa"), ("/jwt/es", "ec"), ("/jwt/ed", "ed")])
def test_public_key_algorithms_verify(auth_server: Served, path: str, key: str) -> None:
    alg = {"rsa": "RS256", "ec": "ES256", "ed": "EdDSA"}[key]
    tok = token(getattr(auth_server.keys, key), alg, roles=["viewer"], scp=["x"])
    r = auth_server.client.get(path, headers=bearer(tok))
    assert r.status_code == 200, r.text
    assert r.json() == {"sub": "ann", "scopes": ["x"], "roles": ["viewer"]}


def test_no_token_is_a_bare_challenge(auth_server: Served) -> None:
    for headers in ({}, {"authorization": "Basic YTpi"}, {"authorization": "Bearer"}):
        r = auth_server.client.get("/jwt/hs", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="api"'  # no error: no credentials were sent
    r = auth_server.client.get("/jwt/rs")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")


def test_auto_error_off_hands_none_but_still_refuses_a_bad_token(auth_server: Served) -> None:
    assert auth_server.client.get("/jwt/optional").json() == {"anonymous": True}
    assert auth_server.client.get("/jwt/optional", headers=bearer(
        token(auth_server.keys.secret, "HS256", aud=None))).json()["sub"] == "ann"
    # a verifier without an audience refuses a token that names one
    refused(auth_server, "/jwt/optional", token(auth_server.keys.secret, "HS256"), "the token is not for this audience")
    refused(auth_server, "/jwt/optional", token(b"x" * 64, "HS256"), "the signature does not verify")


def test_alg_none_is_refused(auth_server: Served) -> None:
    payload = {"sub": "mallory", "aud": "api", "iss": ISSUER, "exp": int(time.time()) + 60}
    for alg in ("none", "None", "NONE"):
        refused(auth_server, "/jwt/hs", forged({"alg": alg, "typ": "JWT"}, payload, None),
                "the token's algorithm is not allowed")


def test_algorithm_confusion_is_refused(auth_server: Served) -> None:
    # the RS256 public key (public, so the attacker has it) used as an HS256 secret
    payload = {"sub": "mallory", "aud": "api", "exp": int(time.time()) + 60}
    tok = forged({"alg": "HS256", "typ": "JWT"}, payload, auth_server.keys.rsa_pub_pem)
    refused(auth_server, "/jwt/rs", tok, "the token's algorithm is not allowed")
    # and a verifier cannot even be configured to allow it
    with pytest.raises(ValueError, match="algorithm-confusion"):
        JWTAuth(key=auth_server.keys.rsa_pub_pem, algorithms=["RS256", "HS256"])
    with pytest.raises(ValueError, match="not a key for HS256"):
        JWTAuth(key=auth_server.keys.rsa_pub_pem, algorithms=["HS256"])


def test_a_token_of_another_allowed_family_does_not_verify(auth_server: Served) -> None:
    refused(auth_server, "/jwt/es", token(auth_server.keys.rsa, "RS256"), "the token's algorithm is not allowed")


def test_tampered_tokens_are_refused(auth_server: Served) -> None:
    tok = token(auth_server.keys.secret, "HS256", scope="items:read")
    head, payload, sig = tok.split(".")
    claims = jwt.decode(tok, options={"verify_signature": False})
    claims["sub"] = "admin"
    refused(auth_server, "/jwt/hs", f"{head}.{b64(json.dumps(claims).encode())}.{sig}",
            "the signature does not verify")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    refused(auth_server, "/jwt/hs", f"{head}.{payload}.{flipped}", "the signature does not verify")
    refused(auth_server, "/jwt/hs", token(b"another-secret-of-sixty-four-bytes".ljust(64, b"!"), "HS256"),
            "the signature does not verify")
    refused(auth_server, "/jwt/rs", token(auth_server.keys.ec, "ES256"), "the token's algorithm is not allowed")


@pytest.mark.parametrize("tok", ["abc", "a.b", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.%%%.x", "a" * 3000])
def test_malformed_tokens_are_refused(auth_server: Served, tok: str) -> None:
    refused(auth_server, "/jwt/hs", tok, "the token is malformed")


def test_expired_and_replayed_after_expiry(auth_server: Served) -> None:
    now = int(time.time())
    refused(auth_server, "/jwt/hs", token(auth_server.keys.secret, "HS256", exp=now - 5), "the token has expired")
    # a token that worked, replayed once it has expired (exp two seconds from a clock read
    # now: the request above may have crossed a second)
    tok = token(auth_server.keys.secret, "HS256", exp=int(time.time()) + 2)
    assert auth_server.client.get("/jwt/hs", headers=bearer(tok)).status_code == 200
    deadline = time.monotonic() + 5
    while auth_server.client.get("/jwt/hs", headers=bearer(tok)).status_code == 200:
        assert time.monotonic() < deadline, "the token never expired"
        time.sleep(0.1)  # waiting for the clock itself: exp is a time
    refused(auth_server, "/jwt/hs", tok, "the token has expired")


UNREACHABLE_TIMES = [
    # (claims, why): a time no clock reaches is not a time (issue 63 item 5: was a 500)
    ({"exp": 10**400}, "the token's exp is not a valid time"),
    ({"exp": 10**20}, "the token's exp is not a valid time"),  # a float, but past the year 9999
    ({"exp": 253402300800}, "the token's exp is not a valid time"),  # 10000-01-01T00:00:00Z
    ({"iat": -10**400}, "the token's iat is not a valid time"),
    ({"nbf": -10**400}, "the token's nbf is not a valid time"),
    ({"nbf": -62135596801}, "the token's nbf is not a valid time"),  # before 0001-01-01
    ({"exp": float("inf")}, "the token is malformed"),  # "Infinity": PyJWT's own refusal
    ({"exp": float("nan")}, "the token is malformed"),
]


@pytest.mark.parametrize("claims, why", UNREACHABLE_TIMES)
def test_a_time_no_clock_reaches_is_refused(auth_server: Served, claims: dict[str, Any], why: str) -> None:
    tok = token(auth_server.keys.secret, "HS256", **claims)
    refused(auth_server, "/jwt/hs", tok, why)
    refused(auth_server, "/jwt/hs", tok, why)  # and never kept
    auth = JWTAuth(key=auth_server.keys.secret, algorithms=["HS256"], audience="api")
    with pytest.raises(HTTPException) as raised:
        auth.principal(tok)
    assert (raised.value.status_code, raised.value.detail) == (401, why)
    assert auth._verified == {}


def test_the_last_second_of_year_9999_is_a_valid_exp(auth_server: Served) -> None:
    tok = token(auth_server.keys.secret, "HS256", exp=253402300799, nbf=-62135596800)
    assert auth_server.client.get("/jwt/hs", headers=bearer(tok)).status_code == 200


def test_not_yet_valid(auth_server: Served) -> None:
    now = int(time.time())
    refused(auth_server, "/jwt/hs", token(auth_server.keys.secret, "HS256", nbf=now + 60), "the token is not valid yet")
    refused(auth_server, "/jwt/hs", token(auth_server.keys.secret, "HS256", iat=now + 60), "the token is not valid yet")


def test_leeway(auth_server: Served) -> None:
    now = int(time.time())
    ok = auth_server.client.get("/jwt/lenient", headers=bearer(token(auth_server.keys.secret, "HS256", exp=now - 10,
                                                                      nbf=now + 10, aud=None)))
    assert ok.status_code == 200, ok.text
    refused(auth_server, "/jwt/lenient", token(auth_server.keys.secret, "HS256", exp=now - 60, aud=None),
            "the token has expired")


def test_audience_and_issuer(auth_server: Served) -> None:
    s = auth_server.keys.secret
    refused(auth_server, "/jwt/hs", token(s, "HS256", aud="other"), "the token is not for this audience")
    refused(auth_server, "/jwt/hs", token(s, "HS256", aud=None), "the token has no aud claim")
    refused(auth_server, "/jwt/hs", token(s, "HS256", iss="https://evil.test"), "the token's issuer is not trusted")
    refused(auth_server, "/jwt/hs", token(s, "HS256", iss=None), "the token has no iss claim")
    assert auth_server.client.get("/jwt/hs", headers=bearer(token(s, "HS256", aud=["x", "api"]))).status_code == 200


def test_required_claims(auth_server: Served) -> None:
    s = auth_server.keys.secret
    refused(auth_server, "/jwt/hs", token(s, "HS256", exp=None), "the token has no exp claim")
    refused(auth_server, "/jwt/hs", token(s, "HS256", sub=None), "the token has no sub claim")
    refused(auth_server, "/jwt/hs", token(s, "HS256", iat="yesterday"), "the token's iat is not a number")


def test_missing_scope_is_403(auth_server: Served) -> None:
    s = auth_server.keys.secret
    ok = auth_server.client.get("/scoped", headers=bearer(token(s, "HS256", scope="items:read items:list x")))
    assert ok.status_code == 200, ok.text
    params = refused(auth_server, "/scoped", token(s, "HS256", scope="items:read"),
                     "the token lacks a required scope", 403)
    assert params["scope"] == "items:read items:list"
    assert params["realm"] == "api"


def test_a_kept_token_is_answered_natively_and_its_scopes_still_checked(auth_server: Served) -> None:
    s = auth_server.keys.secret
    hits = auth_server.client.get("/jwt/kept").json()["hits"]
    tok = token(s, "HS256", sub="kept-user", scope="items:read")
    for _ in range(3):
        r = auth_server.client.get("/jwt/hs", headers=bearer(tok))
        assert r.status_code == 200 and r.json()["sub"] == "kept-user", r.text
    assert auth_server.client.get("/jwt/kept").json()["hits"] == hits + 2  # verified once, then kept
    # the same kept token on a route with scopes: checked each time (403), never answered as kept
    for _ in range(2):
        refused(auth_server, "/scoped", tok, "the token lacks a required scope", 403)
    # a token one byte away from the kept one is verified in full
    refused(auth_server, "/jwt/hs", tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB"), "the signature does not verify")
    # the header's other spellings go through the Python path, same answer
    r = auth_server.client.get("/jwt/hs", headers={"authorization": "bearer  " + tok})
    assert r.status_code == 200 and r.json()["sub"] == "kept-user", r.text
    assert auth_server.client.get("/jwt/kept").json()["hits"] == hits + 2


def test_the_example_me_contract(auth_server: Served) -> None:
    good = jwt.encode({"sub": "ann", "aud": "example", "exp": int(time.time()) + 60}, EXAMPLE_SECRET, "HS256")
    r = auth_server.client.get("/me", headers=bearer(good))
    assert (r.status_code, r.json()) == (200, {"sub": "ann"})
    r = auth_server.client.get("/me")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    other = jwt.encode({"sub": "ann", "aud": "api", "exp": int(time.time()) + 60}, EXAMPLE_SECRET, "HS256")
    assert refused(auth_server, "/me", other, "the token is not for this audience")
    no_sub = jwt.encode({"aud": "example", "exp": int(time.time()) + 60}, EXAMPLE_SECRET, "HS256")
    refused(auth_server, "/me", no_sub, "the token has no sub claim")
    forged_key = jwt.encode({"sub": "ann", "aud": "example", "exp": int(time.time()) + 60}, "x" * 32, "HS256")
    refused(auth_server, "/me", forged_key, "the signature does not verify")


def test_without_pyjwt_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'ringbolt[auth]'")):
        JWTAuth(key="s" * 32, algorithms=["HS256"])


def test_configuration_errors_are_said() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": "s" * 32, "algorithms": "HS256"}, "non-empty list"),
        ({"key": "s" * 32, "algorithms": []}, "non-empty list"),
        ({"key": "s" * 32, "algorithms": ["none"]}, "unsupported JWT algorithm 'none'"),
        ({"key": "s" * 32, "algorithms": ["HS256"], "jwks_url": "https://x.test/jwks"}, "one of them"),
        ({"algorithms": ["HS256"]}, "one of them"),
        ({"key": "short", "algorithms": ["HS256"]}, "at least 32 bytes"),
        ({"key": "s" * 32, "algorithms": ["HS512"]}, "at least 64 bytes"),
        ({"jwks_url": "https://x.test/jwks", "algorithms": ["HS256"]}, "HS256 takes a key= secret"),
        ({"jwks_url": "file:///etc/passwd", "algorithms": ["RS256"]}, "http\\(s\\) URL"),
        ({"key": "s" * 32, "algorithms": ["HS256"], "leeway": -1}, "leeway"),
        ({"key": "s" * 32, "algorithms": ["HS256"], "cache_size": -1}, "cache_size"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            JWTAuth(**kwargs)


def test_verified_tokens_are_kept_within_the_cache_size(auth_server: Served) -> None:
    auth = JWTAuth(key=auth_server.keys.secret, algorithms=["HS256"], audience="api", cache_size=2)
    tokens = [token(auth_server.keys.secret, "HS256", sub=f"u{i}") for i in range(3)]
    first = auth.principal(tokens[0])
    assert auth.principal(tokens[0]) is first  # kept: not verified again
    for tok in tokens[1:]:
        auth.principal(tok)
    assert len(auth._verified) == 2 and tokens[0] not in auth._verified  # the oldest went
    assert auth.principal(tokens[0]) is not first and auth.principal(tokens[0]).subject == "u0"
    uncached = JWTAuth(key=auth_server.keys.secret, algorithms=["HS256"], audience="api", cache_size=0)
    assert uncached.principal(tokens[0]) is not uncached.principal(tokens[0])


# ---- a subclass's own checks run for kept tokens too (issue 63 item 3) ----

class _RevokesInVerify(JWTAuth):
    def __init__(self, revoked: set[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.revoked = revoked

    def verify(self, token: str) -> dict[str, Any]:
        claims = super().verify(token)
        if claims.get("jti") in self.revoked:
            raise self.unauthorized("the token is revoked")
        return claims


class _RevokesInPrincipal(JWTAuth):
    def __init__(self, revoked: set[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.revoked = revoked

    def principal(self, token: str) -> Principal:
        who = super().principal(token)
        if who.get("jti") in self.revoked:
            raise self.unauthorized("the token is revoked")
        return who


class _RevokesInCall(JWTAuth):
    def __init__(self, revoked: set[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.revoked = revoked

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal | None:
        who = super().__call__(request, security_scopes)
        if who is not None and who.get("jti") in self.revoked:
            raise self.unauthorized("the token is revoked")
        return who


SUBCLASSES = [_RevokesInVerify, _RevokesInPrincipal, _RevokesInCall]


@pytest.fixture(scope="module")
def revoking(auth_server: Served) -> Iterator[tuple[TestClient, set[str]]]:
    """An app whose verifiers refuse revoked ``jti``s, one per way of overriding."""
    revoked: set[str] = set()
    app = App()
    for cls in SUBCLASSES:
        auth = cls(revoked, key=auth_server.keys.secret, algorithms=["HS256"], audience="api")
        name = cls.__name__.lstrip("_")

        def who(user: Principal) -> dict[str, Any]:
            return {"sub": user.subject, "jti": user["jti"]}

        # (markers as defaults: this module's annotations are strings, read after the loop)
        def plain(user: Principal = Security(auth)) -> dict[str, Any]:
            return who(user)

        def scoped(user: Principal = Security(auth, scopes=["s"])) -> dict[str, Any]:
            return who(user)

        app.get(f"/{name}")(plain)
        app.get(f"/{name}/scoped")(scoped)

    @app.post("/revoke/{jti}")
    def revoke(req: Request) -> None:
        revoked.add(req.params["jti"])

    with TestClient(app) as client:
        yield client, revoked


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("route, spelling", [("", "Bearer "), ("/scoped", "Bearer "), ("", "bearer ")])
def test_a_subclass_refuses_a_revoked_token_that_was_kept(revoking: tuple[TestClient, set[str]], auth_server: Served,
                                                           cls: type, route: str, spelling: str) -> None:
    client, _ = revoking
    path = f"/{cls.__name__.lstrip('_')}{route}"
    jti = f"{cls.__name__}{route}{spelling}".replace("/", "-").replace(" ", "")
    tok = token(auth_server.keys.secret, "HS256", jti=jti, scope="s")
    for _ in range(3):  # verified, then kept
        r = client.get(path, headers={"authorization": spelling + tok})
        assert (r.status_code, r.json()) == (200, {"sub": "ann", "jti": jti}), r.text
    assert client.post(f"/revoke/{jti}").status_code == 204
    for _ in range(2):
        r = client.get(path, headers={"authorization": spelling + tok})
        assert r.status_code == 401, r.text
        assert r.json()["detail"] == "the token is revoked"
        assert challenge(r.headers["www-authenticate"])[1]["error_description"] == "the token is revoked"
