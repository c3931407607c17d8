"""StreamingResponse, streamed request bodies (``Request.stream()``), ``Expect:
100-continue`` and handler-supplied framing headers, over raw sockets so the tests see
the bytes on the wire (chunked framing is decoded here, not by a client library).

The app is apps/streaming_app.py. Sync generators are tested inline (the default) and
with ``--handler-threads 2``, async generators from ``async def`` handlers."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest

from conftest import RSS_SLACK_MIB, Reader, Response, ServerProcess


APP = "streaming_app:app"
MIB = 1 << 20
MAX_BODY = 64 * MIB  # the main servers accept the 50 MiB uploads
SMALL_MAX_BODY = MIB  # the 413 server
WAIT_S = 15.0  # bound for anything that should take well under a second: only catches hangs


# ---------------------------------------------------------------------------------------
# Wire helpers: response heads through the conftest Reader, bodies decoded here.
# ---------------------------------------------------------------------------------------


class Truncated(Exception):
    """The connection ended (EOF or reset) inside a response body."""


def _fill(reader: Reader, deadline: float) -> None:
    reader.sock.settimeout(max(0.05, deadline - time.monotonic()))
    try:
        data = reader.sock.recv(262144)
    except socket.timeout:
        raise AssertionError("timed out waiting for the server") from None
    except ConnectionResetError:
        data = b""
    if not data:
        raise Truncated()
    reader.buf += data


def read_head(reader: Reader, timeout: float = WAIT_S) -> Response:
    """The next response head (status line + headers); the body stays unread."""
    reader.sock.settimeout(timeout)
    try:
        return reader.read(head_request=True)
    except socket.timeout:
        raise AssertionError("timed out waiting for a response head") from None


def take(reader: Reader, n: int, deadline: float, sink: Callable[[bytes], None] | None = None) -> bytes:
    """Exactly ``n`` body bytes (to ``sink`` when given, else returned); Truncated at EOF."""
    parts: list[bytes] = []
    left = n
    while left > 0:
        if not reader.buf:
            _fill(reader, deadline)
        piece = reader.buf[:left]
        reader.buf = reader.buf[len(piece):]
        left -= len(piece)
        if sink is not None:
            sink(piece)
        else:
            parts.append(piece)
    return b"".join(parts)


def read_line(reader: Reader, deadline: float) -> bytes:
    while b"\r\n" not in reader.buf:
        assert len(reader.buf) < 4096, f"no CRLF in {reader.buf[:100]!r}"
        _fill(reader, deadline)
    line, reader.buf = reader.buf.split(b"\r\n", 1)
    return line


class Chunked:
    """Decodes a chunked body (RFC 9112 §7.1) chunk by chunk."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.terminated = False

    def next(self, deadline: float, sink: Callable[[bytes], None] | None = None) -> bytes | None:
        """The next chunk's data (or b"" after handing it to ``sink``); None after the
        terminating chunk and trailers; Truncated when the connection ends first."""
        assert not self.terminated
        size_line = read_line(self.reader, deadline)
        size_text = size_line.split(b";", 1)[0].strip()
        assert size_text and all(c in b"0123456789abcdefABCDEF" for c in size_text), f"bad chunk size {size_line!r}"
        size = int(size_text, 16)
        if size == 0:
            while read_line(self.reader, deadline) != b"":  # trailers, then the empty line
                pass
            self.terminated = True
            return None
        data = take(self.reader, size, deadline, sink)
        crlf = take(self.reader, 2, deadline)
        assert crlf == b"\r\n", f"chunk data not followed by CRLF: {crlf!r}"
        return data

    def rest(self, deadline: float, sink: Callable[[bytes], None] | None = None) -> bytes:
        """Every remaining chunk up to the terminator (Truncated if it never comes)."""
        parts = []
        while (data := self.next(deadline, sink)) is not None:
            parts.append(data)
        return b"".join(parts)


def read_to_eof(reader: Reader, deadline: float) -> bytes:
    data = reader.buf
    reader.buf = b""
    while True:
        reader.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            more = reader.sock.recv(262144)
        except socket.timeout:
            raise AssertionError(f"the connection stayed open (after {len(data)} bytes)") from None
        except ConnectionResetError:
            more = b""
        if not more:
            return data
        data += more


