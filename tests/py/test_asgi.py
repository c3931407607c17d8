"""ASGI 3 server mode end to end: a raw ASGI app (apps/asgi_app.py) served by
``ringbolt serve``, checked over raw sockets. The scope's every field, ``receive``
(whole, streamed and chunked bodies, ``http.disconnect``), ``send`` (one message,
streams, backpressure, a client that leaves, pathsend), what the app does wrong, and
lifespan. The Makefile runs the suite on io_uring and again with RINGBOLT_IO=epoll."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import APPS, REPO, LoggedServer, Reader, ServerProcess, free_port
from test_streaming import (Chunked, Truncated, get_req, is_chunked, json_get, read_head, read_json, read_to_eof, send,
                            take, token)

APP = "asgi_app:app"
MIB = 1 << 20
WAIT_S = 10.0  # bound for what should take well under a second: only catches hangs


def wait_record(srv: ServerProcess, tok: str, ready, what: str):
    """The app's record for ``tok`` once ``ready(record)`` holds (polled, bounded)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        rec = json_get(srv, f"/state?token={tok}")
        if ready(rec):
            return rec
        assert time.monotonic() < deadline, f"{what}: {rec}"
        time.sleep(0.02)


def assert_method_answer_follows(rd: Reader) -> None:
    """The `GET /method` pipelined behind a request is answered: the connection kept step."""
    resp2 = read_head(rd)
    assert resp2.status == 200 and take(rd, 3, time.monotonic() + WAIT_S) == b"GET", resp2


