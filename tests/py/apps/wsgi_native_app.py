"""A raw WSGI app whose routes each take one branch of the native call path
(pymod/native/wsgi/wsgi_call.cpp) or one of its hand-overs to ringbolt/wsgi.py: bodies as a
list or tuple, write(), start_response's checks and exc_info, bad results, close()."""

from __future__ import annotations

import contextvars
import json
import sys
from typing import Any, Callable

from ringbolt import HTTPError

StartResponse = Callable[..., Any]

request_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_var", default="unset")
kept: dict[str, Any] = {}  # a start_response kept from an earlier request


class Boom(Exception):
    pass


class ClosingList(list):  # a list subclass: has close(), takes the Python path
    def close(self) -> None:
        raise RuntimeError("close-failed-on-purpose")


TEXT = [("Content-Type", "text/plain")]


def ok(start: StartResponse, body: bytes, status: str = "200 OK") -> list[bytes]:
    start(status, TEXT)
    return [body]


BAD_STATUS: dict[str, Any] = {
    "word": "OK",
    "two-digits": "20 OK",
    "under-100": "099 Low",
    "letter": "2x0 OK",
    "no-space": "200OK",
    "bytes": b"200 OK",
    "int": 200,
    "non-ascii": "200 Ok\u00e9",
    "short": "200",
}

BAD_HEADERS: dict[str, Any] = {
    "cr-lf-value": [("X-Evil", "a\r\nSet-Cookie: x=1")],
    "lf-name": [("X-Evil\n", "v")],
    "bytes-name": [(b"X-Bytes", "v")],
    "int-value": [("X-Int", 5)],
    "list-pair": [["X-List", "v"]],
    "triple": [("X-A", "v", "w")],
    "dict": {"X-Dict": "v"},
    "not-latin1": [("X-Snow", "\u2603")],
}


# The answer's head, built natively from the app's header list (wsgi_answer_message):
# name -> (status, headers, body).
FIELDS: dict[str, tuple[str, list[tuple[str, str]], list[bytes]]] = {
    "length-mismatch": ("200 OK", [("Content-Length", "99")], [b"abc"]),
    "bad-length": ("200 OK", [("Content-Length", "x1")], [b"abc"]),
    "two-lengths": ("200 OK", [("Content-Length", "3"), ("Content-Length", "4")], [b"abc"]),
    "same-length-twice": ("200 OK", [("Content-Length", "3"), ("content-length", "3")], [b"abc"]),
    "transfer-encoding": ("200 OK", [("Transfer-Encoding", "chunked"), ("X-A", "1")], [b"abc"]),
    "date-server": ("200 OK", [("Date", "Mon, 01 Jan 2001 00:00:00 GMT"), ("Server", "the-app")], [b"d"]),
    "latin1": ("200 OK", [("X-Latin", "caf\u00e9"), ("X-Plain", "ascii")], [b"latin"]),
    "many": ("200 OK", [(f"X-N{i}", str(i)) for i in range(40)], [b"many"]),
    "early-hints": ("103 Early Hints", [], []),
    "no-content": ("204 No Content", [("Content-Length", "5")], []),
    "big": ("200 OK", [("Content-Type", "application/octet-stream")], [b"b" * 20000, b"!"]),
    "head-length": ("200 OK", [("Content-Length", "10")], []),
    "connection-close": ("200 OK", [("Connection", "close")], [b"bye"]),
}


