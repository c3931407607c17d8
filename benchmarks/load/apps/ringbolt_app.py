"""ringbolt app for the load comparisons in benchmarks/load/ (plain sync handlers).

    python -m ringbolt serve benchmarks.load.apps.ringbolt_app:app --host 127.0.0.1 --port PORT --threads 1

make_app(const=True) is the same app with constant routes (ringbolt_const.py).
"""
from ringbolt import App

BODY_10K = b"x" * 10240


def make_app(const: bool = False) -> App:
    """The comparison routes. ``const``: each GET route whose answer does not depend on the
    request runs its handler once at start-up and is then served natively (no Python per
    request); /users/{id} depends on the request and /echo is a POST, so they stay normal."""
    app = App()

    @app.get("/plaintext", const=const)
    def plaintext(req):
        return "Hello, World!"  # str -> text/plain

    @app.get("/json", const=const)
    def json_(req):
        return {"message": "Hello, World!"}  # dict -> JSON

    @app.get("/users/{id:int}")
    def user(req):
        return {"id": req.params["id"]}

    @app.post("/echo")
    def echo(req):
        return req.json()

    @app.get("/body10k", const=const)
    def body10k(req):
        return BODY_10K  # bytes -> application/octet-stream

    return app


app = make_app()
