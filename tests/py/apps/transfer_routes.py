"""Routes that h2_app.py (tests/py/test_http2*.py) and tls_app.py (tests/py/test_tls.py)
both serve: a small JSON answer, large and streamed bodies (checked byte for byte by
the tests), an echo and a streamed upload."""

from ringbolt import App, Response, StreamingResponse


def big(n: int) -> bytes:
    """The body of /big/{n}."""
    return bytes(i % 251 for i in range(n))


def stream_piece(i: int) -> bytes:
    """Piece i of /stream/{n} (6000 bytes)."""
    return (b"%06d" % i) * 1000


def add_transfer_routes(app: App) -> None:
    @app.get("/")
    def index(req):
        return {"message": "Hello, World!"}

    @app.get("/big/{n:int}")
    def big_(req):
        return Response(big(req.params["n"]), content_type="application/octet-stream")

    @app.get("/stream/{n:int}")
    def stream(req):
        n = req.params["n"]

        def gen():
            for i in range(n):
                yield stream_piece(i)

        return StreamingResponse(gen(), media_type="application/octet-stream")

    @app.route("/echo", methods=["POST", "PUT"])
    def echo(req):
        return Response(req.body, content_type="application/octet-stream")

    @app.route("/upload", methods=["POST"])
    async def upload(req):
        total = 0
        async for chunk in req.stream():
            total += len(chunk)
        return {"received": total}
