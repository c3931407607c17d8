"""WSGI's native call path (pymod/native/wsgi/wsgi_call.cpp): every branch of the common case
(a list or tuple of bytes, write(), start_response's checks and exc_info, the fresh
context, wsgi.input, root_path) and every hand-over to ringbolt/wsgi.py (non-bytes
items, no start_response, close(), errors), served by a real ``ringbolt serve`` and
spoken to over raw sockets. Each bad-input case checks the answer on the wire, the log
line naming the cause, and that the same connection goes on being served."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from conftest import APPS, REPO, LoggedServer, Reader, Response, free_port

WAIT_S = 15.0


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    log = tmp_path_factory.mktemp("wsgi-native") / "server.log"
    # One reactor, two pool threads: the app never runs on the reactor. The bad answers
    # below fail at one line of the app (one kind of failure): after the first traceback,
    # each is reported in a count line, written every 0.2 s here instead of every 10 s.
    server = LoggedServer("wsgi_native_app:app", log, "--threads", "1", "--wsgi-threads", "2",
                          env={"RINGBOLT_ERROR_LOG_INTERVAL": "0.2"})
    yield server
    assert server.stop() == 0, server.output()


def exchange(srv: LoggedServer, method: str, path: str, body: bytes = b"", extra: str = "") -> tuple[Response, Response]:
    """The request, then a plain GET on the same keep-alive connection: (answer, follow-up).
    The follow-up proves the connection (and the pool thread) goes on serving."""
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}"
    if body or method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(head.encode("latin-1") + b"\r\n" + body)
        reader = Reader(s)
        first = reader.read(head_request=method == "HEAD")
        s.sendall(b"GET /plain HTTP/1.1\r\nHost: t\r\n\r\n")
        second = reader.read()
    assert (second.status, second.body) == (200, b"plain"), second
    return first, second


def request(srv: LoggedServer, method: str, path: str, body: bytes = b"", extra: str = "") -> Response:
    return exchange(srv, method, path, body, extra)[0]


def get(srv: LoggedServer, path: str) -> Response:
    return request(srv, "GET", path)


def assert_500_logged(srv: LoggedServer, resp: Response, path: str, cause: str) -> None:
    assert resp.status == 500 and resp.header("content-type") == "application/problem+json", resp
    assert json.loads(resp.body)["status"] == 500, resp
    assert resp.header("connection") is None, resp  # the connection stays usable
    wait_logged(srv, f"Exception in WSGI application for GET {path}", cause)


def wait_logged(srv: LoggedServer, *texts: str) -> str:
    """The log once it holds every one of `texts` (fails after WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        log = srv.output()
        if all(t in log for t in texts):
            return log
        assert time.monotonic() < deadline, f"{texts} not all in the log: {log[-3000:]}"
        time.sleep(0.05)


# ---- the common case, answered natively ----


def test_list_body(srv):
    resp = get(srv, "/plain")
    assert (resp.status, resp.body, resp.header("content-type")) == (200, b"plain", "text/plain")
    assert resp.header("content-length") == "5"


def test_tuple_body_and_tuple_headers(srv):
    resp = get(srv, "/tuple")
    assert (resp.status, resp.body, resp.header("x-kind")) == (201, b"tuple", "tuple")
    resp = get(srv, "/tuple-headers")
    assert (resp.status, resp.body, resp.header("x-tuple-headers")) == (200, b"th", "yes")


def test_empty_list_is_an_empty_body_with_no_default_content_type(srv):
    resp = get(srv, "/empty")
    assert (resp.status, resp.body, resp.header("content-length")) == (200, b"", "0")
    assert resp.header("content-type") is None, resp


# The answer's head, built natively from the app's header list: the same checks as any
# handler's headers (http::check_app_field), a 500 naming the cause when one fails.
@pytest.mark.parametrize("name,status,want", [
    ("same-length-twice", 200, {"content-length": "3"}),
    ("transfer-encoding", 200, {"content-length": "3", "transfer-encoding": None, "x-a": "1"}),
    ("date-server", 200, {"date": "Mon, 01 Jan 2001 00:00:00 GMT", "server": "the-app"}),
    ("latin1", 200, {"x-latin": "caf\u00e9", "x-plain": "ascii"}),
    ("many", 200, {f"x-n{i}": str(i) for i in range(40)}),
    ("no-content", 204, {"content-length": None}),
    ("big", 200, {"content-length": "20001", "content-type": "application/octet-stream"}),
])
def test_answer_head_fields(srv, name, status, want):
    resp = get(srv, f"/fields/{name}")
    assert resp.status == status, resp
    for key, value in want.items():
        assert resp.header(key) == value, (key, resp)
    assert len([k for k, _ in resp.headers if k.lower() == "date"]) == 1
    assert len([k for k, _ in resp.headers if k.lower() == "server"]) == 1
    if name == "big":
        assert resp.body == b"b" * 20000 + b"!"


@pytest.mark.parametrize("name,cause", [
    ("length-mismatch", "Content-Length: 99 does not match the body (3 bytes)"),
    ("bad-length", "invalid or conflicting Content-Length header 'x1'"),
    ("two-lengths", "invalid or conflicting Content-Length header '4'"),
    ("early-hints", "a handler cannot answer with status 103"),
])
def test_answer_head_refused_is_500(srv, name, cause):
    resp = get(srv, f"/fields/{name}")
    assert resp.status == 500, resp
    wait_logged(srv, f"Exception in handler for GET /fields/{name}", cause)


def test_answer_head_of_a_head_request_keeps_the_declared_length(srv):
    resp = request(srv, "HEAD", "/fields/head-length")
    assert (resp.status, resp.header("content-length"), resp.body) == (200, "10", b"")


def test_answer_headers_added_after_start_response_are_sent(srv):
    resp = get(srv, "/late-header")
    assert (resp.body, resp.header("x-late")) == (b"late", "added after start_response")


def test_recurring_header_blocks_each_answer_its_own(srv):
    # Blocks of header lines that recur are sent from a kept copy (wsgi_answer.cpp): a
    # mix of recurring, long (not kept) and varying blocks, pipelined on one connection.
    shapes = ["a", "b", "a", "long", "varying", "b", "a", "varying", "long", "b"] * 4
    want = {"a": {"content-type": "text/a", "x-shape": "a"},
            "b": {"content-type": "text/b", "x-shape": "b", "cache-control": "no-store"},
            "long": {"content-type": "text/long", "x-long": "l" * 600},
            "varying": {"content-type": "text/v"}}
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"".join(f"GET /shape/{shape}?{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
                           for i, shape in enumerate(shapes)))
        reader = Reader(s)
        for i, shape in enumerate(shapes):
            resp = reader.read()
            assert (resp.status, resp.body) == (200, b"shape"), resp
            names = sorted(k.lower() for k, _ in resp.headers if k.lower() not in ("date", "server", "content-length"))
            expected = dict(want[shape], **({"x-varying": str(i)} if shape == "varying" else {}))
            assert names == sorted(expected), (shape, resp)
            for key, value in expected.items():
                assert resp.header(key) == value, (shape, key, resp)


