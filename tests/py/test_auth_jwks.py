"""ringbolt.auth.JWTAuth with jwks_url (docs/auth.md, "Keys from a JWKS URL") against a
key server the test runs: keys picked by kid, a rotation picked up by one refetch, a
flood of unknown kids refetching at most once per interval, removed keys dropped after
the TTL, and an unreachable key server answered 503."""

from __future__ import annotations

import secrets
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auth_helpers import Served, auth_server, bearer, forged, jwk, token
from ringbolt.security.jwks import MAX_JWKS_BYTES, JWKSUnavailable, KeySet
from test_auth_jwt import refused

__all__ = ["auth_server"]  # the module fixture


def test_rotation_is_picked_up_by_one_refetch(auth_server: Served) -> None:
    old, new = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    curve = ec.generate_private_key(ec.SECP256R1())
    jwks, get = auth_server.jwks, auth_server.client.get
    jwks.documents["/rot"] = {"keys": [jwk(old, "old", "RS256")]}
    r = get("/jwks/rot", headers=bearer(token(old, "RS256", kid="old", scope="s")))
    assert r.status_code == 200, r.text
    assert r.json()["scopes"] == ["s"]
    assert jwks.fetches["/rot"] == 1
    assert get("/jwks/rot", headers=bearer(token(old, "RS256", kid="old"))).status_code == 200
    assert jwks.fetches["/rot"] == 1  # cached

    # the issuer rotates: a new RSA key, an EC key without "alg", the old key gone
    jwks.documents["/rot"] = {"keys": [jwk(new, "new", "RS256"), jwk(curve, "ec"), {"kty": "oct", "k": "c2VjcmV0"}]}
    assert get("/jwks/rot", headers=bearer(token(new, "RS256", kid="new"))).status_code == 200
    assert jwks.fetches["/rot"] == 2  # one refetch for the unknown kid
    assert get("/jwks/rot", headers=bearer(token(curve, "ES256", kid="ec"))).status_code == 200
    # the old kid is gone now, and a second unknown kid within the interval fetches nothing
    refused(auth_server, "/jwks/rot", token(old, "RS256", kid="old"), "no key of the key set has this token's kid")
    # a token naming the new kid but signed by the old key
    refused(auth_server, "/jwks/rot", token(old, "RS256", kid="new"), "the signature does not verify")
    # the EC key under RS256, and HS256 with the oct key of the set: not allowed
    refused(auth_server, "/jwks/rot", token(curve, "ES256", kid="new"), "no key of the key set has this token's kid")
    refused(auth_server, "/jwks/rot", forged({"alg": "HS256", "kid": "new"}, {"sub": "x"}, b"secret"),
            "the token's algorithm is not allowed")
    refused(auth_server, "/jwks/rot", forged({"alg": "none", "kid": "new"}, {"sub": "x"}, None),
            "the token's algorithm is not allowed")
    assert jwks.fetches["/rot"] == 2


def test_a_flood_of_unknown_kids_fetches_once(auth_server: Served) -> None:
    key = rsa.generate_private_key(65537, 2048)
    jwks = auth_server.jwks
    jwks.documents["/flood"] = {"keys": [jwk(key, "k1", "RS256")]}
    for _ in range(50):
        refused(auth_server, "/jwks/flood", token(key, "RS256", kid=secrets.token_hex(8)),
                "no key of the key set has this token's kid")
    assert jwks.fetches["/flood"] == 2  # the first use, then one refetch: not one per bogus kid
    assert auth_server.client.get("/jwks/flood", headers=bearer(token(key, "RS256", kid="k1"))).status_code == 200
    # a token without kid: the set's one RS256 key
    assert auth_server.client.get("/jwks/flood", headers=bearer(token(key, "RS256"))).status_code == 200
    assert jwks.fetches["/flood"] == 2


def test_a_removed_key_stops_verifying_after_the_ttl(auth_server: Served) -> None:
    a, b = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    jwks, get = auth_server.jwks, auth_server.client.get
    jwks.documents["/ttl"] = {"keys": [jwk(a, "a", "RS256")]}
    tok = token(a, "RS256", kid="a")
    assert get("/jwks/ttl", headers=bearer(tok)).status_code == 200
    jwks.documents["/ttl"] = {"keys": [jwk(b, "b", "RS256")]}
    # the key set lives 0.2 s: a request after it refreshes it in the background while the
    # old keys still answer, so the old token keeps working until the new set is in
    deadline = time.monotonic() + 5
    while get("/jwks/ttl", headers=bearer(tok)).status_code == 200:
        assert time.monotonic() < deadline, jwks.fetches
        time.sleep(0.05)  # the TTL is a time: nothing else to wait on
    assert jwks.fetches["/ttl"] >= 2
    assert get("/jwks/ttl", headers=bearer(token(b, "RS256", kid="b"))).status_code == 200


def test_an_unreachable_key_server_is_503(auth_server: Served) -> None:
    key = rsa.generate_private_key(65537, 2048)
    for _ in range(2):
        r = auth_server.client.get("/jwks/down", headers=bearer(token(key, "RS256", kid="k")))
        assert r.status_code == 503, r.text
        assert r.json()["detail"] == "the signing keys could not be fetched"
        assert int(r.headers["retry-after"]) >= 1
    # a malformed token is refused before any fetch
    refused(auth_server, "/jwks/down", "not.a.jwt", "the token is malformed")


def test_a_bad_key_set_is_never_taken(auth_server: Served) -> None:
    key = rsa.generate_private_key(65537, 2048)
    jwks = auth_server.jwks
    keys = KeySet(jwks.url + "/bad", ["RS256"], ttl=300, refetch_interval=0, timeout=5)
    for document in ("not a key set", {"keys": "no list"}, "x" * (MAX_JWKS_BYTES + 10)):
        jwks.documents["/bad"] = document
        with pytest.raises(JWKSUnavailable):
            keys.key("k", "RS256")
    del jwks.documents["/bad"]  # a 404
    with pytest.raises(JWKSUnavailable):
        keys.key("k", "RS256")
    assert jwks.fetches["/bad"] == 4
    # keys that do not load, are for encryption or of another type are left out, the rest taken
    broken = {**jwk(key, "k", "RS256"), "n": "!!"}
    jwks.documents["/bad"] = {"keys": [broken, {**jwk(key, "enc"), "use": "enc"}, jwk(key, "ok")]}
    assert keys.key("k", "RS256") is None and keys.key("enc", "RS256") is None
    assert keys.key("ok", "RS256") is not None and keys.key("ok", "RS512") is None
    # a good set then a bad one: the good keys stay
    jwks.documents["/bad"] = "garbage"
    assert keys.key("unknown", "RS256") is None  # refetched, failed
    assert keys.key("ok", "RS256") is not None
