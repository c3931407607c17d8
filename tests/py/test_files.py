"""FileResponse over raw sockets: byte-exact bodies, Content-Length / Last-Modified /
Content-Type / Content-Disposition, 404 for a missing path or a directory, HEAD,
keep-alive and pipelining after a file, and a slow reader of a large file.

Written against the API that lands with the connection core (apps/files_app.py); the
module is skipped until then."""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import os
import time
import urllib.parse
from pathlib import Path
from typing import Callable

import pytest

from conftest import RSS_SLACK_MIB, Reader, Response, ServerProcess
from test_streaming import Truncated, read_head, take


MIB = 1 << 20
WAIT_S = 15.0  # bound for what should take well under a second: only catches hangs
MTIME = 1614834367  # 2021-03-04 05:06:07 UTC
MTIME_HTTP = "Thu, 04 Mar 2021 05:06:07 GMT"
BIG = 64 * MIB


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sha: dict[str, str] = {}
        self.size: dict[str, int] = {}

    def add(self, name: str, data: bytes) -> None:
        (self.root / name).write_bytes(data)
        os.utime(self.root / name, (MTIME, MTIME))
        self.sha[name] = hashlib.sha256(data).hexdigest()
        self.size[name] = len(data)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    f = Files(tmp_path_factory.mktemp("files"))
    f.add("random.bin", os.urandom(5 * MIB))
    f.add("empty.txt", b"")
    f.add("small.txt", b"hello, files\n")
    f.add("page.html", b"<!doctype html><title>t</title>\n")
    f.add("data.json", b'{"a": 1}\n')
    h = hashlib.sha256()
    with open(f.root / "big.bin", "wb") as out:  # 64 MiB, written and hashed in pieces
        for _ in range(BIG // MIB):
            piece = os.urandom(MIB)
            out.write(piece)
            h.update(piece)
    f.sha["big.bin"] = h.hexdigest()
    f.size["big.bin"] = BIG
    return f


@pytest.fixture(scope="module")
def srv(files: Files):
    s = ServerProcess("files_app:app", "--threads", "2", env={"RINGBOLT_TEST_FILES": str(files.root)})
    yield s
    assert s.stop() == 0, s.output()


# ---- wire helpers (Content-Length bodies, read in pieces: never 64 MiB of `bytes +=`) ----


def read_body(reader: Reader, resp: Response, sink: Callable[[bytes], None] | None = None,
              timeout: float = WAIT_S) -> bytes:
    """The Content-Length body after ``resp``'s head (to ``sink`` when given)."""
    length = resp.header("content-length")
    assert length is not None, f"no Content-Length: {resp}"
    try:
        return take(reader, int(length), time.monotonic() + timeout, sink)
    except Truncated:
        raise AssertionError(f"connection closed inside a {length}-byte body") from None


def get_req(path: str, method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


def fetch(srv: ServerProcess, path: str) -> tuple[Response, bytes]:
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(get_req(path, extra="Connection: close\r\n"))
        rd = Reader(s)
        resp = read_head(rd)
        return resp, read_body(rd, resp)


def media_type(resp: Response) -> str | None:
    ct = resp.header("content-type")
    return None if ct is None else ct.split(";", 1)[0].strip().lower()


def check_json(reader: Reader, n: str) -> None:
    resp = read_head(reader)
    assert resp.status == 200, resp
    assert json.loads(read_body(reader, resp)) == {"ok": True, "n": n}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


# ---- tests ----


@pytest.mark.parametrize("prefix", ["/files", "/afiles"], ids=["sync-handler", "async-handler"])
def test_file_is_sent_byte_exact_with_its_headers(srv, files, prefix):
    resp, body = fetch(srv, f"{prefix}/random.bin")
    assert resp.status == 200, resp
    assert resp.header("content-length") == str(5 * MIB), resp
    assert resp.header("transfer-encoding") is None, resp
    assert hashlib.sha256(body).hexdigest() == files.sha["random.bin"]
    assert resp.header("last-modified") == MTIME_HTTP, resp
    assert media_type(resp) == mimetypes.guess_type("random.bin")[0], resp


@pytest.mark.parametrize("name", ["small.txt", "page.html", "data.json"])
def test_content_type_is_guessed_from_the_extension(srv, name):
    resp, _ = fetch(srv, f"/files/{name}")
    assert resp.status == 200, resp
    assert media_type(resp) == mimetypes.guess_type(name)[0], resp


def test_media_type_overrides_the_guess(srv):
    resp, body = fetch(srv, "/files/small.txt?media_type=application/x-custom")
    assert resp.status == 200 and body == b"hello, files\n", resp
    assert resp.header("content-type") == "application/x-custom", resp


def test_last_modified_is_an_imf_fixdate_of_the_mtime(srv, files):
    resp, _ = fetch(srv, "/files/small.txt")
    assert resp.header("last-modified") == MTIME_HTTP, resp
    assert email.utils.parsedate_to_datetime(MTIME_HTTP).timestamp() == MTIME


@pytest.mark.parametrize("query, sent", [
    ("", [MTIME_HTTP]),                                           # the file's
    ("?last_modified=0", []),                                     # none (RFC 9111 §4.2.2)
    ("?own_modified=Mon,%2001%20Jan%202024%2000:00:00%20GMT", ["Mon, 01 Jan 2024 00:00:00 GMT"]),  # the handler's
])
def test_last_modified_is_the_files_the_handlers_or_none(srv, query, sent):
    resp, body = fetch(srv, f"/files/small.txt{query}")
    assert resp.status == 200 and body == b"hello, files\n", resp
    assert [v for n, v in resp.headers if n.lower() == "last-modified"] == sent, resp


def test_empty_file_then_keep_alive(srv):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(get_req("/files/empty.txt"))
        rd = Reader(s)
        resp = read_head(rd)
        assert resp.status == 200 and resp.header("content-length") == "0", resp
        assert read_body(rd, resp) == b""
        s.sendall(get_req("/json?n=after-empty"))
        check_json(rd, "after-empty")


def test_keep_alive_reuse_after_a_file(srv, files):
    with srv.connect(timeout=WAIT_S) as s:
        rd = Reader(s)
        for i in range(2):
            s.sendall(get_req("/files/random.bin"))
            resp = read_head(rd)
            assert resp.status == 200 and (resp.header("connection") or "").lower() != "close", resp
            h = hashlib.sha256()
            read_body(rd, resp, h.update)
            assert h.hexdigest() == files.sha["random.bin"]
            s.sendall(get_req(f"/json?n={i}"))
            check_json(rd, str(i))


def test_pipelined_file_then_json_in_order(srv, files):
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(get_req("/files/random.bin") + get_req("/json?n=2") + get_req("/files/small.txt"))
        rd = Reader(s)
        resp = read_head(rd)
        assert resp.status == 200, resp
        h = hashlib.sha256()
        read_body(rd, resp, h.update)
        assert h.hexdigest() == files.sha["random.bin"]
        check_json(rd, "2")
        resp = read_head(rd)
        assert resp.status == 200 and read_body(rd, resp) == b"hello, files\n"


def test_head_gets_headers_only(srv):
    with srv.connect(timeout=WAIT_S) as s:
        # The GET's response must follow the HEAD's head directly: no body byte for HEAD.
        s.sendall(get_req("/files/random.bin", method="HEAD") + get_req("/json?n=next"))
        rd = Reader(s)
        resp = read_head(rd)
        assert resp.status == 200, resp
        assert resp.header("content-length") == str(5 * MIB), resp
        assert resp.header("last-modified") == MTIME_HTTP, resp
        check_json(rd, "next")


FILE_NOT_FOUND = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "The file does not exist."}


@pytest.mark.parametrize("path", ["/files/no-such-file.bin", "/root"], ids=["missing", "directory"])
def test_missing_path_or_directory_is_404(srv, path):
    resp, body = fetch(srv, path)
    assert resp.status == 404, resp
    assert resp.header("content-type") == "application/problem+json", resp
    assert json.loads(body) == FILE_NOT_FOUND  # the same problem as under another ASGI server
    resp, body = fetch(srv, "/json?n=alive")  # and the server keeps serving
    assert resp.status == 200 and json.loads(body)["n"] == "alive"


def test_filename_gives_an_attachment(srv):
    resp, body = fetch(srv, "/download/ascii/small.txt")
    assert resp.status == 200 and body == b"hello, files\n", resp
    assert resp.header("content-disposition") == 'attachment; filename="report 2024.csv"', resp


def test_non_ascii_filename_is_percent_encoded(srv):
    resp, _ = fetch(srv, "/download/unicode/small.txt")
    assert resp.status == 200, resp
    cd = resp.header("content-disposition") or ""
    assert cd.startswith("attachment;"), resp
    params = dict(p.strip().split("=", 1) for p in cd.split(";")[1:])
    ext = params.get("filename*", "")
    assert ext[:7].upper() == "UTF-8''", cd  # RFC 8187 ext-value
    assert all(c.isascii() for c in ext), cd
    assert urllib.parse.unquote(ext[7:], encoding="utf-8", errors="strict") == "résumé 2024.pdf", cd


def test_slow_reader_of_a_large_file(srv, files):
    pid = srv.proc.pid
    before = rss_mib(pid)
    with srv.connect(timeout=60) as s:
        s.sendall(get_req("/files/big.bin"))
        peak = rss_mib(pid)
        until = time.monotonic() + 2.0  # the client reads nothing for 2 s
        while time.monotonic() < until:
            time.sleep(0.2)
            peak = max(peak, rss_mib(pid))
        numbers = f"server RSS {before:.0f} MiB before, {peak:.0f} MiB while a 64 MiB file waited for its reader"
        # < 100 MiB in all; and growth well under the file's size, which a server that read
        # the whole file into memory would show even from a small base.
        assert peak < 100 + RSS_SLACK_MIB and peak - before < 24, numbers
        rd = Reader(s)
        resp = read_head(rd)
        assert resp.status == 200 and resp.header("content-length") == str(BIG), resp
        h = hashlib.sha256()
        read_body(rd, resp, h.update, timeout=120)
        assert h.hexdigest() == files.sha["big.bin"]
        peak = max(peak, rss_mib(pid))
        assert peak < 100 + RSS_SLACK_MIB and peak - before < 24, f"server RSS {before:.0f} MiB before, {peak:.0f} MiB at peak"
