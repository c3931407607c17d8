"""HTTP/2 request bodies that several streams upload at once on one connection (issue 25,
item 1), over h2c and TLS, on both io backends: curl's parallel uploads, the Python `h2`
library driving DATA frames in a chosen order (round-robin and greedy), streams reset
with their data in flight, and a body that stops half-way. Every stream must complete
while the app reads its body; the connection window must never be held by data that
no app reads yet."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import ServerProcess
from h2_tls_helpers import (  # noqa: F401  (certs is a fixture)
    BACKENDS,
    CLIENT_ENV,
    Client,
    certs,
    client_ctx,
    h2_counters,
    running,
    status,
    tls_args,
    tls_counters,
    wait_for,
)

CANCEL = 0x8
MiB = 1 << 20
# What the server announces (h2/connection.hpp settings): a stream's window for request
# bodies and the connection's receive window. The bodies below exceed both.
STREAM_WINDOW = 256 * 1024
CONNECTION_WINDOW = MiB
TRANSPORTS = ["h2c", "tls"]


def connect(srv: ServerProcess, transport: str) -> Client:
    """An HTTP/2 connection to `srv`: h2c by prior knowledge, or TLS with ALPN h2."""
    if transport == "h2c":
        return Client(srv)
    sock = client_ctx(alpn=["h2"]).wrap_socket(srv.connect(timeout=20), server_hostname="localhost")
    assert sock.selected_alpn_protocol() == "h2"
    return Client(srv, sock=sock)


def server(app: str, transport: str, io: str, certs: Path, *args: str) -> Any:  # noqa: F811
    extra = tls_args(certs) if transport == "tls" else []
    return running(f"h2_upload_apps:{app}", "--threads", "1", "--metrics", *extra, *args, io=io)


def counters(srv: ServerProcess, transport: str) -> dict[str, int]:
    return tls_counters(srv) if transport == "tls" else h2_counters(srv)


def open_uploads(c: Client, path: str, n: int) -> list[int]:
    """n POST streams to `path`, headers only (no Content-Length: the body streams to the app)."""
    sids = []
    for _ in range(n):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", path), (":scheme", "http"),
                                  (":authority", "localhost")])
        c.responses[sid] = {"headers": None, "body": b"", "ended": False, "reset": None}
        sids.append(sid)
    c.flush()
    return sids


def windows(c: Client, sids: list[int]) -> str:
    """The client's send windows (connection and open streams), for a failure message."""
    per = {}
    for sid in sids:
        try:
            per[sid] = c.conn.local_flow_control_window(sid)
        except Exception as e:  # a closed stream
            per[sid] = type(e).__name__
    return f"connection {c.conn.outbound_flow_control_window}, streams {per}"


def wait_for_window(c: Client, sids: list[int], left: dict[int, int], timeout: float) -> None:
    """Read the server's frames until something arrives (WINDOW_UPDATEs); a clear failure
    when nothing does for `timeout` s while bodies wait (the deadlock of issue 25)."""
    try:
        assert c.pump(timeout=timeout), "the server closed the connection"
    except socket.timeout:
        pytest.fail(f"no WINDOW_UPDATE in {timeout:.0f} s with body bytes left {left}: {windows(c, sids)}")


def send_bodies(c: Client, sids: list[int], size: int, order: str, end: bool = True, timeout: float = 30) -> int:
    """Send `size` bytes on each stream as the windows allow: `order` "round-robin" sends
    one DATA frame per stream in turn (as curl, httpx and browsers spread uploads),
    "greedy" fills one stream's window before the next. `end`: END_STREAM with the last
    frame; else stop once every window is shut (the bytes sent are returned)."""
    piece = bytes(range(256)) * 64  # 16 KiB: the default maximum frame size
    left = dict.fromkeys(sids, size)
    sent = 0
    while left:
        moved = False
        for sid in list(left):
            while left[sid] > 0:
                room = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size, left[sid])
                if room <= 0:
                    break
                left[sid] -= room
                sent += room
                c.conn.send_data(sid, piece[:room], end_stream=end and left[sid] == 0)
                moved = True
                if order == "round-robin":
                    break
            if left[sid] == 0:
                del left[sid]
        c.flush()
        if not moved:
            if not end:
                return sent
            wait_for_window(c, sids, left, timeout)
    return sent


def received(r: dict[str, Any]) -> int:
    assert r["reset"] is None, f"stream reset ({r['reset']})"
    assert status(r) == 200, r
    return int(json.loads(r["body"])["received"])


@pytest.fixture(scope="module", params=[(t, io) for t in TRANSPORTS for io in BACKENDS],
                ids=[f"{t}-{io}" for t in TRANSPORTS for io in BACKENDS])
def upload_srv(request: pytest.FixtureRequest, certs: Path) -> Any:  # noqa: F811
    transport, io = request.param
    with server("native", transport, io, certs) as s:
        s.transport = transport  # type: ignore[attr-defined]
        yield s


# N streams x both orders: every body exceeds the stream window, and together they exceed
# the connection window (each stream at least 320 KiB, all of them at least 1.25 MiB).
STREAM_COUNTS = [1, 2, 4, 5, 8, 16, 32]
ORDERS = ["round-robin", "greedy"]


