"""app.enable_compression over real sockets: negotiation from Accept-Encoding (q-values,
"*", identity, bad syntax), the bodies decoded with gzip/zstandard/brotli, what is never
compressed, Vary, streamed responses decodable chunk by chunk as they arrive."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from conftest import BACKENDS, Reader, ServerProcess
from feature_client import WAIT_S, decode, decoder, exchange, read_chunk
from h2_tls_helpers import Client, status

APP = "features_app:"


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP + "compress", "--threads", "2")
    yield s
    assert s.stop() == 0, s.output()


@pytest.fixture(scope="module")
def srv_gzip_first():
    s = ServerProcess(APP + "compress_gzip_first", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


def records(n: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"user {i * 7919 % 1000}", "email": f"user{i}@example.com", "active": i % 3 == 0}
            for i in range(n)]


# (Accept-Encoding, the coding the default server order zstd > br > gzip must pick), on
# /json/600 (about 42 KB: a whole body from 32 KiB on keeps the server's order)
NEGOTIATION = [
    ("gzip", "gzip"),
    ("br", "br"),
    ("zstd", "zstd"),
    ("gzip, deflate, br, zstd", "zstd"),  # equal q: the server's order
    ("gzip, br", "br"),
    ("zstd;q=0.5, gzip", "gzip"),  # the higher q wins
    ("zstd;q=0.5, gzip;q=0.4, br;q=0.1", "zstd"),
    ("*", "zstd"),
    ("*;q=0.5, gzip", "gzip"),
    ("*, zstd;q=0", "br"),  # q=0 refuses one
    ("gzip;q=0", None),
    ("GZip", "gzip"),
    ("x-gzip", "gzip"),
    ("gzip;q=0.001", "gzip"),
    ("identity", None),
    ("", None),
    ("deflate, compress", None),
    ("gzip;q=0.5, identity", None),  # identity named and weighed higher
    ("br ; q=0.9 , gzip ; q=0.8", "br"),
    (",,gzip,,", "gzip"),
    # bad syntax: the header is ignored (identity), the request still answered
    ("gzip;q=2", None),
    ("gzip;q=0.1234", None),
    ("gzip;level=9", None),
    ("gzip br", None),
    ('"gzip"', None),
    ("gzip;q=", None),
    ("zstd;q=1.5, gzip", None),
]


@pytest.mark.parametrize("accept, expected", NEGOTIATION)
def test_negotiation(srv, accept, expected):
    resp = exchange(srv, "GET", "/json/600", {"Accept-Encoding": accept})
    assert resp.status == 200
    assert 32 * 1024 < len(decode(expected, resp.body)) < 64 * 1024
    assert resp.header("content-encoding") == expected
    assert resp.header("vary") == "Accept-Encoding"
    assert json.loads(decode(expected, resp.body)) == records(600)
    if expected:
        assert len(resp.body) < len(json.dumps(records(600))) / 3


# Whole bodies under 32 KiB with automatic levels: among codings of equal q, gzip (its fast
# mode), then br, then zstd, the measured order of cost per byte saved
# (docs/middleware-native.md, "Compression"); the client's q-values still come first.
SMALL_NEGOTIATION = [
    ("gzip, br", "gzip"),  # HttpArena's json-comp client
    ("gzip, deflate, br, zstd", "gzip"),
    ("*", "gzip"),
    ("zstd, br", "br"),
    ("br, zstd", "br"),
    ("zstd", "zstd"),
    ("br", "br"),
    ("*, gzip;q=0", "br"),
    ("gzip;q=0.5, br", "br"),
    ("zstd;q=0.5, gzip;q=0.4, br;q=0.1", "zstd"),
    ("gzip;q=0.5, identity", None),
]


@pytest.mark.parametrize("accept, expected", SMALL_NEGOTIATION)
def test_negotiation_small_whole_bodies(srv, accept, expected):
    resp = exchange(srv, "GET", "/json/100", {"Accept-Encoding": accept})
    assert resp.status == 200
    assert 4096 < len(decode(expected, resp.body)) < 32 * 1024
    assert resp.header("content-encoding") == expected
    assert json.loads(decode(expected, resp.body)) == records(100)
    if expected == "gzip":
        # ringbolt's fast gzip mode: one deflate block with the fixed Huffman codes
        # (BTYPE 01), where zlib's level 1 would write dynamic ones (10) for this text.
        assert resp.body[:3] == b"\x1f\x8b\x08"
        assert (resp.body[10] >> 1) & 3 == 1


def test_no_accept_encoding_is_identity_with_vary(srv):
    resp = exchange(srv, "GET", "/json/100")
    assert resp.header("content-encoding") is None
    assert resp.header("vary") == "Accept-Encoding"
    assert json.loads(resp.body) == records(100)


def test_two_accept_encoding_fields_combine(srv):
    raw = b"GET /json/50 HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip;q=0.2\r\nAccept-Encoding: br;q=0.9\r\n\r\n"
    with srv.connect() as s:
        s.sendall(raw)
        resp = Reader(s).read()
    assert resp.header("content-encoding") == "br"
    assert json.loads(decode("br", resp.body)) == records(50)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("path", ["/json/2000", "/async-json/2000", "/text/300000"])
def test_large_bodies_round_trip(srv, coding, path):
    resp = exchange(srv, "GET", path, {"Accept-Encoding": coding})
    assert resp.status == 200
    assert resp.header("content-encoding") == coding
    assert int(resp.header("content-length") or -1) == len(resp.body)
    plain = decode(coding, resp.body)
    if path.startswith("/text"):
        assert plain == b"x" * 300000
    else:
        assert json.loads(plain) == records(2000)


# Body sizes around the automatic levels: under 32 KiB ringbolt's own one-pass encoders
# (each codec's cheapest mode); then zstd 3, br 1, gzip 1; from 64 KiB zstd 3, br 4, gzip 6.
@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("size", [1024, 2048, 2055, 4095, 4096, 16384, 16385, 32767, 32768, 65535, 65536])
def test_bodies_around_the_level_thresholds_round_trip(srv, coding, size):
    resp = exchange(srv, "GET", f"/text/{size}", {"Accept-Encoding": coding})
    assert resp.status == 200
    assert resp.header("content-encoding") == coding
    assert int(resp.header("content-length") or -1) == len(resp.body)
    assert decode(coding, resp.body) == b"x" * size


# Bodies under 32 KiB go through ringbolt's one-pass encoders (http/tiny_zstd, tiny_br,
# tiny_gzip), or through libzstd / libbrotli / zlib when those would save under a
# quarter (UTF-8 letters in random order, random bytes).
@pytest.mark.parametrize("coding", ["br", "gzip", "zstd"])
@pytest.mark.parametrize("kind", ["json", "utf8", "random", "runs"])
@pytest.mark.parametrize("size", [1024, 1500, 2055, 3000, 4095, 4096, 8397, 20000, 32767, 32768])
def test_tiny_bodies_of_every_shape_round_trip(srv, coding, kind, size):
    plain = exchange(srv, "GET", f"/mixed/{kind}/{size}")
    assert plain.status == 200 and plain.header("content-encoding") is None
    assert len(plain.body) == size
    resp = exchange(srv, "GET", f"/mixed/{kind}/{size}", {"Accept-Encoding": coding})
    assert resp.status == 200
    assert resp.header("content-encoding") == coding
    assert resp.header("vary") == "Accept-Encoding"
    assert int(resp.header("content-length") or -1) == len(resp.body)
    assert decode(coding, resp.body) == plain.body
    if kind in ("json", "runs"):
        assert len(resp.body) < size // 2
    elif kind == "utf8" and coding != "zstd":  # (zstd's fast modes leave literals as they are)
        assert len(resp.body) < size * 8 // 10  # the library's adaptive codes took over


def test_below_min_size_is_not_compressed(srv):
    resp = exchange(srv, "GET", "/text/1023", {"Accept-Encoding": "gzip"})
    assert resp.header("content-encoding") is None
    assert resp.header("vary") is None
    assert resp.body == b"x" * 1023
    resp = exchange(srv, "GET", "/text/1024", {"Accept-Encoding": "gzip"})
    assert resp.header("content-encoding") == "gzip"
    assert decode("gzip", resp.body) == b"x" * 1024


@pytest.mark.parametrize("ctype, compressed", [
    ("text/plain", True),
    ("text/html; charset=utf-8", True),
    ("application/json", True),
    ("image/svg+xml", True),
    ("application/javascript", True),
    ("image/png", False),
    ("image/jpeg", False),
    ("video/mp4", False),
    ("audio/mpeg", False),
    ("application/zip", False),
    ("application/gzip", False),
    ("application/zstd", False),
    ("application/octet-stream", False),
    ("font/woff2", False),
])
def test_content_types(srv, ctype, compressed):
    resp = exchange(srv, "GET", "/typed?type=" + quote(ctype, safe=""), {"Accept-Encoding": "gzip"})
    assert resp.status == 200
    assert resp.header("content-encoding") == ("gzip" if compressed else None)
    assert decode(resp.header("content-encoding"), resp.body) == b"a" * 4096


def test_handler_content_encoding_is_left_alone(srv):
    import gzip

    resp = exchange(srv, "GET", "/already", {"Accept-Encoding": "zstd, gzip"})
    assert resp.header("content-encoding") == "gzip"  # the handler's, not ours
    assert gzip.decompress(resp.body) == b"y" * 5000


# (method, path, Accept-Encoding, status or None when any, the Content-Encoding answered,
# the body once decoded or None when not checked)
WHAT_IS_COMPRESSED = [
    pytest.param("GET", "/no-transform", "gzip", None, None, b"z" * 5000, id="no-transform-honoured"),
    pytest.param("GET", "/status/204", "gzip", 204, None, None, id="204-never"),
    pytest.param("GET", "/status/304", "gzip", 304, None, None, id="304-never"),
    pytest.param("GET", "/status/206", "gzip", 206, None, b"s" * 5000, id="206-never"),
    pytest.param("GET", "/status/500", "gzip", 500, "gzip", b"s" * 5000, id="error-statuses-compressed"),
    pytest.param("HEAD", "/json/100", "gzip", 200, None, None, id="head-not-compressed"),
    pytest.param("GET", "/file", "gzip, zstd", 200, None, b"plain text file line\n" * 2000,
                 id="file-responses-uncompressed"),
    pytest.param("GET", "/const", "zstd", None, "zstd", b"c" * 3000, id="const-routes-compressed"),
    pytest.param("GET", "/nope", "gzip", 404, None, None, id="native-404-not-compressed"),
]


@pytest.mark.parametrize("method, path, accept, status, coding, body", WHAT_IS_COMPRESSED)
def test_what_is_compressed(srv, method, path, accept, status, coding, body):
    resp = exchange(srv, method, path, {"Accept-Encoding": accept})
    assert status is None or resp.status == status, resp
    assert resp.header("content-encoding") == coding
    if body is not None:
        assert (decode(coding, resp.body) if coding else resp.body) == body
    if method == "HEAD":
        assert resp.header("vary") == "Accept-Encoding"


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_streamed_chunks_decode_as_they_arrive(srv, coding):
    """The first chunk is decodable before the producer sends the next one: the
    generator blocks until /release, which the test calls only after decoding it."""
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(f"GET /stream HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {coding}\r\n\r\n".encode())
        reader = Reader(s)
        resp = reader.read(head_request=True)
        assert resp.status == 200
        assert resp.header("content-encoding") == coding
        assert resp.header("transfer-encoding") == "chunked"
        assert resp.header("content-length") is None
        feed = decoder(coding)
        first = read_chunk(reader)
        assert first is not None
        assert feed(first) == b"data: first event " + b"a" * 100 + b"\n\n"
        assert exchange(srv, "GET", "/release").body == b"released"
        expected = [f"data: event {i} ".encode() + b"b" * (i * 500) + b"\n\n" for i in range(5)]
        got = b""
        while (chunk := read_chunk(reader)) is not None:
            got += feed(chunk)
        assert got == b"".join(expected)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_async_stream_round_trip(srv, coding):
    resp = exchange(srv, "GET", "/stream-async", {"Accept-Encoding": coding})
    assert resp.header("content-encoding") == coding
    assert decode(coding, resp.body) == b"".join((f"line {i} " + "c" * 2000 + "\n").encode() for i in range(20))


def test_keep_alive_mixes_codings(srv):
    """One connection, several requests with different Accept-Encoding: the per-thread
    contexts are reset between responses."""
    with srv.connect(timeout=WAIT_S) as s:
        reader = Reader(s)
        for coding in ["gzip", "zstd", "br", "identity", "zstd", "gzip"]:
            s.sendall(f"GET /json/300 HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {coding}\r\n\r\n".encode())
            resp = reader.read()
            expected = None if coding == "identity" else coding
            assert resp.header("content-encoding") == expected
            assert json.loads(decode(expected, resp.body)) == records(300)


def test_server_order_and_options(srv_gzip_first):
    resp = exchange(srv_gzip_first, "GET", "/json/100", {"Accept-Encoding": "zstd, gzip, br"})
    assert resp.header("content-encoding") == "gzip"  # gzip first in this app's order
    resp = exchange(srv_gzip_first, "GET", "/json/100", {"Accept-Encoding": "br"})
    assert resp.header("content-encoding") is None  # br not offered
    resp = exchange(srv_gzip_first, "GET", "/text/100", {"Accept-Encoding": "gzip"})
    assert resp.header("content-encoding") == "gzip"  # min_size=100
    resp = exchange(srv_gzip_first, "GET", "/typed?type=text/csv", {"Accept-Encoding": "gzip"})
    assert resp.header("content-encoding") is None  # exclude_types


def test_pipelined_requests_stay_in_order(srv):
    raw = b"".join(f"GET /json/{n} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: zstd\r\n\r\n".encode()
                   for n in (10, 200, 50, 400))
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(raw)
        reader = Reader(s)
        for n in (10, 200, 50, 400):
            resp = reader.read()
            assert json.loads(decode(resp.header("content-encoding"), resp.body)) == records(n)


@pytest.mark.parametrize("kwargs, error", [
    ({"algorithms": ("deflate",)}, ValueError),
    ({"algorithms": ()}, ValueError),
    ({"algorithms": ("gzip", "gzip")}, ValueError),
    ({"level": 10, "algorithms": ("gzip",)}, ValueError),
    ({"level": 20}, ValueError),
    ({"level": {"br": 12}}, ValueError),
    ({"level": {"lz4": 1}}, ValueError),
    ({"level": "high"}, TypeError),
    ({"min_size": -1}, ValueError),
    ({"exclude_types": ("text",)}, ValueError),
])
def test_bad_options_name_the_cause(kwargs, error):
    from ringbolt import App

    app = App()
    with pytest.raises(error):
        app.enable_compression(**kwargs)
        app._build({"port": 0})  # the native side checks what Python let through


@pytest.fixture(scope="module")
def srv_asgi():
    s = ServerProcess(APP + "asgi_mounted", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("path", ["/asgi-whole", "/asgi-stream"])
def test_mounted_asgi_app_is_compressed(srv_asgi, coding, path):
    resp = exchange(srv_asgi, "GET", path, {"Accept-Encoding": coding, "Origin": "https://app.example.com"})
    assert resp.status == 200
    assert resp.header("content-encoding") == coding
    assert decode(coding, resp.body) == b"asgi " * 2000
    assert resp.header("access-control-allow-origin") == "https://app.example.com"
    assert resp.header("x-request-id") is not None
    pre = exchange(srv_asgi, "OPTIONS", path, {"Origin": "https://app.example.com",
                                               "Access-Control-Request-Method": "GET"})
    assert pre.status == 204  # answered natively, the ASGI app never sees it


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("kind", ["text", "random"])
def test_large_compressed_streams_keep_flowing(srv, coding, kind):
    """24 MiB streamed through a compressor: the producer's flow control (1 MiB unsent)
    is credited from the coded bytes the socket took, whether they are fewer (text) or
    more (random bytes) than the input; a broken mapping stalls the stream."""
    import hashlib
    import random as rnd_mod

    resp = exchange(srv, "GET", f"/big-stream/{kind}", {"Accept-Encoding": coding})
    assert resp.status == 200
    assert resp.header("content-encoding") == coding
    plain = decode(coding, resp.body)
    if kind == "random":
        rnd = rnd_mod.Random(7)
        expected = hashlib.sha256(b"".join(rnd.randbytes(65536) for _ in range(384))).hexdigest()
    else:
        expected = hashlib.sha256(b"".join((f"{i:08d} " * 7282).encode()[:65536] for i in range(384))).hexdigest()
    assert len(plain) == 384 * 65536
    assert hashlib.sha256(plain).hexdigest() == expected


# ---- HTTP/2: the same compression of streamed answers, in DATA frames ----


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_h2_streamed_chunks_decode_as_they_arrive(srv, coding):
    """Over h2c a streamed answer is compressed too, each piece flushed: the first
    event decodes from the DATA received before the producer goes on (it waits for
    /release, asked on another stream of the same connection after that check)."""
    with Client(srv) as c:
        sid = c.request("/stream", headers=[("accept-encoding", coding)])
        feed = decoder(coding)
        first = b"data: first event " + b"a" * 100 + b"\n\n"
        got = b""
        until = time.monotonic() + WAIT_S
        while len(got) < len(first):
            assert time.monotonic() < until, "the first event never became decodable"
            assert c.pump(), "the server closed the connection"
            r = c.responses[sid]
            if r["body"]:
                got += feed(r["body"])
                r["body"] = b""
        assert c.responses[sid]["headers"]["content-encoding"] == coding
        assert "content-length" not in c.responses[sid]["headers"]
        assert got == first and not c.responses[sid]["ended"]
        assert status(c.get("/release")) == 200
        c.wait(sid)
        assert c.responses[sid]["reset"] is None
        got = feed(c.responses[sid]["body"])
    expected = [f"data: event {i} ".encode() + b"b" * (i * 500) + b"\n\n" for i in range(5)]
    assert got == b"".join(expected)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_h2_async_stream_round_trip(srv, coding):
    with Client(srv) as c:
        r = c.get("/stream-async", headers=[("accept-encoding", coding)])
    assert status(r) == 200 and r["headers"]["content-encoding"] == coding and r["headers"]["vary"] == "Accept-Encoding"
    assert decode(coding, r["body"]) == b"".join((f"line {i} " + "c" * 2000 + "\n").encode() for i in range(20))


def test_h2_streamed_answer_without_accept_encoding_is_identity(srv):
    with Client(srv) as c:
        r = c.get("/stream-async")
    assert status(r) == 200 and "content-encoding" not in r["headers"]
    assert r["body"] == b"".join((f"line {i} " + "c" * 2000 + "\n").encode() for i in range(20))


# ---- A file inside a compressed stream ----
# A file goes out with sendfile, so its bytes never pass through the stream's encoder: a
# coded stream cannot take one. The only app API that sends a file after body bytes is
# ASGI's `http.response.pathsend` after `http.response.body`; it is refused there, as an
# ASGI protocol error, before any of the file is sent (docs/middleware-native.md, docs/http.md). Over h2 the
# stream is then reset (INTERNAL_ERROR: the client can tell the answer was cut short) and
# the connection serves on; the cause is logged once.

PATHSEND_APP = '''
import os

from ringbolt import App

FILE = os.environ["PATHSEND_TEST_FILE"]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    if scope["path"] == "/pathsend-after-body":
        await send({"type": "http.response.body", "body": b"first piece " * 200, "more_body": True})
        await send({"type": "http.response.pathsend", "path": FILE})  # raises: the body started
        return
    await send({"type": "http.response.body", "body": b"fine " * 500})


app = App()
app.mount_asgi(asgi, lifespan="off")
app.enable_compression(min_size=0)
'''
PATHSEND_ERROR = "'http.response.pathsend' after the body started"


@pytest.mark.parametrize("io", BACKENDS)
@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", None])
def test_h2_file_after_compressed_stream_body_resets_the_stream(tmp_path, io, coding):
    (tmp_path / "pathsend_app.py").write_text(PATHSEND_APP)
    (tmp_path / "file.txt").write_bytes(b"file bytes that must not go out " * 100)
    env = {"PYTHONPATH": str(tmp_path), "PATHSEND_TEST_FILE": str(tmp_path / "file.txt"),
           **({"RINGBOLT_IO": "epoll"} if io == "epoll" else {})}
    srv = ServerProcess("pathsend_app:app", "--threads", "1", env=env)
    try:
        accept = [("accept-encoding", coding)] if coding else []
        with Client(srv) as c:
            sid = c.request("/pathsend-after-body", headers=accept)
            c.wait(sid, timeout=WAIT_S)
            r = c.responses[sid]
            assert r["reset"] == 2, r  # RST_STREAM INTERNAL_ERROR, not a clean end
            assert status(r) == 200
            if coding:
                assert r["headers"]["content-encoding"] == coding and r["headers"]["vary"] == "Accept-Encoding"
            sent = decoder(coding)(r["body"]) if coding else r["body"]
            assert (b"first piece " * 200).startswith(sent)  # what went out (if any) is the body, no file byte
            # The same connection serves the next stream.
            ok = c.get("/fine", headers=accept, timeout=WAIT_S)
            assert status(ok) == 200 and ok["reset"] is None
            assert decode(coding, ok["body"]) == b"fine " * 500
            assert not c.closed
    finally:
        code = srv.stop()
    out = srv.output()
    assert code == 0, out
    assert out.count(PATHSEND_ERROR) == 1, out
    assert "GET /pathsend-after-body" in out, out


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_http1_file_after_compressed_stream_body_cuts_the_response(tmp_path, coding):
    """The same app over HTTP/1.1: the chunked body ends without its last chunk and the
    connection closes (HTTP/1.1's only way to tell the client the answer is incomplete)."""
    (tmp_path / "pathsend_app.py").write_text(PATHSEND_APP)
    (tmp_path / "file.txt").write_bytes(b"file bytes that must not go out " * 100)
    env = {"PYTHONPATH": str(tmp_path), "PATHSEND_TEST_FILE": str(tmp_path / "file.txt")}
    srv = ServerProcess("pathsend_app:app", "--threads", "1", env=env)
    try:
        with srv.connect(timeout=WAIT_S) as s:
            s.sendall(f"GET /pathsend-after-body HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {coding}\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):  # until the server closes
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0] == "HTTP/1.1 200 OK", head
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        assert fields["content-encoding"] == coding and fields["transfer-encoding"] == "chunked"
        coded = b""
        while body:
            size_line, _, rest = body.partition(b"\r\n")
            size = int(size_line, 16)
            assert size > 0, "a last chunk: the response looks complete"
            coded += rest[:size]
            body = rest[size + 2:]
        assert (b"first piece " * 200).startswith(decoder(coding)(coded))
    finally:
        code = srv.stop()
    out = srv.output()
    assert code == 0, out
    assert out.count(PATHSEND_ERROR) == 1, out
