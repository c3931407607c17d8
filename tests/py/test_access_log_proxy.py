"""--access-log writes one line per answered request (runtime and app answers) with the
configured atoms; --proxy-headers takes client, scheme and host from a trusted proxy's
headers only (ringbolt Request, ASGI scope, WSGI environ)."""

from __future__ import annotations

import json
import re
import time

import pytest

from conftest import LoggedServer, Reader, ServerProcess
from h2_tls_helpers import Client, status


def ask(srv: ServerProcess, path: str, headers: str = "", method: str = "GET"):
    with srv.connect() as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t.example\r\n{headers}Connection: close\r\n\r\n".encode())
        return Reader(s).read()


def test_access_log_default_format_has_a_line_per_request():
    srv = ServerProcess("basic:app", "--threads", "1", "--access-log")
    try:
        assert ask(srv, "/users/7?x=1").status == 200
        assert ask(srv, "/const").status == 200  # answered natively
        assert ask(srv, "/nope").status == 404  # answered by the runtime
        assert ask(srv, "/async").status == 200
        assert ask(srv, "/boom").status == 500
    finally:
        srv.stop()
    lines = [line for line in srv.output().splitlines() if "ACCESS" in line]
    for want in ('"GET /users/7?x=1 HTTP/1.1" 200 OK', '"GET /const HTTP/1.1" 200 OK',
                 '"GET /nope HTTP/1.1" 404 Not Found', '"GET /async HTTP/1.1" 200 OK',
                 '"GET /boom HTTP/1.1" 500 Internal Server Error'):
        assert any(want in line and re.search(r"127\.0\.0\.1:\d+ - ", line) for line in lines), (want, lines)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", lines[0]), lines[0]  # timestamped


def test_access_log_custom_format_and_off_by_default():
    srv = ServerProcess("basic:app", "--threads", "1", "--access-log",
                        "--access-log-format", "%(m)s|%(U)s|%(q)s|%(s)s|%(b)s|%(H)s")
    try:
        ask(srv, "/text?a=b")
    finally:
        srv.stop()
    assert "GET|/text|a=b|200|6|HTTP/1.1" in srv.output(), srv.output()
    quiet = ServerProcess("basic:app", "--threads", "1")
    try:
        ask(quiet, "/text")
    finally:
        quiet.stop()
    assert "ACCESS" not in quiet.output()


def test_async_answers_log_their_own_request_line():
    # Each async request's pending answer (what its access-log line names: method, target,
    # HEAD or not) serves a later request once answered (async_staging.cpp): pipelined
    # requests of three methods and targets of every length (a line is cut at 1 KiB), each
    # line its own request's.
    srv = ServerProcess("asgi_app:app", "--threads", "1", "--access-log",
                        "--access-log-format", "%(m)s|%(U)s|%(q)s|%(s)s")
    reqs = [(["GET", "HEAD", "POST"][i % 3], "q=" + "x" * [0, 5, 300, 600][i % 4] + str(i)) for i in range(40)]
    try:
        with srv.connect() as s:
            s.sendall(b"".join(f"{m} /method?{q} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n".encode()
                               for m, q in reqs))
            rd = Reader(s)
            for m, _ in reqs:
                r = rd.read(head_request=m == "HEAD")
                assert r.status == 200 and r.body == (b"" if m == "HEAD" else m.encode()), r
    finally:
        srv.stop()
    logged = [line.split("ACCESS", 1)[1] for line in srv.output().splitlines() if "/method" in line]
    assert len(logged) == len(reqs), logged
    for (m, q), line in zip(reqs, logged):
        assert line.endswith(f"{m}|/method|{q}|200"), (m, q, line)


@pytest.mark.parametrize(("fmt", "error"), [
    ("%(z)s", r"unknown atom %\(z\)s"),
    # The line's 1,000 bytes: its own text would leave the request line too little.
    ("-" * 950 + "%(r)s %(s)s", r"leaves the client's text \(2 pieces: .*\) fewer than 64 bytes each"),
])
def test_bad_access_log_format_is_refused_natively_too(fmt: str, error: str) -> None:
    from ringbolt import App

    with pytest.raises(ValueError, match=error):
        App().run(port=0, access_log=True, access_log_format=fmt, log_level="warning")


FORWARDED = "X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n"


