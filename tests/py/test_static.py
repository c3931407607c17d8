"""app.static over raw sockets (tests/py/apps/static_app.py): content types, ETag and
Last-Modified with 304/412, ranges (206, 416, malformed, If-Range), HEAD, precompressed
siblings, index files and the 301 to the slash form, 405, precedence with routes, a table
of traversal attempts that must never reach the secret beside the root, symlinks out of
the root, FIFOs, a large file, and files that shrink or grow while they are sent.

Every test runs three times: on io_uring, on epoll, and with the realpath fallback that
replaces openat2(RESOLVE_BENEATH) where the kernel lacks it."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest

from conftest import BACKENDS, PROBLEM_TYPE, Reader, Response, ServerProcess, assert_problem

MIB = 1 << 20
WAIT_S = 20.0  # bound for what should take well under a second: only catches hangs
MTIME = 1614834367  # 2021-03-04 05:06:07 UTC
MTIME_HTTP = "Thu, 04 Mar 2021 05:06:07 GMT"
SECRET = b"TOP-SECRET-NEVER-SERVED"
BIG = 8 * MIB
MID = 40 * 1024  # above the size read into the response: sent with sendfile, below one loopback packet


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("static")
    pub = root / "public"
    (pub / "sub").mkdir(parents=True)
    (pub / "dirjs.js").mkdir()
    (root / "outside").mkdir()
    (root / "secret.txt").write_bytes(SECRET)
    (root / "outside" / "secret2.txt").write_bytes(SECRET)
    files = {
        "hello.txt": b"hello static\n",
        "page.html": b"<!doctype html><title>t</title>\n",
        "style.css": b"body { color: red }\n",
        "style.css.gz": b"GZ-OF-STYLE",
        "app.js": b"console.log('identity')\n",
        "app.js.gz": b"GZIP-BYTES",
        "app.js.br": b"BROTLI-BYTES",
        "app.js.zst": b"ZSTD-BYTES",
        "gone.js.br": b"BROTLI-OF-A-DELETED-ORIGINAL",
        "dirjs.js.gz": b"GZIP-BESIDE-A-DIRECTORY",
        "data.json": b'{"a": 1}\n',
        "image.png": b"\x89PNG\r\n\x1a\nfake",
        "image.png.gz": b"never chosen: png is not compressible",
        "font.woff2": b"wOF2",
        "noext": b"no extension",
        "empty.txt": b"",
        "index.html": b"<h1>root index</h1>\n",
        "sub/index.html": b"<h1>sub index</h1>\n",
        "sub/other.txt": b"other\n",
        "caf\u00e9.txt": "caf\u00e9\n".encode(),
        "a b.txt": b"space\n",
        "%2e%2e": b"a file literally named %2e%2e\n",
        ".env": b"DOTFILE",
    }
    for name, data in files.items():
        p = pub / name
        p.write_bytes(data)
        os.utime(p, (MTIME, MTIME))
    digits = (b"0123456789" * (MIB // 10 + 1))[:MIB]
    with open(pub / "big.bin", "wb") as f:
        for i in range(BIG // MIB):
            f.write(bytes([65 + i]) + digits[1:])
    os.utime(pub / "big.bin", (MTIME, MTIME))
    (pub / "mid.bin").write_bytes(bytes(range(256)) * (MID // 256))
    os.symlink("hello.txt", pub / "link_in")
    os.symlink("../secret.txt", pub / "link_out")
    os.symlink("../outside", pub / "dirlink_out")
    os.symlink(str(root / "secret.txt"), pub / "abs_link")
    os.symlink("sub/../../secret.txt", pub / "sneaky_link")
    os.mkfifo(pub / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(pub / "unix.sock"))
    sock.close()
    return root


# (the realpath fallback on the io_uring pass's backend: it is the opening, not the io)
@pytest.fixture(scope="module", params=[*BACKENDS, *(["realpath"] if "io_uring" in BACKENDS else [])])
def srv(request, tree: Path):
    env = {"RINGBOLT_TEST_STATIC": str(tree)}
    if request.param == "epoll":
        env["RINGBOLT_IO"] = "epoll"
    if request.param == "realpath":
        env["RINGBOLT_STATIC_NO_OPENAT2"] = "1"
    s = ServerProcess("static_app:app", "--threads", "2", env=env)
    s.mode = request.param
    yield s
    assert s.stop() == 0, s.output()
    out = s.output()
    if request.param == "realpath":
        assert "static files: opened with openat + a realpath check" in out, out
    else:
        assert "static files: opened with openat2(RESOLVE_BENEATH)" in out, out


def raw(srv: ServerProcess, head: str, head_request: bool = False) -> Response:
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(head.encode("latin-1"))
        return Reader(s).read(head_request)


def get(srv: ServerProcess, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Response:
    lines = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return raw(srv, f"{method} {path} HTTP/1.1\r\nHost: t\r\n{lines}\r\n", head_request=method == "HEAD")


def pub(tree: Path, name: str) -> bytes:
    return (tree / "public" / name).read_bytes()


# ---- content types ----

CONTENT_TYPES = [
    ("/assets/hello.txt", "text/plain; charset=utf-8"),
    ("/assets/page.html", "text/html; charset=utf-8"),
    ("/assets/style.css", "text/css; charset=utf-8"),
    ("/assets/app.js", "text/javascript; charset=utf-8"),
    ("/assets/data.json", "application/json"),
    ("/assets/image.png", "image/png"),
    ("/assets/font.woff2", "font/woff2"),
    ("/assets/noext", "application/octet-stream"),
    ("/assets/big.bin", "application/octet-stream"),
]


@pytest.mark.parametrize("path,ctype", CONTENT_TYPES)
def test_content_type_and_body(srv, tree, path, ctype):
    r = get(srv, path)
    assert r.status == 200, r
    assert r.header("content-type") == ctype
    assert r.body == pub(tree, path.removeprefix("/assets/"))
    assert r.header("accept-ranges") == "bytes"
    assert r.header("cache-control") == "public, max-age=60"
    assert r.header("last-modified") == MTIME_HTTP
    etag = r.header("etag")
    assert etag is not None and etag.startswith('"') and etag.endswith('"') and len(etag) > 2


def test_empty_file_and_names_that_need_decoding(srv, tree):
    r = get(srv, "/assets/empty.txt")
    assert (r.status, r.body, r.header("content-length")) == (200, b"", "0")
    assert get(srv, "/assets/caf%C3%A9.txt").body == "caf\u00e9\n".encode()
    assert get(srv, "/assets/a%20b.txt").body == b"space\n"
    # Decoded once: "%252e%252e" names the file literally called "%2e%2e", inside the root.
    assert get(srv, "/assets/%252e%252e").body == b"a file literally named %2e%2e\n"


# ---- validators and conditional requests ----


def test_etag_and_last_modified_give_304(srv):
    first = get(srv, "/assets/hello.txt")
    etag = first.header("etag")
    assert first.status == 200
    cases = [
        ({"If-None-Match": etag}, 304),
        ({"If-None-Match": f"W/{etag}"}, 304),  # If-None-Match compares weakly (RFC 9110 §13.1.2)
        ({"If-None-Match": f'"other", {etag}'}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-Modified-Since": MTIME_HTTP}, 304),
        ({"If-Modified-Since": "Fri, 05 Mar 2021 00:00:00 GMT"}, 304),
        ({"If-Modified-Since": "Wed, 03 Mar 2021 00:00:00 GMT"}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-Modified-Since": "Thursday, 04-Mar-21 05:06:07 GMT"}, 304),  # RFC 850 form
        ({"If-Modified-Since": "Thu Mar  4 05:06:07 2021"}, 304),  # asctime form
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2), both ways.
        ({"If-None-Match": '"other"', "If-Modified-Since": "Fri, 05 Mar 2021 00:00:00 GMT"}, 200),
        ({"If-None-Match": etag, "If-Modified-Since": "Wed, 03 Mar 2021 00:00:00 GMT"}, 304),
    ]
    for headers, status in cases:
        r = get(srv, "/assets/hello.txt", headers)
        assert r.status == status, (headers, r)
        if status == 304:
            assert r.body == b""
            assert r.header("content-length") is None
            assert r.header("etag") == etag
            assert r.header("last-modified") == MTIME_HTTP
            assert r.header("cache-control") == "public, max-age=60"
            assert r.header("vary") == "Accept-Encoding"
        else:
            assert r.body == b"hello static\n"
    head = get(srv, "/assets/hello.txt", {"If-None-Match": etag}, method="HEAD")
    assert head.status == 304


def test_if_match_and_if_unmodified_since_give_412(srv):
    etag = get(srv, "/assets/hello.txt").header("etag")
    cases = [
        ({"If-Match": etag}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": f"W/{etag}"}, 412),  # If-Match compares strongly (§13.1.1)
        ({"If-Unmodified-Since": MTIME_HTTP}, 200),
        ({"If-Unmodified-Since": "Wed, 03 Mar 2021 00:00:00 GMT"}, 412),
    ]
    for headers, status in cases:
        r = get(srv, "/assets/hello.txt", headers)
        assert r.status == status, (headers, r)


def test_etag_changes_with_the_file(srv, tree):
    p = tree / "public" / f"changing-{srv.mode}.txt"
    p.write_bytes(b"one")
    a = get(srv, p.name.join(["/assets/", ""]))
    p.write_bytes(b"two!")
    b = get(srv, p.name.join(["/assets/", ""]))
    assert (a.body, b.body) == (b"one", b"two!")
    assert a.header("etag") != b.header("etag")
    assert get(srv, "/assets/" + p.name, {"If-None-Match": a.header("etag")}).status == 200


# ---- ranges ----

HELLO = b"hello static\n"  # 13 bytes

RANGES = [
    ("bytes=0-4", 206, HELLO[0:5], "bytes 0-4/13"),
    ("bytes=6-", 206, HELLO[6:], "bytes 6-12/13"),
    ("bytes=-3", 206, HELLO[-3:], "bytes 10-12/13"),
    ("bytes=0-1000", 206, HELLO, "bytes 0-12/13"),
    ("bytes=-100", 206, HELLO, "bytes 0-12/13"),
    ("BYTES=1-1", 206, HELLO[1:2], "bytes 1-1/13"),
    ("bytes=13-", 416, None, "bytes */13"),
    ("bytes=100-200", 416, None, "bytes */13"),
    ("bytes=-0", 416, None, "bytes */13"),
    # Malformed or another unit: ignored, the whole file (RFC 9110 §14.2).
    ("bytes=5-1", 200, HELLO, None),
    ("bytes=abc", 200, HELLO, None),
    ("bytes=", 200, HELLO, None),
    ("bytes 0-1", 200, HELLO, None),
    ("items=0-1", 200, HELLO, None),
    ("bytes=1-2-3", 200, HELLO, None),
    ("bytes=99999999999999999999999-", 200, HELLO, None),
    # Several ranges: served whole (multipart/byteranges is not produced).
    ("bytes=0-1,5-6", 200, HELLO, None),
]


@pytest.mark.parametrize("value,status,body,content_range", RANGES)
def test_ranges(srv, value, status, body, content_range):
    r = get(srv, "/assets/hello.txt", {"Range": value})
    assert r.status == status, r
    assert r.header("content-range") == content_range
    if body is not None:
        assert r.body == body
        assert r.header("content-length") == str(len(body))
    assert r.header("accept-ranges") in ("bytes", None)


def test_range_ignored_for_head_and_with_two_fields(srv):
    r = get(srv, "/assets/hello.txt", {"Range": "bytes=0-1"}, method="HEAD")
    assert (r.status, r.header("content-length")) == (200, "13")
    r = raw(srv, "GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n")
    assert (r.status, r.body) == (200, HELLO)


def test_if_range(srv):
    etag = get(srv, "/assets/hello.txt").header("etag")
    cases = [
        (etag, 206),
        ('"stale"', 200),
        (f"W/{etag}", 200),  # a weak validator never matches If-Range (§13.1.5)
        (MTIME_HTTP, 206),
        ("Fri, 05 Mar 2021 00:00:00 GMT", 200),
        ("garbage", 200),
    ]
    for value, status in cases:
        r = get(srv, "/assets/hello.txt", {"Range": "bytes=0-4", "If-Range": value})
        assert r.status == status, (value, r)
        assert r.body == (HELLO[:5] if status == 206 else HELLO)


def data_segments_in(sock: socket.socket) -> int:
    """tcp_info.tcpi_data_segs_in (Linux 4.6+): the TCP segments with data this socket got."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 160)
    return int.from_bytes(info[152:156], "little")


