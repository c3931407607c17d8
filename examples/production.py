"""The production pieces together: a bearer-JWT route, a rate limit, a signed cookie
session, the health probes, a Jinja2 page and a cached route.

    EXAMPLE_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') \\
    EXAMPLE_SESSION_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') \\
        ringbolt serve production:app --app-dir examples

- ``GET /me``: a bearer JWT signed (HS256) with EXAMPLE_JWT_SECRET, ``aud`` "example",
  with ``exp`` and ``sub``, answers ``{"sub": ...}``; else 401 with
  ``WWW-Authenticate: Bearer ...`` saying why (docs/auth.md).
- ``GET /limited``: 5 requests a minute per client, then 429 with ``Retry-After`` and the
  ``RateLimit-*`` headers, counted natively across workers (docs/rate-limits.md).
- ``POST /login`` with ``{"user": ...}`` starts a signed cookie session (keyed by
  EXAMPLE_SESSION_SECRET); ``GET /session`` answers its contents, ``{}`` with no session
  or a tampered cookie (docs/sessions.md). The cookie is ``Secure``: a browser sends it
  back over HTTPS only (serve with ``--ssl-certfile``/``--ssl-keyfile``).
- ``/health/live``, ``/health/ready``, ``/health/startup`` (docs/health.md).
- ``GET /hello/{name}``: a Jinja2 page with the name escaped (docs/templates.md).
- ``GET /cached``: cached for 60 s (docs/caching.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ringbolt import App, Depends, Request, Response, Security
from ringbolt.auth import JWTAuth, Principal
from ringbolt.caching import Cache
from ringbolt.sessions import Session
from ringbolt.templating import Templates

app = App()
app.health()

me_auth = JWTAuth(key=os.environ["EXAMPLE_JWT_SECRET"], algorithms=["HS256"], audience="example",
                  require=["exp", "sub"])
sessions = app.add_sessions([os.environ["EXAMPLE_SESSION_SECRET"]])
SessionDep = Annotated[Session, Depends(sessions)]
templates = Templates(directory=Path(__file__).parent / "templates")


@app.get("/me")
def me(user: Annotated[Principal, Security(me_auth)]) -> dict[str, Any]:
    return {"sub": user.subject}


@app.get("/limited", rate_limit="5/minute")
def limited(req: Request) -> dict[str, bool]:
    return {"ok": True}


class Login(BaseModel):
    user: str = Field(min_length=1, max_length=100)


@app.post("/login")
def login(body: Login, session: SessionDep) -> dict[str, Any]:
    session.regenerate()  # a new session at login (no fixation)
    session["user"] = body.user
    return {"user": body.user}


@app.get("/session")
def read_session(session: SessionDep) -> dict[str, Any]:
    return dict(session)


@app.get("/hello/{name}")
def hello(req: Request) -> Response:
    return templates.response("hello.html", {"name": req.params["name"]})


@app.get("/cached", cache=Cache(ttl=60, tags=["cached"]))
def cached(req: Request) -> dict[str, float]:
    return {"generated_at": time.time()}
