"""Raw WSGI apps for tests/py/test_wsgi.py: one dispatcher by PATH_INFO; what the tests
observe afterwards (a generator's close()) is kept in-process and read back over HTTP."""

import json
import os
import sys
import threading
import time
from wsgiref.validate import validator

events: list[str] = []
_lock = threading.Lock()


def _note(what: str) -> None:
    with _lock:
        events.append(what)


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def environ_view(environ, start_response):
    keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "RAW_URI", "SERVER_PROTOCOL",
            "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "CONTENT_TYPE", "CONTENT_LENGTH", "wsgi.url_scheme",
            "SERVER_SOFTWARE", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated")
    out = {k: environ.get(k) for k in keys}
    out["wsgi.version"] = list(environ["wsgi.version"])
    out["http"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    out["errors_is_stderr"] = environ["wsgi.errors"] is sys.stderr
    out["has_file_wrapper"] = callable(environ.get("wsgi.file_wrapper"))
    out["thread"] = threading.current_thread().name
    return _json(start_response, out)


def echo(environ, start_response):
    if environ.get("CONTENT_LENGTH"):
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    elif environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read()  # chunked: read to the end (wsgi.input_terminated)
    else:
        body = b""
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("X-Got", str(len(body)))])
    return [body]


def server_gated_echo(environ, start_response):
    """httpbin's before_request check, unchanged but for the server it trusts: a chunked
    body is read only when SERVER_SOFTWARE names a server known to end wsgi.input at the
    body's end; any other server (or none) gets httpbin's 501."""
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        server = environ.get("SERVER_SOFTWARE", "")
        if not server.lower().startswith("ringbolt/"):
            start_response("501 Not Implemented", [("Content-Type", "text/plain")])
            return [f"Chunked requests are not supported for server {server}".encode()]
    body = environ["wsgi.input"].read()
    return _json(start_response, {"server": environ["SERVER_SOFTWARE"], "bytes": len(body),
                                  "input": type(environ["wsgi.input"]).__name__})


def lines(environ, start_response):
    """Counts the body's lines by iterating wsgi.input (a streamed body: readline)."""
    count = 0
    size = 0
    kind = type(environ["wsgi.input"]).__name__
    for line in environ["wsgi.input"]:
        count += 1
        size += len(line)
    return _json(start_response, {"lines": count, "bytes": size, "input": kind})


def write_callable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written-1;")
    write(b"written-2;")
    return [b"returned"]


class Tracked:
    """An iterable whose close() is recorded (PEP 3333: the server must call it)."""

    def __init__(self, name, chunks, fail_at=None, delay=0.0):
        self.name, self.chunks, self.fail_at, self.delay = name, chunks, fail_at, delay

    def __iter__(self):
        for i, c in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError(f"{self.name} failed at chunk {i}")
            if self.delay:
                time.sleep(self.delay)
            yield c

    def close(self):
        _note(f"closed:{self.name}")


def generator(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("gen", [b"chunk-%d\n" % i for i in range(5)], delay=0.01)


def forever(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("forever", iter(lambda: b"tick\n", None), delay=0.02)


def generator_fails(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("gen-fails", [b"a" * 1000, b"b" * 1000, b"c"], fail_at=2, delay=0.01)


def first_chunk_fails(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("first-fails", [b"never"], fail_at=0)


def lazy_start(environ, start_response):
    # A generator app: start_response is called on the first iteration.
    yield b""
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Lazy", "yes")])
    yield b"lazy"


def exc_info_before(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
    try:
        raise ValueError("boom")
    except ValueError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("X-Replaced", "1")],
                       sys.exc_info())
    return [b"replaced"]


def exc_info_after(environ, start_response):
    # Headers are sent once the first non-empty chunk is out: exc_info must re-raise.
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"started;"
        time.sleep(0.05)
        try:
            raise KeyError("late")
        except KeyError:
            try:
                start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
            except KeyError:
                _note("exc_info-reraised")
                raise
        yield b"never"

    return body()


def second_start(environ, start_response):
    start_response("200 OK", [])
    start_response("200 OK", [])  # no exc_info: an error
    return [b"x"]


def raises(environ, start_response):
    raise RuntimeError("wsgi-app-raised")


def bad_status(environ, start_response):
    start_response("OK", [("Content-Type", "text/plain")])
    return [b"x"]


def str_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["not bytes"]


def latin1_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Latin", "caf\u00e9")])
    return [b"ok"]


def sleep(environ, start_response):
    time.sleep(float(environ["QUERY_STRING"] or "1"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slept"]


def file_native(environ, start_response):
    path = os.environ["WSGI_TEST_FILE"]
    f = open(path, "rb")
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 4096)


def file_offset(environ, start_response):
    # Not at offset 0: must be iterated, starting where the file is.
    path = os.environ["WSGI_TEST_FILE"]
    f = open(path, "rb")
    f.seek(10)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 4096)


class Pipe:
    """A file-like without a name or fileno: iterated in blocks."""

    def __init__(self, data):
        self.data, self.closed = data, False

    def read(self, n):
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk

    def close(self):
        _note("closed:pipe")


def file_pipe(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](Pipe(b"0123456789" * 1000), 1000)


def head_length(environ, start_response):
    body = b"x" * 1234
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def events_view(environ, start_response):
    with _lock:
        return _json(start_response, list(events))


ROUTES = {
    "/environ": environ_view, "/echo": echo, "/server-gated-echo": server_gated_echo, "/lines": lines, "/write": write_callable, "/generator": generator, "/forever": forever,
    "/generator-fails": generator_fails, "/first-chunk-fails": first_chunk_fails, "/lazy": lazy_start,
    "/exc-info-before": exc_info_before, "/exc-info-after": exc_info_after, "/second-start": second_start,
    "/raises": raises, "/bad-status": bad_status, "/str-body": str_body, "/latin1": latin1_header,
    "/sleep": sleep, "/file": file_native, "/file-offset": file_offset, "/file-pipe": file_pipe,
    "/head-length": head_length, "/events": events_view,
}


def app(environ, start_response):
    handler = ROUTES.get(environ["PATH_INFO"])
    if handler is None:
        if environ["PATH_INFO"].startswith("/environ/"):
            return environ_view(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such path"]
    return handler(environ, start_response)


def _validated(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one;", b"two;", b"three"])
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/file":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(os.environ["WSGI_TEST_FILE"], "rb"))
    if path == "/violate":
        start_response("200 OK", (("Content-Type", "text/plain"),))  # a tuple, not a list: the validator objects
        return [b"x"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"validated ", environ["PATH_INFO"].encode("latin-1")]


validated = validator(_validated)


# A ringbolt App with its own route and the WSGI app mounted under /api.
from ringbolt import App  # noqa: E402

mounted = App()
mounted.mount_wsgi(app, threads=2, root_path="/api")


@mounted.get("/native")
def native(req):
    return {"native": True}


class AppClass:
    """PEP 3333's class-as-application: the instance is the iterable."""

    def __init__(self, environ, start_response):
        self.environ, self.start = environ, start_response

    def __iter__(self):
        self.start("200 OK", [("Content-Type", "text/plain")])
        yield b"from a class: " + self.environ["PATH_INFO"].encode()
