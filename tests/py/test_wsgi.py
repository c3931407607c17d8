"""WSGI (PEP 3333) server mode: raw WSGI apps (apps/wsgi_app.py), one wrapped in
``wsgiref.validate.validator``, Flask (apps/flask_app.py) and Django
(apps/django_site/), each served by a real ``ringbolt serve`` process and spoken to
over raw sockets; chunked bodies are decoded here so a cut-short stream is visible."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

import ringbolt
from conftest import LoggedServer, Reader, Response, ServerProcess, metric_totals
from gate import WAIT, Gate

WAIT_S = 10.0
FILE_SIZE = 200_000
# The server's own 500 (RFC 9457): a WSGI app's failure answers the one error format.
PROBLEM_500 = {"type": "about:blank", "title": "Internal Server Error", "status": 500,
               "detail": "The server failed to answer this request."}


# ---- wire helpers ----


class Truncated(Exception):
    """The connection ended inside a body."""


def _fill(reader: Reader) -> None:
    try:
        data = reader.sock.recv(262144)
    except ConnectionResetError:
        data = b""
    if not data:
        raise Truncated(reader.buf[:200])
    reader.buf += data


def _line(reader: Reader) -> bytes:
    while b"\r\n" not in reader.buf:
        _fill(reader)
    line, reader.buf = reader.buf.split(b"\r\n", 1)
    return line


def _take(reader: Reader, n: int) -> bytes:
    while len(reader.buf) < n:
        _fill(reader)
    out, reader.buf = reader.buf[:n], reader.buf[n:]
    return out


def read_response(reader: Reader, head_request: bool = False) -> Response:
    """One response with its body (Content-Length or chunked; Truncated if cut short)."""
    resp = reader.read(head_request=True)
    if head_request or resp.status in (204, 304):
        return resp
    if (resp.header("transfer-encoding") or "").lower() == "chunked":
        body = b""
        while True:
            size = int(_line(reader).split(b";")[0], 16)
            if size == 0:
                while _line(reader):
                    pass  # trailers
                break
            body += _take(reader, size)
            assert _take(reader, 2) == b"\r\n"
        resp.body = body
    elif resp.header("content-length") is not None:
        resp.body = _take(reader, int(resp.header("content-length") or 0))
    else:
        while True:
            try:
                _fill(reader)
            except Truncated:
                break
        resp.body, reader.buf = reader.buf, b""
    return resp


def call(srv: ServerProcess, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         raw_headers: str = "") -> Response:
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    if body or method in ("POST", "PUT"):
        head += f"Content-Length: {len(body)}\r\n"
    raw = (head + raw_headers + "\r\n").encode("latin-1") + body
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(raw)
        return read_response(Reader(s), head_request=method == "HEAD")


def get(srv: ServerProcess, path: str, **kw) -> Response:
    return call(srv, "GET", path, **kw)


def stop_and_log(srv: ServerProcess) -> str:
    code = srv.stop()
    out = srv.output()
    assert code == 0, out
    return out


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wsgi") / "data.bin"
    path.write_bytes(bytes(i * 7 % 251 for i in range(FILE_SIZE)))
    return path


def _serve(app: str, data_file: Path, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(app, *args, env={"WSGI_TEST_FILE": str(data_file), **(env or {})})


@pytest.fixture(scope="module")
def raw(data_file):
    # One reactor: a WSGI app running on it would stall every other request.
    srv = _serve("wsgi_app:app", data_file, "--threads", "1", "--wsgi-threads", "3")
    yield srv
    srv.stop()


def events(srv: ServerProcess) -> list[str]:
    return get(srv, "/events").json()


def wait_event(srv: ServerProcess, name: str) -> None:
    """The app records `name` (a streamed body's close() runs on the streaming thread
    after the last byte went out, so the client can be faster)."""
    deadline = time.monotonic() + WAIT_S
    while name not in events(srv):
        assert time.monotonic() < deadline, f"{name!r} never happened: {events(srv)}"
        time.sleep(0.02)


# ---- raw WSGI ----


def test_environ_fields(raw):
    resp = get(raw, "/environ/a%20b/caf%E9?x=1&y=%20&x=2",
               headers={"X-Custom": "v1", "X-Multi": "one", "X_Under": "dropped", "Content-Type": "text/x-test"},
               raw_headers="X-Multi: two\r\n")
    assert resp.status == 200, resp
    env = resp.json()
    assert env["REQUEST_METHOD"] == "GET"
    assert env["PATH_INFO"] == "/environ/a b/caf\u00e9"  # percent-decoded, bytes as latin-1
    assert env["RAW_URI"] == "/environ/a%20b/caf%E9?x=1&y=%20&x=2"
    assert env["QUERY_STRING"] == "x=1&y=%20&x=2"
    assert env["SCRIPT_NAME"] == ""
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_SOFTWARE"] == f"ringbolt/{ringbolt.__version__}"  # CGI (RFC 3875 §4.1.17)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", str(raw.port))
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["CONTENT_TYPE"] == "text/x-test"
    assert env["CONTENT_LENGTH"] is None
    assert env["http"]["HTTP_HOST"] == "test"
    assert env["http"]["HTTP_X_CUSTOM"] == "v1"
    assert env["http"]["HTTP_X_MULTI"] == "one, two"
    assert "HTTP_X_UNDER" not in env["http"] and "HTTP_CONTENT_TYPE" not in env["http"]
    assert env["wsgi.version"] == [1, 0] and env["wsgi.url_scheme"] == "http"
    assert (env["wsgi.multithread"], env["wsgi.multiprocess"], env["wsgi.run_once"]) == (True, False, False)
    assert env["errors_is_stderr"] and env["has_file_wrapper"] and env["wsgi.input_terminated"]


def test_post_echo_one_mib(raw):
    body = os.urandom(1 << 20)
    resp = call(raw, "POST", "/echo", body, headers={"Content-Type": "application/octet-stream"})
    assert resp.status == 200 and resp.header("x-got") == str(len(body))
    assert resp.body == body


def test_large_body_streams_through_wsgi_input(raw):
    line = b"x" * 99 + b"\n"
    body = line * 30_000  # 3 MB: above the 1 MiB a body is buffered whole up to
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"POST /lines HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        s.sendall(body)
        resp = read_response(Reader(s))
    assert resp.status == 200, resp
    assert resp.json() == {"lines": 30_000, "bytes": len(body), "input": "BodyInput"}


def test_streamed_body_over_the_limit_is_413(tmp_path):
    srv = ServerProcess("wsgi_app:app", "--threads", "1", "--max-body-size", str(2 << 20))
    try:
        with srv.connect(timeout=WAIT_S) as s:
            s.sendall(b"POST /lines HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"y" * 65535 + b"\n"
            try:
                for _ in range(48):  # 3 MiB in chunks, over the 2 MiB limit
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:
                pass  # the server may close once it has answered
            resp = read_response(Reader(s))
        assert resp.status == 413, resp
    finally:
        srv.stop()


def test_chunked_request_body_streams_to_wsgi_input(raw):
    payload = b"hello chunked world"
    raw_req = (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n" + b"%x\r\n" % (len(payload) - 5) + payload[5:] + b"\r\n0\r\n\r\n")
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(raw_req)
        resp = read_response(Reader(s))
    assert resp.status == 200 and resp.body == payload


@pytest.mark.parametrize("size", [19, 3 << 20])  # one chunk; 48 chunks, past the 256 KiB read window
def test_chunked_body_reaches_an_app_that_checks_server_software(raw, size):
    # httpbin refuses a chunked body unless SERVER_SOFTWARE names a server it trusts
    # (apps/wsgi_app.py server_gated_echo); without SERVER_SOFTWARE it answered 501.
    payload = bytes(i % 251 for i in range(size))
    chunks = b"".join(b"%x\r\n" % len(payload[i:i + 65536]) + payload[i:i + 65536] + b"\r\n"
                      for i in range(0, size, 65536))
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"POST /server-gated-echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + chunks + b"0\r\n\r\n")
        resp = read_response(Reader(s))
    assert resp.status == 200, resp
    # A chunked body that came whole with its head (one write of 19 bytes) is read whole, as
    # a Content-Length one is (wsgi.input over memory); a longer one streams (a BodyInput).
    expected_input = "WSGIInput" if size < 65536 else "BodyInput"
    assert resp.json() == {"server": f"ringbolt/{ringbolt.__version__}", "bytes": size, "input": expected_input}


def test_write_callable_then_iterable(raw):
    resp = get(raw, "/write")
    assert resp.status == 200
    assert resp.body == b"written-1;written-2;returned"


def test_generator_streams_and_is_closed(raw):
    resp = get(raw, "/generator")
    assert resp.status == 200 and resp.header("transfer-encoding") == "chunked", resp
    assert resp.body == b"".join(b"chunk-%d\n" % i for i in range(5))
    wait_event(raw, "closed:gen")


def test_endless_generator_closed_when_the_client_leaves(raw):
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        assert reader.read(head_request=True).status == 200
        while b"tick" not in reader.buf:
            _fill(reader)
    wait_event(raw, "closed:forever")


def test_lazy_start_response_in_a_generator(raw):
    resp = get(raw, "/lazy")
    assert resp.status == 201 and resp.header("x-lazy") == "yes" and resp.body == b"lazy"


def test_exc_info_before_headers_replaces_them(raw):
    resp = get(raw, "/exc-info-before")
    assert resp.status == 503 and resp.body == b"replaced"
    assert resp.header("x-replaced") == "1" and resp.header("x-first") is None


def test_exc_info_after_headers_reraises_and_cuts_short(raw):
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /exc-info-after HTTP/1.1\r\nHost: t\r\n\r\n")
        with pytest.raises(Truncated):
            read_response(Reader(s))
    wait_event(raw, "exc_info-reraised")


def test_error_mid_stream_cuts_the_response_short_and_closes(raw):
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /generator-fails HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        head = reader.read(head_request=True)
        assert head.status == 200
        with pytest.raises(Truncated):
            read_response_body_chunked(reader)
    wait_event(raw, "closed:gen-fails")


def read_response_body_chunked(reader: Reader) -> bytes:
    body = b""
    while True:
        size = int(_line(reader), 16)
        if size == 0:
            _line(reader)
            return body
        body += _take(reader, size)
        _take(reader, 2)


@pytest.mark.parametrize("path", ["/raises", "/first-chunk-fails", "/second-start", "/bad-status", "/str-body"])
def test_app_errors_before_the_head_are_500(raw, path):
    resp = get(raw, path)
    assert resp.status == 500 and resp.json() == PROBLEM_500, resp
    # the WSGI app raised before its head: the connection stays usable (an ASGI protocol
    # break closes it; both come from asgi._error_500)
    assert resp.header("connection") is None and resp.header("content-type") == "application/problem+json", resp


def test_iterable_closed_when_its_first_chunk_fails(raw):
    get(raw, "/first-chunk-fails")
    wait_event(raw, "closed:first-fails")


def test_latin1_header_value_sent_as_latin1(raw):
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /latin1 HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
    assert b"\r\nX-Latin: caf\xe9\r\n" in data


def test_head_keeps_the_apps_content_length(raw):
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"HEAD /head-length HTTP/1.1\r\nHost: t\r\n\r\nGET /write HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        head = read_response(reader, head_request=True)
        assert head.status == 200 and head.header("content-length") == "1234"
        after = read_response(reader)  # nothing was sent after the HEAD's head
        assert after.body == b"written-1;written-2;returned"


def test_file_wrapper_served_natively(raw, data_file):
    resp = get(raw, "/file")
    assert resp.status == 200 and resp.body == data_file.read_bytes()
    assert resp.header("content-length") == str(FILE_SIZE)
    # The app's headers as it wrote them, plus the framing and the server's own fields:
    # no Last-Modified the app did not send, which would make the answer heuristically
    # cacheable (RFC 9111 §4.2.2).
    assert sorted(name.lower() for name, _ in resp.headers) == ["content-length", "content-type", "date", "server"]


def test_file_wrapper_not_at_offset_zero_is_iterated(raw, data_file):
    resp = get(raw, "/file-offset")
    assert resp.status == 200 and resp.body == data_file.read_bytes()[10:]
    assert resp.header("last-modified") is None


def test_file_wrapper_without_a_file_is_iterated_and_closed(raw):
    resp = get(raw, "/file-pipe")
    assert resp.status == 200 and resp.body == b"0123456789" * 1000
    wait_event(raw, "closed:pipe")


def test_keep_alive_pipelined_requests(raw):
    with raw.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /write HTTP/1.1\r\nHost: t\r\n\r\n" * 3 + b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        for _ in range(3):
            assert read_response(reader).body == b"written-1;written-2;returned"
        last = read_response(reader)
        assert last.status == 404 and last.body == b"no such path"


def test_blocking_app_does_not_stop_a_concurrent_request():
    """While one WSGI call is held inside the app (blocked on the gate), a second request
    on the same single reactor is answered; the held one is answered once released. An
    app run on the reactor would answer nothing until the gate opens: the read would
    time out."""
    srv = ServerProcess("gate_app:wsgi", "--threads", "1", "--wsgi-threads", "3")
    try:
        with Gate() as gate, srv.connect(timeout=WAIT) as held:
            held.sendall(f"GET {gate.path('/hold', 'blocked')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert gate.wait_entered(1) == ["blocked"]
            with srv.connect(timeout=WAIT) as s:
                s.sendall(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
                fast = Reader(s).read()
            assert fast.status == 200 and fast.body == b"fast"
            assert gate.held() == 1, "the second request was answered only after the first"
            gate.release()
            slow = Reader(held).read()
            assert slow.status == 200 and slow.body == b"released:blocked"
    finally:
        assert srv.stop() == 0, srv.output()


def test_blocking_calls_of_one_batch_overlap():
    """Two pipelined requests reach the handler pool in one batch. The pool runs one
    request at a time with a spare thread waiting for the GIL: when the first call blocks
    (here on the gate), the spare must take the second, so both are inside the app at
    once. A pool that ran a batch on one thread would hold the second until the first
    returned: wait_entered(2) would time out."""
    srv = ServerProcess("gate_app:wsgi", "--threads", "1", "--wsgi-threads", "2")
    try:
        with Gate() as gate, srv.connect(timeout=WAIT) as s:
            s.sendall(f"GET {gate.path('/hold', 'a')} HTTP/1.1\r\nHost: t\r\n\r\n"
                      f"GET {gate.path('/hold', 'b')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert sorted(gate.wait_entered(2)) == ["a", "b"]
            gate.release()
            reader = Reader(s)
            assert [reader.read().body, reader.read().body] == [b"released:a", b"released:b"]
    finally:
        assert srv.stop() == 0, srv.output()


def test_a_blocked_call_does_not_hold_back_answers_already_made():
    """One pool thread. While it is held (gate 1), a fast request and then a blocking
    one (gate 2) queue up behind it. Once gate 1 opens, the thread answers the fast one
    and then blocks in the second: the fast answer must reach its client now, not when
    gate 2 opens (the pool delivers what it holds before it runs the last queued
    request; the pool before it ran both and delivered after both)."""
    srv = ServerProcess("gate_app:wsgi", "--threads", "1", "--wsgi-threads", "1")
    try:
        with Gate() as gate1, Gate() as gate2, srv.connect(timeout=WAIT) as first, \
                srv.connect(timeout=WAIT) as fast, srv.connect(timeout=WAIT) as second:
            first.sendall(f"GET {gate1.path('/hold', 'first')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert gate1.wait_entered(1) == ["first"]
            fast.sendall(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.3)  # queued in this order behind the held call
            second.sendall(f"GET {gate2.path('/hold', 'second')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            time.sleep(0.3)
            assert gate2.entered() == [], "the pool's one thread is held: nothing else may run"
            gate1.release()
            assert Reader(first).read().body == b"released:first"
            assert gate2.wait_entered(1) == ["second"]
            answer = Reader(fast).read()  # times out if the answer waits for gate 2
            assert answer.status == 200 and answer.body == b"fast"
            assert gate2.held() == 1, "the fast answer came only after the blocked call returned"
            gate2.release()
            assert Reader(second).read().body == b"released:second"
    finally:
        assert srv.stop() == 0, srv.output()


def test_requests_queued_before_any_pool_thread_waits_are_run(tmp_path):
    """At start-up the pool threads may not yet wait for work when the first requests
    arrive: then no thread is idle, so submitting wakes no one. The threads must still
    find that work when they reach their wait (a lost wake-up here once left the first
    WSGI request unanswered and the server unable to stop). The test hook
    RINGBOLT_TEST_POOL_GATE holds every pool thread before its first wait until the gate
    file exists; requests sent meanwhile are queued with no thread waiting."""
    gate_file = tmp_path / "pool-gate"
    srv = LoggedServer("gate_app:wsgi", tmp_path / "server.log", "--threads", "1", "--wsgi-threads", "2",
                       env={"RINGBOLT_TEST_POOL_GATE": str(gate_file)})
    try:
        with srv.connect(timeout=WAIT) as a, srv.connect(timeout=WAIT) as b:
            a.sendall(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
            b.sendall(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(2.0)  # parsed and queued by the reactor; the pool threads are held
            gate_file.touch()
            srv.wait_log("passed the gate", timeout=WAIT)
            assert Reader(a).read().body == b"fast"
            assert Reader(b).read().body == b"fast"
            out = srv.output()
            queued = [int(line.split(" with ")[1].split()[0]) for line in out.splitlines() if "passed the gate" in line]
            assert max(queued) >= 1, f"no request was queued before the pool threads waited: {out}"
    finally:
        if not gate_file.exists():
            gate_file.touch()
        assert srv.stop() == 0, srv.output()


def test_answers_to_a_reactor_that_is_awake_need_no_wake_up(data_file):
    """The pool writes the reactor's wake-up eventfd only when the reactor may be blocked
    in its wait: an answer delivered while it works is taken on its way to the next
    wait (reactor::turn). Concurrent clients keep the reactor busy, so both paths run:
    `answer_wakes_skipped` counts the answers that wrote nothing, `answer_wakes` the
    eventfd writes. Every answer must still arrive, whole and to its own request: a
    lost wake-up would leave a client waiting (its read times out)."""
    srv = _serve("wsgi_app:app", data_file, "--threads", "1", "--wsgi-threads", "2", "--metrics")
    clients, rounds = 16, 150
    errors: list[str] = []

    def client(n: int) -> None:
        try:
            with srv.connect(timeout=WAIT_S) as s:
                reader = Reader(s)
                for i in range(rounds):
                    body = f"client {n} request {i}".encode()
                    s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    resp = read_response(reader)
                    if resp.status != 200 or resp.body != body:
                        errors.append(f"client {n} request {i}: {resp.status} {resp.body[:60]!r}")
                        return
        except Exception as e:  # noqa: BLE001 - reported below with the client's number
            errors.append(f"client {n}: {e!r}")

    try:
        # Bursts until both paths have run (one burst does it on an idle machine; on one
        # CPU shared with the clients a burst may see only a few skipped writes).
        bursts = 0
        while True:
            bursts += 1
            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            totals = metric_totals(get(srv, "/metrics").body.decode())
            skipped, woken = totals.get("answer_wakes_skipped", 0), totals.get("answer_wakes", 0)
            if (skipped > 0 and woken > 0) or bursts == 5:
                break
        assert totals.get("python_requests", 0) >= bursts * clients * rounds
        assert skipped > 0, f"every answer wrote the eventfd ({woken} writes, {bursts} bursts)"
        assert woken > 0, "no answer found the reactor waiting: the eventfd path did not run"
    finally:
        assert srv.stop() == 0, srv.output()


def test_app_errors_are_logged_naming_the_cause(data_file):
    srv = _serve("wsgi_app:app", data_file)
    try:
        for path in ("/raises", "/bad-status", "/str-body", "/generator-fails", "/second-start"):
            try:
                get(srv, path)
            except Truncated:
                pass
        time.sleep(0.2)
    finally:
        out = stop_and_log(srv)
    assert "Exception in WSGI application for GET /raises" in out and "wsgi-app-raised" in out
    assert "invalid WSGI status 'OK'" in out
    assert "must yield bytes" in out
    assert "gen-fails failed at chunk 2" in out and "cut short" in out
    assert "start_response called a second time without exc_info" in out


def test_mount_wsgi_next_to_routes_with_root_path(data_file):
    srv = _serve("wsgi_app:mounted", data_file)
    try:
        assert get(srv, "/native").json() == {"native": True}  # a ringbolt route wins
        env = get(srv, "/api/environ/x?q=1").json()
        assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == ("/api", "/environ/x", "q=1")
        assert call(srv, "PROPFIND", "/api/environ").json()["REQUEST_METHOD"] == "PROPFIND"
    finally:
        stop_and_log(srv)


def test_class_as_application(data_file):
    srv = _serve("wsgi_app:AppClass", data_file)
    try:
        assert get(srv, "/x").body == b"from a class: /x"
    finally:
        stop_and_log(srv)


def test_multiprocess_flag_with_workers(data_file):
    srv = _serve("wsgi_app:app", data_file, "--workers", "2")
    try:
        env = get(srv, "/environ").json()
        assert (env["wsgi.multiprocess"], env["wsgi.multithread"]) == (True, True)
    finally:
        stop_and_log(srv)


# ---- wsgiref.validate ----


def test_validator_sees_no_violation(data_file):
    srv = _serve("wsgi_app:validated", data_file)
    try:
        for _ in range(3):
            assert get(srv, "/hello?a=1").body == b"validated /hello"
            assert call(srv, "POST", "/echo", b"x" * 5000, headers={"Content-Type": "text/plain"}).body == b"x" * 5000
            assert get(srv, "/stream").body == b"one;two;three"
            assert get(srv, "/empty").status == 204
            assert get(srv, "/file").body == data_file.read_bytes()
            assert call(srv, "HEAD", "/hello").status == 200
        # The validator is live: headers in a tuple are its AssertionError.
        assert get(srv, "/violate").status == 500
        time.sleep(0.2)
    finally:
        out = stop_and_log(srv)
    assert out.count("AssertionError: ") == 1, out
    assert "must be of type list" in out
    assert "WSGIWarning" not in out, out


# ---- Flask ----


@pytest.fixture(scope="module")
def flask_srv(data_file):
    pytest.importorskip("flask")
    srv = _serve("flask_app:app", data_file)
    yield srv
    out = stop_and_log(srv)
    assert "flask-view-raised" in out  # Flask's own log of /boom
    assert "Exception while streaming" not in out and "cut short" not in out, out


def test_flask_routing_and_json(flask_srv):
    assert get(flask_srv, "/").body == b"hello from flask"
    resp = get(flask_srv, "/users/42?q=x%20y")
    assert resp.status == 200 and resp.json() == {"id": 42, "q": "x y"}


def test_flask_urlencoded_form(flask_srv):
    body = urlencode([("name", "Zo\u00eb"), ("tag", "a"), ("tag", "b")]).encode()
    resp = call(flask_srv, "POST", "/form", body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 200 and resp.json() == {"name": "Zo\u00eb", "tags": ["a", "b"], "upload": None}


def test_flask_multipart_form_with_file(flask_srv):
    boundary = "rbBOUNDARY"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nann\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"d.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nfile body\r\n--{boundary}--\r\n").encode()
    resp = call(flask_srv, "POST", "/form", body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert resp.status == 200 and resp.json() == {"name": "ann", "tags": [], "upload": "file body"}


def test_flask_json_body(flask_srv):
    body = json.dumps({"items": [1, 2, 3]}).encode()
    resp = call(flask_srv, "POST", "/json", body, headers={"Content-Type": "application/json"})
    assert resp.status == 201 and resp.json() == {"got": {"items": [1, 2, 3]}, "n": 3}


def test_flask_errors(flask_srv):
    assert get(flask_srv, "/missing").status == 404
    assert get(flask_srv, "/no/such/route").status == 404
    assert get(flask_srv, "/boom").status == 500
    assert call(flask_srv, "POST", "/").status == 405


def test_flask_redirect(flask_srv):
    resp = get(flask_srv, "/old")
    assert resp.status == 302 and resp.header("location") == "/users/7?q=moved"


def test_flask_send_file(flask_srv, data_file):
    resp = get(flask_srv, "/file")
    assert resp.status == 200 and resp.body == data_file.read_bytes()
    assert resp.header("content-length") == str(FILE_SIZE)
    part = get(flask_srv, "/file", headers={"Range": "bytes=100-199"})
    assert part.status == 206 and part.body == data_file.read_bytes()[100:200]
    head = call(flask_srv, "HEAD", "/file")
    assert head.status == 200 and head.header("content-length") == str(FILE_SIZE)


def test_flask_streamed_response(flask_srv):
    resp = get(flask_srv, "/stream")
    assert resp.status == 200 and resp.body == b"part-0;part-1;part-2;"


# ---- Django ----


@pytest.fixture(scope="module")
def django_srv(data_file, tmp_path_factory):
    pytest.importorskip("django")
    db = tmp_path_factory.mktemp("django") / "db.sqlite3"
    srv = _serve("django_site.wsgi:application", data_file, "--wsgi-threads", "2", env={"DJANGO_TEST_DB": str(db)})
    yield srv
    out = stop_and_log(srv)
    assert "django-view-raised" in out  # Django's own log of /boom/
    assert "Exception while streaming" not in out and "Exception in WSGI" not in out, out


def test_django_view_and_query(django_srv):
    resp = get(django_srv, "/hello/?name=ringbolt")
    assert resp.status == 200 and resp.body == b"hello from django, ringbolt"
    moved = get(django_srv, "/hello")  # CommonMiddleware's APPEND_SLASH
    assert moved.status == 301 and moved.header("location") == "/hello/"


def test_django_database_roundtrip(django_srv):
    ids = []
    for text in ("first note", "second note"):
        resp = call(django_srv, "POST", "/notes/", urlencode({"text": text}).encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert resp.status == 201, resp
        ids.append(resp.json()["id"])
    listed = get(django_srv, "/notes/").json()["notes"]
    assert [n["text"] for n in listed][-2:] == ["first note", "second note"]
    assert get(django_srv, f"/notes/{ids[1]}/").json() == {"id": ids[1], "text": "second note"}
    assert get(django_srv, "/notes/999999/").status == 404


def test_django_error_is_500(django_srv):
    assert get(django_srv, "/boom/").status == 500


def test_django_file_response_is_native(django_srv, data_file):
    resp = get(django_srv, "/file/")
    assert resp.status == 200 and resp.body == data_file.read_bytes()
    assert resp.header("last-modified") is None  # Django sets none, and the server adds none
