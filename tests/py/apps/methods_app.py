"""Routes with methods outside the parser's known set (RFC 9110 tokens)."""
from ringbolt import App

app = App()


@app.route("/dav", methods=["PROPFIND", "GET"])
def dav(req):
    return {"method": req.method}


@app.route("/purge", methods=["PURGE"])
def purge(req):
    return {"method": req.method}


@app.route("/sized", methods=["GET", "HEAD"])
def sized(req):
    """HEAD may keep the length GET would send; an empty GET body with it is a mismatch."""
    from ringbolt import Response

    return Response(b"", headers={"Content-Length": "42"})


_kept = []


@app.route("/kept", methods=["GET", "PURGE", "PROPFIND"])
def kept(req):
    """The previous request kept past its response: its method is still its own."""
    try:
        req.method = "X"
        writable = True
    except AttributeError:
        writable = False
    before = _kept[-1].method if _kept else None
    _kept[:] = [req]
    return {"method": req.method, "again": req.method, "before": before, "writable": writable}
