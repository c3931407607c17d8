"""Requests async handlers keep after they return: each async request is moved out of its
batch into storage of its own (request_object.cpp's detach), storage that serves later
requests once the view dies. A kept view must show its own request, a reused one nothing
of the request it held before."""

import request_facts
from ringbolt import App

app = App()
kept = {}


def facts(req):
    return request_facts.facts(req, ("x-tag", "host", "x-extra-0"), header_count=True)


@app.post("/afacts/{name}/{n:int}")
async def own_facts(req):
    return facts(req)


@app.post("/akeep/{name}/{n:int}")
async def keep(req):
    kept[req.params["name"]] = req  # read nothing first: every attribute is read later
    return {"kept": req.params["name"]}


@app.get("/akept/{name}")
async def read_kept(req):
    old = kept.pop(req.params["name"], None)
    if old is None:
        return {"missing": req.params["name"]}
    return facts(old)