def assert_answer_then_method(srv, path: str, body: bytes) -> None:
    """``path`` is answered 200 with ``body`` whole, and a request pipelined after it is
    answered too (the connection goes on)."""
    s, rd = send(srv, get_req(path) + get_req("/method"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and take(rd, len(body), time.monotonic() + WAIT_S) == body, resp
        assert_method_answer_follows(rd)


def leave_mid_upload(srv: ServerProcess, sent: int) -> str:
    """Starts a 4 MiB upload to /upload-record, closes the connection once the app has
    `sent` bytes; the record's token."""
    tok = token()
    s = srv.connect()
    try:
        s.sendall(f"POST /upload-record?token={tok} HTTP/1.1\r\nHost: t\r\nContent-Length: {4 * MIB}\r\n\r\n"
                  .encode() + b"u" * sent)
        wait_record(srv, tok, lambda r: r.get("bytes") == sent, "the first part of the body never arrived")
    finally:
        s.close()
    return tok


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP, "--threads", "2", "--max-body-size", str(16 * MIB))
    yield s
    assert s.stop() == 0, s.output()



# ---------------------------------------------------------------------------------------
# The scope
# ---------------------------------------------------------------------------------------


def test_scope_has_every_field(srv):
    s, rd = send(srv, b"GET /scope/caf%C3%A9/a%20b?x=1&x=2&y=%C3%A9&z HTTP/1.1\r\nHost: example.test\r\n"
                      b"X-Repeat: one\r\nMixed-CASE-Name: Value Kept\r\nx-repeat: two\r\nConnection: close\r\n\r\n")
    with s:
        local_port = s.getsockname()[1]
        resp, scope = read_json(rd)
    assert resp.status == 200, resp
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope/café/a b"  # percent-decoded, UTF-8
    assert scope["raw_path"] == {"b": "/scope/caf%C3%A9/a%20b"}  # as sent, without the query
    assert scope["query_string"] == {"b": "x=1&x=2&y=%C3%A9&z"}  # bytes, undecoded
    assert scope["root_path"] == ""
    assert scope["headers"] == [
        [{"b": "host"}, {"b": "example.test"}],
        [{"b": "x-repeat"}, {"b": "one"}],
        [{"b": "mixed-case-name"}, {"b": "Value Kept"}],  # names lower-cased, values as sent
        [{"b": "x-repeat"}, {"b": "two"}],  # repeats kept, in order
        [{"b": "connection"}, {"b": "close"}],
    ]
    assert scope["client"] == ["127.0.0.1", local_port]
    assert scope["server"] == ["127.0.0.1", srv.port]
    assert scope["extensions"] == ["http.response.pathsend"]
    assert scope["state"]["started"] == "yes"


@pytest.mark.parametrize("raw, path", [
    ("/scope/caf%E9%FF", "/scope/caf\ufffd\ufffd"),  # not UTF-8: U+FFFD (was a lone surrogate, a 500 in apps)
    ("/scope/100%zz", "/scope/100%zz"),  # a malformed escape stays as sent
    ("/scope/a%2Fb", "/scope/a/b"),  # %2F decodes like any other escape (as uvicorn)
])
def test_scope_path_decoding(srv, raw, path):
    scope = json_get(srv, raw)
    assert scope["path"] == path and scope["raw_path"] == {"b": raw}, scope
    path.encode("utf-8")  # an app can always encode it


def test_scope_of_an_http10_request(srv):
    s, rd = send(srv, get_req("/scope", version="1.0"))
    with s:
        resp, scope = read_json(rd)
    assert resp.status == 200 and scope["http_version"] == "1.0" and scope["headers"] == [], scope


@pytest.mark.parametrize("method", ["PROPFIND", "QUERY", "PURGE", "REPORT", "MKCOL", "PATCH", "DELETE", "OPTIONS"])
def test_any_method_token_reaches_the_app(srv, method):
    s, rd = send(srv, get_req("/method", "Content-Length: 0\r\n", method=method))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and take(rd, len(method), time.monotonic() + WAIT_S) == method.encode(), resp


def test_lifespan_state_is_copied_into_each_request(srv):
    """The app sets state["leak"] and overwrites state["started"] in its copy: the next
    request still sees the state lifespan left (a shallow copy per request)."""
    for _ in range(3):
        state = json_get(srv, "/scope")["state"]
        assert state["started"] == "yes" and state["leak"] is None, state
        assert state["keys"] == ["event", "lock", "loop_id", "queue", "started", "ticker", "ticks"]


# ---------------------------------------------------------------------------------------
# receive
# ---------------------------------------------------------------------------------------


def test_small_body_is_one_message(srv):
    s, rd = send(srv, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
    with s:
        resp, obj = read_json(rd)
    assert resp.status == 200
    assert obj == {"sha256": hashlib.sha256(b"hello").hexdigest(), "bytes": 5, "sizes": [5], "more": [False]}


def test_no_body_is_one_empty_message(srv):
    obj = json_get(srv, "/echo")
    assert obj["sizes"] == [0] and obj["more"] == [False], obj


def chunked_encode(data: bytes, size: int) -> bytes:
    out = [b"%x\r\n" % len(data[i:i + size]) + data[i:i + size] + b"\r\n" for i in range(0, len(data), size)]
    return b"".join(out) + b"0\r\n\r\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_large_body_arrives_in_several_messages(srv, framing):
    data = os.urandom(3 * MIB)
    s = srv.connect(timeout=30)
    with s:
        if framing == "content-length":
            s.sendall(f"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {len(data)}\r\n\r\n".encode())
            for pos in range(0, len(data), 256 * 1024):
                s.sendall(data[pos:pos + 256 * 1024])
        else:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            s.sendall(chunked_encode(data, 100_000))
        resp, obj = read_json(Reader(s))
    assert resp.status == 200, resp
    assert obj["sha256"] == hashlib.sha256(data).hexdigest() and obj["bytes"] == len(data), obj
    assert len(obj["sizes"]) >= 2, obj["sizes"]
    # more_body on every message but the last; at most one empty message (the end).
    assert obj["more"] == [True] * (len(obj["more"]) - 1) + [False], obj["more"]
    assert all(obj["sizes"][:-1]), obj["sizes"]


def test_client_leaving_mid_upload_is_http_disconnect(srv):
    """A body over 1 MiB (stream_body_above) reaches the app as it arrives; the client
    leaves after 100 kB: the app's next receive() is http.disconnect."""
    tok = leave_mid_upload(srv, 100_000)
    rec = wait_record(srv, tok, lambda r: r.get("last") != "http.request", "receive() never said the client left")
    assert rec == {"bytes": 100_000, "last": "http.disconnect"}, rec


def test_pipelined_answers_keep_request_order(srv):
    """Slow first, fast last: the answers still come in request order."""
    delays = ["0.3", "0.01", "0.2", "0"]
    s, rd = send(srv, b"".join(get_req(f"/sleep?s={d}") for d in delays))
    with s:
        for d in delays:
            resp = read_head(rd)
            assert resp.status == 200 and take(rd, len(d), time.monotonic() + WAIT_S) == d.encode(), resp


def test_receive_after_the_response_is_http_disconnect(srv):
    tok = token()
    s, rd = send(srv, get_req(f"/after?token={tok}"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200, resp
        rec = wait_record(srv, tok, lambda r: "after" in r, "the app's receive() never returned after the response")
    assert rec["after"] == "http.disconnect" and rec["waited"] < 5, rec


def test_receive_polled_with_a_timeout_keeps_working(srv):
    """A receive() cancelled by a timeout (how frameworks ask "is the client gone?")
    leaves the next receive() usable: each poll times out, none raises CancelledError."""
    assert json_get(srv, "/poll-disconnect") == ["timeout", "timeout", "timeout"]


def test_receive_while_waiting_is_http_disconnect_when_the_client_leaves(srv):
    tok = token()
    # The app gives up after 2 s (then records TimeoutError): the close comes at once.
    s, rd = send(srv, get_req(f"/wait-disconnect?token={tok}&wait=2"))
    wait_record(srv, tok, lambda r: r.get("waiting"), "the app never reached its receive()")
    s.close()
    rec = wait_record(srv, tok, lambda r: "after" in r, "receive() never returned after the client left")
    assert rec["after"] == "http.disconnect", rec


def test_receive_while_streaming_is_http_disconnect_when_the_client_leaves(srv):
    tok = token()
    s, rd = send(srv, get_req(f"/stream-listen?token={tok}&wait=2"))
    resp = read_head(rd)
    assert resp.status == 200 and Chunked(rd).next(time.monotonic() + WAIT_S) == b"first"
    wait_record(srv, tok, lambda r: r.get("waiting"), "the app never reached its receive()")
    s.close()
    rec = wait_record(srv, tok, lambda r: "after" in r, "receive() never returned after the client left")
    assert rec["after"] == "http.disconnect", rec


def test_unread_body_does_not_break_the_next_request(srv):
    """The app answers without reading a 3 MiB body: its answer arrives, then the
    connection either goes on in sync (the pipelined PUT answered) or is closed (RFC 9112
    §9.6 allows it; ringbolt closes rather than read a body nobody wants)."""
    data = b"z" * (3 * MIB)
    s = srv.connect(timeout=30)
    with s:
        s.sendall(f"POST /method HTTP/1.1\r\nHost: t\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
                  + get_req("/method", method="PUT"))
        rd = Reader(s)
        resp = read_head(rd)
        assert resp.status == 200 and take(rd, 4, time.monotonic() + WAIT_S) == b"POST", resp
        try:
            resp2 = read_head(rd)
        except ConnectionError:  # closed (EOF or reset) after the answer
            return
        assert resp2.status == 200 and take(rd, 3, time.monotonic() + WAIT_S) == b"PUT", resp2


def test_expect_100_continue_when_the_app_reads_the_body(srv):
    s, rd = send(srv, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    with s:
        interim = read_head(rd)
        assert interim.status == 100, interim
        s.sendall(b"abcd")
        resp, obj = read_json(rd)
    assert resp.status == 200 and obj["bytes"] == 4, (resp, obj)


# ---------------------------------------------------------------------------------------
# send: streams
# ---------------------------------------------------------------------------------------


def test_several_body_messages_are_chunked(srv):
    s, rd = send(srv, get_req("/stream?n=5&size=1000") + get_req("/stream?n=2&size=3"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp) and resp.header("content-length") is None, resp
        chunks = []
        body = Chunked(rd)
        while (c := body.next(time.monotonic() + WAIT_S)) is not None:
            chunks.append(c)
        assert b"".join(chunks) == b"".join(bytes([65 + i]) * 1000 for i in range(5))
        # The connection stays usable: the pipelined second request is answered after.
        resp2 = read_head(rd)
        assert resp2.status == 200 and Chunked(rd).rest(time.monotonic() + WAIT_S) == b"AAABBB"


def test_http10_stream_is_delimited_by_close(srv):
    s, rd = send(srv, get_req("/stream?n=4&size=10", version="1.0"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and not is_chunked(resp) and resp.header("content-length") is None, resp
        assert read_to_eof(rd, time.monotonic() + WAIT_S) == b"A" * 10 + b"B" * 10 + b"C" * 10 + b"D" * 10


BIG_TOTAL = 64 * MIB
BIG_CHUNK = 64 * 1024


def test_send_waits_while_the_client_does_not_read(srv):
    tok = token()
    s, rd = send(srv, get_req(f"/big?token={tok}&total={BIG_TOTAL}&size={BIG_CHUNK}"), timeout=30)
    with s:
        # The app ends up parked in `await send` (for 0.3 s on end) well short of the total.
        rec = wait_record(srv, tok, lambda r: r.get("in_send_for", 0) > 0.3,
                          "the app never waited in send() for a client that reads nothing")
        assert 0 < rec["produced"] <= 24 * MIB, rec
        assert not rec["done"]
        # Reading resumes it: every byte arrives and the app finishes.
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp), resp
        count = [0]

        def sink(b: bytes) -> None:
            count[0] += len(b)
            assert b.count(b"x") == len(b)

        Chunked(rd).rest(time.monotonic() + 60, sink)
        assert count[0] == BIG_TOTAL
    rec = wait_record(srv, tok, lambda r: r["done"], "the app did not finish after the client read everything")
    assert rec["produced"] == BIG_TOTAL and rec["error"] is None, rec


def test_send_raises_an_oserror_once_the_client_leaves(srv):
    tok = token()
    s, rd = send(srv, get_req(f"/big?token={tok}&total={BIG_TOTAL}&size={BIG_CHUNK}"))
    resp = read_head(rd)
    assert resp.status == 200 and is_chunked(resp), resp
    assert Chunked(rd).next(time.monotonic() + WAIT_S) == b"x" * BIG_CHUNK
    s.close()  # mid-stream, bytes unread
    rec = wait_record(srv, tok, lambda r: r["error"] is not None, "send() never raised after the client left")
    assert rec["error"]["oserror"] is True, rec
    assert rec["produced"] < BIG_TOTAL and not rec["done"], rec


@pytest.mark.parametrize("path, length", [
    ("/method", "4"),
    ("/head-length", "1234"),
    (f"/pathsend?file={REPO / 'README.md'}", str((REPO / "README.md").stat().st_size)),
])
def test_head_keeps_the_length_get_would_send(srv, path, length):
    """HEAD: the app's full body (dropped) or its declared Content-Length with no body;
    either way the head alone, and the connection stays in sync."""
    s, rd = send(srv, get_req(path, method="HEAD") + get_req("/method"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and resp.header("content-length") == length, resp
        assert_method_answer_follows(rd)


def test_head_on_a_stream_lets_the_app_finish(srv):
    """The head goes out alone; the app's body messages are dropped, so its send()
    returns and it ends (it used to wait in its first send() forever)."""
    tok = token()
    s, rd = send(srv, get_req(f"/big?token={tok}&total={MIB}&size={BIG_CHUNK}", method="HEAD") + get_req("/method"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and resp.header("content-length") is None and not is_chunked(resp), resp
        assert_method_answer_follows(rd)
    rec = wait_record(srv, tok, lambda r: r["done"], "the app never finished a streamed answer to HEAD")
    assert rec["produced"] == MIB and rec["error"] is None, rec


def test_pathsend_serves_the_file(srv, tmp_path):
    data = os.urandom(300_000)
    f = tmp_path / "blob.bin"
    f.write_bytes(data)
    s, rd = send(srv, get_req(f"/pathsend?file={f}", "Connection: close\r\n"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200, resp
        assert resp.header("content-type") == "application/x-test" and resp.header("x-sent-by") == "pathsend", resp
        assert resp.header("content-length") == str(len(data)) and not is_chunked(resp), resp
        # the app's headers as written: no Last-Modified added (RFC 9111 §4.2.2)
        assert sorted(n.lower() for n, _ in resp.headers) == [
            "connection", "content-length", "content-type", "date", "server", "x-sent-by"], resp
        assert take(rd, len(data), time.monotonic() + WAIT_S) == data


# ---------------------------------------------------------------------------------------
# What the app does wrong
# ---------------------------------------------------------------------------------------


def test_recurring_and_varying_header_blocks(srv):
    # A block of response header lines that recurs is sent from a copy the server keeps
    # (seen twice, kept; field_blocks.hpp); blocks that differ by one value, carry a
    # per-response cookie, or pass the kept size go as built. Each case three times,
    # interleaved and pipelined, so kept and new blocks alternate on one connection.
    cases = ["n=1", "n=2", "n=1&type=application/json", "n=3&cookie=a", "n=3&cookie=b", "n=4&long=100",
             "n=4&long=600", "n=5&long=2000&cookie=c"]
    for _ in range(3):
        paths = [f"/header-block?{q}" for q in cases]
        s, rd = send(srv, b"".join(get_req(p) for p in paths))
        with s:
            for q, path in zip(cases, paths):
                resp = read_head(rd)
                body = take(rd, int(resp.header("content-length")), time.monotonic() + WAIT_S)
                fields = dict(p.split("=") for p in q.split("&"))
                want = {"content-type": fields.get("type", "text/plain"), "x-n": fields["n"]}
                if "cookie" in fields:
                    want["set-cookie"] = f"id={fields['cookie']}"
                if "long" in fields:
                    want["x-long"] = "v" * int(fields["long"])
                got = {k.lower(): v for k, v in resp.headers if k.lower() not in ("date", "server", "content-length")}
                assert resp.status == 200 and got == want and body == path.split("?", 1)[1].encode(), (q, resp)


@pytest.fixture(scope="module")
def fault_srv(tmp_path_factory):
    s = LoggedServer(APP, tmp_path_factory.mktemp("asgi") / "faults.log", "--threads", "1")
    yield s
    assert s.stop() == 0, s.log.read_text()


PROBLEM_500 = {"type": "about:blank", "title": "Internal Server Error", "status": 500,
               "detail": "The server failed to answer this request."}

# Every kind of fault, one row each: (path, what the log must say, whether the connection
# closes after the answer). Each is answered 500 with the problem body every error of
# ringbolt has (RFC 9457, application/problem+json, as the README promises), never a
# text/plain one: an exception is an ordinary 500 (the connection goes on), a protocol
# violation closes the connection after it.
FAULTS_500 = [
    ("/raise-before", "ValueError: raised before the response started", False),
    # Nothing was on the wire yet (start is held until the first body message), so a
    # clean 500 is still possible.
    ("/raise-after-start", "ValueError: raised after http.response.start", False),
    ("/body-before-start", "'http.response.body' before 'http.response.start'", True),
    ("/start-twice", "'http.response.start' sent twice", True),
    ("/status-str", "needs an int 'status', got '200'", True),
    ("/status-out-of-range", "invalid HTTP status 1000", False),
    ("/bad-header", "value contains CR, LF or NUL", False),
    ("/header-not-a-pair", "headers must be a dict or a list of (name, value) pairs", False),
    ("/length-mismatch", "Content-Length", False),
    ("/body-str", "needs bytes for 'body', got str", True),
    ("/unknown-type", "unknown ASGI message type 'http.response.bogus'", True),
    ("/returns-silently", "returned without sending a response for GET /returns-silently", True),
    ("/system-exit", "raised SystemExit for GET /system-exit", False),
    ("/keyboard-interrupt", "raised KeyboardInterrupt for GET /keyboard-interrupt", False),
]


@pytest.mark.parametrize("path, log, closes", FAULTS_500, ids=[f[0] for f in FAULTS_500])
def test_fault_is_a_problem_500_and_logged(fault_srv, path, log, closes):
    s, rd = send(fault_srv, get_req(path) + get_req("/method"))
    with s:
        resp = read_head(rd)
        assert resp.status == 500, resp
        assert resp.header("content-type") == "application/problem+json", resp
        body = take(rd, int(resp.header("content-length")), time.monotonic() + WAIT_S)
        assert json.loads(body) == PROBLEM_500, body
        if closes:
            assert (resp.header("connection") or "").lower() == "close", resp
            assert rd.closed(WAIT_S), "the connection stayed open after a protocol violation"
        else:
            # The pipelined request is still answered.
            assert_method_answer_follows(rd)
    fault_srv.wait_log(log)
    # The server keeps serving.
    assert json_get(fault_srv, "/scope")["method"] == "GET"


def test_body_after_the_end_leaves_the_complete_response_and_is_logged(fault_srv):
    assert_answer_then_method(fault_srv, "/body-after-end", b"complete")
    fault_srv.wait_log("'http.response.body' after the response was complete")


def test_returning_after_http_disconnect_is_not_an_error(fault_srv):
    tok = leave_mid_upload(fault_srv, 1000)
    wait_record(fault_srv, tok, lambda r: r.get("last") == "http.disconnect", "no http.disconnect")
    # A later fault's log line is the sync point: the app returned long before it.
    send(fault_srv, get_req(f"/returns-silently?after={tok}", "Connection: close\r\n"))[0].close()
    out = fault_srv.wait_log(f"returned without sending a response for GET /returns-silently?after={tok}")
    assert f"/upload-record?token={tok}" not in out, out


def test_raise_mid_body_cuts_the_response_short(fault_srv):
    s, rd = send(fault_srv, get_req("/raise-mid-body"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp), resp
        body = Chunked(rd)
        assert body.next(time.monotonic() + WAIT_S) == b"partial"
        with pytest.raises(Truncated):  # no terminating chunk, then the close
            body.next(time.monotonic() + WAIT_S)
    fault_srv.wait_log("ValueError: raised in the middle of the body")


def test_system_exit_and_keyboard_interrupt_leave_the_server_stoppable(tmp_path):
    s = LoggedServer(APP, tmp_path / "exit.log", "--threads", "2")
    try:
        for path in ["/system-exit", "/keyboard-interrupt"] * 3:
            sock, rd = send(s, get_req(path, "Connection: close\r\n"))
            with sock:
                assert read_head(rd).status == 500
        assert json_get(s, "/resource")["same_loop"] is True  # the loop still runs tasks
    finally:
        code = s.stop()
    assert code == 0, s.log.read_text()
    assert "stopped" in s.log.read_text()


# ---------------------------------------------------------------------------------------
# The app's task: started eagerly (its first step runs as the request is handed over),
# and send/receive answer at once for the common messages
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suspend", ["", "1"], ids=["completes-at-once", "suspends"])
def test_the_app_runs_in_one_task_from_first_step_to_end(srv, suspend):
    tok = token()
    got = json_get(srv, f"/task?token={tok}&suspend={suspend}")
    assert got == {"has_task": True, "same_after_await": True, "var_kept": True, "in_all_tasks": True}
    rec = wait_record(srv, tok, lambda r: "done_task_is_first" in r, "the task's done callback never ran")
    # seen_var: a context variable another request set is not seen by this one.
    assert rec == {"seen_var": "unset", "done_task_is_first": True, "done_cancelled": False}


@pytest.mark.parametrize("when", ["first", "later"])
def test_an_app_that_cancels_its_own_task_is_a_500(srv, when):
    s, rd = send(srv, get_req(f"/cancel-self?when={when}") + get_req("/method"))
    with s:
        resp = read_head(rd)
        assert resp.status == 500, resp
        take(rd, int(resp.header("content-length")), time.monotonic() + WAIT_S)
        assert_method_answer_follows(rd)


def test_cancelling_its_task_after_the_answer_keeps_the_answer(srv):
    assert_answer_then_method(srv, "/cancel-self?when=answered", b"answered")


@pytest.mark.parametrize("how", ["ensure_future", "create_task", "wait_for", "gather", "shield"])
def test_send_and_receive_give_awaitables_asyncio_takes_as_coroutines(srv, how):
    s, rd = send(srv, f"POST /send-as-task?how={how} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                      f"Connection: close\r\n\r\nhi".encode())
    with s:
        resp, obj = read_json(rd)
    assert resp.status == 200, resp
    assert obj == {"how": how, "received": "http.request", "body": "hi"}


@pytest.mark.parametrize("app", ["asgi_app:sync_call_app", "asgi_app:awaitable_app"])
def test_an_app_whose_call_is_not_async_is_called_in_the_task(app, tmp_path):
    s = LoggedServer(app, tmp_path / "call.log", "--threads", "1")
    try:
        assert json_get(s, "/call-task") == {"in_task": True, "same": True}
        assert json_get(s, "/scope")["method"] == "GET"
        for path in ("/call-raises", "/raise-before"):
            sock, rd = send(s, get_req(path, "Connection: close\r\n"))
            with sock:
                assert read_head(rd).status == 500, path
        s.wait_log("ValueError: raised by a plain __call__")
    finally:
        assert s.stop() == 0, s.log.read_text()


# ---------------------------------------------------------------------------------------
# Lifespan
# ---------------------------------------------------------------------------------------


def test_startup_resources_work_in_handlers(srv):
    """A Lock, an Event and a Queue created at startup, and a task started there, all
    used from requests: they share the requests' loop."""
    first = json_get(srv, "/resource")
    second = json_get(srv, "/resource")
    assert first["same_loop"] is True and second["ticks"] == first["ticks"] + 1, (first, second)


def serve_once(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``ringbolt serve`` expected to exit by itself (a failed start-up)."""
    cmd = [sys.executable, "-m", "ringbolt", "serve", APP, "--app-dir", str(APPS), "--port", str(free_port()), *args]
    return subprocess.run(cmd, env={**os.environ, **env}, cwd=str(REPO), capture_output=True, text=True, timeout=20)


@pytest.mark.parametrize("lifespan, behaviour, message", [
    ("on", "fail", "the database is unreachable (on purpose)"),
    ("auto", "fail", "the database is unreachable (on purpose)"),  # the app spoke lifespan and failed
    ("on", "raise", "this app has no lifespan"),
    ("on", "return", "the application's lifespan returned before startup completed"),
])
def test_failed_startup_exits_non_zero_with_the_apps_message(lifespan, behaviour, message):
    done = serve_once("--lifespan", lifespan, env={"ASGI_LIFESPAN": behaviour})
    assert done.returncode != 0, done
    assert message in done.stderr, done.stderr


@pytest.mark.parametrize("behaviour", ["raise", "return"])
def test_lifespan_auto_serves_an_app_without_lifespan(tmp_path, behaviour):
    """An app that raises on the lifespan scope, or returns at once (``if scope["type"]
    != "http": return``, which used to stop the server from starting), is served."""
    s = LoggedServer(APP, tmp_path / "auto.log", "--lifespan", "auto", env={"ASGI_LIFESPAN": behaviour})
    try:
        scope = json_get(s, "/scope")
        assert scope["method"] == "GET" and scope["state"] is None, scope
        s.wait_log("lifespan")  # says it goes on without lifespan
    finally:
        assert s.stop() == 0, s.log.read_text()


@pytest.mark.parametrize("lifespan", ["auto", "on", "off"])
def test_shutdown_runs_on_sigterm(tmp_path, lifespan):
    marker = tmp_path / "marker"
    s = LoggedServer(APP, tmp_path / "out.log", "--lifespan", lifespan, env={"ASGI_MARKER": str(marker)})
    try:
        if lifespan != "off":
            assert json_get(s, "/resource")["ticks"] == 1
        else:
            assert json_get(s, "/scope")["state"] is None
    finally:
        code = s.stop()
    assert code == 0, s.log.read_text()
    if lifespan == "off":
        assert not marker.exists()
    else:
        assert marker.read_text() == "shutdown after 1 ticks"


def test_native_entry_takes_only_a_request():
    # ASGIHandler.run (ASGICall) is what the server calls with its native Request; an http
    # request is served natively and a WebSocket handshake goes to _run_websocket. Called
    # from Python with anything else, it refuses it by name instead of serving it.
    import asyncio

    from ringbolt.asgi import ASGIHandler

    async def app(scope, receive, send):  # pragma: no cover - never called
        raise AssertionError("called")

    handler = ASGIHandler(app)
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError, match="ASGICall takes a ringbolt Request, not str"):
            handler.run("not a request", None, loop)
        with pytest.raises(TypeError, match="3 positional arguments"):
            handler.run("not a request")
    finally:
        loop.close()
