"""Sessions and CSRF (tests/py/test_sessions*.py, test_csrf.py): the same routes over the
signed cookie store, or over Redis when SESSION_REDIS_URL is set. SESSION_KEYS: the
secret keys, comma-separated (the first signs); SESSION_MAX_AGE: seconds."""

from __future__ import annotations

import os
from typing import Annotated, Any

from ringbolt import App, Depends, Request, Response, Router
from ringbolt._native import SessionReader
from ringbolt.sessions import MAX_COOKIE_BYTES, RedisStore, Session, Sessions, refused

KEYS = os.environ.get("SESSION_KEYS", "k" * 32).split(",")
REDIS = os.environ.get("SESSION_REDIS_URL")

app = App()
sessions = app.add_sessions(KEYS, store=RedisStore(REDIS, prefix="test:session:") if REDIS else None,
                            max_age=int(os.environ.get("SESSION_MAX_AGE", "3600")))
csrf = app.add_csrf(sessions, allowed_origins=["https://trusted.example"])

SessionDep = Annotated[Session, Depends(sessions)]
AsyncSessionDep = Annotated[Session, Depends(sessions.load)]


# ---- sync routes: the session as a typed dependency ----
@app.post("/login")
def login(req: Request, session: SessionDep) -> Any:
    body = req.json()
    session.regenerate()  # a new id at login: a planted one is worth nothing
    session["user"] = body["user"]
    return {"user": session["user"]}


@app.get("/session")
def read(session: SessionDep) -> Any:
    return dict(session)


@app.post("/counter")
def counter(session: SessionDep) -> Any:
    session["n"] = session.get("n", 0) + 1
    return {"n": session["n"]}


@app.get("/cart")
def cart(session: SessionDep) -> Any:
    session.setdefault("cart", []).append(len(session.get("cart", [])) + 1)  # in place: not written back
    return dict(session)


@app.get("/kept")
def kept(req):  # what the native session read kept and answered (None: the Redis store, read in Python)
    reader = sessions.__dict__.get("_rb_fast_call")
    return None if reader is None else {"kept": reader.kept_count(), "hits": reader.hits}


# the native reader with room for two kept cookies: what it drops when full
if not REDIS:
    small = Sessions(KEYS, cookie_name="small", max_age=3600, secure=False)
    small._native_get = small._rb_fast_call = SessionReader(small.signer._native, "small", 3600, small._read,
                                                            small._empty, MAX_COOKIE_BYTES, False,
                                                            small._get_in_python, refused, 2)

    @app.get("/small")
    def small_read(session: Annotated[Session, Depends(small)]) -> Any:
        return dict(session)

    @app.get("/small/kept")
    def small_kept(req):
        return {"kept": small._rb_fast_call.kept_count(), "hits": small._rb_fast_call.hits}


@app.post("/logout")
def logout(session: SessionDep) -> Any:
    session.clear()
    return {}


@app.post("/big")
def big(req: Request, session: SessionDep) -> Any:
    session["blob"] = "x" * int(req.query["size"])
    return {"stored": len(session["blob"])}


@app.get("/plain")
def plain(req):  # takes no session: no Set-Cookie, no session code runs
    return {"plain": True}


@app.get("/req-session", dependencies=[Depends(sessions)])
def req_session(req):
    return dict(req.session)


@app.get("/get-session")
def get_session(req):
    return dict(sessions.get(req))


# ---- async routes ----
@app.post("/async/login")
async def async_login(req: Request, session: AsyncSessionDep) -> Any:
    session.regenerate()
    session["user"] = req.json()["user"]
    return {"user": session["user"]}


@app.get("/async/session")
async def async_read(session: AsyncSessionDep) -> Any:
    return dict(session)


# ---- a router whose routes read req.session through the middleware ----
mw = Router(prefix="/mw")
mw.middleware(sessions.middleware)


@mw.post("/counter")
async def mw_counter(req):
    req.session["n"] = req.session.get("n", 0) + 1
    return {"n": req.session["n"]}


app.include(mw)


# ---- CSRF ----
@app.get("/token")
def token(req):
    return {"token": csrf.token(req), "header": csrf.header_name}


@app.route("/transfer", methods=["POST", "PUT", "PATCH", "DELETE", "GET"], dependencies=[Depends(csrf)])
def transfer(req):
    return {"ok": True, "method": req.method}


@app.post("/async/transfer", dependencies=[Depends(csrf.verify_async)])
async def async_transfer(req):
    return {"ok": True}


guarded = Router(prefix="/guarded")
guarded.middleware(csrf.sync_middleware)


@guarded.post("/transfer")
def guarded_transfer(req):
    return {"ok": True}


app.include(guarded)

# The browser flow (test_csrf.py): a login page that starts the session and renders the
# form with its token, a script that posts it with and without the token and reports.
reports: list[Any] = []

PAGE = """<!doctype html><html><head><title>login</title></head><body>
<form id="f" method="post" action="/transfer">{field}<input name="amount" value="10"></form>
<script>
async function run() {{
  const form = document.getElementById("f");
  const withToken = await fetch("/transfer", {{method: "POST", body: new URLSearchParams(new FormData(form))}});
  const bare = new URLSearchParams({{amount: "10"}});
  const without = await fetch("/transfer", {{method: "POST", body: bare}});
  const me = await fetch("/session");
  await fetch("/report", {{method: "POST", headers: {{"content-type": "application/json"}},
    body: JSON.stringify({{with_token: [withToken.status, await withToken.json()],
                          without_token: [without.status, await without.json()],
                          session: await me.json(), cookie_visible: document.cookie}})}});
}}
run();
</script></body></html>"""


@app.get("/page")
def page(req):
    session = sessions.get(req)
    session["user"] = "browser"
    return Response(PAGE.format(field=csrf.hidden_field(req)), content_type="text/html; charset=utf-8")


@app.post("/report")
def report(req):
    reports.append(req.json())
    return {}


@app.get("/reports")
def get_reports(req):
    return reports
