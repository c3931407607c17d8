"""Templates (ringbolt.templating) for tests/py/test_templates.py: a sync and an async
environment, a missing template, a plain-text template, FastAPI's TemplateResponse."""

import asyncio
from pathlib import Path

from ringbolt import App
from ringbolt.templating import Templates

HERE = Path(__file__).parent / "templates"
templates = Templates(directory=HERE, context_processors=[lambda req: {"site": "ringbolt"}])
async_templates = Templates(directory=HERE, enable_async=True)

app = App()


@app.get("/hello/{name}")
def hello(req):
    return templates.response("hello.html", {"name": req.params["name"]})


@app.get("/text/{name}")
def text(req):
    return templates.response("hello.txt", {"name": req.params["name"]}, media_type="text/plain; charset=utf-8")


@app.get("/teapot")
def teapot(req):
    return templates.response("hello.html", {"name": "tea"}, status_code=418, headers={"X-Kind": "pot"})


@app.get("/missing")
def missing(req):
    return templates.response("nowhere.html", {})


@app.get("/page")
def page(req):
    return templates.TemplateResponse(req, "page.html")


async def greeting():
    await asyncio.sleep(0)  # a real await inside the template
    return "Bonjour"


@app.get("/async/{name}")
async def hello_async(req):
    return await async_templates.response_async("greet_async.html", {"name": req.params["name"],
                                                                      "greeting": greeting})


@app.get("/async-sync-env/{name}")
async def hello_async_sync_env(req):
    return await templates.response_async("hello.html", {"name": req.params["name"]})


@app.get("/async-misuse")
def async_misuse(req):
    return async_templates.response("hello.html", {"name": "x"})
