"""ringbolt app for the load comparisons in benchmarks/load/ (plain sync handlers).

    python -m ringbolt serve benchmarks.load.apps.ringbolt_app:app --host 127.0.0.1 --port PORT --threads 1
"""
from ringbolt import App

BODY_10K = b"x" * 10240

app = App()


@app.get("/plaintext")
def plaintext(req):
    return "Hello, World!"  # str -> text/plain


@app.get("/json")
def json_(req):
    return {"message": "Hello, World!"}  # dict -> JSON


@app.get("/users/{id:int}")
def user(req):
    return {"id": req.params["id"]}


@app.post("/echo")
def echo(req):
    return req.json()


@app.get("/body10k")
def body10k(req):
    return BODY_10K  # bytes -> application/octet-stream
