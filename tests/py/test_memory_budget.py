"""A worker's memory against the budget docs/deployment.md ("Memory") states: each reactor
added costs at most 4 MiB after a steady load of 64 keep-alive connections, its receive
ring at most 2 MiB of it; bursts of 2,000 connections grow the ring, and within seconds it
is back to its first offer (both layouts: whole 4 KiB buffers, incremental 32 KiB ones); and importing the package carries none of the modules only some apps use (pydantic,
the email package, difflib: 7.5 MB of a worker together) nor leaves GnuTLS's
no-implicit-init setting to child processes, and a served hello app imports none of the
modules it does not use (tests/py/apps/lean_app.py); HTTP/3's libraries (ngtcp2, nghttp3,
GnuTLS) are mapped only in a server started with --http3. Real servers, real sockets, /proc's
VmRSS and maps, and the server's own `recv_buffer_bytes` gauge."""
from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import h3_client
import pytest
from conftest import RSS_SLACK_MIB, ServerProcess, get, lane_backends, metric_totals
from h2_tls_helpers import certs, tls_args, tls_get  # noqa: F401  (certs is a fixture)

from ringbolt import _native

MIB = 1 << 20
KIB = 1 << 10
REACTOR_BUDGET = 4 * MIB  # docs/deployment.md: each reactor added
# docs/deployment.md: a reactor's receive ring under a steady load of 64 connections (128 KiB
# of incremental buffers, 256 KiB of whole ones on this host; 2 MiB of whole ones with a
# hosted loop on 6.1, emulated, where recvs found the first offers dry)
RING_BUDGET = 2 * MIB
FIRST_OFFER = 512 * KIB  # what a ring offers at first, or after a shrink, at most (64 whole buffers: 256 KiB)
REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
# HTTP/3's libraries, which the extension loads only when HTTP/3 starts (1.8 MB of a
# worker with GnuTLS's own; docs/deployment.md, "Memory"); a wheel's copies are renamed
# libngtcp2-<hash>.so.9.
HTTP3_LIBRARY = re.compile(r"/(libngtcp2|libngtcp2_crypto_gnutls|libnghttp3|libgnutls)[.-][^/]*$")


