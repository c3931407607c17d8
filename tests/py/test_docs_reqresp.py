"""The code blocks of docs/requests-responses.md, each served over a socket."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, ServerProcess, get, request
from reqresp_helpers import WAIT_S, multipart, post, read_until

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "requests-responses.md").read_text(), re.S)


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(index: int, env: dict[str, str] | None = None) -> ServerProcess:
        (tmp_path / f"doc{index}.py").write_text(BLOCKS[index])
        srv = ServerProcess(f"doc{index}:app", "--app-dir", str(tmp_path), "--threads", "1", env=env)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        assert srv.stop() == 0, srv.output()


def test_six_blocks():
    assert len(BLOCKS) == 6


def test_whoami(serve):
    r = get(serve(0), "/whoami", "Cookie: sid=s1\r\n")
    assert r.json() == {"url": "http://test/whoami", "scheme": "http", "host": "test", "session": "s1"}


def test_profile_form(serve, tmp_path):
    avatars = tmp_path / "avatars"
    avatars.mkdir()
    srv = serve(1, {"AVATAR_DIR": str(avatars)})
    body = multipart([("user", None, None, b"ann"), ("tag", None, None, b"a"), ("tag", None, None, b"b"),
                      ("avatar", "a.png", "image/png", b"\x89PNG" + b"0" * 100)])
    r = post(srv, "/profile", body, "multipart/form-data; boundary=b0undary")
    assert r.status == 200 and r.json() == {"user": "ann", "tags": ["a", "b"], "bytes": 104}
    assert (avatars / "ann.img").read_bytes() == b"\x89PNG" + b"0" * 100
    r = post(srv, "/profile", b"user=%zz", "application/x-www-form-urlencoded")
    assert r.status == 400 and "invalid percent-encoding" in r.json()["detail"]


def test_response_headers_by_name(serve):
    srv = serve(2)
    r = get(srv, "/page")
    assert r.status == 200 and r.body == b"<p>hi</p>"
    assert [(n, v) for n, v in r.headers if n.lower() in ("cache-control", "set-cookie", "x-content-type-options")] == [
        ("Cache-Control", "max-age=60"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
        ("X-Content-Type-Options", "nosniff")]
    r = get(srv, "/data")
    assert r.json() == {"ok": True}
    assert r.header("x-content-type-options") == "nosniff" and r.header("cache-control") == "no-store"


def test_login_logout(serve):
    srv = serve(3)
    r = request(srv, b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert r.header("set-cookie") == "sid=8f2a1c; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"
    r = request(srv, b"POST /logout HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert r.json() == {"bye": True}
    assert r.header("set-cookie").startswith("sid=; Max-Age=0;")


def test_events(serve):
    srv = serve(4)
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 5\r\n\r\n")
        assert b'event: tick\nid: 6\ndata: {"n":6}\n\n' in read_until(s, b"id: 6\n")


def test_background(serve):
    srv = serve(5)
    r = post(srv, "/signup", b"email=a%40b.example", "application/x-www-form-urlencoded")
    assert r.status == 200 and r.json() == {"ok": True}
    assert get(srv, "/report").body == b"done"
