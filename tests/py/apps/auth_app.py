"""The app of tests/py/test_auth*.py: ringbolt.auth's verifiers on typed routes. The keys
are read from the files tests/py/test_auth.py writes in AUTH_KEY_DIR; the JWKS routes
fetch from the key server it starts at AUTH_JWKS (a base URL)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from ringbolt import App, Depends, Request, Router, Security
from ringbolt.auth import APIKeyAuth, BasicAuth, JWTAuth, Principal, has_role, requires

KEYS = Path(os.environ["AUTH_KEY_DIR"])
JWKS = os.environ["AUTH_JWKS"]
SECRET = (KEYS / "hs.secret").read_bytes()
ISSUER = "https://issuer.test"


def _pem(name: str) -> bytes:
    return (KEYS / name).read_bytes()


hs = JWTAuth(key=SECRET, algorithms=["HS256", "HS384", "HS512"], audience="api", issuer=ISSUER, realm="api",
             require=["exp", "sub"])
rs = JWTAuth(key=_pem("rsa.pub.pem"), algorithms=["RS256"], audience="api", scheme_name="RSA")
es = JWTAuth(key=_pem("ec.pub.pem"), algorithms=["ES256"], audience="api", scheme_name="EC")
ed = JWTAuth(key=_pem("ed.key.pem"), algorithms=["EdDSA"], audience="api", scheme_name="Ed")  # a private key: its public half
lenient = JWTAuth(key=SECRET, algorithms=["HS256"], leeway=30, scheme_name="Lenient")
optional = JWTAuth(key=SECRET, algorithms=["HS256"], auto_error=False, scheme_name="Optional")
nested_roles = JWTAuth(key=SECRET, algorithms=["HS256"], roles_claim="realm_access.roles", scheme_name="Nested")
rotating = JWTAuth(jwks_url=JWKS + "/rot", algorithms=["RS256", "ES256"], audience="api", scheme_name="Rot")
flooded = JWTAuth(jwks_url=JWKS + "/flood", algorithms=["RS256"], audience="api", scheme_name="Flood")
expiring = JWTAuth(jwks_url=JWKS + "/ttl", algorithms=["RS256"], audience="api", jwks_ttl=0.2, scheme_name="TTL")
unreachable = JWTAuth(jwks_url=os.environ["AUTH_JWKS_DOWN"], algorithms=["RS256"], jwks_timeout=2,
                      scheme_name="Down")
example = JWTAuth(key=os.environ["EXAMPLE_JWT_SECRET"], algorithms=["HS256"], audience="example",
                  require=["exp", "sub"], scheme_name="ExampleBearer")

KEYS_TABLE = {"k-reader": Principal("reader", scopes=["items:read"]), "k-plain": "plain"}
in_header = APIKeyAuth("X-API-Key", keys=KEYS_TABLE)
in_query = APIKeyAuth("api_key", location="query", keys=KEYS_TABLE, scheme_name="QueryKey")
in_cookie = APIKeyAuth("session_key", location="cookie", keys={"k-cookie"}, realm="shop", scheme_name="CookieKey")
by_callable = APIKeyAuth("X-Key", keys=lambda k: "caller" if k.startswith("good-") else None,
                         scheme_name="CallableKey")
basic = BasicAuth(users={"ann": "s3cret", "bob": "h\u00e9llo"}, realm="shop")
basic_verify = BasicAuth(verify=lambda u, p: Principal(u, roles=["admin"]) if p == u[::-1] else None,
                         realm="verify", scheme_name="BasicVerify")

app = App(title="auth")


def shown(p: Principal | None) -> dict[str, Any]:
    if p is None:
        return {"anonymous": True}
    return {"sub": p.subject, "scopes": sorted(p.scopes), "roles": sorted(p.roles)}


@app.get("/jwt/hs")
def r_hs(user: Annotated[Principal, Security(hs)]) -> dict[str, Any]:
    return {**shown(user), "aud": user["aud"]}


@app.get("/jwt/rs")
def r_rs(user: Annotated[Principal, Security(rs)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwt/es")
def r_es(user: Annotated[Principal, Security(es)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwt/ed")
def r_ed(user: Annotated[Principal, Security(ed)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwt/lenient")
def r_lenient(user: Annotated[Principal, Security(lenient)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwt/optional")
def r_optional(user: Annotated[Principal | None, Security(optional)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwt/nested")
def r_nested(user: Annotated[Principal, Depends(nested_roles.require(has_role("admin")))]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwt/kept")
def r_kept(req) -> dict[str, Any]:  # requests JWTAuth answered natively from a kept token (_native.KeptBearer)
    return {"hits": hs.__dict__["_rb_fast_call"].hits}


@app.get("/scoped")
def r_scoped(user: Annotated[Principal, Security(hs, scopes=["items:read", "items:list"])]) -> dict[str, Any]:
    return shown(user)


@app.get("/either")
def r_either(user: Annotated[Principal, Security(hs.require(requires("items:read") | has_role("admin")))]
             ) -> dict[str, Any]:
    return shown(user)


@app.get("/both")
def r_both(user: Annotated[Principal, Depends(hs.require(requires("items:write") & has_role("editor")))]
           ) -> dict[str, Any]:
    return shown(user)


@app.get("/option", dependencies=[Security(hs, scopes=["items:read"])])
def r_option(req: Request) -> dict[str, Any]:
    return {"path": req.path}


admin = Router(prefix="/admin", dependencies=[Depends(hs.require(has_role("admin")))])


@admin.get("/stats")
def r_stats(req: Request) -> dict[str, Any]:
    return {"stats": 1}


app.include(admin)


@app.get("/jwks/rot")
def r_rot(user: Annotated[Principal, Security(rotating)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwks/flood")
def r_flood(user: Annotated[Principal, Security(flooded)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwks/ttl")
def r_ttl(user: Annotated[Principal, Security(expiring)]) -> dict[str, Any]:
    return shown(user)


@app.get("/jwks/down")
def r_down(user: Annotated[Principal, Security(unreachable)]) -> dict[str, Any]:
    return shown(user)


@app.get("/key/header")
def r_key_header(who: Annotated[Principal, Security(in_header)]) -> dict[str, Any]:
    return shown(who)


@app.get("/key/header/scoped")
def r_key_scoped(who: Annotated[Principal, Security(in_header, scopes=["items:read"])]) -> dict[str, Any]:
    return shown(who)


@app.get("/key/query")
def r_key_query(who: Annotated[Principal, Security(in_query)]) -> dict[str, Any]:
    return shown(who)


@app.get("/key/cookie")
def r_key_cookie(who: Annotated[Principal, Security(in_cookie)]) -> dict[str, Any]:
    return shown(who)


@app.get("/key/callable")
def r_key_callable(who: Annotated[Principal, Security(by_callable)]) -> dict[str, Any]:
    return shown(who)


@app.get("/basic")
def r_basic(who: Annotated[Principal, Security(basic)]) -> dict[str, Any]:
    return shown(who)


@app.get("/basic/admin")
def r_basic_admin(who: Annotated[Principal, Depends(basic_verify.require(has_role("admin")))]) -> dict[str, Any]:
    return shown(who)


@app.get("/me")
def me(user: Annotated[Principal, Security(example)]) -> dict[str, Any]:
    return {"sub": user.subject}
