"""ringbolt_auth.py's two routes in FastAPI with the usual libraries (HTTPBearer and
PyJWT's ``jwt.decode`` in a dependency), the peer of benchmarks/load/instr_per_request.py
(``--peer 'uvicorn=... -m uvicorn fastapi_auth:app --app-dir benchmarks/load/apps ...'``):

    GET /open   a query parameter, no authentication
    GET /jwt    the same behind an HS256 bearer JWT (audience checked)
"""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

SECRET = "benchmark-secret-of-at-least-32-bytes"  # ringbolt_auth.py's (tokens from its __main__)
bearer = HTTPBearer()
app = FastAPI()


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
