"""Rejection table: one row per rule of RFC 9112 §§3, 5, 6, 7 (and the limits), each with
the raw bytes, the expected status, and the same checks: the error response says
``Connection: close``, the server closes the connection afterwards, a request pipelined
after the bad one gets NO answer, and the server still serves a new connection.

The server runs the catch-all app with small limits so that 414/431/413 rows stay small.
"""

from __future__ import annotations

import pytest

from conftest import Reader, ServerProcess, request

LIMITS = {
    "--max-request-line": 256,
    "--max-header-size": 1024,
    "--max-headers": 10,
    "--max-body-size": 100,
}

PIPELINED = b"GET /after/the/bad/one HTTP/1.1\r\nHost: t\r\n\r\n"


def post(fields: bytes, body: bytes = b"", version: bytes = b"1.1") -> bytes:
    return b"POST /p HTTP/" + version + b"\r\nHost: t\r\n" + fields + b"\r\n" + body


def chunked(body: bytes) -> bytes:
    return post(b"Transfer-Encoding: chunked\r\n", body)


def get(line: bytes = b"GET / HTTP/1.1", fields: bytes = b"Host: t\r\n") -> bytes:
    return line + b"\r\n" + fields + b"\r\n"


# (id, raw, expected status or set of acceptable statuses, RFC reference)
ROWS: list[tuple[str, bytes, int | set[int], str]] = [
    # ---- Host (RFC 9112 §3.2, RFC 9110 §7.2)
    ("missing Host on 1.1", get(fields=b""), 400, "9112 §3.2"),
    ("duplicate Host", get(fields=b"Host: a\r\nHost: a\r\n"), 400, "9112 §3.2"),
    ("invalid Host: space", get(fields=b"Host: a b\r\n"), 400, "9112 §3.2"),
    ("invalid Host: userinfo", get(fields=b"Host: u@a\r\n"), 400, "9110 §4.2.4"),
    ("invalid Host: port", get(fields=b"Host: a:8x\r\n"), 400, "9110 §7.2"),
    ("invalid Host: path", get(fields=b"Host: a/b\r\n"), 400, "9110 §7.2"),
    # ---- framing (RFC 9112 §6)
    ("CL and TE", post(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"), 400, "9112 §6.3 (3)"),
    ("TE and CL", post(b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"3\r\nabc\r\n0\r\n\r\n"), 400, "9112 §6.3 (3)"),
    ("differing CLs", post(b"Content-Length: 1\r\nContent-Length: 2\r\n", b"ab"), 400, "9112 §6.3 (5)"),
    ("differing CLs in a list", post(b"Content-Length: 1, 2\r\n", b"ab"), 400, "9112 §6.3 (5)"),
    ("non-numeric CL", post(b"Content-Length: abc\r\n"), 400, "9110 §8.6"),
    ("hex CL", post(b"Content-Length: 0x5\r\n", b"hello"), 400, "9110 §8.6"),
    ("signed CL +", post(b"Content-Length: +5\r\n", b"hello"), 400, "9110 §8.6"),
    ("signed CL -", post(b"Content-Length: -5\r\n"), 400, "9110 §8.6"),
    ("space inside CL", post(b"Content-Length: 1 2\r\n", b"x" * 12), 400, "9110 §8.6"),
    ("empty CL", post(b"Content-Length:\r\n"), 400, "9110 §8.6"),
    ("overflowing CL", post(b"Content-Length: 99999999999999999999999\r\n"), 400, "9112 §6.3 (5)"),
    ("TE not ending in chunked", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"), 400, "9112 §6.3 (4)"),
    ("TE without chunked", post(b"Transfer-Encoding: gzip\r\n", b"abc"), 400, "9112 §6.3 (4)"),
    ("TE chunked twice", post(b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"), 400, "9112 §6.1"),
    ("TE chunked with parameter", post(b"Transfer-Encoding: chunked;q=1\r\n", b"0\r\n\r\n"), 400, "9112 §6.1"),
    ("unknown TE", post(b"Transfer-Encoding: pigeons, chunked\r\n", b"0\r\n\r\n"), 501, "9112 §6.1"),
    ("chunked on HTTP/1.0", post(b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", b"1.0"), 400, "9112 §6.1"),
    # ---- field syntax (RFC 9112 §5, §2.2)
    ("obs-fold", get(fields=b"Host: t\r\nX-A: a\r\n b\r\n"), 400, "9112 §5.2"),
    ("obs-fold with tab", get(fields=b"Host: t\r\nX-A: a\r\n\tb\r\n"), 400, "9112 §5.2"),
    ("space before colon", get(fields=b"Host : t\r\n"), 400, "9112 §5.1"),
    ("tab before colon", get(fields=b"Host\t: t\r\n"), 400, "9112 §5.1"),
    ("space before first field", get(fields=b" Host: t\r\n"), 400, "9112 §2.2"),
    ("bare CR in a field", get(fields=b"Host: t\r\nX-A: a\rb\r\n"), 400, "9112 §2.2"),
    ("bare LF ending a field", get(fields=b"Host: t\r\nX-A: a\nX-B: b\r\n"), 400, "9112 §2.2"),
    ("NUL in a field value", get(fields=b"Host: t\r\nX-A: a\x00b\r\n"), 400, "9110 §5.5"),
    ("CTL 0x01 in a field value", get(fields=b"Host: t\r\nX-A: a\x01b\r\n"), 400, "9110 §5.5"),
    ("DEL in a field value", get(fields=b"Host: t\r\nX-A: a\x7fb\r\n"), 400, "9110 §5.5"),
    ("NUL in a field name", get(fields=b"Host: t\r\nX-\x00A: b\r\n"), 400, "9110 §5.1"),
    ("invalid token in field name", get(fields=b"Host: t\r\nX(A): b\r\n"), 400, "9110 §5.1"),
    ("quote in field name", get(fields=b'Host: t\r\nX"A: b\r\n'), 400, "9110 §5.1"),
    ("empty field name", get(fields=b"Host: t\r\n: b\r\n"), 400, "9110 §5.1"),
    ("field without colon", get(fields=b"Host: t\r\nNoColon\r\n"), 400, "9112 §5"),
    ("bare CR ending the head", b"GET / HTTP/1.1\r\nHost: t\r\n\rX", 400, "9112 §2.2"),
    # ---- request line (RFC 9112 §3)
    ("bare CR in request line", get(b"GET /a\rb HTTP/1.1"), 400, "9112 §2.2"),
    ("bare CR after version", b"GET / HTTP/1.1\rHost: t\r\n\r\n", 400, "9112 §2.2"),
    ("bare LF after version", b"GET / HTTP/1.1\nHost: t\r\n\r\n", 400, "9112 §2.2"),
    ("NUL in request target", get(b"GET /a\x00b HTTP/1.1"), 400, "9112 §3.2"),
    ("CTL 0x1b in request target", get(b"GET /a\x1bb HTTP/1.1"), 400, "9112 §3.2"),
    ("DEL in request target", get(b"GET /a\x7fb HTTP/1.1"), 400, "9112 §3.2"),
    ("8-bit byte in request target", get(b"GET /caf\xc3\xa9 HTTP/1.1"), 400, "9112 §3.2 (RFC 3986)"),
    ("NUL in method", get(b"G\x00T / HTTP/1.1"), 400, "9110 §9.1"),
    ("invalid token in method", get(b"GE(T / HTTP/1.1"), 400, "9110 §9.1"),
    ("double space after method", get(b"GET  / HTTP/1.1"), 400, "9112 §3"),
    ("double space before version", get(b"GET /  HTTP/1.1"), 400, "9112 §3"),
    ("tab as separator", get(b"GET\t/ HTTP/1.1"), 400, "9112 §3"),
    ("trailing space after version", get(b"GET / HTTP/1.1 "), 400, "9112 §3"),
    ("missing version", get(b"GET /"), 400, "9112 §3"),
    ("missing target", get(b"GET HTTP/1.1"), 400, "9112 §3"),
    ("lowercase http", get(b"GET / http/1.1"), 400, "9112 §2.3"),
    ("version with two digits", get(b"GET / HTTP/1.10"), 400, "9112 §2.3"),
    ("version without minor", get(b"GET / HTTP/1"), 400, "9112 §2.3"),
    ("empty request line", b"\r\n\r\n" + b" / HTTP/1.1\r\nHost: t\r\n\r\n", 400, "9112 §3"),
    ("asterisk-form with GET", get(b"GET * HTTP/1.1"), 400, "9112 §3.2.4"),
    ("authority-form with GET", get(b"GET example.com:80 HTTP/1.1"), 400, "9112 §3.2.3"),
    ("absolute-form with userinfo", get(b"GET http://u@example.com/ HTTP/1.1"), 400, "9110 §4.2.4"),
    ("absolute-form without host", get(b"GET http:///x HTTP/1.1"), 400, "9110 §4.2.1"),
    ("CONNECT without port", get(b"CONNECT example.com HTTP/1.1"), 400, "9112 §3.2.3"),
    # ---- versions (RFC 9112 §2.3, RFC 9110 §6.2, §15.6.6)
    ("HTTP/2.0", get(b"GET / HTTP/2.0"), 505, "9110 §15.6.6"),
    ("HTTP/3.0", get(b"GET / HTTP/3.0"), 505, "9110 §15.6.6"),
    ("HTTP/0.9", get(b"GET / HTTP/0.9"), {400, 505}, "9110 §15.6.6"),
    # ---- chunked (RFC 9112 §7.1)
    ("chunk size not hex", chunked(b"zz\r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("chunk size with 0x", chunked(b"0x2\r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("chunk size with sign", chunked(b"+2\r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("chunk size leading space", chunked(b" 2\r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("chunk size trailing junk", chunked(b"2x\r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("chunk size trailing space", chunked(b"2 \r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1.1"),
    ("chunk size empty", chunked(b"\r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("chunk size over 64 bits", chunked(b"10000000000000002\r\nab\r\n0\r\n\r\n"), {400, 413}, "9112 §7.1"),
    ("chunk size bare LF", chunked(b"2\nab\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("missing CRLF after chunk data", chunked(b"2\r\nabX\r\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("bare LF after chunk data", chunked(b"2\r\nab\n0\r\n\r\n"), 400, "9112 §7.1"),
    ("chunk extension without name", chunked(b"2;\r\nab\r\n0\r\n\r\n"), 400, "9112 §7.1.1"),
    ("unterminated quoted extension", chunked(b'2;a="b\r\nab\r\n0\r\n\r\n'), 400, "9112 §7.1.1"),
    ("trailer field obs-fold", chunked(b"0\r\nX: a\r\n b\r\n\r\n"), 400, "9112 §7.1.2"),
    ("trailer field without colon", chunked(b"0\r\nNoColon\r\n\r\n"), 400, "9112 §7.1.2"),
    # ---- limits
    ("414 long URI", get(b"GET /" + b"a" * 300 + b" HTTP/1.1"), 414, "9110 §15.5.15"),
    ("431 large header", get(fields=b"Host: t\r\nX-Big: " + b"b" * 1100 + b"\r\n"), 431, "RFC 6585 §5"),
    ("431 too many fields", get(fields=b"Host: t\r\n" + b"X-A: b\r\n" * 11), 431, "RFC 6585 §5"),
    ("413 from Content-Length", post(b"Content-Length: 101\r\n", b"x" * 101), 413, "9110 §15.5.14"),
    ("413 huge Content-Length", post(b"Content-Length: 99999999999\r\n"), 413, "9110 §15.5.14"),
    ("413 while decoding chunked", chunked(b"40\r\n" + b"x" * 64 + b"\r\n40\r\n" + b"y" * 64 + b"\r\n0\r\n\r\n"), 413, "9110 §15.5.14"),
    ("413 from one big chunk", chunked(b"ffff\r\n" + b"x" * 200), 413, "9110 §15.5.14"),
    # ---- Expect (RFC 9110 §10.1.1)
    ("417 Expect: other", get(fields=b"Host: t\r\nExpect: something\r\n"), 417, "9110 §10.1.1"),
    ("417 Expect: 100-continue with parameter", get(fields=b"Host: t\r\nExpect: 100-continue;x=1\r\n"), 417, "9110 §10.1.1"),
]


@pytest.fixture(scope="module")
def srv():
    args = [str(x) for kv in LIMITS.items() for x in kv]
    s = ServerProcess("catchall:app", "--threads", "2", *args)
    yield s
    assert s.stop() == 0, s.output()


def test_rows_are_unique():
    ids = [r[0] for r in ROWS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("raw, status", [pytest.param(r[1], r[2], id=r[0]) for r in ROWS])
def test_rejected(srv, raw, status):
    with srv.connect() as s:
        s.sendall(raw + PIPELINED)
        rd = Reader(s)
        r = rd.read()
        expected = status if isinstance(status, set) else {status}
        assert r.status in expected, r
        assert r.header("connection") == "close", r
        # One error format for the whole app: RFC 9457 problem+json naming the cause.
        assert r.header("content-type") == "application/problem+json", r
        assert r.json()["status"] == r.status and r.json()["title"] == r.reason, r
        assert rd.closed(), f"the connection must be closed after the error, with nothing more sent: {rd.buf!r}"
    # the server still serves a new connection
    assert request(srv, b"GET /still/alive HTTP/1.1\r\nHost: t\r\n\r\n").status == 200


# ---- versions that are served ----------------------------------------------------


def test_http10_served_without_host(srv):
    with srv.connect() as s:
        s.sendall(b"GET /v HTTP/1.0\r\n\r\n")
        rd = Reader(s)
        r = rd.read()
        assert r.status == 200 and r.version == "HTTP/1.1" and r.json()["version"] == "1.0"
        assert r.header("connection") == "close"
        assert rd.closed()


def test_http12_treated_as_11(srv):
    with srv.connect() as s:
        rd = Reader(s)
        s.sendall(b"GET /v HTTP/1.2\r\nHost: t\r\n\r\nGET /w HTTP/1.1\r\nHost: t\r\n\r\n")
        r = rd.read()
        assert r.status == 200 and r.version == "HTTP/1.1" and r.json()["version"] == "1.1"
        assert r.header("connection") is None  # persistent, like 1.1
        assert rd.read().json()["path"] == "/w"
    # and like 1.1 it needs Host
    assert request(srv, b"GET /v HTTP/1.2\r\n\r\n").status == 400


# ---- target forms and special methods -------------------------------------------


def test_options_asterisk_gets_an_answer(srv):
    with srv.connect() as s:
        s.sendall(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = Reader(s)
        r = rd.read()
        assert 200 <= r.status < 500, r  # whatever the routing says; never a crash or a 5xx
        assert rd.read().json()["path"] == "/next"  # and the connection goes on
    assert request(srv, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status == 200


def test_absolute_form_routed_on_its_path(srv):
    r = request(srv, b"GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
    assert r.status == 200
    j = r.json()
    assert j["path"] == "/a/b" and j["query"] == "x=1"
    r = request(srv, b"GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert r.status == 200 and r.json()["path"] == "/"


def test_connect_authority_form_is_501(srv):
    with srv.connect() as s:
        s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + PIPELINED)
        rd = Reader(s)
        r = rd.read()
        assert r.status == 501 and r.header("connection") == "close"
        assert rd.closed()


def test_head_like_get_without_body(srv):
    for path in (b"/fixed", b"/const"):  # a Python route and a native one
        with srv.connect() as s:
            rd = Reader(s)
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            g = rd.read()
            s.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: t\r\n\r\nGET /const HTTP/1.1\r\nHost: t\r\n\r\n")
            h = rd.read(head_request=True)
            # a body after the HEAD answer would show up as garbage before the next response
            nxt = rd.read()
        assert g.status == h.status == 200
        assert g.body and h.body == b""
        assert h.header("content-length") == g.header("content-length") == str(len(g.body))
        assert h.header("content-type") == g.header("content-type")
        assert nxt.status == 200 and nxt.body == b"ok"
