"""The example app: `make run` serves it on http://127.0.0.1:8000."""

from ringbolt import App, HTTPError, Response

app = App()


@app.get("/")
def index(req):
    return {"message": "Hello, World!"}


@app.get("/plaintext", const=True)
def plaintext(req):
    return "Hello, World!"


@app.get("/users/{uid:int}")
def user(req):
    if req.params["uid"] < 0:
        raise HTTPError(404, "no such user")
    return {"id": req.params["uid"], "name": f"user{req.params['uid']}"}


@app.get("/hello/{name}")
def hello(req):
    return f"Hello, {req.params['name']}!"


@app.route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def echo(req):
    return Response(req.body, status=200, headers={"x-method": req.method}, content_type="application/octet-stream")


@app.post("/json")
def echo_json(req):
    return {"received": req.json(), "query": dict(req.query)}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
