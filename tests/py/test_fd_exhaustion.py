"""A server out of file descriptors (RLIMIT_NOFILE 48, 80 clients) must pause accepting
instead of spinning on EMFILE, log the condition a bounded number of times, and serve
again once the clients leave; on both kernel backends."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import threading
import time

import pytest

from conftest import ServerProcess, get

CLIENTS = 80
NOFILE = 48
HOLD_S = 3.0
MAX_CPU_S = 1.5  # a spin costs about one core per reactor: ~3 CPU-s over the window
MAX_ACCEPT_LINES = 50
BACKENDS = ["io_uring", "epoll"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    # `make test-py` runs the suite once per RINGBOLT_IO: then only that backend here.
    chosen = os.environ.get("RINGBOLT_IO")
    if chosen and chosen != "auto" and chosen != request.param:
        pytest.skip(f"RINGBOLT_IO={chosen}")
    return request.param


def low_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_clients(port: int) -> list[socket.socket]:
    """CLIENTS connections, each with one request sent; the kernel's backlog takes those
    the server cannot accept."""
    socks = []
    for _ in range(CLIENTS):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        socks.append(s)
    return socks


def get_eventually(srv: ServerProcess, path: str, within_s: float = 10.0) -> int:
    """Status of GET `path`, retried until `within_s`: accepting may resume only on the
    server's once-a-second retry."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return get(srv, path).status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_emfile_pauses_accept_instead_of_spinning(backend: str) -> None:
    srv = ServerProcess("basic:app", "--threads", "1", "--io", backend, preexec_fn=low_nofile)
    # Read the output all along: here a full pipe must not be what slows a spin down.
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(srv.proc.stdout.readline, b"")), daemon=True)
    reader.start()
    try:
        socks = open_clients(srv.port)
        before = cpu_seconds(srv.proc.pid)
        time.sleep(HOLD_S)
        spent = cpu_seconds(srv.proc.pid) - before
        for s in socks:
            s.close()
        assert spent < MAX_CPU_S, f"{spent:.2f} CPU-s in {HOLD_S} s with {CLIENTS} clients over {NOFILE} fds"
        assert get_eventually(srv, "/") == 200
    finally:
        code = srv.stop()
        reader.join(5)
    out = b"".join(lines).decode(errors="replace")
    accept_lines = [line for line in out.splitlines() if "accept:" in line]
    assert 0 < len(accept_lines) < MAX_ACCEPT_LINES, f"{len(accept_lines)} accept lines:\n{out[-2000:]}"
    assert code == 0, out[-2000:]
