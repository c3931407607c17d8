"""What a handler saw of its request, as JSON: the apps that keep requests past their
handler (kept_requests, kept_async_requests) answer with it, and their tests compare it
with what they sent."""


def facts(req, headers=("x-tag", "host"), *, header_count=False):
    out = {
        "method": req.method,
        "path": req.path,
        "target": req.target,
        "query": dict(req.query),
        "params": dict(req.params),
        "headers": {k: req.headers.get(k) for k in headers},
        "body": req.body.decode(),
        "client_host": req.client[0],
        "http_version": req.http_version,
    }
    if header_count:
        out["header_count"] = len(req.headers)
    return out
