"""--access-log writes one line per answered request (runtime and app answers) with the
configured atoms; --proxy-headers takes client, scheme and host from a trusted proxy's
headers only (ringbolt Request, ASGI scope, WSGI environ)."""

from __future__ import annotations

import json
import re

import pytest

from conftest import Reader, ServerProcess


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


def test_bad_access_log_format_is_refused_natively_too():
    from ringbolt import App

    with pytest.raises(ValueError, match=r"unknown atom %\(z\)s"):
        App().run(port=0, access_log=True, access_log_format="%(z)s", log_level="warning")


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