def rss(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KIB
    raise AssertionError(f"no VmRSS for pid {pid}")


def load(srv: ServerProcess, connections: int, seconds: float, request: bytes = REQUEST) -> int:
    """Keep-alive connections each sending its next request once its answer came (a
    closed loop, as wrk's), for `seconds` and until each connection had ten answers (at
    most 30 s: a loaded machine); the answers counted."""
    sel = selectors.DefaultSelector()
    socks = [srv.connect(timeout=30) for _ in range(connections)]
    pending = {}
    for s in socks:
        s.setblocking(False)
        s.sendall(request)
        pending[s.fileno()] = b""
        sel.register(s, selectors.EVENT_READ)
    answered = 0
    start = time.monotonic()
    try:
        while (time.monotonic() < start + seconds or answered < 10 * connections) and time.monotonic() < start + 30:
            for key, _ in sel.select(1):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                data = pending[s.fileno()] + s.recv(65536)
                assert data, "the server closed a keep-alive connection"
                while b"\r\n\r\n" in data:
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length:")))
                    if len(rest) < length:
                        break
                    assert head.startswith(b"HTTP/1.1 200"), head
                    data = rest[length:]
                    answered += 1
                    s.sendall(request)
                pending[s.fileno()] = data
    finally:
        for s in socks:
            s.close()
    return answered


def burst(srv: ServerProcess, socks: list[socket.socket], request: bytes) -> None:
    """`request` on every one of `socks` at once, while the reactor is held in a handler (the
    burst waits in the sockets, and the kernel posts its completions when the reactor is
    next in it); returns once each has its answer."""
    holder = srv.connect(timeout=30)
    holder.sendall(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.3)  # the reactor is in the handler
    for s in socks:
        s.sendall(request)
    assert b"held" in holder.recv(4096)
    holder.close()
    read_answers(socks)


def read_answers(socks: list[socket.socket]) -> None:
    """Each of `socks` has its hello answer."""
    for s in socks:
        data = b""
        while b"Hello, World!" not in data:
            chunk = s.recv(4096)
            assert chunk, "connection closed"
            data += chunk


def gauge(srv: ServerProcess) -> int:
    """The receive rings' resident bytes, every reactor's together (read once a second)."""
    time.sleep(1.2)
    r = get(srv, "/metrics")
    assert r.status == 200, r
    return metric_totals(r.body.decode())["recv_buffer_bytes"]


@pytest.mark.parametrize("io", lane_backends())
def test_each_added_reactor_costs_at_most_its_budget(io: str) -> None:
    measured = {}
    for threads in (1, 3):
        srv = ServerProcess("memory_app:app", "--threads", str(threads), "--metrics", env={"RINGBOLT_IO": io})
        try:
            assert load(srv, 64, 2.0) >= 640
            time.sleep(1.2)  # the once-a-second sweep: what a turn kept is given back
            measured[threads] = rss(srv.proc.pid)
            if io == "io_uring":
                assert gauge(srv) <= threads * RING_BUDGET
        finally:
            assert srv.stop() == 0, srv.output()
    per_reactor = (measured[3] - measured[1]) / 2
    print(f"VmRSS after 64 connections' load: {measured[1] / MIB:.1f} MiB with one reactor, "
          f"{measured[3] / MIB:.1f} MiB with three: {per_reactor / MIB:.2f} MiB a reactor added")
    assert per_reactor <= REACTOR_BUDGET + RSS_SLACK_MIB * MIB, measured


@pytest.mark.skipif("io_uring" not in lane_backends(), reason="the receive ring is io_uring's")
@pytest.mark.parametrize("layout", ["whole", "incremental"])
def test_a_burst_grows_the_ring_and_a_quiet_while_gives_it_back(layout: str) -> None:
    env = {"RINGBOLT_IO": "io_uring"}
    if layout == "whole":
        env["RINGBOLT_INCREMENTAL_BUFFERS"] = "0"
    elif not _native.probe_io_uring().get("incremental_buffers"):
        pytest.skip("this kernel's buffers are not consumed incrementally")
    # Bursts of 2,000 requests at once (the reactor held by a handler meanwhile), each of
    # 1.5 KiB: more than the ring offers, whichever the layout; each burst's dry recvs double
    # the offer (and the burst takes all of it), so four of them grow it to 512 whole
    # buffers (2 MiB) or 32 incremental ones (1 MiB) in use.
    padded = b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 1500 + b"\r\n\r\n"
    srv = ServerProcess("memory_app:app", "--threads", "1", "--metrics", env=env)
    try:
        socks = [srv.connect(timeout=30) for _ in range(2000)]
        try:
            for _ in range(4):
                burst(srv, socks, padded)
            grown = gauge(srv)
            assert grown > FIRST_OFFER, f"2,000 requests at once kept the ring at {grown} bytes: no growth to undo"
            deadline = time.monotonic() + 20  # 5 s quiet, a sweep, the next turns
            after = grown
            while time.monotonic() < deadline and after > FIRST_OFFER:
                after = gauge(srv)
            assert after <= FIRST_OFFER, f"{grown} bytes after the burst, still {after} 20 s later"
            assert load(srv, 64, 1.0) >= 640  # the connections armed on the old ring carry on
        finally:
            for s in socks:
                s.close()
    finally:
        assert srv.stop() == 0, srv.output()


def test_the_package_carries_only_what_its_app_uses() -> None:
    code = ("import os, sys; import ringbolt, ringbolt.cli; "
            "print(sorted(m for m in ('pydantic', 'pydantic_core', 'email.utils', 'difflib') if m in sys.modules)); "
            "print(os.environ.get('GNUTLS_NO_IMPLICIT_INIT'))")
    env = {k: v for k, v in os.environ.items() if k != "GNUTLS_NO_IMPLICIT_INIT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "None"], out.stdout


def test_a_served_hello_app_imports_none_of_what_it_does_not_use() -> None:
    """A worker of sync routes (``ringbolt serve``, started and under a load) has none of
    the modules only other apps use: deferring them is most of what keeps its VmRSS below
    uvicorn's (docs/deployment.md, "Memory")."""
    srv = ServerProcess("lean_app:app", "--threads", "1")
    try:
        assert load(srv, 8, 0.5) >= 80
        r = get(srv, "/modules")
        assert r.status == 200, r.body
        assert r.json() == {"loaded": []}, r.json()
    finally:
        assert srv.stop() == 0, srv.output()


def test_a_served_fastapi_app_loads_not_ringbolts_openapi_generator() -> None:
    """A FastAPI app's document is FastAPI's: its worker never imports ringbolt's generator
    (0.2-0.3 MB of VmRSS; docs/deployment.md, "Memory"), before or after /openapi.json."""
    srv = ServerProcess("lean_fastapi_app:app", "--threads", "1")
    try:
        assert load(srv, 8, 0.5) >= 80
        doc = get(srv, "/openapi.json")
        assert doc.status == 200 and "/modules" in doc.json()["paths"], doc.body
        r = get(srv, "/modules")
        assert r.status == 200, r.body
        assert r.json() == {"loaded": []}, r.json()
    finally:
        assert srv.stop() == 0, srv.output()


def http3_libraries_mapped(pid: int) -> set[str]:
    """Which of HTTP/3's libraries the process `pid` has mapped (/proc/PID/maps)."""
    with open(f"/proc/{pid}/maps") as maps:
        return {m.group(1) for line in maps if (m := HTTP3_LIBRARY.search(line.rstrip()))}


def plain_hello(srv: ServerProcess) -> tuple[int, bytes]:
    r = get(srv, "/")
    return r.status, r.body


def tls_hello(srv: ServerProcess) -> tuple[int, bytes]:
    status, _, body = tls_get(srv, "/")
    return status, body


def h3_hello(srv: ServerProcess) -> tuple[int, bytes]:
    r = h3_client.get(srv.port, "/")
    return r.status, bytes(r.body)


@pytest.mark.parametrize("args, ask, mapped", [
    ((), plain_hello, set()),
    (("tls",), tls_hello, set()),
    (("tls", "--http3"), h3_hello, {"libngtcp2", "libngtcp2_crypto_gnutls", "libnghttp3", "libgnutls"}),
], ids=["plain", "tls", "tls-http3"])
def test_http3_libraries_are_mapped_only_with_http3(certs: Path, args: tuple[str, ...],  # noqa: F811
                                                     ask: Callable[[ServerProcess], tuple[int, bytes]],
                                                     mapped: set[str]) -> None:
    """A served app maps libngtcp2, libnghttp3 and GnuTLS (and GnuTLS its own) only with
    --http3: the extension does not link them (pymod/native/h3_libraries.hpp), and once
    loaded they serve HTTP/3 requests."""
    argv = [a for arg in args for a in (tls_args(certs) if arg == "tls" else [arg])]
    srv = ServerProcess("h2_app:app", *argv, "--threads", "1")
    try:
        status, body = ask(srv)
        assert (status, json.loads(body)) == (200, {"message": "Hello, World!"}), srv.output()
        assert http3_libraries_mapped(srv.proc.pid) == mapped
    finally:
        assert srv.stop() == 0, srv.output()


def test_http3_without_its_libraries_is_refused_naming_the_cause(certs: Path, tmp_path: Path) -> None:  # noqa: F811
    """The package without its _h3libs module (what links HTTP/3's libraries): --http3 is
    refused at start-up with the loader's reason; a server without it starts as before."""
    package = Path(_native.__file__).parent
    copy = tmp_path / "ringbolt"
    copy.mkdir()
    for entry in package.iterdir():
        if not entry.name.startswith("_h3libs."):
            (copy / entry.name).symlink_to(entry)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "ringbolt", "serve", "h2_app:app", "--port", "0", *tls_args(certs), "--http3"]
    out = subprocess.run(cmd, cwd=Path(__file__).parent / "apps", env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "ringbolt: error: http3: HTTP/3 is unavailable: " in out.stderr, out.stderr
    assert f"{copy}/_h3libs." in out.stderr and "No such file or directory" in out.stderr, out.stderr


def _resizes_rings() -> bool:
    """The kernel resizes io_uring's queues (6.13+) and the ring can be resized
    (DEFER_TASKRUN): the completion queue then starts small."""
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())  # type: ignore[union-attr]
    return (major, minor) >= (6, 13) and bool(_native.probe_io_uring().get("defer_taskrun"))


@pytest.mark.skipif("io_uring" not in lane_backends(), reason="the completion queue is io_uring's")
def test_a_hosted_loops_ring_keeps_its_largest_completion_queue() -> None:
    """An app with async routes on one reactor hosts its event loop there, and the ring is
    shared with the loop's stand-in thread: not DEFER_TASKRUN, which the kernel's resize
    needs, so its queue is the largest from the start."""
    srv = ServerProcess("memory_app:app", "--threads", "1", "--metrics", env={"RINGBOLT_IO": "io_uring"})
    try:
        assert metric_totals(get(srv, "/metrics").body.decode())["cq_entries"] == 16384
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.mark.skipif("io_uring" not in lane_backends(), reason="the completion queue is io_uring's")
def test_a_reactors_own_completion_queue_starts_small_and_serves_a_burst() -> None:
    """A reactor's own ring (here: the event loop not hosted) starts its completion queue at
    2,048 entries where the kernel resizes rings (16,384, its largest, elsewhere), 32 KiB
    where it was 256. 2,600 requests sent while the server is stopped (SIGSTOP) are all
    answered; where their completions overflowed the queue (the kernel posts a stopped
    reactor's in batches, so not every time), that turn grew it fourfold, once. The growth
    itself is tests/unit/uring/uring_backend_test.cpp's
    AnOwnRingsQueueStartsSmallAndGrowsOnItsFirstOverflow, which overflows it every time."""
    import resource

    n = 2600
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 256:
        assert hard == resource.RLIM_INFINITY or hard >= n + 256, f"RLIMIT_NOFILE hard limit {hard} < {n + 256}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, hard))
    srv = ServerProcess("memory_app:app", "--threads", "1", "--metrics",
                        env={"RINGBOLT_IO": "io_uring", "RINGBOLT_HOST_LOOP": "0"})
    try:
        first = metric_totals(get(srv, "/metrics").body.decode())
        if not _resizes_rings():
            assert first["cq_entries"] == 16384, first  # no resize here: the largest from the start
            return
        assert (first["cq_entries"], first["cq_grows"], first["cq_overflows"]) == (2048, 0, 0), first
        socks = [srv.connect(timeout=30) for _ in range(n)]
        try:
            for _ in range(2):
                os.kill(srv.proc.pid, signal.SIGSTOP)
                try:
                    for s in socks:
                        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                finally:
                    os.kill(srv.proc.pid, signal.SIGCONT)
                read_answers(socks)
            after = metric_totals(get(srv, "/metrics").body.decode())
            queue = {k: v for k, v in after.items() if k.startswith("cq")}
            print(f"after two bursts of {n}: {queue}")
            if after["cq_overflows"]:
                assert (after["cq_entries"], after["cq_grows"]) == (8192, 1), queue
            else:
                assert (after["cq_entries"], after["cq_grows"]) == (2048, 0), queue
            assert load(srv, 64, 1.0) >= 640  # and it serves on
        finally:
            for s in socks:
                s.close()
    finally:
        assert srv.stop() == 0, srv.output()
