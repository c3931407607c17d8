"""Any RFC 9110 method token reaches a route that lists it; other tokens on that path
are a 405 whose Allow names the route's methods."""

from __future__ import annotations

import pytest

from conftest import Reader, ServerProcess


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess("methods_app:app", "--threads", "1")
    yield s
    s.stop()


def ask(srv: ServerProcess, method: str, path: str):
    with srv.connect() as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return Reader(s).read()


@pytest.mark.parametrize("method, path", [("PROPFIND", "/dav"), ("GET", "/dav"), ("PURGE", "/purge")])
def test_listed_token_methods_reach_the_handler(srv, method, path):
    r = ask(srv, method, path)
    assert r.status == 200, r
    assert r.json() == {"method": method}


def test_unlisted_token_is_405_naming_the_route_methods(srv):
    r = ask(srv, "REPORT", "/dav")
    assert r.status == 405, r
    allow = [m.strip() for m in (r.header("allow") or "").split(",")]
    assert "PROPFIND" in allow and "GET" in allow and "REPORT" not in allow, allow
    r = ask(srv, "PROPFIND", "/purge")
    assert r.status == 405, r
    assert r.header("allow") == "PURGE"


def test_head_keeps_a_declared_length_without_a_body(srv):
    with srv.connect() as s:
        s.sendall(b"HEAD /sized HTTP/1.1\r\nHost: t\r\n\r\nGET /sized HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        rd = Reader(s)
        head = rd.read(head_request=True)
        assert head.status == 200 and head.header("content-length") == "42" and head.body == b"", head
        get = rd.read()  # the same empty body with Content-Length: 42 on GET is the handler's bug
        assert get.status == 500, get


def test_method_is_read_only_and_kept_with_a_kept_request(srv):
    # Known (interned) and unknown methods alternate; each request keeps its own method
    # after its response and the next requests, and `req.method` cannot be assigned.
    order = ["PURGE", "GET", "PROPFIND", "PURGE", "GET", "GET", "PROPFIND"] * 3
    before = None
    with srv.connect() as s:
        reader = Reader(s)
        for method in order:
            s.sendall(f"{method} /kept HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            r = reader.read()
            assert r.status == 200, r
            got = r.json()
            assert got == {"method": method, "again": method, "before": got["before"], "writable": False}, got
            if before is not None:
                assert got["before"] == before, (method, got)
            before = method
