"""No exception handler, no middleware: errors answered natively (problem+json). Its
shared routes (add_shared_routes) are errors_app's and errors_debug_app's too:
test_errors.py runs the same tests on the first two."""

from __future__ import annotations

from typing import Mapping

from ringbolt import App, HTTPError


def add_shared_routes(app: App, crash: type[Exception] = RuntimeError, message: str = "secret internals",
                      http_error_headers: Mapping[str, str] | None = None) -> App:
    """/ok, /json (echoes the JSON body), /http-error (404 HTTPError with
    `http_error_headers`), /crash and /async-crash (raise `crash` with `message`, and
    " (async)" after it from the async handler)."""

    @app.get("/ok")
    def ok(req):
        return {"ok": True}

    @app.post("/json")
    def json_route(req):
        return {"got": req.json()}

    @app.get("/http-error")
    def http_error(req):
        raise HTTPError(404, "no such item", headers=http_error_headers)

    @app.get("/crash")
    def crash_route(req):
        raise crash(message)

    @app.get("/async-crash")
    async def async_crash(req):
        raise crash(f"{message} (async)")

    return app


app = add_shared_routes(App())


@app.get("/bad-return")
def bad_return(req):
    return object()


@app.route("/only-get-put", methods=["GET", "PUT"])
def only(req):
    return {"m": req.method}
