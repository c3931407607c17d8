"""Apps for the native response features (tests/py/test_compression.py, test_cors.py,
test_request_id.py, test_security_headers.py): the same routes behind different
enable_* settings."""

from __future__ import annotations

import gzip
import os
import random
import tempfile
import threading

from ringbolt import App, FileResponse, Response, StreamingResponse


def _record(i: int) -> dict[str, object]:
    return {"id": i, "name": f"user {i * 7919 % 1000}", "email": f"user{i}@example.com", "active": i % 3 == 0}


_release = threading.Event()
_FILE = os.path.join(tempfile.gettempdir(), f"ringbolt-features-{os.getpid()}.txt")
with open(_FILE, "w") as f:
    f.write("plain text file line\n" * 2000)


def add_routes(app: App) -> None:
    @app.get("/json/{n:int}")
    def json_records(req):
        return [_record(i) for i in range(req.params["n"])]

    @app.get("/async-json/{n:int}")
    async def async_json(req):
        return [_record(i) for i in range(req.params["n"])]

    @app.get("/text/{n:int}")
    def text(req):
        return "x" * req.params["n"]

    @app.get("/mixed/{kind}/{n:int}")
    def mixed(req):
        # Bodies of other shapes for the tiny-body gzip encoder and its zlib fallback.
        kind, n = req.params["kind"], req.params["n"]
        if kind == "utf8":  # mostly bytes over 0x8F: zlib's dynamic codes take over
            rnd = random.Random(n)
            data = "".join(rnd.choice("абвгдеёжзийклмнопрстуфхцчшщъыьэюя ") for _ in range(n)).encode()
        elif kind == "random":  # incompressible
            data = random.Random(n).randbytes(n)
        elif kind == "runs":  # long runs: matches of the longest length at distance 1
            data = b"".join(bytes([65 + i % 26]) * (i * 37 % 700 + 1) for i in range(n))
        else:  # JSON-like records with repeats at many distances
            data = str([_record(i * 7) for i in range(n // 40 + 1)]).encode()
        return Response(data[:n], content_type="text/plain; charset=utf-8")

    @app.get("/typed")
    def typed(req):
        ct = req.query.get("type", "text/plain")
        return Response(b"a" * 4096, content_type=ct)

    @app.get("/already")
    def already(req):
        return Response(gzip.compress(b"y" * 5000), headers={"Content-Encoding": "gzip"}, content_type="text/plain")

    @app.get("/no-transform")
    def no_transform(req):
        return Response(b"z" * 5000, headers={"Cache-Control": "no-transform"}, content_type="text/plain")

    @app.get("/status/{code:int}")
    def status(req):
        code = req.params["code"]
        headers = {"Content-Range": "bytes 0-4999/10000"} if code == 206 else None
        return Response(b"s" * 5000 if code not in (204, 304) else b"", status=code, headers=headers,
                        content_type="text/plain")

    @app.get("/file")
    def file(req):
        return FileResponse(_FILE, media_type="text/plain")

    @app.get("/stream")
    def stream(req):
        def chunks():
            yield "data: first event " + "a" * 100 + "\n\n"
            _release.wait(60)  # the test reads the first chunk before it lets the rest go
            _release.clear()
            for i in range(5):
                yield f"data: event {i} " + "b" * (i * 500) + "\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    @app.get("/stream-async")
    async def stream_async(req):
        async def chunks():
            for i in range(20):
                yield (f"line {i} " + "c" * 2000 + "\n").encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/big-stream/{kind}")
    def big_stream(req):
        # 24 MiB in 64 KiB pieces, far above the producer's 1 MiB of unsent credit: flow
        # control must map the coded bytes sent back onto the bytes produced.
        kind = req.params["kind"]

        def chunks():
            rnd = random.Random(7)
            for i in range(384):
                if kind == "random":  # incompressible: coded pieces are larger than the input
                    yield rnd.randbytes(65536)
                else:
                    yield (f"{i:08d} " * 7282).encode()[:65536]

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/release")
    def release(req):
        _release.set()
        return "released"

    @app.route("/items", ["GET", "PUT", "DELETE"])
    def items(req):
        return {"method": req.method}

    @app.get("/rid")
    def rid(req):
        return {"request_id": req.request_id}

    @app.get("/own-headers")
    def own_headers(req):
        return Response("mine", headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.get("/const", const=True)
    def const(req):
        return Response("c" * 3000, content_type="text/plain")


# Compression with the defaults (zstd, br, gzip; min_size 1024).
compress = App()
add_routes(compress)
compress.enable_compression()

# gzip first, level 9, text/csv excluded, min_size 100.
compress_gzip_first = App()
add_routes(compress_gzip_first)
compress_gzip_first.enable_compression(min_size=100, algorithms=("gzip", "zstd"), level={"gzip": 9},
                                       exclude_types=("text/csv",))

# CORS for two exact origins and a subdomain wildcard, no credentials.
cors = App()
add_routes(cors)
cors.enable_cors(allow_origins=["https://app.example.com", "https://*.example.org"],
                 allow_methods=["GET", "PUT"], allow_headers=["X-Token", "Content-Type"],
                 expose_headers=["X-Total"], max_age=600)

# CORS for any origin, with and without credentials.
cors_any = App()
add_routes(cors_any)
cors_any.enable_cors(allow_origins="*", allow_methods="*", allow_headers="*")

cors_credentials = App()
add_routes(cors_credentials)
cors_credentials.enable_cors(allow_origins="*", allow_methods=["GET", "PUT"], allow_credentials=True)

# Request ids (default header, then a custom one), with the access log on.
request_id = App()
add_routes(request_id)
request_id.enable_request_id()

request_id_custom = App()
add_routes(request_id_custom)
request_id_custom.enable_request_id("X-Correlation-ID")

# Security headers: defaults, then everything on.
security = App()
add_routes(security)
security.enable_security_headers()

security_full = App()
add_routes(security_full)
security_full.enable_security_headers(frame_options="SAMEORIGIN", referrer_policy="no-referrer", hsts=True,
                                      hsts_include_subdomains=True, content_security_policy="default-src 'self'",
                                      cross_origin_opener_policy="same-origin", extra={"Permissions-Policy": "camera=()"})

# Everything at once.
everything = App()
add_routes(everything)
everything.enable_compression()
everything.enable_cors(allow_origins=["https://app.example.com"], allow_credentials=True)
everything.enable_request_id()
everything.enable_security_headers()


# A mounted ASGI app behind the same features: one body whole, one in several messages.
async def _asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b"asgi " * 2000
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    if scope["path"] == "/asgi-stream":
        for i in range(0, len(body), 1000):
            await send({"type": "http.response.body", "body": body[i:i + 1000], "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.body", "body": body})


asgi_mounted = App()
asgi_mounted.mount_asgi(_asgi, lifespan="off")
asgi_mounted.enable_compression()
asgi_mounted.enable_cors(allow_origins=["https://app.example.com"])
asgi_mounted.enable_request_id()