def read_cl_body(reader: Reader, resp: Response, timeout: float = WAIT_S) -> bytes:
    return take(reader, int(resp.header("content-length")), time.monotonic() + timeout)


def headers_named(resp: Response, name: str) -> list[str]:
    return [v for k, v in resp.headers if k.lower() == name.lower()]


def is_chunked(resp: Response) -> bool:
    te = headers_named(resp, "transfer-encoding")
    return len(te) == 1 and te[0].strip().lower() == "chunked"


def read_json(reader: Reader):
    resp = read_head(reader)
    return resp, json.loads(read_cl_body(reader, resp))


def send(srv: ServerProcess, raw: bytes, timeout: float = WAIT_S) -> tuple[socket.socket, Reader]:
    s = srv.connect(timeout=timeout)
    s.sendall(raw)
    return s, Reader(s)


def get_req(path: str, extra: str = "", version: str = "1.1", method: str = "GET") -> bytes:
    host = "Host: t\r\n" if version == "1.1" else ""
    return f"{method} {path} HTTP/{version}\r\n{host}{extra}\r\n".encode()


def json_get(srv: ServerProcess, path: str):
    s, rd = send(srv, get_req(path, "Connection: close\r\n"))
    with s:
        resp, obj = read_json(rd)
    assert resp.status == 200, resp
    return obj


def pattern(i: int, size: int) -> bytes:
    return bytes([i % 251]) * size  # the app's pattern()


def expected(n: int, size: int) -> bytes:
    return b"".join(pattern(i, size) for i in range(n))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def token() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------------------------------
# Servers and modes
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inline_srv():
    srv = ServerProcess(APP, "--threads", "2", "--max-body-size", str(MAX_BODY))
    yield srv
    assert srv.stop() == 0, srv.output()


@pytest.fixture(scope="module")
def threads_srv():
    srv = ServerProcess(APP, "--threads", "2", "--handler-threads", "2", "--max-body-size", str(MAX_BODY))
    yield srv
    assert srv.stop() == 0, srv.output()


@pytest.fixture(scope="module")
def small_srv():
    srv = ServerProcess(APP, "--threads", "1", "--max-body-size", str(SMALL_MAX_BODY))
    yield srv
    assert srv.stop() == 0, srv.output()


MODES = {
    "sync-inline": ("inline_srv", "sync"),
    "sync-handler-threads": ("threads_srv", "sync"),
    "async": ("inline_srv", "async"),
}


@pytest.fixture(params=list(MODES))
def mode(request) -> tuple[ServerProcess, str]:
    """(server, "sync" | "async"): which server and which generator kind."""
    fixture, kind = MODES[request.param]
    return request.getfixturevalue(fixture), kind


# ---------------------------------------------------------------------------------------
# StreamingResponse
# ---------------------------------------------------------------------------------------


def gated_first_chunk(srv: ServerProcess, kind: str) -> None:
    """The first chunk reaches the client while the generator waits for /release (sent
    on another connection), and the rest after it."""
    tok = token()
    s, rd = send(srv, get_req(f"/gated/{kind}?token={tok}"))
    try:
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp), resp
        assert (resp.header("content-type") or "").startswith("text/plain"), resp
        body = Chunked(rd)
        got = b""
        deadline = time.monotonic() + WAIT_S
        while b"first-chunk;" not in got:
            chunk = body.next(deadline)
            assert chunk is not None, f"the stream ended before the gate was opened: {got!r}"
            got += chunk
        # Only now is the generator allowed to go on.
        assert json_get(srv, f"/release?token={tok}") == {"released": tok}
        got += body.rest(time.monotonic() + WAIT_S)
        assert got == b"first-chunk;second-chunk;"
    finally:
        json_get(srv, f"/release?token={tok}")  # never leave a generator waiting
        s.close()


