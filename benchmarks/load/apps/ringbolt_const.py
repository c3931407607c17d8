"""ringbolt app with constant routes: each handler of a GET route whose answer does not
depend on the request runs once at start-up and its response is then served natively
(no Python per request). /users/{id} depends on the request, so it stays a normal
route; /echo is a POST.

    python -m ringbolt serve benchmarks.load.apps.ringbolt_const:app --host 127.0.0.1 --port PORT --threads 1
"""
from ringbolt import App

BODY_10K = b"x" * 10240

app = App()


@app.get("/plaintext", const=True)
def plaintext(req):
    return "Hello, World!"


@app.get("/json", const=True)
def json_(req):
    return {"message": "Hello, World!"}


@app.get("/users/{id:int}")
def user(req):
    return {"id": req.params["id"]}


@app.post("/echo")
def echo(req):
    return req.json()


@app.get("/body10k", const=True)
def body10k(req):
    return BODY_10K