def test_answer_with_connection_close_closes(srv):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /fields/connection-close HTTP/1.1\r\nHost: t\r\n\r\n")
        resp = Reader(s).read()
        assert (resp.status, resp.body, resp.header("connection")) == (200, b"bye", "close")
        s.settimeout(WAIT_S)
        assert s.recv(1) == b""  # closed after the answer


def test_start_response_by_keyword(srv):
    resp = get(srv, "/keywords")
    assert (resp.status, resp.body, resp.header("x-kw")) == (202, b"kw", "1")


def test_write_chunks_come_before_the_list(srv):
    resp = get(srv, "/write-then-list")
    assert (resp.status, resp.body) == (200, b"w1;w2;w3;l1;l2")


def test_head_request(srv):
    resp = request(srv, "HEAD", "/plain")
    assert resp.status == 200 and resp.header("content-length") == "5"


def test_exc_info_before_the_head_was_sent_replaces_it(srv):
    resp = get(srv, "/exc-info-before")
    assert (resp.status, resp.body, resp.header("x-replaced")) == (500, b"replaced", "1")
    assert resp.header("x-first") is None


def test_exc_info_after_the_head_was_sent_reraises(srv):
    assert get(srv, "/keep").body == b"kept"
    # The kept start_response belongs to a request already answered: calling it with
    # exc_info re-raises that exception (PEP 3333), which is this request's 500.
    resp = get(srv, "/kept-exc-info")
    assert_500_logged(srv, resp, "/kept-exc-info", "kept-exc-info-reraised")
    assert "Boom: kept-exc-info-reraised" in srv.output()


