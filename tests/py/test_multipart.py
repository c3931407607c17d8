"""multipart/form-data end to end: fields and files (in memory and spooled to a temp
file), sync handlers and async ones with a streamed body, RFC 7578 details, temp files
removed after the response, and every malformed or oversized body answered with a
precise 400/413 while the server keeps serving."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time

import pytest

from conftest import Reader, ServerProcess, get
from reqresp_helpers import APP, WAIT_S, multipart, post, wait_for

MP = "multipart/form-data; boundary=b0undary"
MIB = 1 << 20


@pytest.fixture(scope="module")
def spool(tmp_path_factory):
    return tmp_path_factory.mktemp("spool")


@pytest.fixture(scope="module")
def srv(spool):
    s = ServerProcess(APP, "--threads", "2", "--max-body-size", str(64 * MIB), env={"TMPDIR": str(spool)})
    yield s
    assert s.stop() == 0, s.output()


def leftovers(spool) -> list[str]:
    return [n for n in os.listdir(spool) if n.startswith("ringbolt-upload-")]


@pytest.mark.parametrize("path", ["/form", "/aform"])
def test_fields_and_files(srv, spool, path):
    small = os.urandom(1000)
    big = os.urandom(3 * MIB + 17)  # over the 1 MiB spool threshold: a temp file
    body = multipart([
        ("title", None, None, "h\u00e9llo\r\nworld".encode()),
        ("tag", None, None, b"a"),
        ("tag", None, None, b"b"),
        ("small", "small.bin", "application/octet-stream", small),
        ("big", "big.dat", None, big),
        ("empty", "", "application/octet-stream", b""),
    ])
    r = post(srv, path, body, MP)
    assert r.status == 200, r
    fields = r.json()["fields"]
    assert fields[:3] == [["title", "h\u00e9llo\r\nworld"], ["tag", "a"], ["tag", "b"]]
    s, b, e = fields[3][1], fields[4][1], fields[5][1]
    assert (s["filename"], s["content_type"], s["size"], s["in_memory"]) == ("small.bin", "application/octet-stream",
                                                                           1000, True)
    assert s["sha256"] == hashlib.sha256(small).hexdigest()
    assert (b["filename"], b["content_type"], b["size"], b["in_memory"], b["len"]) == ("big.dat", None, len(big),
                                                                                      False, len(big))
    assert b["sha256"] == hashlib.sha256(big).hexdigest()
    assert (e["filename"], e["size"]) == ("", 0)
    if path == "/aform":
        assert r.json()["streamed"] is True  # over 1 MiB: the async handler read it as it arrived
    # The temp file is gone once the response is out.
    assert wait_for(lambda: not leftovers(spool)), leftovers(spool)
    assert not any(get(srv, "/exists").json()["paths"].values())


def test_spool_threshold_is_configurable(srv, spool):
    data = os.urandom(5000)
    r = post(srv, "/form?spool_threshold=100", multipart([("f", "x.bin", None, data)]), MP)
    assert r.json()["fields"][0][1]["in_memory"] is False
    r = post(srv, "/form?spool_threshold=10000", multipart([("f", "x.bin", None, data)]), MP)
    assert r.json()["fields"][0][1]["in_memory"] is True
    assert wait_for(lambda: not leftovers(spool))


def test_move_renames_the_temp_file(srv, spool, tmp_path):
    dest = tmp_path / "moved.bin"
    r = post(srv, f"/move?dest={dest}", multipart([("file", "up.bin", None, b"x" * 100)]), MP)
    assert r.status == 200 and r.json() == {"moved": True, "size": 100}
    assert dest.read_bytes() == b"x" * 100
    assert wait_for(lambda: not leftovers(spool))


def test_rfc7578_details(srv):
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    body = (
        f"preamble to ignore\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="f"; filename="fallback.txt"; filename*=UTF-8\'\'%E2%82%AC%20rates.txt\r\n'
        "Content-Type: text/plain; charset=utf-8\r\n"
        "X-Other: kept\r\n\r\n"
        f"data with --{boundary[:-1]} inside\r\n"
        f"--{boundary}\r\n"
        'content-disposition: FORM-DATA; name="q\\"uote"\r\n\r\n'
        "v\r\n"
        f"--{boundary}--\r\nepilogue"
    ).encode()
    r = post(srv, "/aform", body, f'multipart/form-data; boundary="{boundary}"')
    assert r.status == 200, r
    f = r.json()["fields"]
    assert f[0][1]["filename"] == "\u20ac rates.txt"
    assert f[0][1]["content_type"] == "text/plain; charset=utf-8"
    assert f[0][1]["size"] == len(f"data with --{boundary[:-1]} inside")
    assert f[1] == ['q"uote', "v"]


BAD = [
    # (what, body, query, status, words in the detail)
    ("truncated body", b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\nabc', "", 400,
     "truncated multipart body"),
    ("truncated headers", b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n', "", 400, "truncated"),
    ("no delimiter", b"just text", "", 400, "truncated"),
    ("empty body", b"", "", 400, "truncated"),
    ("bad part header", b"--b0undary\r\nContent-Disposition form-data\r\n\r\nx\r\n--b0undary--", "", 400,
     "part header line"),
    ("obs-fold", b"--b0undary\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nx\r\n--b0undary--", "", 400,
     "part header line"),
    ("no disposition", b"--b0undary\r\nContent-Type: text/plain\r\n\r\nx\r\n--b0undary--", "", 400,
     "Content-Disposition"),
    ("not form-data", b"--b0undary\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b0undary--", "", 400,
     "Content-Disposition"),
    ("junk after boundary", b"--b0undaryX\r\n", "", 400, "boundary line"),
    ("huge field name", b'--b0undary\r\nContent-Disposition: form-data; name="' + b"n" * 5000 + b'"\r\n\r\nx\r\n'
     b"--b0undary--", "", 400, "field name longer than 1024 bytes"),
    ("field name over a set limit", multipart([("abcdefghijk", None, None, b"x")]), "?max_field_name_length=10", 400,
     "longer than 10 bytes (max_field_name_length)"),
    ("too many parts", multipart([(f"f{i}", None, None, b"x") for i in range(4)]), "?max_parts=3", 413,
     "more than 3 parts (max_parts)"),
    ("too many parts (default 1000)", multipart([("f", None, None, b"") for i in range(1001)]), "", 413,
     "more than 1000 parts"),
    ("oversized file part", multipart([("f", "a.bin", None, b"x" * 5000)]), "?max_part_size=4096", 413,
     "larger than 4096 bytes (max_part_size)"),
    ("oversized spooled part", multipart([("f", "a.bin", None, b"x" * (3 * MIB))]),
     "?max_part_size=2097152&spool_threshold=1024", 413, "larger than 2097152 bytes"),
    ("oversized field", multipart([("f", None, None, b"x" * 5000)]), "?max_field_size=4096", 413,
     "field 'f' larger than 4096 bytes (max_field_size)"),
    ("header block too large", b"--b0undary\r\nContent-Disposition: form-data; name=a\r\nX-Pad: " + b"p" * 20000 +
     b"\r\n\r\nx\r\n--b0undary--", "", 400, "part headers larger than 16384 bytes"),
    ("field not UTF-8", multipart([("f", None, None, b"\xff\xfe")]), "", 400, "not valid UTF-8"),
]


@pytest.mark.parametrize("path", ["/form", "/aform"])
@pytest.mark.parametrize("what, body, query, status, words", BAD, ids=[b[0] for b in BAD])
def test_bad_multipart(srv, spool, path, what, body, query, status, words):
    r = post(srv, path + query, body, MP)
    assert r.status == status, r
    assert words in r.json()["detail"], r.json()
    assert get(srv, "/plain").status == 200
    assert wait_for(lambda: not leftovers(spool)), leftovers(spool)  # a failed parse leaves no temp file


def test_body_over_max_body_size(spool):
    s = ServerProcess(APP, "--threads", "1", "--max-body-size", str(MIB), env={"TMPDIR": str(spool)})
    try:
        body = multipart([("f", "a.bin", None, b"x" * (2 * MIB))])
        for path in ("/form", "/aform"):
            r = post(s, path, body, MP)
            assert r.status == 413, r
        assert get(s, "/plain").status == 200
    finally:
        assert s.stop() == 0, s.output()


def test_client_gone_mid_upload(srv, spool):
    """A client that sends half a streamed multipart body and disconnects: the async
    handler's read fails, the partial temp file is removed, the server goes on."""
    body = multipart([("f", "a.bin", None, os.urandom(4 * MIB))])
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(f"POST /aform?spool_threshold=1024 HTTP/1.1\r\nHost: t\r\nContent-Type: {MP}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode())
        s.sendall(body[: 2 * MIB])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    assert wait_for(lambda: not leftovers(spool)), leftovers(spool)
    assert get(srv, "/plain").status == 200


@pytest.mark.parametrize("path", ["/form-then-fail", "/aform-then-fail"])
def test_temp_files_removed_when_the_handler_raises(srv, spool, path):
    r = post(srv, path, multipart([("f", "a.bin", None, os.urandom(5000))]), MP)
    assert r.status == 500
    assert wait_for(lambda: not leftovers(spool)), leftovers(spool)


def test_pipelined_after_form(srv):
    body = multipart([("a", None, None, b"1")])
    raw = (f"POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: {MP}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(raw + body + b"GET /plain HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        assert reader.read().json()["fields"] == [["a", "1"]]
        assert reader.read().json() == {"ok": True}


@pytest.mark.parametrize("end", ["reset", "half-close"])
def test_client_gone_while_reading_is_paused(srv, spool, end):
    """The handler does not read for a while, so the reactor pauses reading at the body
    window; the client sends more and then resets (or half-closes) while the server is
    stopped (SIGSTOP), so on SIGCONT the reactor sees, in one batch, the bytes that fill
    the window, the pause, bytes that wait behind it, and the end. Neither the reset
    (which ends the recv while the pause's cancel is in flight) nor the EOF (which comes
    behind waiting bytes) may be lost: the handler's read fails with ClientDisconnect and
    its temp file goes, long before the 30 s body timeout would have answered 408."""
    tag = f"paused-{end}"
    body = multipart([("f", "a.bin", None, os.urandom(4 * MIB))])
    window = 256 * 1024  # connection_limits::body_window
    first = window - 32 * 1024
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(f"POST /aform-late?tag={tag}&delay=2&spool_threshold=1024 HTTP/1.1\r\nHost: t\r\n"
                  f"Content-Type: {MP}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:first])
        time.sleep(0.5)  # the reactor reads it meanwhile (the handler sleeps 2 s before it reads)
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            s.setblocking(False)
            sent = first
            try:
                while sent < first + 160 * 1024:
                    sent += s.send(body[sent:first + 160 * 1024])
            except BlockingIOError:
                pass
            assert sent > window + 64 * 1024, sent  # over the window: the reactor pauses with bytes waiting
            if end == "reset":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()  # the reset goes out now, while the server is stopped
            else:
                s.shutdown(socket.SHUT_WR)
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)

        def outcome():
            return get(srv, f"/aform-late?tag={tag}").json()["outcome"]

        assert wait_for(lambda: outcome() is not None), "the handler's read neither failed nor finished"
        assert outcome().startswith("ClientDisconnect"), outcome()
    assert wait_for(lambda: not leftovers(spool)), leftovers(spool)
    assert get(srv, "/plain").status == 200