# Chunks are sent as they are produced, from a sync generator on handler threads and an
# async one; inline sync streams below and in the backpressure test.
@pytest.mark.parametrize("mode", ["sync-handler-threads", "async"], indirect=True)
def test_first_chunk_arrives_before_the_generator_goes_on(mode):
    srv, kind = mode
    gated_first_chunk(srv, kind)


def test_a_blocking_sync_generator_does_not_hold_its_reactor(small_srv):
    """One reactor and no handler threads (the default mode): a sync generator that blocks
    runs on a streaming thread, so the only reactor goes on serving, and the /release that
    unblocks the generator is answered. A generator run on the reactor thread would hold
    it: /release would never be answered and its read would time out."""
    gated_first_chunk(small_srv, "sync")


def get_chunked(srv: ServerProcess, path: str) -> tuple[Response, bytes]:
    """GET ``path`` on a connection of its own: the head (asserted 200 and chunked) and the
    whole body, unchunked."""
    s, rd = send(srv, get_req(path))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp), resp
        return resp, Chunked(rd).rest(time.monotonic() + WAIT_S)


def test_stream_is_chunked_and_exact(mode):
    srv, kind = mode
    resp, body = get_chunked(srv, f"/chunks/{kind}?n=10&size=1000")
    assert resp.header("content-length") is None, resp
    assert resp.header("content-type") is None, resp  # media_type=None: no Content-Type
    assert body == expected(10, 1000)


def test_media_type_sets_content_type(mode):
    srv, kind = mode
    resp, body = get_chunked(srv, f"/chunks/{kind}?n=2&size=3&media_type=application/x-ndjson")
    assert headers_named(resp, "content-type") == ["application/x-ndjson"], resp
    assert body == expected(2, 3)


def test_str_chunks_are_utf8(mode):
    srv, kind = mode
    assert get_chunked(srv, f"/text/{kind}")[1] == "héllo wörld ✓ 日本".encode()


