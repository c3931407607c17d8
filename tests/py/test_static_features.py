"""Static answers get the response features every other answer gets (app.enable_cors,
enable_security_headers, enable_request_id): on a 200 read into memory, a 200 sent with
sendfile, HEAD, 304, 206, 416 and 404; a CORS preflight to a static path; the request id
in the access log. And compression: static files go as stored (a precompressed sibling
when one fits), never compressed on the fly, so a strong ETag always names the bytes
sent. Runs on io_uring and on epoll."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from conftest import BACKENDS, Reader, Response, ServerProcess

MIB = 1 << 20
WAIT_S = 20.0
ORIGIN = "https://app.example"
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "strict-transport-security": "max-age=3600",
}
TEXT = b"static text that compresses well\n" * 200  # 6.6 KB, read into the response
BIG = b"0123456789abcdef" * (MIB // 16)  # 1 MiB: sent with sendfile()


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("static-features")
    pub = root / "public"
    pub.mkdir()
    (pub / "text.txt").write_bytes(TEXT)
    (pub / "big.txt").write_bytes(BIG)
    (pub / "app.js").write_bytes(b"console.log('identity');\n" * 10)
    (pub / "app.js.gz").write_bytes(b"PRECOMPRESSED-GZIP")
    return root


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request, tree: Path):
    env = {"RINGBOLT_TEST_STATIC": str(tree)}
    if request.param == "epoll":
        env["RINGBOLT_IO"] = "epoll"
    s = ServerProcess("static_features_app:app", "--threads", "2", "--access-log",
                      "--access-log-format", "ACCESS %(U)s %(s)s id=%(i)s", env=env)
    yield s
    assert s.stop() == 0, s.output()


def ask(srv: ServerProcess, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Response:
    lines = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{lines}\r\n".encode())
        return Reader(s).read(head_request=method == "HEAD")


def assert_features(r: Response, request_id: str | None = None, cors: bool = True) -> None:
    for name, value in SECURITY.items():
        assert r.header(name) == value, (name, r)
    rid = r.header("x-request-id")
    assert rid is not None and (rid == request_id if request_id else re.fullmatch(r"[0-9a-f]{32}", rid)), r
    if cors:
        assert r.header("access-control-allow-origin") == ORIGIN, r
        assert r.header("access-control-expose-headers") == "ETag", r
        assert "Origin" in [v.strip() for k, v in r.headers if k.lower() == "vary" for v in v.split(",")], r
    else:
        assert r.header("access-control-allow-origin") is None, r


def etag_of(srv: ServerProcess, path: str) -> str:
    tag = ask(srv, path).header("etag")
    assert tag
    return tag


# (id, path, extra request headers (an ETag placeholder is filled in), status, body)
CASES = [
    ("200 in memory", "/assets/text.txt", {}, 200, TEXT),
    ("200 sendfile", "/assets/big.txt", {}, 200, BIG),
    ("206 in memory", "/assets/text.txt", {"Range": "bytes=0-9"}, 206, TEXT[:10]),
    ("206 sendfile", "/assets/big.txt", {"Range": "bytes=100-200000"}, 206, BIG[100:200001]),
    ("304", "/assets/text.txt", {"If-None-Match": "ETAG"}, 304, b""),
    ("304 sendfile-sized", "/assets/big.txt", {"If-None-Match": "ETAG"}, 304, b""),
    ("416", "/assets/text.txt", {"Range": "bytes=99999-"}, 416, None),
    ("404", "/assets/missing.txt", {}, 404, None),
]


@pytest.mark.parametrize("path,headers,status,body", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_static_answers_carry_cors_security_and_request_id(srv, path, headers, status, body):
    headers = dict(headers)
    if headers.get("If-None-Match") == "ETAG":
        headers["If-None-Match"] = etag_of(srv, path)
    r = ask(srv, path, {**headers, "Origin": ORIGIN, "X-Request-ID": "static-req-1"})
    assert r.status == status, r
    if body is not None:
        assert r.body == body
    assert_features(r, "static-req-1")
    # Without an Origin: no CORS fields, a fresh request id, the security headers all the same.
    r = ask(srv, path, headers)
    assert r.status == status, r
    assert_features(r, cors=False)
    # Another origin: not allowed, no CORS fields; the file is still served (CORS is the
    # browser's to enforce).
    r = ask(srv, path, {**headers, "Origin": "https://evil.example"})
    assert r.status == status and r.header("access-control-allow-origin") is None, r


@pytest.mark.parametrize("path", ["/assets/text.txt", "/assets/big.txt"])
def test_head_carries_the_features(srv, path):
    r = ask(srv, path, {"Origin": ORIGIN, "X-Request-ID": "head-1"}, method="HEAD")
    assert r.status == 200 and r.body == b"" and r.header("content-length") == str(len(TEXT if "text" in path else BIG))
    assert_features(r, "head-1")


def test_preflight_to_a_static_path_is_answered_natively(srv):
    r = ask(srv, "/assets/text.txt", {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}, method="OPTIONS")
    assert r.status == 204, r
    assert r.header("access-control-allow-origin") == ORIGIN
    assert "GET" in (r.header("access-control-allow-methods") or "")
    r = ask(srv, "/assets/text.txt", {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            method="OPTIONS")
    assert r.status == 403 and r.header("content-type") == "application/problem+json", r


def test_static_files_are_never_compressed_on_the_fly(srv):
    plain = ask(srv, "/assets/text.txt")
    coded = ask(srv, "/assets/text.txt", {"Accept-Encoding": "gzip, zstd, br"})
    # As stored: the same bytes and the same strong ETag, whatever the client accepts.
    assert coded.status == 200 and coded.header("content-encoding") is None, coded
    assert coded.body == TEXT and coded.header("etag") == plain.header("etag")
    vary = [v.strip().lower() for k, v in coded.headers if k.lower() == "vary" for v in v.split(",")]
    assert vary.count("accept-encoding") == 1, coded  # said once, by the static mount
    # A precompressed sibling is still chosen (with its own ETag).
    js = ask(srv, "/assets/app.js", {"Accept-Encoding": "gzip"})
    assert js.header("content-encoding") == "gzip" and js.body == b"PRECOMPRESSED-GZIP", js
    assert js.header("etag") != ask(srv, "/assets/app.js").header("etag")
    # Routes are compressed as before.
    api = ask(srv, "/api", {"Accept-Encoding": "gzip"})
    assert api.status == 200 and api.header("content-encoding") == "gzip", api


def test_access_log_has_the_request_id_of_static_answers(srv):
    ask(srv, "/assets/text.txt", {"X-Request-ID": "logged-static-200"})
    ask(srv, "/assets/big.txt", {"X-Request-ID": "logged-static-big"})
    ask(srv, "/assets/missing.txt", {"X-Request-ID": "logged-static-404"})
    deadline = time.monotonic() + WAIT_S
    want = ["ACCESS /assets/text.txt 200 id=logged-static-200", "ACCESS /assets/big.txt 200 id=logged-static-big",
            "ACCESS /assets/missing.txt 404 id=logged-static-404"]
    while time.monotonic() < deadline:
        # The log is written by its own thread: read what the server printed so far.
        out = _peek_output(srv)
        if all(w in out for w in want):
            return
        time.sleep(0.2)
    raise AssertionError(f"missing access-log lines {want}: {_peek_output(srv)[-2000:]}")


def _peek_output(srv: ServerProcess) -> str:
    """What the running server printed so far (non-blocking read of its stdout)."""
    fd = srv.proc.stdout.fileno()
    os.set_blocking(fd, False)
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            srv._output += chunk
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(fd, True)
    return srv._output.decode(errors="replace")
