"""The same 2 KB JSON route with and without app.enable_compression, for the issue 10
compression cost (BENCHMARKS.md): `app` compresses (zstd, br, gzip by Accept-Encoding),
`plain` does not. Run with profile_server.py --header 'Accept-Encoding: ...'."""

from ringbolt import App

RECORDS = [{"id": i, "name": f"user {i}", "email": f"user{i}@example.com", "active": i % 3 == 0,
            "score": i * 1.5} for i in range(25)]  # about 2 KB of JSON


def build(compress: bool) -> App:
    a = App()

    @a.get("/json2k")
    def json2k(req):
        return RECORDS

    if compress:
        a.enable_compression()
    return a


app = build(True)
plain = build(False)
