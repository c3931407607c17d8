"""The one error format: problem+json everywhere, exception handlers, debug; for
tests/py/test_errors.py."""

from errors_plain_app import add_shared_routes
from ringbolt import App, HTTPError, Response, ValidationError

app = App()


class DomainError(Exception):
    pass


class NotFoundError(DomainError):
    pass


class Unhandled(Exception):
    pass


@app.exception_handler(DomainError)
def domain(req, exc):
    return Response({"domain": type(exc).__name__, "msg": str(exc)}, status=422)


@app.exception_handler(NotFoundError)
def not_found(req, exc):
    return ({"missing": str(exc), "path": req.path}, 404)


@app.exception_handler(KeyError)
def broken_handler(req, exc):
    raise RuntimeError("the exception handler itself fails")


@app.get("/typed-error")
def typed_error(req):
    raise HTTPError(409, "version conflict", type="https://example.com/probs/conflict", title="Conflict!",
                    extensions={"current": 3})


@app.post("/validate")
def validate(req):
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ValidationError("name is required", errors=[{"loc": ["body", "name"], "msg": "required str"}])
    return {"name": body["name"]}


@app.get("/domain")
def domain_route(req):
    raise DomainError("rule broken")


@app.get("/missing")
def missing_route(req):
    raise NotFoundError("item 7")


@app.get("/keyerror")
def key_error(req):
    raise KeyError("k")


add_shared_routes(app, Unhandled, http_error_headers={"x-why": "gone"})
