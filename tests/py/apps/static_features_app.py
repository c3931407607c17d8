"""app.static with every native response feature on (tests/py/test_static_features.py):
CORS, security headers, request ids and compression, over the tree the test builds under
$RINGBOLT_TEST_STATIC (public/ is served)."""

import os

from ringbolt import App

app = App()
app.enable_cors(allow_origins=["https://app.example"], allow_methods=["GET", "POST"], expose_headers=["ETag"])
app.enable_security_headers(hsts=3600)
app.enable_request_id()
app.enable_compression(min_size=100)

ROOT = os.environ.get("RINGBOLT_TEST_STATIC", "/nonexistent-ringbolt-test-static")
app.static("/assets", os.path.join(ROOT, "public"))


@app.get("/api")
def api(req):
    return {"text": "a route, compressed like any other " * 20}
