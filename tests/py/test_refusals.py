"""Wrong responses from handlers and wrong request bodies while they stream: each gets a
precise status (or a cut-short response and a close), a log line, and the server goes
on serving."""

from __future__ import annotations

import socket
import time

import pytest

from conftest import Reader, ServerProcess, get


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("refusals_app:app", "--threads", "1", "--body-timeout", "1")
    yield s
    assert s.stop() == 0, s.output()


def roundtrip(srv: ServerProcess, raw: bytes):
    """The response, and whether the server closed the connection after it."""
    with srv.connect() as s:
        s.sendall(raw)
        rd = Reader(s)
        return rd.read(), rd.closed()


@pytest.mark.parametrize(
    "path, status",
    [
        ("/cl/not-a-number", 500),  # handler Content-Length must be digits
        ("/cl/two-different", 500),  # two lengths disagree
        ("/stream/bytes-body", 500),  # StreamingResponse(bytes): TypeError in the handler
        ("/stream/int-first", 500),  # nothing sent yet: a clean 500
        ("/file/nul", 500),  # FileResponse path with NUL: ValueError
    ],
)
def test_wrong_responses_are_500_and_logged(srv, path, status):
    r, _ = roundtrip(srv, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert r.status == status, r
    assert get(srv, "/seen").status == 200  # still serving


def test_same_content_length_twice_is_accepted(srv):
    r, _ = roundtrip(srv, b"GET /cl/two-same HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 200 and r.body == b"hello", r
    assert sum(1 for k, _ in r.headers if k.lower() == "content-length") == 1, r.headers


def test_wrong_chunk_type_after_the_head_cuts_the_stream(srv):
    with srv.connect() as s:
        s.sendall(b"GET /stream/int-later HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert b"Transfer-Encoding: chunked" in data and b"first " in data, data
    assert not data.endswith(b"0\r\n\r\n"), "a broken stream must not look complete"
    assert "a streamed response must yield bytes or str" in srv_log(srv)


def test_malformed_chunked_body_while_streaming_is_400(srv):
    r, rest = roundtrip(srv, b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"5\r\nhello\r\nzz\r\n")
    assert r.status == 400, r
    assert rest, "the connection closes after a broken body"


def test_trickling_streamed_body_is_408(srv):
    # --body-timeout 1: nothing after the first bytes; the handler's read raises 408.
    r, rest = roundtrip(srv, b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    assert r.status == 408, r
    assert rest, "closed after the 408"


def test_client_leaving_mid_upload_raises_client_disconnect(srv):
    s = socket.create_connection((srv.host, srv.port))
    s.sendall(b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n" + b"x" * 100_000)
    time.sleep(0.3)
    s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = get(srv, "/seen")
        if b"disconnect" in r.body:
            break
        time.sleep(0.1)
    assert b'"body":"disconnect"' in r.body, r.body


def srv_log(srv: ServerProcess) -> str:
    # The server runs on; read what it has logged so far without stopping it.
    import fcntl
    import os

    fd = srv.proc.stdout.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    time.sleep(0.3)
    try:
        srv._output += srv.proc.stdout.read() or b""
    except BlockingIOError:
        pass
    return srv._output.decode(errors="replace")
