"""Handlers that always fail, for tests/py/test_error_log.py: a ringbolt App (a sync and
an async route failing the same way, another kind of failure), an ASGI app and a WSGI
app; `/other` fails with another exception at another line."""

from ringbolt import App


def broken(n):
    return 1 // n  # ZeroDivisionError, at this line, for every route below


app = App()


@app.get("/boom/{i}")
def boom(req):
    return {"x": broken(0)}


@app.get("/aboom/{i}")
async def aboom(req):
    return {"x": broken(0)}


@app.get("/other")
def other(req):
    raise KeyError("another kind")


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/other":
        raise KeyError("another kind")
    broken(0)


def wsgi_app(environ, start_response):
    if environ["PATH_INFO"] == "/other":
        raise KeyError("another kind")
    broken(0)