def test_each_request_runs_in_a_fresh_context(srv):
    for q in ("a", "b", "c"):
        assert get(srv, f"/context?{q}").json() == {"before": "unset", "after": q}


def test_wsgi_input_with_a_body_in_memory(srv):
    resp = request(srv, "POST", "/input", b"line one\nline two\nend")
    assert resp.status == 200, resp
    assert resp.json() == {"first": "line one\n", "rest": "line two\nend", "length": "21", "type": "WSGIInput"}
    resp = request(srv, "POST", "/input-lines", b"a\nb\nc")
    assert resp.json() == ["a\n", "b\n", "c"]
    resp = get(srv, "/input")
    assert resp.json() == {"first": "", "rest": "", "length": None, "type": "WSGIInput"}


def test_chunked_body_is_read_as_it_arrives(srv):
    # A chunked body still arriving after its head streams: WSGICall hands the request to
    # WSGIHandler._run (BodyInput, with the same native StartResponse).
    with srv.connect(timeout=WAIT_S) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"POST /input HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab\nc\r\n")
        time.sleep(0.05)  # the rest in a later read
        s.sendall(b"2\r\nde\r\n0\r\n\r\n")
        resp = Reader(s).read()
    assert resp.status == 200, resp
    body = resp.json()
    assert body == {"first": "ab\n", "rest": "cde", "length": None, "type": "BodyInput"}


def test_chunked_body_that_came_whole_is_read_from_memory(srv):
    # The same body whole in the head's read is decoded before the request is reported:
    # buffered like a Content-Length body (WSGIInput), its length known.
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"POST /input HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"4\r\nab\nc\r\n2\r\nde\r\n0\r\n\r\n")
        resp = Reader(s).read()
    assert resp.status == 200, resp
    body = resp.json()
    assert body == {"first": "ab\n", "rest": "cde", "length": "6", "type": "WSGIInput"}


def test_root_path_is_stripped(tmp_path):
    srv = LoggedServer("wsgi_native_app:mounted", tmp_path / "log", "--threads", "1")
    try:
        assert json.loads(request(srv, "GET", "/native").body) == {"native": True}
        env = json.loads(request(srv, "GET", "/api/environ?q=1").body)
        assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == ("/api", "/environ", "q=1")
        # The app's 404 names the PATH_INFO it saw: "/api" alone strips to "", "/apiary"
        # does not start with "/api/" and stays whole.
        for path, info in (("/api", b""), ("/apiary", b"/apiary"), ("/api/", b"/")):
            with srv.connect(timeout=WAIT_S) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                resp = Reader(s).read()
            assert (resp.status, resp.body) == (404, b"Not Found: " + info), (path, resp)
    finally:
        assert srv.stop() == 0, srv.output()


def test_remote_address_and_protocol(srv):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n")
        env = Reader(s).read().json()
        port = s.getsockname()[1]
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"], env["SERVER_PROTOCOL"]) == ("127.0.0.1", str(port), "HTTP/1.1")
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /environ HTTP/1.0\r\nHost: t\r\n\r\n")
        assert Reader(s).read().json()["SERVER_PROTOCOL"] == "HTTP/1.0"


def environ_of(srv: LoggedServer, head: bytes) -> dict[str, str]:
    """The CGI variables the app saw for a request with this head (no Host added)."""
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(head + b"\r\n")
        resp = Reader(s).read()
    assert resp.status == 200, resp
    return resp.json()


