"""ringbolt_auth.py's two routes in FastAPI with the usual libraries (HTTPBearer and
PyJWT's ``jwt.decode`` in a dependency), the peer of benchmarks/load/instr_per_request.py
(``--peer 'uvicorn=... -m uvicorn fastapi_auth:app --app-dir benchmarks/load/apps ...'``):

    GET /open   a query parameter, no authentication
    GET /jwt    the same behind an HS256 bearer JWT (audience checked)
    GET /full   /jwt plus a session read (Starlette's SessionMiddleware, signed cookie)
                and a rate limit (slowapi, in memory, never reached): ringbolt_auth.py's
                /full; its cookie: python3 benchmarks/load/apps/fastapi_auth.py session
    GET /session-only   /open plus the session read alone

SessionMiddleware runs for every route (Starlette's way): a request without the cookie
pays for its check only.
"""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.middleware.sessions import SessionMiddleware

SECRET = "benchmark-secret-of-at-least-32-bytes"  # ringbolt_auth.py's (tokens from its __main__)
SESSION_SECRET = "benchmark-session-key-of-32-bytes-or-more"
LIMIT = "60000/second"  # never reached here (600-1,800 req/s)
bearer = HTTPBearer()
limiter = Limiter(key_func=get_remote_address)
app = FastAPI()
app.state.limiter = limiter
app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
app.add_middleware(SessionMiddleware, secret_key=SESSION_SECRET, session_cookie="fa_session", https_only=False)


def current_user(cred: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(cred.credentials, SECRET, algorithms=["HS256"], audience="bench")
    except jwt.InvalidTokenError as exc:
        raise HTTPException(401, detail=str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    return claims


@app.get("/open")
def open_route(limit: int = 10) -> dict[str, Any]:
    return {"sub": "anonymous", "limit": limit}


@app.get("/jwt")
def jwt_route(user: Annotated[dict[str, Any], Depends(current_user)], limit: int = 10) -> dict[str, Any]:
    return {"sub": user["sub"], "limit": limit}


@app.get("/full")
@limiter.limit(LIMIT)
def full_route(request: Request, user: Annotated[dict[str, Any], Depends(current_user)], limit: int = 10) -> dict[str, Any]:
    return {"sub": user["sub"], "limit": limit, "visits": request.session.get("visits", 0)}


@app.get("/session-only")
def session_route(request: Request, limit: int = 10) -> dict[str, Any]:
    return {"sub": "anonymous", "limit": limit, "visits": request.session.get("visits", 0)}


if __name__ == "__main__":
    import base64
    import json
    import sys

    from itsdangerous import TimestampSigner

    if sys.argv[1:] == ["session"]:  # SessionMiddleware's cookie for {"visits": 3}
        data = base64.b64encode(json.dumps({"visits": 3}).encode())
        print(TimestampSigner(SESSION_SECRET).sign(data).decode())
