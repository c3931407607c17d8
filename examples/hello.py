"""The example app: `make run` serves it on http://127.0.0.1:8000."""

from typing import Any

from ringbolt import App, HTTPError, Request, Response

app = App()


@app.get("/")
def index(req: Request) -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/plaintext", const=True)
def plaintext(req: Request | None) -> str:
    return "Hello, World!"


@app.get("/users/{uid:int}")
def user(req: Request) -> dict[str, Any]:
    if req.params["uid"] < 0:
        raise HTTPError(404, "no such user")
    return {"id": req.params["uid"], "name": f"user{req.params['uid']}"}


@app.get("/hello/{name}")
def hello(req: Request) -> str:
    return f"Hello, {req.params['name']}!"


@app.route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def echo(req: Request) -> Response:
    return Response(req.body, status=200, headers={"x-method": req.method}, content_type="application/octet-stream")


@app.post("/json")
def echo_json(req: Request) -> dict[str, Any]:
    return {"received": req.json(), "query": dict(req.query)}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