def app(environ: dict[str, Any], start: StartResponse) -> Any:
    path: str = environ["PATH_INFO"]
    if path.startswith("/fields/"):
        status, headers, body = FIELDS[path[len("/fields/"):]]
        start(status, list(headers))
        return body
    if path.startswith("/shape/"):
        # Header blocks that recur (kept and reused natively), one that is long, one
        # that differs every time: each answer must carry exactly its own.
        shape = path[len("/shape/"):]
        value = environ["QUERY_STRING"]
        headers = {
            "a": [("Content-Type", "text/a"), ("X-Shape", "a")],
            "b": [("Content-Type", "text/b"), ("X-Shape", "b"), ("Cache-Control", "no-store")],
            "long": [("Content-Type", "text/long"), ("X-Long", "l" * 600)],
            "varying": [("Content-Type", "text/v"), ("X-Varying", value)],
        }[shape]
        start("200 OK", headers + [("Content-Length", "5")])
        return [b"shape"]
    if path == "/late-header":
        headers = [("Content-Type", "text/plain")]
        start("200 OK", headers)
        headers.append(("X-Late", "added after start_response"))  # read when the answer is built
        return [b"late"]
    if path == "/plain":
        return ok(start, b"plain")
    if path == "/tuple":
        start("201 Created", [("Content-Type", "text/plain"), ("X-Kind", "tuple")])
        return (b"tu", b"p", b"le")
    if path == "/empty":
        start("200 OK", [])
        return []
    if path == "/tuple-headers":
        start("200 OK", (("X-Tuple-Headers", "yes"),))
        return [b"th"]
    if path == "/keywords":
        start(status="202 Accepted", headers=[("X-Kw", "1")], exc_info=None)
        return [b"kw"]
    if path == "/write-then-list":
        write = start("200 OK", TEXT)
        write(b"w1;")
        write(bytearray(b"w2;"))
        write(memoryview(b"w3;"))
        write(b"")
        return [b"l1;", b"l2"]
    if path == "/write-str":
        write = start("200 OK", TEXT)
        write("not bytes")
        return [b"never"]
    if path == "/write-before-start":
        start.write(b"early")  # type: ignore[attr-defined]
        return [b"never"]
    if path == "/bytearray-item":
        start("200 OK", TEXT)
        return [b"a", bytearray(b"b"), memoryview(b"c")]
    if path == "/str-item":
        start("200 OK", TEXT)
        return [b"ok", "not bytes"]
    if path == "/never-starts":
        return [b"no start_response"]
    if path == "/twice":
        start("200 OK", TEXT)
        start("200 OK", TEXT)
        return [b"never"]
    if path == "/exc-info-before":
        start("200 OK", [("X-First", "1")])
        try:
            raise Boom("replaced-before-send")
        except Boom:
            start("500 Oops", [("X-Replaced", "1")], sys.exc_info())
        return [b"replaced"]
    if path == "/keep":
        kept["start"] = start
        return ok(start, b"kept")
    if path == "/kept-exc-info":
        # The kept start_response's head was sent with the earlier answer: PEP 3333 says
        # re-raise the exc_info's exception.
        try:
            raise Boom("kept-exc-info-reraised")
        except Boom:
            kept["start"]("500 Oops", TEXT, sys.exc_info())
        return ok(start, b"not reached")
    if path.startswith("/bad-status/"):
        start(BAD_STATUS[path[len("/bad-status/"):]], TEXT)
        return [b"never"]
    if path.startswith("/bad-headers/"):
        start("200 OK", BAD_HEADERS[path[len("/bad-headers/"):]])
        return [b"never"]
    if path == "/latin1-header":
        start("200 OK", [("X-Latin", "caf\u00e9")])
        return [b"latin"]
    if path == "/closing-list":
        start("200 OK", [("Content-Length", "6")])
        return ClosingList([b"closed"])
    if path == "/raises":
        raise Boom("native-path-raised")
    if path == "/keyboard-interrupt":
        raise KeyboardInterrupt
    if path == "/http-error":
        raise HTTPError(418, "teapot from the app")
    if path == "/context":
        before = request_var.get()
        request_var.set(environ["QUERY_STRING"])
        return ok(start, json.dumps({"before": before, "after": request_var.get()}).encode())
    if path == "/input":
        stream = environ["wsgi.input"]
        first = stream.readline()
        rest = stream.read()
        body = {"first": first.decode(), "rest": rest.decode(), "length": environ.get("CONTENT_LENGTH"),
                "type": type(stream).__name__}
        return ok(start, json.dumps(body).encode())
    if path == "/input-lines":
        lines = [line.decode() for line in environ["wsgi.input"]]
        return ok(start, json.dumps(lines).encode())
    if path == "/environ-all" or path == "/environ-all/":
        cgi = {k: v for k, v in environ.items() if k.isupper() and isinstance(v, str)}
        return ok(start, json.dumps(cgi).encode("utf-8"))
    if path == "/environ":
        keys = ("PATH_INFO", "SCRIPT_NAME", "QUERY_STRING", "REQUEST_METHOD", "REMOTE_ADDR", "REMOTE_PORT",
                "SERVER_PROTOCOL")
        return ok(start, json.dumps({k: environ.get(k) for k in keys}).encode())
    start("404 Not Found", TEXT)
    return [b"Not Found: " + path.encode("latin-1")]


# The same app under root_path /api, next to a ringbolt route.
from ringbolt import App  # noqa: E402

mounted = App()
mounted.mount_wsgi(app, threads=2, root_path="/api")


@mounted.get("/native")
def native(req: Any) -> dict[str, bool]:
    return {"native": True}
