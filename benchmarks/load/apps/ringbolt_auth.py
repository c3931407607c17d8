"""What a bearer JWT check costs a typed GET (docs/auth.md): the same answer with and
without ``Security(jwt_auth)``, HS256, for benchmarks/load/instr_per_request.py:

    GET /open   a typed route with a query parameter, no authentication
    GET /jwt    the same, behind JWTAuth (HS256, audience checked): send
                --header "Authorization: Bearer $(python3 benchmarks/load/apps/ringbolt_auth.py)";
                the same token each request, so after the first it is a verified token kept
    GET /jwt-uncached   the same with cache_size=0: PyJWT verifies every request
    GET /header the same with a dependency that only reads req.headers (what reading
                the Authorization header costs before any verification)
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from ringbolt import App, Request, Security
from ringbolt.auth import JWTAuth, Principal

SECRET = "benchmark-secret-of-at-least-32-bytes"  # a benchmark's, not a deployment's
jwt_auth = JWTAuth(key=SECRET, algorithms=["HS256"], audience="bench")
uncached = JWTAuth(key=SECRET, algorithms=["HS256"], audience="bench", cache_size=0, scheme_name="Uncached")

app = App()


@app.get("/open")
def open_route(limit: int = 10) -> dict[str, Any]:
    return {"sub": "anonymous", "limit": limit}


@app.get("/jwt")
def jwt_route(user: Annotated[Principal, Security(jwt_auth)], limit: int = 10) -> dict[str, Any]:
    return {"sub": user.subject, "limit": limit}


@app.get("/jwt-uncached")
def jwt_uncached(user: Annotated[Principal, Security(uncached)], limit: int = 10) -> dict[str, Any]:
    return {"sub": user.subject, "limit": limit}


def header_only(request: Request) -> str | None:
    return request.headers.get("authorization")


@app.get("/header")
def header_route(value: Annotated[str | None, Security(header_only)], limit: int = 10) -> dict[str, Any]:
    return {"sub": "anonymous" if value is None else "someone", "limit": limit}


if __name__ == "__main__":
    import jwt

    print(jwt.encode({"sub": "bench", "aud": "bench", "exp": int(time.time()) + 86400}, SECRET, "HS256"))