def test_proxy_headers_from_a_trusted_peer_set_client_scheme_host():
    srv = ServerProcess("basic:app", "--threads", "1", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    try:
        r = ask(srv, "/inspect", FORWARDED)
        assert r.status == 200
        assert r.json()["client"] == ["203.0.113.9", 0]
        r = ask(srv, "/inspect", 'Forwarded: for="[2001:db8::7]:4711";proto=https\r\n')
        assert r.json()["client"] == ["2001:db8::7", 4711]
    finally:
        srv.stop()


def test_proxy_headers_from_an_untrusted_peer_are_ignored():
    srv = ServerProcess("basic:app", "--threads", "1", "--proxy-headers", "--forwarded-allow-ips", "10.0.0.1")
    try:
        r = ask(srv, "/inspect", FORWARDED)
        assert r.json()["client"][0] == "127.0.0.1"
    finally:
        srv.stop()
    off = ServerProcess("basic:app", "--threads", "1")  # --proxy-headers not given
    try:
        assert ask(off, "/inspect", FORWARDED).json()["client"][0] == "127.0.0.1"
    finally:
        off.stop()


def test_proxy_headers_reach_asgi_and_wsgi_apps():
    asgi = ServerProcess("asgi_scope_app:app", "--threads", "1", "--proxy-headers")
    try:
        scope = ask(asgi, "/scope", FORWARDED).json()
    finally:
        asgi.stop()
    assert scope["client"] == ["203.0.113.9", 0]
    assert scope["scheme"] == "https"
    assert ["host", "shop.example"] in scope["headers"]
    wsgi = ServerProcess("wsgi_app:app", "--threads", "1", "--proxy-headers")
    try:
        env = ask(wsgi, "/environ", FORWARDED).json()
    finally:
        wsgi.stop()
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["wsgi.url_scheme"] == "https"
    assert env["http"]["HTTP_HOST"] == "shop.example"


# ---- the answers the protocols give themselves: parse errors, limits, timeouts --------------

REFUSAL_FORMAT = "%(h)s:%(p)s|%(m)s|%(U)s|%(H)s|%(s)s"
REFUSAL_LIMITS = ("--max-body-size", "100", "--max-request-line", "200", "--max-header-size", "1000",
                  "--header-timeout", "1")

# (what the client sends over HTTP/1.1, the status, the method and path the line names:
# as far as the request came, "-" for what never did)
HTTP1_REFUSALS = {
    "400 request line": (b"GET /e400-line HTTP/1.1 x\r\nHost: t\r\n\r\n", 400, "GET", "/e400-line"),
    "400 field": (b"GET /e400-field HTTP/1.1\r\nHost: t\r\nno colon\r\n\r\n", 400, "GET", "/e400-field"),
    "400 no Host": (b"GET /e400-host HTTP/1.1\r\n\r\n", 400, "GET", "/e400-host"),
    "400 CL and TE": (b"POST /e400-framing HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "POST", "/e400-framing"),
    "400 chunk": (b"POST /e400-chunk HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "POST",
                  "/e400-chunk"),
    "400 not HTTP": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400, "-", "-"),
    "408 head timeout": (b"GET /e408 HTTP/1.1\r\nHost: t\r\n", 408, "GET", "/e408"),
    "413 Content-Length": (b"POST /e413 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n", 413, "POST", "/e413"),
    "413 chunked": (b"POST /e413-chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" +
                    b"x" * 512 + b"\r\n0\r\n\r\n", 413, "POST", "/e413-chunked"),
    "414": (b"GET /e414" + b"a" * 400 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "GET", "/e414aaa"),
    "417": (b"GET /e417 HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n", 417, "GET", "/e417"),
    "431": (b"GET /e431 HTTP/1.1\r\nHost: t\r\n" + b"".join(b"x-f%d: %s\r\n" % (i, b"v" * 40) for i in range(40)) +
            b"\r\n", 431, "GET", "/e431"),
    "501 coding": (b"POST /e501 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501, "POST",
                   "/e501"),
    "501 CONNECT": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501, "CONNECT",
                    "example.com:443"),
    "505": (b"GET /e505 HTTP/2.1\r\nHost: t\r\n\r\n", 505, "GET", "/e505"),
}


def refusal_line(srv: ServerProcess, port: int) -> str:
    """The access-log line of the client on `port` (REFUSAL_FORMAT), waited for a while."""
    deadline = time.monotonic() + 5
    while True:
        lines = [line.split("ACCESS: ", 1)[1] for line in srv.output().splitlines()
                 if f"ACCESS: 127.0.0.1:{port}|" in line]
        if lines or time.monotonic() > deadline:
            assert len(lines) == 1, f"client port {port}: {lines}\n{srv.output()[-3000:]}"
            return lines[0]
        time.sleep(0.05)


