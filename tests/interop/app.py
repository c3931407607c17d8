"""The interop matrix's server app (tests/interop/run.py): a native ringbolt App, served by
ringbolt itself or, for the comparison column, by Hypercorn (a ringbolt App is an ASGI app
too).

- GET /bytes/N: N bytes of deterministic content (`content(N)`, which the client computes
  too, so it checks every byte by its sha256);
- POST /echo-hash: the sha256 and length of the request body, read as it streams in;
- GET /: a small JSON answer (the handshake cases' request).
"""

from __future__ import annotations

import hashlib

from ringbolt import App, Request, Response

# The content repeats with a prime period: a piece delivered at the wrong offset (a stream
# frame misplaced by a retransmission) changes the hash unless the shift is a multiple of
# 65,521 bytes, which no QUIC frame size is.
PERIOD = 65521
_BLOCK = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(PERIOD // 32 + 1))[:PERIOD]
_cache: dict[int, bytes] = {}


def content(n: int) -> bytes:
    """The body of GET /bytes/{n}."""
    body = _cache.get(n)
    if body is None:
        body = (_BLOCK * (n // PERIOD + 1))[:n]
        if n >= 1 << 20:
            _cache[n] = body  # (the large ones are asked for again: made once)
    return body


app = App()


@app.get("/")
def index(req: Request) -> dict[str, str]:
    return {"hello": "interop", "version": req.http_version}


@app.get("/bytes/{n:int}")
def bytes_(req: Request) -> Response:
    n = req.params["n"]
    if n > 64 << 20:
        return Response(b"too large\n", status=400)
    return Response(content(n), content_type="application/octet-stream")


@app.post("/echo-hash")
async def echo_hash(req: Request) -> dict[str, object]:
    h = hashlib.sha256()
    length = 0
    async for chunk in req.stream():
        h.update(chunk)
        length += len(chunk)
    return {"sha256": h.hexdigest(), "length": length}