# Request headers into the environ (wsgi_environ.cpp): names in the interned table in
# any case, names outside it, repeats joined, values kept for reuse never mixed up.
@pytest.mark.parametrize("lines,want,absent", [
    (["hOsT: a", "ACCEPT: x/y", "user-agent: ua"], {"HTTP_HOST": "a", "HTTP_ACCEPT": "x/y", "HTTP_USER_AGENT": "ua"},
     []),
    (["Host: t", "Accept: same", "Accept: same"], {"HTTP_ACCEPT": "same, same"}, []),
    (["Host: t", "Accept-Language: en", "accept-language: fr"], {"HTTP_ACCEPT_LANGUAGE": "en, fr"}, []),
    (["Host: t", "X-A: 1", "x-a: 2", "X-A: 3"], {"HTTP_X_A": "1, 2, 3"}, []),
    (["Host: t", "User-Agent: caf\xe9"], {"HTTP_USER_AGENT": "caf\u00e9"}, []),
    (["Host: t", "User-Agent: cafe"], {"HTTP_USER_AGENT": "cafe"}, []),
    (["Host: t", "User_Agent: x", "X_Under: y"], {}, ["HTTP_USER_AGENT", "HTTP_X_UNDER"]),
    (["Host: t", "Content-Type: a/b", "CONTENT-TYPE: c/d"], {"CONTENT_TYPE": "a/b, c/d"}, ["HTTP_CONTENT_TYPE"]),
    (["Host: t", "X-Odd~^!: v", "Sec-Fetch-Mode: cors", "Upgrade-Insecure-Requests: 1"],
     {"HTTP_X_ODD~^!": "v", "HTTP_SEC_FETCH_MODE": "cors", "HTTP_UPGRADE_INSECURE_REQUESTS": "1"}, []),
    (["Host: t", "Cookie: a=1", "Cookie: b=2", "Authorization: Basic eA=="],
     {"HTTP_COOKIE": "a=1, b=2", "HTTP_AUTHORIZATION": "Basic eA=="}, []),
    (["Host: t", "Accept:"], {"HTTP_ACCEPT": ""}, []),
    # Names of every length class the table compares (under 4, 4-7, 8, over 8 bytes),
    # in odd cases, and near misses that must stay outside it.
    (["Host: t", "te: trailers", "dNt: 1", "VIA: 1.1 p", "rAnGe: bytes=0-1", "ORIGIN: o", "referer: r",
      "If-Match: *", "PRIORITY: u=1", "aCcEpT-eNcOdInG: gzip", "X-FORWARDED-FOR: 10.0.0.1"],
     {"HTTP_TE": "trailers", "HTTP_DNT": "1", "HTTP_VIA": "1.1 p", "HTTP_RANGE": "bytes=0-1", "HTTP_ORIGIN": "o",
      "HTTP_REFERER": "r", "HTTP_IF_MATCH": "*", "HTTP_PRIORITY": "u=1", "HTTP_ACCEPT_ENCODING": "gzip",
      "HTTP_X_FORWARDED_FOR": "10.0.0.1"}, []),
    (["Host: t", "Accept-Encodinh: a", "X-Forwarded-Fo^: b", "Hosu: c", "T^: d"],
     {"HTTP_ACCEPT_ENCODINH": "a", "HTTP_X_FORWARDED_FO^": "b", "HTTP_HOSU": "c", "HTTP_T^": "d"},
     ["HTTP_ACCEPT_ENCODING", "HTTP_X_FORWARDED_FOR", "HTTP_TE"]),
])
def test_request_headers_in_the_environ(srv, lines, want, absent):
    head = ("GET /environ-all HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in lines)).encode("latin-1")
    for _ in range(2):  # the second time with the kept values
        env = environ_of(srv, head)
        for key, value in want.items():
            assert env.get(key) == value, (key, env)
        for key in absent:
            assert key not in env, (key, env)


def test_kept_header_values_follow_each_request(srv):
    # Host and User-Agent keep their last value for reuse: changing values, one after
    # the other, must each be seen as sent.
    for host, agent in (("a", "x"), ("b", "x"), ("b", "y"), ("a", "x"), ("a" * 600, "z" * 600), ("a", "x")):
        env = environ_of(srv, f"GET /environ-all HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\n".encode())
        assert (env["HTTP_HOST"], env["HTTP_USER_AGENT"]) == (host, agent)


@pytest.mark.parametrize("target,path_info,query", [
    ("/environ-all", "/environ-all", ""),
    ("/environ-all?q=1", "/environ-all", "q=1"),
    ("/environ-all?", "/environ-all", ""),
    ("/environ%2Dall", "/environ-all", ""),
    ("/environ%2Dall/?a=%20", "/environ-all/", "a=%20"),
])
def test_path_info_and_raw_uri(srv, target, path_info, query):
    env = environ_of(srv, f"GET {target} HTTP/1.1\r\nHost: t\r\n".encode())
    assert (env["PATH_INFO"], env["RAW_URI"], env["QUERY_STRING"]) == (path_info, target, query)


def test_remote_port_of_interleaved_connections(srv):
    # REMOTE_PORT texts are kept by port (wsgi_environ.cpp): connections used in turn,
    # each request must see its own connection's port.
    socks = [srv.connect(timeout=WAIT_S) for _ in range(6)]
    try:
        readers = [Reader(s) for s in socks]
        for _ in range(3):
            for s, reader in zip(socks, readers):
                s.sendall(b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n")
                assert reader.read().json()["REMOTE_PORT"] == str(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()


def test_remote_address_over_ipv6(tmp_path):
    port = free_port()
    log = open(tmp_path / "log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "ringbolt", "serve", "wsgi_native_app:app", "--app-dir", str(APPS),
                             "--host", "::1", "--port", str(port), "--threads", "1"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO), env=dict(os.environ))
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                s = socket.create_connection(("::1", port), timeout=WAIT_S)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "log").read_text()
                time.sleep(0.05)
        with s:
            s.sendall(b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n")
            env = Reader(s).read().json()
            assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("::1", str(s.getsockname()[1]))
    finally:
        proc.terminate()
        assert proc.wait(WAIT_S) == 0, (tmp_path / "log").read_text()
        log.close()


# ---- bad input on the native path: each a 500 naming the cause ----


@pytest.mark.parametrize("name", ["word", "two-digits", "under-100", "letter", "no-space", "bytes", "int",
                                  "non-ascii", "short"])
def test_bad_status_is_500(srv, name):
    path = f"/bad-status/{name}"
    assert_500_logged(srv, get(srv, path), path, "invalid WSGI status")


@pytest.mark.parametrize("name,cause", [
    ("bytes-name", "WSGI response header names and values must be str"),
    ("int-value", "WSGI response header names and values must be str"),
    ("list-pair", "is not a (name, value) tuple"),
    ("triple", "is not a (name, value) tuple"),
    ("dict", "WSGI response headers must be a list of (name, value) tuples, not dict"),
    ("not-latin1", "is not latin-1"),
])
def test_bad_headers_are_500(srv, name, cause):
    path = f"/bad-headers/{name}"
    assert_500_logged(srv, get(srv, path), path, cause)


@pytest.mark.parametrize("name,cause", [
    ("cr-lf-value", "value contains CR, LF or NUL"),
    ("lf-name", "invalid header name"),
])
def test_cr_lf_in_a_header_never_reaches_the_wire(srv, name, cause):
    # start_response takes any str; the response framer refuses CR/LF/NUL natively (the
    # native 500, application/problem+json), and logs the cause.
    resp = get(srv, f"/bad-headers/{name}")
    assert resp.status == 500, resp
    assert b"Set-Cookie" not in resp.body and resp.header("set-cookie") is None and resp.header("x-evil") is None
    wait_logged(srv, f"Exception in handler for GET /bad-headers/{name}", cause)


def test_start_response_twice_without_exc_info_is_500(srv):
    assert_500_logged(srv, get(srv, "/twice"), "/twice", "start_response called a second time without exc_info")


def test_str_in_a_list_body_is_500(srv):
    assert_500_logged(srv, get(srv, "/str-item"), "/str-item", "a WSGI application must yield bytes")
    assert "sequence item 1: expected a bytes-like object, str found" in srv.output()


def test_bytes_like_items_are_joined(srv):
    assert (get(srv, "/bytearray-item").body) == b"abc"


def test_write_of_a_str_is_500(srv):
    assert_500_logged(srv, get(srv, "/write-str"), "/write-str", "a WSGI application must yield bytes, not str")


def test_write_before_start_response_is_500(srv):
    assert_500_logged(srv, get(srv, "/write-before-start"), "/write-before-start",
                      "write() called before start_response")


def test_app_that_never_calls_start_response_is_500(srv):
    assert_500_logged(srv, get(srv, "/never-starts"), "/never-starts",
                      "the WSGI application returned without calling start_response")


def test_close_that_raises_is_500_and_logged(srv):
    assert_500_logged(srv, get(srv, "/closing-list"), "/closing-list", "close-failed-on-purpose")
    assert "(closing the iterable)" in srv.output()


@pytest.mark.parametrize("path,cause", [("/raises", "native-path-raised"), ("/keyboard-interrupt", "KeyboardInterrupt")])
def test_app_exceptions_are_500(srv, path, cause):
    assert_500_logged(srv, get(srv, path), path, cause)


def test_http_error_from_the_app_keeps_its_status(srv):
    resp = get(srv, "/http-error")
    assert resp.status == 418, resp
    assert json.loads(resp.body)["detail"] == "teapot from the app"


def test_many_requests_on_one_connection_after_errors(srv):
    # Errors and answers interleaved on one keep-alive connection, pipelined.
    paths = ["/plain", "/twice", "/tuple", "/str-item", "/bad-status/word", "/plain"] * 5
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for p in paths))
        reader = Reader(s)
        got = [reader.read().status for _ in paths]
    want = {"/plain": 200, "/tuple": 201}
    assert got == [want.get(p, 500) for p in paths]


