"""Catch-all app for the conformance, rejection and split-input tests.

The router has no wildcard, so this registers one route per depth: "/", "/{s1}",
"/{s1}/{s2}", ... up to MAX_DEPTH segments, for every method the router knows. Any
origin-form path of up to MAX_DEPTH non-empty segments (that covers every path of the
llhttp corpus) reaches `echo`, which answers 200 with a deterministic description of
the request (no Date-dependent or address-dependent content), so that byte-exact
comparisons of responses are meaningful. Methods outside the router's set (REPORT,
PURGE, ...) get 405 from the server itself.
"""

from ringbolt import App, Response

app = App()

MAX_DEPTH = 10
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]


def echo(req):
    headers = [[k, v] for k, v in req.headers.items()]
    return {
        "method": req.method,
        "path": req.path,
        "query": req.query_string,
        "version": req.http_version,
        "headers": headers,
        "body": req.body.decode("latin-1"),
    }


def ok_text(req):
    return Response(b"ok", status=200, content_type="text/plain")


for depth in range(MAX_DEPTH + 1):
    pattern = "/" + "/".join("{s%d}" % i for i in range(depth))
    app.route(pattern, methods=METHODS)(echo)
def fixed(req):
    return {"fixed": True, "answer": 42}


# The same answer whatever the method (GET/HEAD comparisons).
app.get("/fixed")(fixed)
# A const (native) route too, so the split tests cover the C++-only answer path.
app.get("/const", const=True)(ok_text)
