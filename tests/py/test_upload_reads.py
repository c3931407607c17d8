"""Uploads read straight into the body: while a request body with a Content-Length streams
to an async handler, the reactor receives it into the body's own blocks, up to 128 KiB a
receive, instead of through the buffer ring's 4 KiB pieces (docs/architecture.md,
"Request bodies"). Every body size around the block and streaming limits, both framings,
both io backends; what follows an upload on the same connection; a client that stops
mid-body; a handler that does not read (the body window still holds the client back).
Real sockets on 127.0.0.1; the `recvs_into_body` counter says the path ran."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from typing import Any, Callable

import pytest
from conftest import BACKENDS, RSS_SLACK_MIB, Reader, ServerProcess, get, metric_totals

APP = "streaming_app:app"
KIB = 1024
MIB = 1 << 20
MAX_BODY = 64 * MIB
RING = 4096 * 4096  # the most the core's receive ring offers (server_config: buffer_count x buffer_size)
WINDOW = 256 * KIB  # connection_limits::body_window
RECV_LIMIT = 64 * KIB  # uring::multishot_recv_limit
CHUNK = 128 * KIB  # request_body::max_chunk: a block, a receive into it, a chunk of req.stream()


def recv_limited(io: str) -> bool:
    """Whether the recv that reads a head takes at most RECV_LIMIT bytes of what follows:
    epoll reads what one readiness brings; io_uring's multishot recv ends at its byte limit
    where the kernel offers one (6.17+, the start-up probe says), else it takes what comes."""
    from ringbolt import _native
    return io == "epoll" or bool(_native.probe_io_uring().get("recv_limit"))


def env_for(io: str) -> dict[str, str]:
    return {"RINGBOLT_IO": "epoll"} if io == "epoll" else {}


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request):
    """One reactor hosting the event loop (the upload benchmark's set-up)."""
    s = ServerProcess(APP, "--threads", "1", "--max-body-size", str(MAX_BODY), "--metrics",
                      "--body-timeout", "2", "--min-body-rate", "0", env=env_for(request.param))
    s.io = request.param
    yield s
    assert s.stop() == 0, s.output()


def metrics(s: ServerProcess) -> dict[str, int]:
    r = get(s, "/metrics")
    assert r.status == 200, r
    return metric_totals(r.body.decode())


def body_of(size: int, seed: int = 7) -> bytes:
    # Not one repeated byte: a piece put in the wrong place changes the hash.
    block = hashlib.sha256(b"%d" % seed).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def chunked(data: bytes, size: int = 100_003) -> bytes:
    out = [b"%x\r\n%s\r\n" % (len(data[p:p + size]), data[p:p + size]) for p in range(0, len(data), size)]
    return b"".join(out) + b"0\r\n\r\n"


def upload_wire(path: str, data: bytes, framing: str, extra: str = "") -> bytes:
    if framing == "content-length":
        return f"POST {path} HTTP/1.1\r\nHost: t\r\n{extra}Content-Length: {len(data)}\r\n\r\n".encode() + data
    return f"POST {path} HTTP/1.1\r\nHost: t\r\n{extra}Transfer-Encoding: chunked\r\n\r\n".encode() + chunked(data)


def send_in_thread(s: socket.socket, wire: bytes) -> threading.Thread:
    """sendall from a thread, so the test can read (a server that answers early, or one
    that holds the client back, must not deadlock the test)."""
    def run() -> None:
        try:
            s.sendall(wire)
        except OSError:
            pass  # the server closed (a refusal): the reader below says what it got
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


SIZES = [0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, CHUNK - 1, CHUNK, CHUNK + 1, 2_000_000, 10_000_000, 20_000_000]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("size", SIZES)
def test_a_body_of_any_size_arrives_whole(srv, size, framing):
    data = body_of(size)
    before = metrics(srv)
    with srv.connect(timeout=60) as s:
        t = send_in_thread(s, upload_wire("/upload/sha", data, framing))
        r = Reader(s).read()
        t.join(30)
    assert r.status == 200, r
    got = json.loads(r.body)
    assert got["bytes"] == size and got["sha256"] == hashlib.sha256(data).hexdigest(), got
    assert got["largest"] <= CHUNK, got
    if framing == "chunked":
        into = metrics(srv)["recvs_into_body"] - before["recvs_into_body"]
        assert into == 0, "a chunked body is decoded from the ring's buffers"


def test_a_body_that_comes_in_pieces_is_received_into_its_blocks(srv):
    """The client sends 2.5 MB in 50 pieces, 10 ms apart: the reactor, waiting for each,
    has a receive into the body armed (not the multishot recv into the ring), and each
    piece lands in the body's blocks (recvs_into_body counts those receives): about 50 on
    a quiet machine. A server descheduled for longer than a piece's gap (a loaded shared
    machine) takes several pieces in one receive of up to CHUNK, or in the reads after a
    pause (not counted): a tenth of the pieces is what is asserted."""
    data = body_of(50 * 50_000, seed=5)
    before = metrics(srv)["recvs_into_body"]
    with srv.connect(timeout=30) as s:
        s.sendall(f"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: {len(data)}\r\n\r\n".encode())
        for pos in range(0, len(data), 50_000):
            s.sendall(data[pos:pos + 50_000])
            time.sleep(0.01)
        r = Reader(s).read()
    assert r.status == 200, r
    got = json.loads(r.body)
    assert got["bytes"] == len(data) and got["sha256"] == hashlib.sha256(data).hexdigest(), got
    into = metrics(srv)["recvs_into_body"] - before
    assert into >= 5, f"{into} receives into the body for 50 pieces ({srv.io})"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_requests_pipelined_behind_an_upload_are_answered_in_order(srv, framing):
    data = body_of(3 * MIB + 5)
    wire = (upload_wire("/upload/sha", data, framing) + b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
            + upload_wire("/upload/sha", data[:70_000], framing) + b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
    with srv.connect(timeout=60) as s:
        t = send_in_thread(s, wire)
        rd = Reader(s)
        first, second, third, fourth = rd.read(), rd.read(), rd.read(), rd.read()
        t.join(30)
    assert first.status == 200 and json.loads(first.body)["sha256"] == hashlib.sha256(data).hexdigest(), first
    assert second.status == 200 and json.loads(second.body)["ok"] is True, second
    assert third.status == 200 and json.loads(third.body)["bytes"] == 70_000, third
    assert fourth.status == 200 and json.loads(fourth.body)["ok"] is True, fourth


def test_a_client_that_stops_mid_body_gets_408_and_others_are_served(srv):
    """--body-timeout 2: the body stops after 3 MB of 10 MB; the handler's read raises
    408 (its answer), then the connection closes. Meanwhile other clients are served."""
    data = body_of(3_000_000)
    with srv.connect(timeout=30) as s:
        s.sendall(f"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n".encode() + data)
        start = time.monotonic()
        # Another client meanwhile: answered at once.
        r = get(srv, "/json")
        assert r.status == 200 and time.monotonic() - start < 1.5, r
        rd = Reader(s)
        resp = rd.read()
        waited = time.monotonic() - start
        assert resp.status == 408, resp
        assert 1.0 <= waited < 10, waited
        assert rd.closed(5), "the connection closes after a body that timed out"
    assert get(srv, "/json").status == 200


def test_a_client_that_leaves_mid_body_frees_its_connection(srv):
    before = metrics(srv)
    s = srv.connect(timeout=30)
    s.sendall(b"POST /upload/sha HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n" + body_of(2_500_000))
    time.sleep(0.2)
    s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = metrics(srv)
        if m["connections_open"] <= 1:  # the /metrics request's own connection
            break
        time.sleep(0.1)
    assert m["connections_open"] <= 1, m
    assert m["bytes_in"] - before["bytes_in"] >= 2_500_000
    data = body_of(2 * MIB + 3)
    with srv.connect(timeout=30) as c:
        c.sendall(upload_wire("/upload/sha", data, "content-length"))
        r = Reader(c).read()
    assert r.status == 200 and json.loads(r.body)["bytes"] == len(data), r


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_handler_that_does_not_read_holds_the_client_back(srv):
    """The handler reads nothing for 2 s while the client pushes 60 MiB: the server stops
    reading (the rest waits in the kernel's socket buffers and at the client), its memory
    does not grow with the body, and then every byte arrives once. What it reads
    meanwhile is the body window and one read past it, plus what the recv that read the
    head took of the body behind it: at most its byte limit (RECV_LIMIT), or, on io_uring
    without one, up to the core's 16 MiB buffer ring with a client this fast on loopback."""
    size = 60 * MIB
    data = body_of(size, seed=3)
    pid = srv.proc.pid
    base = rss_mib(pid)
    before = metrics(srv)["bytes_in"]
    with srv.connect(timeout=60) as s:
        t = send_in_thread(s, upload_wire("/upload/late?delay=2", data, "content-length"))
        time.sleep(1.5)
        read_meanwhile = metrics(srv)["bytes_in"] - before
        peak = rss_mib(pid)
        bound = RECV_LIMIT + WINDOW + 2 * CHUNK if recv_limited(srv.io) else RING + 4 * MIB
        assert read_meanwhile < bound, f"read {read_meanwhile} bytes of an upload nobody took ({srv.io})"
        r = Reader(s).read()
        t.join(30)
        peak = max(peak, rss_mib(pid))
    assert r.status == 200, r
    got = json.loads(r.body)
    assert got["bytes"] == size and got["sha256"] == hashlib.sha256(data).hexdigest(), got
    assert peak - base < 40 + RSS_SLACK_MIB, f"server RSS grew {peak - base:.0f} MiB for a {size >> 20} MiB body"
    print(f"read while the handler slept: {read_meanwhile >> 10} KiB; RSS growth {peak - base:.1f} MiB")


BODY_RCVBUF = 8 * MIB  # server_config::body_receive_buffer
BODY_RCVBUF_FLOOR = 2 * MIB  # reactor::body_receive_buffer_floor


def kernel_grants(nbytes: int) -> int:
    """What the server's start-up probe finds (io_backend::probe_receive_buffer): the most of
    `nbytes` of receive buffer a socket can have, by SO_RCVBUF or SO_RCVBUFFORCE; 0 under
    the floor."""
    best = 0
    with socket.socket() as t:
        for opt in (socket.SO_RCVBUF, 33):  # 33: SO_RCVBUFFORCE (needs CAP_NET_ADMIN)
            try:
                t.setsockopt(socket.SOL_SOCKET, opt, nbytes)
            except OSError:
                continue
            best = max(best, min(t.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2, nbytes))
    return best if best >= BODY_RCVBUF_FLOOR else 0


def server_rcvbuf(srv: ServerProcess, client: socket.socket) -> int:
    """SO_RCVBUF of the server's end of `client`'s connection: each socket of the server
    process is duplicated into this one (pidfd_getfd, Linux 5.6) and the one whose peer is
    the client's own address is asked."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    want = client.getsockname()
    pidfd = os.pidfd_open(srv.proc.pid)
    try:
        for name in os.listdir(f"/proc/{srv.proc.pid}/fd"):
            try:
                if not os.readlink(f"/proc/{srv.proc.pid}/fd/{name}").startswith("socket:"):
                    continue
            except OSError:
                continue
            fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
            if fd < 0:
                continue
            with socket.socket(fileno=fd) as dup:
                try:
                    if dup.type == socket.SOCK_STREAM and dup.getpeername() == want:
                        return dup.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                except OSError:
                    pass
    finally:
        os.close(pidfd)
    raise AssertionError(f"no server socket with peer {want}")


def test_a_streamed_body_widens_the_sockets_receive_buffer(srv):
    """The first body that streams into its blocks on a connection raises the socket's
    receive buffer to BODY_RCVBUF, or the most of it the kernel grants (the kernel reports
    twice that); a connection that only sent GETs, or a chunked body (decoded from the ring, not
    received into blocks), keeps the kernel's own. The upload after it is read whole."""
    granted = kernel_grants(BODY_RCVBUF)
    with srv.connect(timeout=30) as plain, srv.connect(timeout=30) as chunk, srv.connect(timeout=30) as up:
        for s in (plain, up):
            s.sendall(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
            assert Reader(s).read().status == 200
        default = server_rcvbuf(srv, up)
        assert default < 2 * BODY_RCVBUF, default
        data = body_of(2_000_000, seed=9)
        for s, framing in ((up, "content-length"), (chunk, "chunked")):
            t = send_in_thread(s, upload_wire("/upload/sha", data, framing))
            r = Reader(s).read()
            t.join(30)
            assert r.status == 200, r
            got = json.loads(r.body)
            assert got["bytes"] == len(data) and got["sha256"] == hashlib.sha256(data).hexdigest(), got
        assert server_rcvbuf(srv, plain) < 2 * BODY_RCVBUF
        assert server_rcvbuf(srv, chunk) < 2 * BODY_RCVBUF
        if granted:
            assert server_rcvbuf(srv, up) == 2 * granted, (srv.io, default, granted)
        else:
            assert server_rcvbuf(srv, up) < 2 * BODY_RCVBUF_FLOOR
        # Keep-alive after the widening: the next upload and a GET on the same connection.
        t = send_in_thread(up, upload_wire("/upload/sha", data[:300_001], "content-length"))
        r = Reader(up).read()
        t.join(30)
        assert r.status == 200 and json.loads(r.body)["bytes"] == 300_001, r
        up.sendall(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
        assert Reader(up).read().status == 200


def _rcvbuf_after_upload(*args: str, while_serving: Callable[[ServerProcess], None] | None = None,
                         **popen: Any) -> int:
    """SO_RCVBUF of the server's end of a connection that sent a streamed 2 MB body, on a
    server started with `args` (and Popen's `popen`); `while_serving` looks at the server
    before it stops."""
    s = ServerProcess(APP, "--threads", "1", "--max-body-size", str(MAX_BODY), *args, **popen)
    try:
        with s.connect(timeout=30) as up:
            data = body_of(2_000_000, seed=13)
            t = send_in_thread(up, upload_wire("/upload/sha", data, "content-length"))
            r = Reader(up).read()
            t.join(30)
            assert r.status == 200 and json.loads(r.body)["sha256"] == hashlib.sha256(data).hexdigest(), r
            have = server_rcvbuf(s, up)
        if while_serving is not None:
            while_serving(s)
        return have
    finally:
        assert s.stop() == 0, s.output()


def test_without_cap_net_admin_the_buffer_is_what_rmem_max_grants():
    """A server without CAP_NET_ADMIN (dropped before exec): SO_RCVBUFFORCE is refused, so the
    widening gets net.core.rmem_max's worth of BODY_RCVBUF where that is at least the floor
    (HttpArena's hosts set 7,500,000), and leaves autotuning alone under it (a stock 208 KiB)."""
    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())
    expect = min(rmem_max, BODY_RCVBUF)

    import ctypes
    libcap = ctypes.CDLL("libcap.so.2", use_errno=True)
    libcap.cap_get_proc.restype = ctypes.c_void_p

    def without_net_admin() -> None:  # in the child, before exec: bounding, permitted, effective
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(24, 12, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_NET_ADMIN
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")
        caps = libcap.cap_get_proc()
        value = (ctypes.c_int * 1)(12)
        for flag in (0, 1, 2):  # CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE
            libcap.cap_set_flag(ctypes.c_void_p(caps), flag, 1, value, 0)  # CAP_CLEAR
        if libcap.cap_set_proc(ctypes.c_void_p(caps)) != 0:
            raise OSError(ctypes.get_errno(), "cap_set_proc")

    def has_no_net_admin(s: ServerProcess) -> None:
        with open(f"/proc/{s.proc.pid}/status") as f:
            eff = int(next(x for x in f if x.startswith("CapEff:")).split()[1], 16)
        assert not eff & (1 << 12), "the server still has CAP_NET_ADMIN"

    have = _rcvbuf_after_upload(preexec_fn=without_net_admin, while_serving=has_no_net_admin)
    if expect >= BODY_RCVBUF_FLOOR:
        assert have == 2 * expect, (have, rmem_max)
    else:
        assert have < 2 * BODY_RCVBUF_FLOOR, (have, rmem_max)


def test_body_receive_buffer_zero_leaves_the_kernels_autotuning():
    """--body-receive-buffer 0: the socket keeps what autotuning gave it (at most
    tcp_rmem's maximum), never the widened size."""
    with open("/proc/sys/net/ipv4/tcp_rmem") as f:
        autotune_max = int(f.read().split()[2])
    have = _rcvbuf_after_upload("--body-receive-buffer", "0")
    assert have <= autotune_max, (have, autotune_max)
    assert have != 2 * kernel_grants(BODY_RCVBUF), have


def test_body_receive_buffer_sets_the_widened_size():
    """--body-receive-buffer 3 MiB: the streamed body's socket gets 3 MiB (the kernel
    reports twice that) where the kernel grants it, nothing under the floor."""
    granted = kernel_grants(3 * MIB)
    have = _rcvbuf_after_upload("--body-receive-buffer", str(3 * MIB))
    if granted:
        assert have == 2 * granted, (have, granted)
    else:
        assert have < 2 * BODY_RCVBUF_FLOOR, have


def test_a_body_receive_buffer_over_one_gib_is_refused_by_name():
    import subprocess
    import sys
    from conftest import APPS, REPO, free_port
    out = subprocess.run([sys.executable, "-m", "ringbolt", "serve", APP, "--app-dir", str(APPS),
                          "--port", str(free_port()), "--body-receive-buffer", str(2 << 30)],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO), stdin=subprocess.DEVNULL)
    assert out.returncode != 0, out
    assert "body_receive_buffer must be at most 1 GiB" in out.stdout + out.stderr, out