def test_start_response_object_directly():
    # The native StartResponse outside a server: the same checks and attributes that
    # ringbolt.serving.wsgi_server's Python fallbacks read.
    from ringbolt import _native
    from ringbolt.serving.wsgi_server import WSGIStatusError, _check_headers, _parse_status

    start: Any = _native.StartResponse(_parse_status, _check_headers)
    assert (start.status, start.headers, start.sent, start.written) == (0, None, False, [])
    with pytest.raises(AssertionError, match="write\\(\\) called before start_response"):
        start.write(b"x")
    with pytest.raises(WSGIStatusError):
        start("OK", [])
    assert start.headers is None  # a refused call changes nothing
    write = start("404 Not Found", [("A", "b")])
    assert (start.status, start.headers) == (404, [("A", "b")])
    write(b"one")
    start.write(b"")
    assert start.written == [b"one"]
    for bad in ((), (b"a", b"b")):
        with pytest.raises(TypeError, match="write\\(\\) takes exactly one argument"):
            write(*bad)
    with pytest.raises(TypeError):
        write(data=b"x")
    with pytest.raises(TypeError, match="must yield bytes, not str"):
        write("text")
    assert start.written == [b"one"]
    with pytest.raises(AssertionError, match="second time"):
        start("200 OK", [])
    start("200 OK", [("X", "caf\u00e9")], (None, None, None))  # exc_info before sending: replaces
    assert (start.status, start.headers) == (200, [(b"X", b"caf\xe9")])
    start.sent = True
    try:
        raise KeyError("late")
    except KeyError:
        import sys

        info = sys.exc_info()
    with pytest.raises(KeyError, match="late") as caught:
        start("500 Oops", [], info)
    assert caught.value is info[1] and caught.value.__traceback__ is not None
    with pytest.raises(TypeError):
        start("200 OK")
    with pytest.raises(TypeError, match="unexpected keyword"):
        start("200 OK", [], bad=1)


def test_entry_takes_only_a_request():
    # WSGICall: the server runs it without making a Request (run_wsgi_call); called from
    # Python it takes a ringbolt Request and nothing else.
    from ringbolt.wsgi import WSGIHandler

    handler = WSGIHandler(lambda environ, start: [])
    for bad in (("not a request",), (), (None, None)):
        with pytest.raises(TypeError, match="WSGICall takes one argument"):
            handler.entry(*bad)


def test_start_response_and_write_objects_are_fresh_each_time():
    # StartResponse and write objects are recycled natively (free lists): each new one
    # must start blank, and a write kept past its StartResponse's other references
    # still writes to it.
    from ringbolt import _native
    from ringbolt.serving.wsgi_server import _check_headers, _parse_status

    kept = []
    for i in range(20):
        start: Any = _native.StartResponse(_parse_status, _check_headers)
        assert (start.status, start.headers, start.sent, start.written) == (0, None, False, [])
        write = start(f"{200 + i} X", [("N", str(i))])
        write(b"w%d" % i)
        start.sent = True
        kept.append(write)
        del start, write
    for i, write in enumerate(kept):
        write(b"again")  # the StartResponse lives on through its write
    del kept