def test_content_length_from_the_handler_replaces_chunking(mode):
    srv, kind = mode
    s, rd = send(srv, get_req(f"/chunks/{kind}?n=3&size=4&length=12"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200, resp
        assert headers_named(resp, "content-length") == ["12"], resp
        assert resp.header("transfer-encoding") is None, resp
        assert read_cl_body(rd, resp) == expected(3, 4)
        s.sendall(get_req("/json?n=after"))  # exactly 12 bytes: the connection is reusable
        resp2, obj = read_json(rd)
        assert resp2.status == 200 and obj == {"ok": True, "n": "after"}


@pytest.mark.parametrize("n, length", [(2, 12), (4, 12)], ids=["fewer-bytes", "more-bytes"])
def test_content_length_mismatch_closes_after_what_was_sent(mode, n, length):
    srv, kind = mode
    produced = expected(n, 4)
    s, rd = send(srv, get_req(f"/chunks/{kind}?n={n}&size=4&length={length}"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and headers_named(resp, "content-length") == [str(length)], resp
        assert resp.header("transfer-encoding") is None, resp
        body = read_to_eof(rd, time.monotonic() + WAIT_S)  # then the connection closes
        if len(produced) < length:
            assert body == produced  # everything produced was sent, then the close
        else:
            assert len(body) <= length and produced.startswith(body), body  # never past the declared length
    assert json_get(srv, "/json?n=still") == {"ok": True, "n": "still"}


@pytest.mark.parametrize("extra", ["", "Connection: keep-alive\r\n"], ids=["plain", "keep-alive-asked"])
def test_http10_stream_is_delimited_by_close(mode, extra):
    srv, kind = mode
    s, rd = send(srv, get_req(f"/chunks/{kind}?n=5&size=100", extra, version="1.0"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200, resp
        assert resp.header("transfer-encoding") is None, resp  # no chunking for HTTP/1.0
        assert resp.header("content-length") is None, resp
        assert [v.lower() for v in headers_named(resp, "connection")] == ["close"], resp
        assert read_to_eof(rd, time.monotonic() + WAIT_S) == expected(5, 100)


def test_head_gets_headers_only(mode):
    srv, kind = mode
    # HEAD, then a GET in the same write: the GET's response must follow the HEAD's head
    # directly, so no body byte was sent for the HEAD.
    s, rd = send(srv, get_req(f"/chunks/{kind}?n=5&size=100", method="HEAD") + get_req("/json?n=next"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200, resp
        resp2, obj = read_json(rd)
        assert resp2.status == 200 and obj == {"ok": True, "n": "next"}, (resp2, rd.buf[:200])


def test_head_keeps_the_handlers_content_length(mode):
    """HEAD on a stream that declares its length: that length in the head, no body (it
    used to be a 500: the empty body was held to the declared length)."""
    srv, kind = mode
    s, rd = send(srv, get_req(f"/chunks/{kind}?n=3&size=4&length=12", method="HEAD") + get_req("/json?n=next"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and headers_named(resp, "content-length") == ["12"], resp
        resp2, obj = read_json(rd)
        assert resp2.status == 200 and obj == {"ok": True, "n": "next"}, (resp2, rd.buf[:200])


STREAM_TOTAL = 200 * MIB
STREAM_CHUNK = 64 * 1024


def test_slow_reader_applies_backpressure(mode):
    srv, kind = mode
    tok = token()
    pid = srv.proc.pid
    s, rd = send(srv, get_req(f"/big/{kind}?token={tok}&total={STREAM_TOTAL}&size={STREAM_CHUNK}"),
                 timeout=60)
    with s:
        peak = rss_mib(pid)
        until = time.monotonic() + 3.0  # the client reads nothing for 3 s
        while time.monotonic() < until:
            time.sleep(0.2)
            peak = max(peak, rss_mib(pid))
        st = json_get(srv, f"/state?token={tok}")
        assert 0 < st["produced"] <= 32 * MIB, f"the generator produced {st['produced']} bytes for an idle reader"
        assert peak < 150 + RSS_SLACK_MIB, f"server RSS reached {peak:.0f} MiB"
        # Now read everything: exactly the generated bytes.
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp), resp
        h = hashlib.sha256()
        count = [0]

        def sink(b: bytes) -> None:
            h.update(b)
            count[0] += len(b)

        Chunked(rd).rest(time.monotonic() + 120, sink)
        want = hashlib.sha256()
        for i in range(STREAM_TOTAL // STREAM_CHUNK):
            want.update(pattern(i, STREAM_CHUNK))
        assert count[0] == STREAM_TOTAL and h.hexdigest() == want.hexdigest()
        peak = max(peak, rss_mib(pid))
        assert peak < 150 + RSS_SLACK_MIB, f"server RSS reached {peak:.0f} MiB"


def test_client_disconnect_mid_stream_closes_the_generator(mode):
    srv, kind = mode
    tok = token()
    s, rd = send(srv, get_req(f"/big/{kind}?token={tok}&total={STREAM_TOTAL}&size={STREAM_CHUNK}"))
    resp = read_head(rd)
    assert resp.status == 200 and is_chunked(resp), resp
    assert Chunked(rd).next(time.monotonic() + WAIT_S) == pattern(0, STREAM_CHUNK)
    s.close()  # mid-stream, with bytes unread
    deadline = time.monotonic() + 10
    st = json_get(srv, f"/state?token={tok}")
    while not st["finally"] and time.monotonic() < deadline:
        time.sleep(0.1)
        st = json_get(srv, f"/state?token={tok}")
    assert st["finally"], f"the generator was not closed 10 s after the client left: {st}"
    assert st["produced"] < STREAM_TOTAL, st
    if kind == "sync":
        assert st["exit"] == "GeneratorExit", st
    else:
        assert st["exit"] in ("GeneratorExit", "CancelledError"), st


def test_pipelined_stream_then_json_in_order(mode):
    srv, kind = mode
    s, rd = send(srv, get_req(f"/chunks/{kind}?n=5&size=1000") + get_req("/json?n=2"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp), resp
        assert Chunked(rd).rest(time.monotonic() + WAIT_S) == expected(5, 1000)
        resp2, obj = read_json(rd)
        assert resp2.status == 200 and obj == {"ok": True, "n": "2"}


def test_keep_alive_after_a_streamed_response(mode):
    srv, kind = mode
    s, rd = send(srv, get_req(f"/chunks/{kind}?n=3&size=10"))
    with s:
        for round_ in range(2):
            resp = read_head(rd)
            assert resp.status == 200 and is_chunked(resp), resp
            assert (resp.header("connection") or "").lower() != "close", resp
            assert Chunked(rd).rest(time.monotonic() + WAIT_S) == expected(3, 10)
            s.sendall(get_req(f"/json?n={round_}"))
            resp2, obj = read_json(rd)
            assert obj == {"ok": True, "n": str(round_)}
            if round_ == 0:
                s.sendall(get_req(f"/chunks/{kind}?n=3&size=10"))


def test_exception_mid_stream_truncates_and_closes(mode):
    srv, kind = mode
    s, rd = send(srv, get_req(f"/boom/{kind}"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200 and is_chunked(resp), resp
        body = Chunked(rd)
        got: list[bytes] = []
        with pytest.raises(Truncated):  # the connection ends without the terminating chunk
            while True:
                chunk = body.next(time.monotonic() + WAIT_S)
                assert chunk is not None, "an exception mid-stream must not end the body cleanly"
                got.append(chunk)
        assert expected(64, 65536).startswith(b"".join(got))
    assert json_get(srv, "/json?n=alive") == {"ok": True, "n": "alive"}  # the server keeps serving


def test_stream_errors_are_logged():
    srv = ServerProcess(APP, "--threads", "1")
    try:
        for kind in ("sync", "async"):
            s, rd = send(srv, get_req(f"/boom/{kind}"))
            with s:
                read_head(rd)
                with pytest.raises(Truncated):
                    Chunked(rd).rest(time.monotonic() + WAIT_S)
        for path in ("/chunks/sync?n=2&size=4&length=12", "/chunks/async?n=4&size=4&length=12"):
            s, rd = send(srv, get_req(path))
            with s:
                read_head(rd)
                read_to_eof(rd, time.monotonic() + WAIT_S)
        s, rd = send(srv, get_req("/framing/cl-mismatch"))
        with s:
            assert read_head(rd).status == 500
        assert json_get(srv, "/json") == {"ok": True, "n": None}
    finally:
        code = srv.stop()
    out = srv.output()
    assert code == 0, out
    assert "stream-boom-marker-sync" in out and "stream-boom-marker-async" in out, out
    assert "Traceback (most recent call last)" in out, out
    error_lines = [line for line in out.splitlines() if "ERROR" in line or "WARNING" in line]
    # Content-Length mismatches name the request they happened on.
    for path in ("/chunks/sync", "/chunks/async", "/framing/cl-mismatch"):
        assert any(path in line for line in error_lines), (path, error_lines)


# ---------------------------------------------------------------------------------------
# Request bodies streamed into async handlers: req.stream()
# ---------------------------------------------------------------------------------------

UPLOAD = 50 * MIB


@pytest.fixture(scope="module")
def upload_data() -> bytes:
    return os.urandom(UPLOAD)


def chunked_encode(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` as chunked framing, chunk sizes cycling through ``sizes``, then the end."""
    out, pos, k = [], 0, 0
    while pos < len(data):
        n = min(sizes[k % len(sizes)], len(data) - pos)
        out.append(b"%x\r\n" % n + data[pos:pos + n] + b"\r\n")
        pos += n
        k += 1
    out.append(b"0\r\n\r\n")
    return out


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_upload_is_streamed_into_the_handler(inline_srv, upload_data, framing):
    s = inline_srv.connect(timeout=60)
    with s:
        if framing == "content-length":
            s.sendall(f"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: {UPLOAD}\r\n\r\n".encode())
            for pos in range(0, UPLOAD, MIB):  # in pieces
                s.sendall(upload_data[pos:pos + MIB])
        else:
            s.sendall(b"POST /upload/sha HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in chunked_encode(upload_data, [1, 100, 65536, MIB + 7, 4093]):
                s.sendall(piece)
        resp, obj = read_json(Reader(s))
    assert resp.status == 200, resp
    assert obj["sha256"] == hashlib.sha256(upload_data).hexdigest() and obj["bytes"] == UPLOAD, obj
    assert obj["types"] == ["bytes"] and obj["chunks"] >= 2, obj


# The most bytes one chunk of req.stream() holds (docs/http.md, request bodies).
STREAM_CHUNK_MAX = 128 * 1024


@pytest.fixture(scope="module")
def hosted_srv():
    """One reactor: the event loop runs on the reactor's thread (the upload benchmark's setup)."""
    srv = ServerProcess(APP, "--threads", "1", "--max-body-size", str(MAX_BODY))
    yield srv
    assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("server", ["inline_srv", "hosted_srv"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("seed", [1, 2])
def test_upload_arrives_whole_in_order_in_bounded_chunks(request, server, framing, seed):
    """Random split points on the wire (and random chunk sizes with chunked framing): the
    handler gets every byte once and in order, never more than STREAM_CHUNK_MAX bytes in
    one chunk, and as more than one chunk (it streams)."""
    import random
    rng = random.Random(seed)
    srv = request.getfixturevalue(server)
    data = rng.randbytes(12 * MIB + rng.randrange(1, 65536))
    if framing == "content-length":
        wire = f"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
    else:
        sizes = [rng.choice([1, 7, 4096, 65535, 65537, 300_000, 2 * MIB + 3]) for _ in range(16)]
        wire = (b"POST /upload/sha HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"".join(chunked_encode(data, sizes)))
    s = srv.connect(timeout=60)
    with s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pos = 0
        while pos < len(wire):
            n = rng.choice([1, 13, 4095, 65537, 262_144, MIB + 1])
            s.sendall(wire[pos:pos + n])
            pos += n
        resp, obj = read_json(Reader(s))
    assert resp.status == 200, resp
    assert obj["bytes"] == len(data) and obj["sha256"] == hashlib.sha256(data).hexdigest(), obj
    assert obj["types"] == ["bytes"] and obj["chunks"] >= len(data) // STREAM_CHUNK_MAX, obj
    assert 0 < obj["largest"] <= STREAM_CHUNK_MAX, obj


@pytest.mark.parametrize("server", ["inline_srv", "hosted_srv"])
@pytest.mark.parametrize("size", [1, STREAM_CHUNK_MAX, STREAM_CHUNK_MAX + 1, 300_000, MIB])
def test_a_body_read_whole_streams_in_bounded_pieces(request, server, size):
    """A body up to 1 MiB is read whole before the handler runs; req.stream() still hands
    it over in pieces of at most STREAM_CHUNK_MAX bytes, in order, every byte once. A
    request pipelined behind it (same reads) is answered too."""
    import random
    rng = random.Random(size)
    srv = request.getfixturevalue(server)
    data = rng.randbytes(size)
    wire = (f"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode() + data
            + b"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
    s = srv.connect(timeout=60)
    with s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pos = 0
        while pos < len(wire):
            n = rng.choice([1, 13, 4095, 65537, 262_144])
            s.sendall(wire[pos:pos + n])
            pos += n
        reader = Reader(s)
        resp, obj = read_json(reader)
        resp2, obj2 = read_json(reader)
    assert resp.status == 200, resp
    assert obj["bytes"] == size and obj["sha256"] == hashlib.sha256(data).hexdigest(), obj
    assert obj["chunks"] == -(-size // STREAM_CHUNK_MAX) and obj["largest"] == min(size, STREAM_CHUNK_MAX), obj
    assert obj["types"] == ["bytes"], obj
    assert resp2.status == 200 and obj2["bytes"] == 3 and obj2["sha256"] == hashlib.sha256(b"abc").hexdigest(), obj2


def test_stream_after_req_body_gives_that_body_once(inline_srv):
    data = os.urandom(300_000)
    s, reader = send(inline_srv, b"POST /upload/body-then-stream HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n"
                     + data)
    with s:
        resp, obj = read_json(reader)
    assert resp.status == 200 and obj == {"same": True, "bytes": 300_000}, (resp, obj)


@pytest.mark.parametrize("server", ["inline_srv", "hosted_srv", "threads_srv"])
def test_large_bodies_read_whole_reach_a_sync_handler_intact(request, server):
    """Bodies read whole (up to 1 MiB and beyond, sync handler) one after another on one
    connection, each in small reads: the buffer a body lands in goes to the request as it
    is and is kept for the next body; every request sees its own head and body, nothing
    of an earlier one. One JSON body is parsed in place; one request carries a pipelined
    successor in its last read."""
    import random
    rng = random.Random(7)
    srv = request.getfixturevalue(server)
    s = srv.connect(timeout=60)
    with s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = Reader(s)
        for i, size in enumerate([900_000, 500_000, 2 * MIB + 5, 200_000, 700_000]):
            if i == 3:
                body = json.dumps({"items": list(range(size // 8))}).encode()
                ctype = "application/json"
            else:
                body = rng.randbytes(size)
                ctype = "application/octet-stream"
            head = (f"POST /upload/whole?n={i} HTTP/1.1\r\nHost: t\r\nX-Tag: t{i}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            wire = head + body
            if i == 1:
                wire += b"POST /upload/whole?n=x HTTP/1.1\r\nHost: t\r\nX-Tag: tx\r\nContent-Length: 2\r\n\r\nhi"
            for pos in range(0, len(wire), 16_384):
                s.sendall(wire[pos:pos + 16_384])
            resp, obj = read_json(reader)
            assert resp.status == 200, (i, resp)
            assert obj["sha256"] == hashlib.sha256(body).hexdigest() and obj["bytes"] == len(body), (i, obj)
            assert obj["tag"] == f"t{i}" and obj["path"] == "/upload/whole" and obj["query"] == f"n={i}", (i, obj)
            assert obj["items"] == (size // 8 if i == 3 else None), (i, obj)
            if i == 1:
                resp, obj = read_json(reader)
                assert resp.status == 200 and obj["tag"] == "tx" and obj["bytes"] == 2, obj


@pytest.mark.parametrize("request_line, extra", [
    ("POST /upload/sha HTTP/1.1", "Connection: close\r\n"),
    ("POST /upload/sha HTTP/1.0", ""),
])
def test_streamed_upload_on_a_request_without_persistence(inline_srv, request_line, extra):
    """A request that closes the connection still has its streamed body read (it used to
    be discarded: the handler's read got 408 after the idle timeout)."""
    data = os.urandom(3 * MIB)
    s = inline_srv.connect(timeout=30)
    with s:
        s.sendall(f"{request_line}\r\nHost: t\r\n{extra}Content-Length: {len(data)}\r\n\r\n".encode())
        s.sendall(data)
        resp, obj = read_json(Reader(s))
    assert resp.status == 200, resp
    assert obj["sha256"] == hashlib.sha256(data).hexdigest() and obj["bytes"] == len(data), obj
    assert any(k.lower() == "connection" and v.lower() == "close" for k, v in resp.headers), resp


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_upload_chunks_reach_the_handler_as_they_arrive(inline_srv, framing):
    tok = token()
    data = os.urandom(2 * MIB)
    first, second = data[:MIB], data[MIB:]
    s = inline_srv.connect(timeout=30)
    with s:
        if framing == "content-length":
            s.sendall(f"POST /upload/progress?token={tok} HTTP/1.1\r\nHost: t\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n".encode() + first)
        else:
            s.sendall(f"POST /upload/progress?token={tok} HTTP/1.1\r\nHost: t\r\n"
                      f"Transfer-Encoding: chunked\r\n\r\n".encode() + b"".join(chunked_encode(first, [65536])[:-1]))
        # The handler has bytes while the client still holds back the second half.
        deadline = time.monotonic() + 10
        while json_get(inline_srv, f"/state?token={tok}")["received"] == 0:
            assert time.monotonic() < deadline, "no body byte reached the handler before the body was complete"
            time.sleep(0.05)
        s.sendall(second if framing == "content-length" else b"".join(chunked_encode(second, [65536])))
        resp, obj = read_json(Reader(s))
    assert resp.status == 200, resp
    assert obj == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_content_length_over_max_body_is_413_before_reading(small_srv):
    s = small_srv.connect(timeout=WAIT_S)
    with s:
        # Only the head is sent: the answer must not wait for the body.
        s.sendall(f"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: {2 * SMALL_MAX_BODY}\r\n\r\n".encode())
        resp = read_head(Reader(s))
    assert resp.status == 413, resp


def test_chunked_body_over_max_body_is_413_while_streaming(small_srv):
    s = small_srv.connect(timeout=WAIT_S)
    answered = threading.Event()
    sent = [0]

    def sender() -> None:  # up to 4x the limit, stops once answered or on an error
        try:
            s.sendall(b"POST /upload/sha HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            piece = b"%x\r\n" % 65536 + b"u" * 65536 + b"\r\n"
            while not answered.is_set() and sent[0] < 4 * SMALL_MAX_BODY:
                s.sendall(piece)
                sent[0] += 65536
        except OSError:
            pass

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        resp = read_head(Reader(s))
    finally:
        answered.set()
        t.join(WAIT_S)
        s.close()
    assert resp.status == 413, resp


def test_expect_100_continue_when_the_handler_reads_the_body(inline_srv):
    body = os.urandom(MIB)
    s = inline_srv.connect(timeout=WAIT_S)
    with s:
        s.sendall(f"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n"
                  f"Expect: 100-continue\r\n\r\n".encode())
        rd = Reader(s)
        interim = read_head(rd)  # before any body byte was sent
        assert interim.status == 100, interim
        s.sendall(body)
        resp, obj = read_json(rd)
    assert resp.status == 200 and obj["sha256"] == hashlib.sha256(body).hexdigest(), (resp, obj)


def test_no_100_continue_when_the_handler_does_not_read_the_body(inline_srv):
    s = inline_srv.connect(timeout=WAIT_S)
    with s:
        s.sendall(b"POST /upload/ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        resp, obj = read_json(Reader(s))  # the first response on the wire is the final one
    assert resp.status == 200 and obj == {"ignored": True}, resp


# ---------------------------------------------------------------------------------------
# Framing headers supplied by a handler
# ---------------------------------------------------------------------------------------


def test_content_length_header_that_does_not_match_the_body_is_500(inline_srv):
    s, rd = send(inline_srv, get_req("/framing/cl-mismatch"))
    with s:
        resp = read_head(rd)
    assert resp.status == 500, resp


def test_transfer_encoding_from_the_handler_leaves_one_framing(inline_srv):
    s, rd = send(inline_srv, get_req("/framing/te") + get_req("/json?n=next"))
    with s:
        resp = read_head(rd)
        assert resp.status == 200, resp
        assert headers_named(resp, "transfer-encoding") == [], resp
        assert headers_named(resp, "content-length") == ["5"], resp
        assert read_cl_body(rd, resp) == b"hello"
        resp2, obj = read_json(rd)  # the next response follows right after the 5 bytes
        assert resp2.status == 200 and obj == {"ok": True, "n": "next"}


@pytest.mark.parametrize("request_extra, version, closes", [
    ("", "1.1", False),
    ("Connection: close\r\n", "1.1", True),
    ("", "1.0", True),
], ids=["http11", "http11-close", "http10"])
def test_connection_header_from_the_handler_is_never_doubled(inline_srv, request_extra, version, closes):
    s, rd = send(inline_srv, get_req("/framing/connection", request_extra, version=version))
    with s:
        resp = read_head(rd)
        assert resp.status == 200, resp
        connection = [v.strip().lower() for v in headers_named(resp, "connection")]
        assert len(connection) <= 1, resp
        assert read_cl_body(rd, resp) == b"x"
        if closes:
            assert connection != ["keep-alive"], f"says keep-alive on a connection it closes: {resp}"
            assert rd.closed(WAIT_S), "the server must close this connection"
        else:
            s.sendall(get_req("/json?n=again"))
            assert read_json(rd)[1] == {"ok": True, "n": "again"}


@pytest.mark.parametrize("code", [100, 101])
def test_informational_status_from_the_handler_is_500(inline_srv, code):
    s, rd = send(inline_srv, get_req(f"/framing/status/{code}"))
    with s:
        resp = read_head(rd)
    assert resp.status == 500, resp
