"""What issue 52's features cost a route that does not use them (BENCHMARKS.md, "A route
with a JWT, a session and a rate limit"), for benchmarks/load/instr_per_request.py:
``bare`` serves two routes, ``app`` the same two with health probes, sessions, CSRF, a
bearer JWT route, a rate-limited route, a cached route and a Jinja2 template route
around them.

    GET /open   a typed route with a query parameter
    GET /plain  a ``def h(req)`` handler

    PYTHONHASHSEED=0 RINGBOLT_IO=epoll python3 benchmarks/load/instr_per_request.py \\
        --app-dir benchmarks/load/apps --app ringbolt_unused:app --path /open --ready /open

(``--ready``: the health probes answer 503 until startup has run.)
"""

import os
from typing import Annotated, Any

from ringbolt import App, Depends, Security
from ringbolt.auth import JWTAuth, Principal
from ringbolt.sessions import Session
from ringbolt.templating import Templates

SECRET = "benchmark-secret-of-at-least-32-bytes"  # a benchmark's, not a deployment's


def routes(app: App) -> App:
    @app.get("/open")
    def open_route(limit: int = 10) -> dict[str, Any]:
        return {"sub": "anonymous", "limit": limit}

    @app.get("/plain")
    def plain(req):
        return {"plain": True}

    return app


def with_features() -> App:
    app = routes(App())
    app.health(checks={"always": lambda: True})
    sessions = app.add_sessions(["benchmark-session-key-of-32-bytes-or-more"], secure=False)
    csrf = app.add_csrf(sessions)
    jwt_auth = JWTAuth(key=SECRET, algorithms=["HS256"], audience="bench")
    templates = Templates(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates"))

    @app.get("/me")
    def me(user: Annotated[Principal, Security(jwt_auth)], session: Annotated[Session, Depends(sessions)]) -> Any:
        return {"sub": user.subject, "visits": session.get("visits", 0)}

    @app.post("/transfer", dependencies=[Depends(csrf)])
    def transfer(req):
        return {"ok": True}

    @app.get("/limited", rate_limit="5/minute")
    def limited(req):
        return {"ok": True}

    @app.get("/cached", cache=60)
    def cached(req):
        return {"ok": True}

    @app.get("/hello/{name}")
    def hello(req):
        return templates.response("fortunes.html", {"fortunes": [], "name": req.params["name"]})

    return app


bare = routes(App())
app = with_features()
