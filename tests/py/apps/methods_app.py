"""Routes with methods outside the parser's known set (RFC 9110 tokens)."""
from ringbolt import App

app = App()


@app.route("/dav", methods=["PROPFIND", "GET"])
def dav(req):
    return {"method": req.method}


@app.route("/purge", methods=["PURGE"])
def purge(req):
    return {"method": req.method}
