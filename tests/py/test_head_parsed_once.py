"""A request head is parsed once, whatever the read boundaries, end to end over real
sockets: HttpArena's baseline mix (a GET with a query, a POST with a Content-Length body,
a POST with a chunked body), each sent whole and with its body in a later write
(TCP_NODELAY and a pause: a separate read), is answered right, and the server's
`http1_head_parses` counter (app.stats(): the parser's runs over a head) grows by one a
request. A head cut by a write costs one try that stops where its bytes do, then the
parse: two."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from ringbolt import App
from ringbolt.testing import TestClient

PAUSE = 0.05  # between two writes: the server reads them separately

GET = b"GET /baseline11?a=13&b=42 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"
POST_CL_HEAD = b"POST /baseline11?a=13&b=42 HTTP/1.1\r\nHost: localhost:8080\r\nContent-Length: 2\r\n\r\n"
POST_CHUNKED_HEAD = b"POST /baseline11?a=13&b=42 HTTP/1.1\r\nHost: localhost:8080\r\nTransfer-Encoding: chunked\r\n\r\n"


def make_app() -> App:
    app = App()

    @app.route("/baseline11", methods=["GET", "POST"])
    def baseline11(req: Any) -> str:
        total = sum(int(v) for v in req.query.values())
        if req.method == "POST":
            total += int(req.text())
        return str(total)

    return app


def answer(s: socket.socket) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, "connection closed"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        chunk = s.recv(4096)
        assert chunk, "connection closed"
        body += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


def parses(app: App) -> int:
    return app.stats()["total"]["http1_head_parses"]


@pytest.mark.parametrize(
    "writes, expected, parsed",
    [
        ([GET], b"55", 1),
        ([POST_CL_HEAD + b"20"], b"75", 1),
        ([POST_CHUNKED_HEAD + b"2\r\n20\r\n0\r\n\r\n"], b"75", 1),
        ([POST_CL_HEAD, b"20"], b"75", 1),
        ([POST_CL_HEAD + b"2", b"0"], b"75", 1),
        ([POST_CHUNKED_HEAD, b"2\r\n20\r\n0\r\n\r\n"], b"75", 1),
        ([POST_CHUNKED_HEAD + b"2\r\n2", b"0\r\n0\r\n", b"\r\n"], b"75", 1),
        ([GET[:20], GET[20:]], b"55", 2),
        ([POST_CHUNKED_HEAD[:40], POST_CHUNKED_HEAD[40:] + b"2\r\n2", b"0\r\n0\r\n\r\n"], b"75", 2),
    ],
    ids=["get", "post-cl", "post-chunked", "cl-body-later", "cl-body-split", "chunked-body-later",
         "chunked-body-split", "get-head-split", "chunked-head-and-body-split"],
)
def test_a_head_is_parsed_once_whatever_the_read_boundaries(writes: list[bytes], expected: bytes,
                                                            parsed: int) -> None:
    app = make_app()
    with TestClient(app) as client:
        with socket.create_connection(("127.0.0.1", client.port), timeout=10) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(3):  # the same connection, request after request
                before = parses(app)
                for i, w in enumerate(writes):
                    if i:
                        time.sleep(PAUSE)
                    s.sendall(w)
                assert answer(s) == expected
                assert parses(app) - before == parsed