@pytest.fixture(scope="module")
def refusing_srv(tmp_path_factory: pytest.TempPathFactory):
    srv = LoggedServer("h2_app:app", tmp_path_factory.mktemp("refusals") / "out.log", "--threads", "1", "--access-log",
                       "--access-log-format", REFUSAL_FORMAT, *REFUSAL_LIMITS)
    yield srv
    assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("case", list(HTTP1_REFUSALS))
def test_every_http1_refusal_has_its_access_line(refusing_srv: ServerProcess, case: str) -> None:
    raw, want, method, path = HTTP1_REFUSALS[case]
    with refusing_srv.connect() as s:
        port = s.getsockname()[1]
        s.sendall(raw)
        r = Reader(s).read()
        assert r.status == want, r
    client, m, u, protocol, status = refusal_line(refusing_srv, port).split("|")
    assert client == f"127.0.0.1:{port}" and status == str(want) and protocol == "HTTP/1.1", (case, client, status)
    assert m == method and (u == path if path != "/e414aaa" else u.startswith(path)), (case, m, u)


# (the HTTP/2 request: path and Client.get's keywords; the status, the method and path)
H2_REFUSALS = {
    "413 body": ("/echo", {"method": "POST", "body": b"x" * 5000}, 413, "POST", "/echo"),
    "431 fields": ("/h431", {"headers": [(f"x-h{i}", "v") for i in range(150)]}, 431, "GET", "/h431"),
}


@pytest.mark.parametrize("case", list(H2_REFUSALS))
def test_every_http2_refusal_has_its_access_line(refusing_srv: ServerProcess, case: str) -> None:
    target, kw, want, method, path = H2_REFUSALS[case]
    with Client(refusing_srv) as c:
        port = c.sock.getsockname()[1]
        r = c.get(target, **kw)
        assert status(r) == want, r
    client, m, u, protocol, line_status = refusal_line(refusing_srv, port).split("|")
    assert client == f"127.0.0.1:{port}" and line_status == str(want) and protocol == "HTTP/2.0", (case, client)
    assert (m, u) == (method, path), case


# ---- a long target: the line keeps its status, size and time ------------------------------------

# A line holds 1,000 bytes; the client's text in it (method, target, request id) gets what
# the rest leaves and is cut with a marker, "...[+N]" (N: the bytes left out). Served with
# the default limits (--max-request-line 8192: a 414 target is longer than any line).
LONG_TARGETS = {
    "414 over the limit": ("/e414" + "a" * 9000, 414),
    "404 under it": ("/e404" + "b" * 8000, 404),
    "200 long query": ("/text?q=" + "c" * 8000, 200),
}
LONG_FORMATS = {
    "default": None,
    "size and time": '%(h)s:%(p)s "%(r)s" %(s)s %(b)s %(D)s %(t)s',
}


@pytest.mark.parametrize("fmt", list(LONG_FORMATS))
def test_a_long_target_leaves_the_line_its_status_size_and_time(fmt: str) -> None:
    args = ("--access-log-format", LONG_FORMATS[fmt]) if LONG_FORMATS[fmt] else ()
    srv = ServerProcess("basic:app", "--threads", "1", "--access-log", *args)
    ports = {}
    try:
        for case, (target, want) in LONG_TARGETS.items():
            with srv.connect() as s:
                ports[case] = s.getsockname()[1]
                s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
                assert Reader(s).read().status == want, case
    finally:
        srv.stop()
    lines = [line.split("ACCESS: ", 1)[1] for line in srv.output().splitlines() if "ACCESS: " in line]
    tail = r" (\d+) (\S+) (\d+) \[[^]]+\]" if LONG_FORMATS[fmt] else r" (\d+) (.+)"
    for case, (target, want) in LONG_TARGETS.items():
        mine = [line for line in lines if line.startswith(f"127.0.0.1:{ports[case]} ")]
        assert len(mine) == 1, (case, lines)
        m = re.fullmatch(r'127\.0\.0\.1:\d+ (?:- )?"GET (\S+)\.\.\.\[\+(\d+)\] HTTP/1\.1"' + tail, mine[0])
        assert m, (case, mine[0])
        shown, left_out, status = m.group(1), int(m.group(2)), int(m.group(3))
        assert status == want and target.startswith(shown) and len(shown) > 500, (case, mine[0])
        # The whole target, or for the 414, as much of it as the server read before refusing.
        assert len(shown) + left_out == len(target) or want == 414 and len(shown) + left_out > 8192, case
        if LONG_FORMATS[fmt]:
            size = m.group(4)
            assert size == "6" if want == 200 else int(size) > 0, (case, mine[0])  # "héllo" for the 200
        else:
            assert m.group(4) == {414: "URI Too Long", 404: "Not Found", 200: "OK"}[want], (case, mine[0])
