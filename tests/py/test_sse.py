"""Server-Sent Events over a real socket: framing of str/dict/SSEEvent events (multi-line
data split on CRLF, CR and LF), headers, keep-alive comments while idle, Last-Event-ID,
and a client that disconnects: the source is cancelled/closed and the server goes on."""

from __future__ import annotations

import pytest

from conftest import ServerProcess, get
from reqresp_helpers import APP, WAIT_S, read_until, wait_for


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP, "--threads", "2")
    yield s
    assert s.stop() == 0, s.output()


def dechunk(raw: bytes) -> tuple[bytes, bytes]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2:]
    return head, body


def stream(srv, path: str, extra: str = "", until: bytes = b"\r\n0\r\n\r\n") -> tuple[bytes, bytes]:
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
        return dechunk(read_until(s, until))


def test_event_framing_and_headers(srv):
    head, body = stream(srv, "/sse")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "Content-Type: text/event-stream; charset=utf-8" in lines
    assert "Cache-Control: no-cache" in lines
    assert "X-Accel-Buffering: no" in lines
    assert "Transfer-Encoding: chunked" in lines
    assert body == (
        b"data: hello\n\n"
        b'data: {"n":1,"list":[1,2]}\n\n'
        b"event: update\nid: 7\nretry: 1500\ndata: multi\ndata: line\ndata: data\ndata: end\n\n"
        b": just a comment\n\n"
        b"data: last\n\n"
    )


def test_keep_alive_pings_from_a_sync_source(srv):
    _, body = stream(srv, "/sse-sync")
    assert body.startswith(b"data: one\n\n: ping\n\n")
    assert body.endswith(b"id: 2\ndata: two\n\n")
    assert body.count(b": ping\n\n") >= 2  # 0.6 s idle with ping=0.1 (at least 2 even on a loaded machine)


def test_last_event_id(srv):
    _, body = stream(srv, "/sse-resume", "Last-Event-ID: 41\r\n")
    assert body == b"id: 42\ndata: event 42\n\nid: 43\ndata: event 43\n\nid: 44\ndata: event 44\n\n"
    _, body = stream(srv, "/sse-resume")
    assert body.startswith(b"id: 1\ndata: event 1\n\n")
    assert get(srv, "/info", "Last-Event-ID: abc\r\n").json()["last_event_id"] == "abc"
    assert get(srv, "/info").json()["last_event_id"] is None


def test_disconnect_cancels_an_idle_async_source(srv):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /sse-idle/a1 HTTP/1.1\r\nHost: t\r\n\r\n")
        got = read_until(s, b": ping\n\n")  # the first event, then a keep-alive while idle
        assert b"data: first\n\n" in got
        assert get(srv, "/sse-state/a1").json()["state"] == "running"
    # The next ping finds the client gone: the source is cancelled at its await.
    assert wait_for(lambda: get(srv, "/sse-state/a1").json()["state"] == "cancelled")
    assert get(srv, "/plain").status == 200


def test_disconnect_closes_a_sync_source(srv):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /sse-busy/s1 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b"data: tick 2\n\n" in read_until(s, b"data: tick 2\n\n")
    assert wait_for(lambda: get(srv, "/sse-state/s1").json()["state"] == "closed")
    assert get(srv, "/plain").status == 200


def test_event_validation():
    from ringbolt import Response, SSEEvent
    from ringbolt.sse import encode

    for kwargs, words in [({"event": "a\nb"}, "event must not contain CR or LF"),
                          ({"id": "1\r"}, "id must not contain CR or LF"),
                          ({"id": "a\0"}, "NUL"),
                          ({"retry": -1}, "retry must be a non-negative int")]:
        with pytest.raises(ValueError, match=words):
            SSEEvent("x", **kwargs)
    with pytest.raises(TypeError, match="SSE data must be"):
        encode(3.5)
    with pytest.raises(TypeError, match="iterable or async iterable"):
        Response.sse("not a stream of events")
    with pytest.raises(ValueError, match="ping must be"):
        Response.sse([], ping=0)
    assert encode("") == b"data: \n\n"
    assert encode("a\n") == b"data: a\ndata: \n\n"
    assert encode(SSEEvent(event="tick")) == b"event: tick\n\n"
