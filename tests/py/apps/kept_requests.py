"""Requests a handler keeps after it returns (in a list, in a reference cycle, in a
thread): the view must stay valid; requests nobody keeps are released with the handler."""

import gc
import threading

from request_facts import facts
from ringbolt import App

app = App()
kept = {}
cycles = []
seen_by_thread = {}


@app.post("/keep/{name}/{n:int}")
def keep(req):
    kept[req.params["name"]] = req  # read nothing first: every attribute is read later
    return {"kept": req.params["name"]}


@app.post("/facts/{name}/{n:int}")
def own_facts(req):
    return facts(req)


@app.get("/kept/{name}")
def read_kept(req):
    old = kept.get(req.params["name"])
    if old is None:
        return {"missing": req.params["name"]}
    return facts(old)


@app.get("/cycle")
def cycle(req):
    req.me = req  # a reference cycle through the request's __dict__: only the GC frees it
    cycles.append(len(req.path))
    return {"cycle": True}


@app.get("/collect")
def collect(req):
    return {"collected": gc.collect() >= 0, "path": req.path}


@app.get("/thread/{name}")
def in_thread(req):
    name = req.params["name"]

    def later():
        seen_by_thread[name] = facts(req)  # runs after the response went out

    threading.Timer(0.2, later).start()
    return {"started": name}


@app.get("/seen/{name}")
def seen(req):
    return seen_by_thread.get(req.params["name"], {"missing": req.params["name"]})


@app.get("/mark/{n:int}")
def mark(req):
    # What a request object shows before the handler touches it, then marks it: a request
    # object used again for a later request must show none of this one's state.
    seen = {"had_mark": hasattr(req, "mark"), "n": req.params["n"], "q": dict(req.query),
            "tag": req.headers.get("x-tag"), "path": req.path}
    req.mark = req.params["n"]
    return seen


@app.get("/plain/{n:int}")
def plain(req):
    return {"n": req.params["n"], "tag": req.headers.get("x-tag"), "q": req.query.get("q")}