def test_file_answer_head_and_body_leave_in_one_packet(srv, tree):
    # A file body goes out with sendfile() after its head's send: the head is sent with
    # MSG_MORE, so it waits for the body's first packet instead of leaving alone. Over
    # loopback (MTU 64 KiB) a 40 KiB answer then arrives as one data segment, not two
    # (without MSG_MORE: the head's 250 bytes, then the body). The connection's first
    # answer is not counted: TCP's first segments are cut at a smaller MSS estimate.
    data = pub(tree, "mid.bin")
    request = b"GET /assets/mid.bin HTTP/1.1\r\nHost: t\r\n\r\n"
    with srv.connect(timeout=WAIT_S) as s:
        rd = Reader(s)
        s.sendall(request)
        assert rd.read().body == data
        for _ in range(3):
            before = data_segments_in(s)
            s.sendall(request)
            r = rd.read()
            assert (r.status, r.body) == (200, data)
            assert data_segments_in(s) - before == 1


def test_large_file_whole_and_ranges(srv, tree):
    data = pub(tree, "big.bin")
    with srv.connect(timeout=WAIT_S) as s:
        rd = Reader(s)
        s.sendall(b"GET /assets/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        r = rd.read()
        assert r.status == 200 and int(r.header("content-length")) == BIG
        assert hashlib.sha256(r.body).digest() == hashlib.sha256(data).digest()
        for first, last in [(0, 0), (MIB - 1, MIB + 1), (3 * MIB + 17, 5 * MIB), (BIG - 10, BIG - 1)]:
            s.sendall(f"GET /assets/big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes={first}-{last}\r\n\r\n".encode())
            r = rd.read()
            assert r.status == 206
            assert r.header("content-range") == f"bytes {first}-{last}/{BIG}"
            assert r.body == data[first : last + 1]
        # HEAD announces the length and sends nothing; the connection goes on.
        s.sendall(b"HEAD /assets/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        r = rd.read(head_request=True)
        assert (r.status, r.header("content-length")) == (200, str(BIG))
        s.sendall(b"GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        assert rd.read().body == HELLO


def test_pipelined_static_answers_keep_order(srv, tree):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(
            b"GET /assets/big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /api HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\n\r\n"
            b"GET /assets/nope HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        rd = Reader(s)
        assert len(rd.read().body) == BIG
        assert rd.read().json() == {"ok": True}
        assert rd.read().body == b"hello"
        assert rd.read().status == 404
        # Behind an application answer, static answers wait their turn (the owed list):
        # a file range, a HEAD, a small file.
        s.sendall(
            b"GET /api HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /assets/big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1-1048576\r\n\r\n"
            b"HEAD /assets/big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        assert rd.read().json() == {"ok": True}
        r = rd.read()
        assert r.status == 206 and r.body == pub(tree, "big.bin")[1 : MIB + 1]
        r = rd.read(head_request=True)
        assert (r.status, r.header("content-length")) == (200, str(BIG))
        assert rd.read().body == HELLO


# ---- precompressed siblings ----

PRECOMPRESSED = [
    ("gzip, deflate, br, zstd", "/assets/app.js", b"ZSTD-BYTES", "zstd"),
    ("gzip, br", "/assets/app.js", b"BROTLI-BYTES", "br"),
    ("gzip", "/assets/app.js", b"GZIP-BYTES", "gzip"),
    ("br;q=0.5, gzip;q=0.9", "/assets/app.js", b"GZIP-BYTES", "gzip"),
    ("zstd;q=0, gzip", "/assets/app.js", b"GZIP-BYTES", "gzip"),
    ("identity", "/assets/app.js", b"console.log('identity')\n", None),
    ("deflate", "/assets/app.js", b"console.log('identity')\n", None),
    ("*", "/assets/app.js", b"ZSTD-BYTES", "zstd"),
    ("", "/assets/app.js", b"console.log('identity')\n", None),
    ("br, zstd", "/assets/style.css", b"body { color: red }\n", None),  # only .gz exists
    ("br, gzip", "/assets/style.css", b"GZ-OF-STYLE", "gzip"),
    ("gzip", "/assets/image.png", b"\x89PNG\r\n\x1a\nfake", None),  # not a compressible type
    ("gzip", "/plain/app.js", b"console.log('identity')\n", None),  # precompressed=False
    # A field that does not parse (only ";q=" is a codings parameter, RFC 9110 §12.5.3; a bad
    # q-value) is ignored whole, as compression does: identity, never a guess or a loop.
    ("gzip;a=1;b=2;q=0.5, br;x;y;q=0.4", "/assets/app.js", b"console.log('identity')\n", None),
    ("br;q=abc, gzip;q=", "/assets/app.js", b"console.log('identity')\n", None),
]


@pytest.mark.parametrize("accept,path,body,coding", PRECOMPRESSED)
def test_precompressed_choice(srv, accept, path, body, coding):
    r = get(srv, path, {"Accept-Encoding": accept})
    assert r.status == 200, r
    assert r.body == body
    assert r.header("content-encoding") == coding
    compressible = not path.endswith(".png") and not path.startswith("/plain")
    assert r.header("vary") == ("Accept-Encoding" if compressible else None)
    if compressible:
        assert r.header("content-type") == (
            "text/javascript; charset=utf-8" if path.endswith(".js") else "text/css; charset=utf-8"
        )


def test_sibling_is_looked_for_first_and_served_without_its_original(srv):
    # The sibling is opened first and the original is not opened when one is served (one
    # file per request): a sibling whose original was deleted still answers the clients
    # that accept its coding, as nginx's gzip_static does; the others get the 404.
    r = get(srv, "/assets/gone.js", {"Accept-Encoding": "br"})
    assert (r.status, r.body, r.header("content-encoding")) == (200, b"BROTLI-OF-A-DELETED-ORIGINAL", "br")
    assert r.header("content-type") == "text/javascript; charset=utf-8"
    assert r.header("vary") == "Accept-Encoding"
    for accept in ["gzip", "identity", None]:
        r = get(srv, "/assets/gone.js", {"Accept-Encoding": accept} if accept else None)
        assert r.status == 404, (accept, r)
    # A name that is a directory on disk: its sibling file is served the same way; without
    # an acceptable sibling the directory answers as every directory does (301).
    r = get(srv, "/assets/dirjs.js", {"Accept-Encoding": "gzip"})
    assert (r.status, r.body, r.header("content-encoding")) == (200, b"GZIP-BESIDE-A-DIRECTORY", "gzip")
    r = get(srv, "/assets/dirjs.js", {"Accept-Encoding": "br"})
    assert (r.status, r.header("location")) == (301, "/assets/dirjs.js/")
    # A URL with a trailing slash never names a sibling ("app.js/" is no file).
    assert get(srv, "/assets/app.js/", {"Accept-Encoding": "br"}).status == 404


def test_precompressed_validators_and_ranges_are_of_the_sibling(srv):
    plain = get(srv, "/assets/app.js")
    gz = get(srv, "/assets/app.js", {"Accept-Encoding": "gzip"})
    assert plain.header("etag") != gz.header("etag")
    r = get(srv, "/assets/app.js", {"Accept-Encoding": "gzip", "If-None-Match": gz.header("etag")})
    assert r.status == 304
    r = get(srv, "/assets/app.js", {"Accept-Encoding": "gzip", "If-None-Match": plain.header("etag")})
    assert r.status == 200 and r.body == b"GZIP-BYTES"
    r = get(srv, "/assets/app.js", {"Accept-Encoding": "gzip", "Range": "bytes=0-3"})
    assert (r.status, r.body, r.header("content-range")) == (206, b"GZIP", "bytes 0-3/10")


# ---- index files, directories ----


def test_index_and_directory_redirect(srv):
    assert get(srv, "/assets/").body == b"<h1>root index</h1>\n"
    assert get(srv, "/assets/sub/").body == b"<h1>sub index</h1>\n"
    r = get(srv, "/assets/sub")
    assert (r.status, r.header("location")) == (301, "/assets/sub/")
    r = get(srv, "/assets/sub?x=1&y=2")
    assert (r.status, r.header("location")) == (301, "/assets/sub/?x=1&y=2")
    r = get(srv, "/assets")
    assert (r.status, r.header("location")) == (301, "/assets/")
    assert get(srv, "/assets/sub/other.txt").body == b"other\n"
    # index=None: no index, and never a listing.
    assert get(srv, "/plain/").status == 404
    assert get(srv, "/plain/sub/").status == 404
    assert get(srv, "/plain/sub").status == 404
    assert get(srv, "/plain/hello.txt").body == HELLO
    # A file asked for as a directory, a directory that does not exist.
    assert get(srv, "/assets/hello.txt/").status == 404
    assert get(srv, "/assets/nosuchdir/").status == 404
    # A prefix only matches whole segments.
    assert get(srv, "/assetsX/hello.txt").status == 404


# ---- methods and precedence ----


def test_methods_other_than_get_head_get_405(srv):
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"]:
        r = raw(srv, f"{method} /assets/hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        assert r.status == 405, (method, r)
        assert r.header("allow") == "GET, HEAD"
    # The connection survives a 405 with a body.
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"POST /assets/hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        s.sendall(b"GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = Reader(s)
        assert rd.read().status == 405
        assert rd.read().body == HELLO


def test_routes_win_over_static_mounts(srv):
    assert get(srv, "/assets/route").json() == {"from": "route"}
    r = raw(srv, "POST /assets/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd")
    assert r.json() == {"got": 4}
    # A route's own 405 stays the route's (GET on a POST-only route under the mount).
    r = get(srv, "/assets/upload")
    assert r.status == 405 and "POST" in (r.header("allow") or "")
    assert get(srv, "/api").json() == {"ok": True}
    assert get(srv, "/nothing-here").status == 404


# ---- what is never served ----

# Raw request targets (sent as-is on the socket). Each must answer 404 (or 400 for a
# malformed percent-encoding) and never carry the secret that sits beside the root.
TRAVERSAL = [
    ("/assets/../secret.txt", 404),
    ("/assets/%2e%2e/secret.txt", 404),
    ("/assets/%2E%2e/secret.txt", 404),
    ("/assets/%2E%2E/secret.txt", 404),
    ("/assets/.%2e/secret.txt", 404),
    ("/assets/%2e./secret.txt", 404),
    ("/assets/sub/../../secret.txt", 404),
    ("/assets/sub/%2e%2e/%2e%2e/secret.txt", 404),
    ("/assets/..%2fsecret.txt", 404),
    ("/assets/..%2Fsecret.txt", 404),
    ("/assets/%2e%2e%2fsecret.txt", 404),
    ("/assets/sub%2f..%2f..%2fsecret.txt", 404),
    ("/assets/..%5csecret.txt", 404),
    ("/assets/..%5Csecret.txt", 404),
    ("/assets/..\\secret.txt", 404),
    ("/assets/sub\\..\\..\\secret.txt", 404),
    ("/assets/%252e%252e/secret.txt", 404),  # double-encoded: a literal "%2e%2e" directory (none)
    ("/assets/%252e%252e%252fsecret.txt", 404),
    ("/assets/secret.txt%00.txt", 404),
    ("/assets/hello.txt%00", 404),
    ("/assets/%00", 404),
    ("/assets//secret.txt", 404),
    ("/assets//etc/passwd", 404),
    ("/assets/%2fetc%2fpasswd", 404),
    ("/assets/./hello.txt", 404),
    ("/assets/%2e/hello.txt", 404),
    ("/assets/.env", 404),
    ("/assets/%2eenv", 404),
    ("/assets/hello.txt%0a", 404),
    ("/assets/%c0%ae%c0%ae/secret.txt", 404),  # overlong UTF-8 dots: just bytes, no such name
    ("/assets/..;/secret.txt", 404),
    ("/plain/../secret.txt", 404),
    ("/plain/%2e%2e/secret.txt", 404),
    ("/assets/%", 400),
    ("/assets/%2", 400),
    ("/assets/%zz/secret.txt", 400),
    ("/assets/%%32%65%%32%65/secret.txt", 400),
    ("/assets/%u002e%u002e/secret.txt", 400),
]


@pytest.mark.parametrize("target,status", TRAVERSAL)
def test_traversal_is_refused(srv, target, status):
    r = raw(srv, f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == status, r
    assert r.header("content-type") == PROBLEM_TYPE, r
    assert SECRET not in r.body
    assert b"root index" not in r.body and r.body != HELLO


# ---- errors are RFC 9457 problems, like every other error of the app ----

STATIC_ERRORS = [
    ("missing file", "GET", "/assets/nope.txt", {}, 404, "does not exist"),
    ("directory without index", "GET", "/plain/sub/", {}, 404, "does not exist"),
    ("symlink out of the root", "GET", "/assets/link_out", {}, 404, "does not exist"),
    ("FIFO", "GET", "/assets/fifo", {}, 404, "does not exist"),
    ("malformed percent-encoding", "GET", "/assets/%zz", {}, 400, "percent-encoding"),
    ("method", "DELETE", "/assets/hello.txt", {}, 405, "GET and HEAD"),
    ("If-Match", "GET", "/assets/hello.txt", {"If-Match": '"other"'}, 412, "If-Match"),
    ("If-Unmodified-Since", "GET", "/assets/hello.txt", {"If-Unmodified-Since": "Wed, 03 Mar 2021 00:00:00 GMT"},
     412, "If-Unmodified-Since"),
    ("range", "GET", "/assets/hello.txt", {"Range": "bytes=100-200"}, 416, "Range"),
]


@pytest.mark.parametrize("method,path,headers,status,detail", [pytest.param(*r[1:], id=r[0]) for r in STATIC_ERRORS])
def test_static_errors_are_problems(srv, method, path, headers, status, detail):
    r = get(srv, path, headers, method=method)
    assert_problem(r, status, detail)
    if status == 405:
        assert r.header("allow") == "GET, HEAD"
    if status == 416:
        assert r.header("content-range") == "bytes */13"
    if status == 412:
        assert r.header("etag") is not None  # the validators of the file that failed the condition
    # HEAD: the same status and fields, no body (Range is for GET only: no 416).
    if method == "GET" and status != 416:
        h = get(srv, path, headers, method="HEAD")
        assert (h.status, h.header("content-type"), h.body) == (status, PROBLEM_TYPE, b"")


def test_traversal_table_is_large_enough():
    assert len(TRAVERSAL) >= 20


@pytest.mark.parametrize(
    "path", ["/assets/link_out", "/assets/dirlink_out/secret2.txt", "/assets/abs_link", "/assets/sneaky_link"]
)
def test_symlinks_out_of_the_root_are_404(srv, path):
    r = get(srv, path)
    assert r.status == 404, r
    assert SECRET not in r.body


def test_symlink_inside_the_root_is_served(srv):
    assert get(srv, "/assets/link_in").body == HELLO


@pytest.mark.parametrize("path", ["/assets/fifo", "/assets/unix.sock"])
def test_non_regular_files_are_404_without_blocking(srv, path):
    t0 = time.monotonic()
    r = get(srv, path)
    assert r.status == 404
    assert time.monotonic() - t0 < WAIT_S
    assert get(srv, "/assets/hello.txt").body == HELLO  # the reactor was not blocked by the FIFO


# ---- files that change while they are sent ----


def _read_until_eof(sock: socket.socket, have: bytes, limit: int) -> bytes:
    data = bytearray(have)
    deadline = time.monotonic() + WAIT_S
    while len(data) <= limit:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise AssertionError(f"hung after {len(data)} of {limit} body bytes") from None
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_file_truncated_while_being_sent_closes_without_garbage(srv, tree):
    size = 64 * MIB
    p = tree / "public" / f"shrinking-{srv.mode}.bin"
    with open(p, "wb") as f:
        f.truncate(size)  # sparse zeros
    with srv.connect(timeout=WAIT_S) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(f"GET /assets/{p.name} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, body = buf.split(b"\r\n\r\n", 1)
        assert b"Content-Length: %d" % size in head
        time.sleep(0.3)  # the server fills the socket and waits for room
        os.truncate(p, MIB)
        body = _read_until_eof(s, body, size)
    assert len(body) < size, "the whole length was sent from a file that shrank"
    assert set(body) <= {0}  # nothing but the file's bytes
    assert get(srv, "/assets/hello.txt").body == HELLO  # the server goes on


def test_file_grown_while_being_sent_sends_exactly_the_declared_length(srv, tree):
    size = 16 * MIB
    p = tree / "public" / f"growing-{srv.mode}.bin"
    with open(p, "wb") as f:
        f.truncate(size)
    with srv.connect(timeout=WAIT_S) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        # The second request is pipelined: its answer must start right after exactly
        # Content-Length bytes of the first.
        s.sendall(
            f"GET /assets/{p.name} HTTP/1.1\r\nHost: t\r\n\r\nGET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        )
        rd = Reader(s)
        rd._fill()
        with open(p, "ab") as f:
            f.write(b"\xff" * (4 * MIB))
        r = rd.read()
        assert r.status == 200 and len(r.body) == size and set(r.body) <= {0}
        assert rd.read().body == HELLO  # nothing extra was sent: the next response parses


# ---- App.static refusals (no server) ----


def test_app_static_refuses_bad_arguments(tmp_path):
    from ringbolt import App

    app = App()
    bad_value = [
        (("assets", str(tmp_path)), {}, "must start with '/'"),
        (("/a b", str(tmp_path)), {}, "unreserved path characters"),
        (("/a%2e", str(tmp_path)), {}, "unreserved path characters"),
        (("/a/../b", str(tmp_path)), {}, "'..'"),
        (("/a//b", str(tmp_path)), {}, "empty"),
        (("/x", str(tmp_path / "missing")), {}, "does not exist"),
        (("/x", str(tmp_path)), {"index": "a/index.html"}, "plain file name"),
        (("/x", str(tmp_path)), {"cache_control": "max-age=1\r\nX-Evil: 1"}, "not a valid header value"),
    ]
    for args, kwargs, why in bad_value:
        with pytest.raises(ValueError, match=why.replace("(", r"\(")):
            app.static(*args, **kwargs)
    with pytest.raises(TypeError, match="prefix must be a str"):
        app.static(b"/x", str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="directory must be a str or path"):
        app.static("/x", 42)  # type: ignore[arg-type]
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        app.static("/x", str(tmp_path / "f"))
    app.static("/x/", tmp_path)
    with pytest.raises(ValueError, match="already mounted"):
        app.static("/x", str(tmp_path))


# ---- the example (examples/static_site.py, docs/static.md) ----


def test_example_static_site():
    import gzip

    from conftest import REPO

    ex = REPO / "examples"
    s = ServerProcess("static_site:app", "--app-dir", str(ex))
    try:
        r = get(s, "/site/")
        assert r.status == 200 and r.body == (ex / "static_site" / "index.html").read_bytes()
        assert r.header("cache-control") == "public, max-age=300"
        r = get(s, "/site/js/app.js", {"Accept-Encoding": "gzip, deflate"})
        assert r.header("content-encoding") == "gzip"
        assert gzip.decompress(r.body) == (ex / "static_site" / "js" / "app.js").read_bytes()
        assert get(s, "/site/css/style.css").header("content-type") == "text/css; charset=utf-8"
        r = get(s, "/site/docs")
        assert (r.status, r.header("location")) == (301, "/site/docs/")
        assert b"<h1>Docs</h1>" in get(s, "/site/docs/").body
        assert "now" in get(s, "/api/time").json()
        assert get(s, "/site/../static_site.py").status == 404
    finally:
        assert s.stop() == 0, s.output()


def test_static_mount_answers_before_a_mounted_asgi_app(tree):
    s = ServerProcess("static_asgi_app:app", env={"RINGBOLT_TEST_STATIC": str(tree)})
    try:
        assert get(s, "/static/hello.txt").body == HELLO
        assert get(s, "/static/missing.txt").status == 404  # no fall-through to the app
        assert get(s, "/static/%2e%2e/secret.txt").status == 404
        r = raw(s, "POST /static/hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab")
        assert (r.status, r.header("allow")) == (405, "GET, HEAD")
        assert get(s, "/elsewhere").body == b"asgi /elsewhere"
        assert get(s, "/staticx").body == b"asgi /staticx"
    finally:
        assert s.stop() == 0, s.output()
