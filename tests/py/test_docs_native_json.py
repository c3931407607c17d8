"""The Python blocks of docs/json.md and docs/middleware-native.md run as written and
answer what the pages say, served by TestClient on a real loopback socket: the JSON
outputs given in the comments byte for byte; the batteries example (compression, CORS,
request id, security headers) with its headers, a preflight and a compressed stream; and
every signature block of middleware-native.md is a valid call with its documented
defaults. Keeps the pages true to the code (issue 13: docs that match the code)."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

import pytest

from conftest import REPO

from ringbolt import App
from ringbolt.testing import TestClient


def blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "docs" / page).read_text(), re.S)


def run_block(page: str, index: int, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": f"doc_{index}", **(namespace or {})}
    # dont_inherit: not this file's `from __future__ import annotations` (a reader's
    # module has no such line, and dataclasses would then look the module up by name).
    exec(compile(blocks(page)[index], f"docs/{page}[{index}]", "exec", dont_inherit=True), ns)
    return ns


def commented_output(block: str, marker: str) -> bytes:
    """The JSON text a block's comments give after `marker` (it may go on over '#' lines)."""
    text = block.split(marker, 1)[1]
    lines = [text.split("\n", 1)[0]] + [ln.strip()[1:].strip() for ln in text.split("\n")[1:]
                                       if ln.strip().startswith("#")]
    return "".join(s.strip() for s in lines).encode()


@pytest.mark.parametrize("index, path, marker", [(0, "/me", "# GET /me ->"), (1, "/price", "# ->"),
                                                 (2, "/items", "# GET /items ->")])
def test_json_page_outputs(index, path, marker):
    block = blocks("json.md")[index]
    with TestClient(run_block("json.md", index)["app"]) as c:
        r = c.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.content == commented_output(block, marker)


def test_json_page_default_refusal_names_the_type():
    app = run_block("json.md", 1)["app"]

    @app.get("/other")
    def other(req: Any) -> Any:
        return {"x": object()}

    with TestClient(app) as c:
        r = c.get("/other")
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"


ORIGIN = "https://app.example.com"


def test_batteries_example():
    assert len(blocks("middleware-native.md")) == 8
    app = run_block("middleware-native.md", 0)["app"]  # its app.run() is under __main__: not called
    with TestClient(app) as c:
        r = c.get("/users", headers={"Accept-Encoding": "gzip", "Origin": ORIGIN, "X-Request-ID": "doc-1"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in r.headers["vary"].lower()
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert r.headers["access-control-allow-credentials"] == "true"
        assert r.headers["x-request-id"] == "doc-1"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        users = json.loads(gzip.decompress(r.content))
        assert len(users) == 100 and users[7] == {"id": 7, "name": "user 7", "request": "doc-1"}
        # Without an Origin: no CORS fields; a request id is made.
        r = c.get("/users")
        assert "access-control-allow-origin" not in r.headers and "content-encoding" not in r.headers
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
        # A preflight is answered natively; a method not listed is refused.
        r = c.options("/users", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
                                         "Access-Control-Request-Headers": "authorization, content-type"})
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert "PUT" in r.headers["access-control-allow-methods"]
        r = c.options("/users", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"})
        assert "access-control-allow-origin" not in r.headers
        # The stream is compressed piece by piece and decodes to the events.
        r = c.get("/events", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert zlib.decompressobj(wbits=31).decompress(r.content) == b"".join(
            f"data: {i}\n\n".encode() for i in range(10))


@pytest.mark.parametrize("index", [1, 2, 4, 5, 6, 7])
def test_option_blocks_are_valid_calls(index):
    ns = run_block("middleware-native.md", index, {"app": App()})
    assert isinstance(ns["app"], App)


def test_cors_signature_block_needs_an_origin():
    # Block 3 shows enable_cors's signature with its defaults; allow_origins has none that
    # works, and the page says a bad option is a ValueError naming it.
    assert blocks("middleware-native.md")[3].startswith("app.enable_cors(allow_origins=()")
    with pytest.raises(ValueError, match="allow_origins must list at least one origin"):
        run_block("middleware-native.md", 3, {"app": App()})