@pytest.mark.parametrize("n", STREAM_COUNTS)
@pytest.mark.parametrize("order", ORDERS)
def test_parallel_uploads_complete(upload_srv: ServerProcess, n: int, order: str) -> None:
    size = max(320 * 1024, (5 * CONNECTION_WINDOW // 4 + n - 1) // n)
    assert size > STREAM_WINDOW and size * n > CONNECTION_WINDOW
    with connect(upload_srv, upload_srv.transport) as c:  # type: ignore[attr-defined]
        sids = open_uploads(c, "/upload", n)
        send_bodies(c, sids, size, order)
        c.wait(*sids, timeout=60)
        assert [received(c.responses[sid]) for sid in sids] == [size] * n


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("io", BACKENDS)
def test_reset_uploads_give_their_window_back(transport: str, io: str, certs: Path) -> None:  # noqa: F811
    # Eight streams whose app does not read yet (it sleeps) each fill their own window:
    # the connection window is not held by what they buffered (2 MiB of stream windows
    # against a 1 MiB connection window). The client resets them all; a later small POST
    # on the same connection goes through (RFC 9113 §6.9: no window is lost with them).
    with server("native", transport, io, certs) as s, connect(s, transport) as c:
        sids = open_uploads(c, "/lazy?s=6", 8)
        sent = 0
        until = time.monotonic() + 3  # well before the app reads (6 s)
        while sent < 8 * STREAM_WINDOW and time.monotonic() < until:
            sent += send_bodies(c, sids, 4 * MiB, "round-robin", end=False)
            try:
                c.pump(timeout=0.5)  # WINDOW_UPDATEs, if any
            except socket.timeout:
                pass
        held = windows(c, sids)
        for sid in sids:
            c.conn.reset_stream(sid, CANCEL)
        c.flush()
        r = c.get("/upload", method="POST", body=b"x" * 100, timeout=30)
        assert received(r) == 100
        assert sent == 8 * STREAM_WINDOW, held


@pytest.mark.parametrize("io", BACKENDS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", ["streamed", "buffered", "held-by-the-app"])
def test_stalled_body_gets_rst_stream(transport: str, io: str, case: str, certs: Path) -> None:  # noqa: F811
    # The client sends half a body, then nothing: after the body timeout the stream is
    # reset (CANCEL) and, when an app reads it, the app's read raises (408). A client that
    # waits because the app has not read (its window is shut) is not the one stalling.
    with server("native", transport, io, certs, "--body-timeout", "2") as s, connect(s, transport) as c:
        before = counters(s, transport).get("timeouts", 0)
        if case == "held-by-the-app":
            sid = open_uploads(c, "/lazy?s=4", 1)[0]
            c.send_body(sid, b"h" * (STREAM_WINDOW + 100000))  # waits for the app's reads
            c.wait(sid, timeout=60)
            assert received(c.responses[sid]) == STREAM_WINDOW + 100000
            assert counters(s, transport).get("timeouts", 0) == before
            return
        headers = [] if case == "streamed" else [("content-length", "1000")]
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/noted"), (":scheme", "http"),
                                  (":authority", "localhost"), *headers])
        c.conn.send_data(sid, b"s" * 500)
        c.responses[sid] = {"headers": None, "body": b"", "ended": False, "reset": None}
        c.flush()
        start = time.monotonic()
        c.wait(sid, timeout=60)
        assert c.responses[sid]["reset"] == CANCEL, c.responses[sid]
        assert time.monotonic() - start >= 0.9  # not before the timeout (2 s, on a coarse clock)
        assert counters(s, transport).get("timeouts", 0) == before + 1
        if case == "streamed":  # the app's read raised (it runs after the reset went out)
            assert wait_for(lambda: json.loads(c.get("/notes")["body"])["notes"] == ["HTTPError 408"])
        else:  # buffered whole: no app saw it
            assert json.loads(c.get("/notes")["body"])["notes"] == []


# ---- curl, the client of the issue ----

APPS = ["native", "asgi", "wsgi"]


@pytest.mark.parametrize("io", BACKENDS)
@pytest.mark.parametrize("app", APPS)
def test_curl_parallel_uploads_over_tls(app: str, io: str, certs: Path, tmp_path: Path) -> None:  # noqa: F811
    # Issue 25's report: 8 parallel 3 MiB uploads over one h2 TLS connection
    # (`curl -Z --parallel-max 8 --http2`), the app reading every body.
    upload = tmp_path / "up3m.bin"
    upload.write_bytes(bytes(range(256)) * (3 * MiB // 256))
    with server(app, "tls", io, certs) as s:
        args: list[str] = []
        for i in range(8):
            if i:
                args.append("--next")
            args += ["-sSk", "--http2", "-m", "90", "-o", str(tmp_path / f"out{i}"), "-w",
                     "%{http_version} %{http_code} %{size_upload} %{num_connects}\n",
                     "--data-binary", f"@{upload}", f"https://127.0.0.1:{s.port}/upload"]
        out = subprocess.run(["curl", "-Z", "--parallel-max", "8", *args], capture_output=True, env=CLIENT_ENV,
                             timeout=120)
        lines = sorted(out.stdout.decode().split("\n")[:-1])
        assert out.returncode == 0 and len(lines) == 8, (out.stdout, out.stderr)
        fields = [line.split() for line in lines]
        assert [f[:3] for f in fields] == [["2", "200", str(3 * MiB)]] * 8, lines
        assert sum(int(f[3]) for f in fields) == 1  # one connection, all 8 streams on it
        for i in range(8):
            assert json.loads((tmp_path / f"out{i}").read_bytes()) == {"received": 3 * MiB}
