"""A large answer is written into memory kept from the last one (core/large_buffers.hpp),
not into fresh pages: 1.3 MB JSON answers, from a sync and an async handler, cost the
server a few minor page faults each (writing one into fresh memory took about 500: a fault
and a zeroed page per 4 KiB, and the doubling's copies), every body whole and right; the
kept memory (the `ringbolt_large_buffers_bytes` gauge) goes once large answers stop.
A large block the interpreter allocates (an unchanged FastAPI app's answer is
pydantic-core's bytes object) reuses the heap memory the last one freed, not a fresh
mapping each; what a burst of slow readers held goes back once they are gone. Real
sockets, the server's own /proc counters."""
from __future__ import annotations

import json
import re
import socket
import sys
import time

import pytest
from conftest import APPS, SANITIZER, ServerProcess, get, lane_backends

sys.path.insert(0, str(APPS))
from large_answer_app import ROWS  # noqa: E402 - the app's own data, to check the bodies

MIB = 1 << 20

# what a kept buffer leaves: the body's last pages, the socket's, the interpreter's own
# (0-12 here on 3.11, 37 once on CI's 3.13); a 1.3 MB answer into fresh pages costs some 330
FAULTS_PER_ANSWER = 64


def minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def kept_bytes(srv: ServerProcess) -> int:
    body = get(srv, "/metrics").body.decode()
    m = re.search(r"^ringbolt_large_buffers_bytes (\d+)$", body, re.M)
    assert m, body[-400:]
    return int(m.group(1))


def fetch_all(srv: ServerProcess, path: str, connections: int, each: int) -> list[bytes]:
    """`each` requests on each of `connections` keep-alive connections, sent at once."""
    socks = [srv.connect(timeout=30) for _ in range(connections)]
    bodies = []
    try:
        for _ in range(each):
            for s in socks:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            for s in socks:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += s.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
                while len(body) < length:
                    body += s.recv(length - len(body))
                bodies.append(body)
    finally:
        for s in socks:
            s.close()
    return bodies


@pytest.mark.parametrize("io", lane_backends())
@pytest.mark.parametrize("path", ["/big", "/big-async"])
def test_large_answers_reuse_kept_memory(io: str, path: str) -> None:
    rows = json.loads(json.dumps(ROWS))
    srv = ServerProcess("large_answer_app:app", "--threads", "1", "--metrics", env={"RINGBOLT_IO": io})
    try:
        fetch_all(srv, path, 8, 10)  # the first answers allocate what is kept (the heap grows to its steady size)
        before = minor_faults(srv.proc.pid)
        bodies = fetch_all(srv, path, 8, 10)
        per_answer = (minor_faults(srv.proc.pid) - before) / len(bodies)
        print(f"{path} on {io}: {per_answer:.1f} minor faults an answer of {len(bodies[0])} bytes")
        assert all(json.loads(b) == rows for b in bodies[:3]) and len(set(bodies)) == 1
        if not SANITIZER:  # ASan's allocator keeps freed memory in quarantine: every allocation is fresh pages
            assert per_answer <= FAULTS_PER_ANSWER
        assert kept_bytes(srv) >= len(bodies[0]), "nothing kept between large answers"
        deadline = time.monotonic() + 15  # large_buffers::idle_seconds, then a sweep
        while kept_bytes(srv) and time.monotonic() < deadline:
            time.sleep(1)
        assert kept_bytes(srv) == 0, "large answers stopped, their buffers still kept"
    finally:
        assert srv.stop() == 0, srv.output()


def test_large_blocks_the_interpreter_allocates_reuse_the_heap() -> None:
    """What the interpreter or a library allocates for a large answer (an unchanged FastAPI
    app's answer is pydantic-core's bytes object) reuses the heap memory the last one freed:
    ten 1.3 MB bytes objects made one after the other in a served handler fault in about
    one's pages, where a fresh mapping each (glibc's mmap threshold fixed at 256 KiB, as
    before) faulted in all ten's, some 3,200 pages (the handler counts its thread's minor
    faults)."""
    srv = ServerProcess("large_answer_app:app", "--threads", "1")
    try:
        faults = get(srv, "/alloc-faults").json()["faults"]
        pages = 10 * 1_300_000 // 4096
        print(f"{faults} minor faults for ten 1.3 MB blocks ({pages} pages)")
        if not SANITIZER:  # the sanitizer's allocator maps its own
            assert faults < pages // 3
    finally:
        assert srv.stop() == 0, srv.output()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(bool(SANITIZER), reason="the sanitizer's allocator keeps freed memory (quarantine); "
                    "the reactor does not trim it")
@pytest.mark.parametrize("app", ["large_answer_app:app", "large_answer_fastapi_app:app"])
def test_memory_a_burst_of_slow_readers_held_goes_back(app: str) -> None:
    """Large answers stay in the heap for the next ones, yet what a burst of clients that
    stop reading made the server hold goes back to the system once they are gone, with no
    request after them (the reactor's tick drops the Python bodies it sent from and gives
    the heap back once most of it stays free)."""
    srv = ServerProcess(app, "--threads", "1", "--metrics")
    try:
        fetch_all(srv, "/big", 4, 3)
        base = rss_bytes(srv.proc.pid)
        socks = []
        for _ in range(40):
            s = srv.connect(timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * 4)
            socks.append(s)
        peak = base
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            peak = max(peak, rss_bytes(srv.proc.pid))
            time.sleep(0.1)
        for s in socks:
            s.close()
        after = peak
        deadline = time.monotonic() + 25  # at once when most of the heap is free, else within 20 s
        while time.monotonic() < deadline:
            after = rss_bytes(srv.proc.pid)
            if after <= base + 40 * MIB:
                break
            time.sleep(0.5)
        print(f"RSS {base / MIB:.0f} MiB before, {peak / MIB:.0f} MiB held, {after / MIB:.0f} MiB after")
        assert peak - base > 40 * MIB, "the burst held too little to tell"
        assert after <= base + 40 * MIB, f"{(after - base) / MIB:.0f} MiB still held after the burst"
        assert get(srv, "/big").status == 200
    finally:
        assert srv.stop() == 0, srv.output()
