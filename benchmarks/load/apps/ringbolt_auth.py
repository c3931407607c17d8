"""What a bearer JWT check costs a typed GET (docs/auth.md): the same answer with and
without ``Security(jwt_auth)``, HS256, for benchmarks/load/instr_per_request.py:

    GET /open   a typed route with a query parameter, no authentication
    GET /jwt    the same, behind JWTAuth (HS256, audience checked): send
                --header "Authorization: Bearer $(python3 benchmarks/load/apps/ringbolt_auth.py)";
                the same token each request, so after the first it is a verified token kept
    GET /jwt-uncached   the same with cache_size=0: PyJWT verifies every request
    GET /header the same with a dependency that only reads req.headers (what reading
                the Authorization header costs before any verification)
    GET /full   issue 52's route: /jwt plus a signed-cookie session read and a native
                rate limit (high enough never to refuse); send the bearer token and
                --header "Cookie: session=$(python3 benchmarks/load/apps/ringbolt_auth.py session)"
    GET /session-only   /open plus the session read alone
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from ringbolt import App, Depends, Request, Security
from ringbolt.auth import JWTAuth, Principal
from ringbolt.sessions import Session

SECRET = "benchmark-secret-of-at-least-32-bytes"  # a benchmark's, not a deployment's
SESSION_SECRET = "benchmark-session-key-of-32-bytes-or-more"
LIMIT = "65000/100ms"  # counted and checked on every request, never reached (60000/second was, at 73k req/s)
jwt_auth = JWTAuth(key=SECRET, algorithms=["HS256"], audience="bench")
uncached = JWTAuth(key=SECRET, algorithms=["HS256"], audience="bench", cache_size=0, scheme_name="Uncached")

app = App()
sessions = app.add_sessions([SESSION_SECRET], secure=False)
SessionDep = Annotated[Session, Depends(sessions)]


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


@app.get("/full", rate_limit=LIMIT)
def full_route(user: Annotated[Principal, Security(jwt_auth)], session: SessionDep, limit: int = 10) -> dict[str, Any]:
    return {"sub": user.subject, "limit": limit, "visits": session.get("visits", 0)}


@app.get("/session-only")
def session_route(session: SessionDep, limit: int = 10) -> dict[str, Any]:
    return {"sub": "anonymous", "limit": limit, "visits": session.get("visits", 0)}


if __name__ == "__main__":
    import sys

    import jwt

    from ringbolt._native import json_dumps

    if sys.argv[1:] == ["session"]:  # a session cookie's value: {"visits": 3}, signed now
        print(sessions.signer.sign(json_dumps({"visits": 3}), int(time.time())))
    else:
        print(jwt.encode({"sub": "bench", "aud": "bench", "exp": int(time.time()) + 86400}, SECRET, "HS256"))
