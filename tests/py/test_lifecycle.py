"""Start-up, logging, errors at start, signals and drain, on real processes."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import APPS, REPO, Reader, ServerProcess, free_port, get
from gate import drain_while_held


def test_startup_line_names_address_backend_threads():
    srv = ServerProcess("basic:app", "--threads", "1")
    try:
        assert get(srv, "/").status == 200
    finally:
        assert srv.stop() == 0
    out = srv.output()
    assert f"serving on http://127.0.0.1:{srv.port}" in out
    backend = os.environ.get("RINGBOLT_IO") or "io_uring"
    assert f"io: {backend}" in out and "threads: 1" in out


def test_traceback_logged_for_500_and_server_survives():
    srv = ServerProcess("slow:app", "--threads", "1")
    try:
        for _ in range(3):
            assert get(srv, "/boom").status == 500
        assert get(srv, "/slow?s=0").status == 200
    finally:
        assert srv.stop() == 0
    out = srv.output()
    assert "Exception in handler for GET /boom" in out
    assert "Traceback (most recent call last)" in out and "ValueError: kaboom-marker" in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_cleanly(sig):
    # An idle keep-alive connection must not hold the drain up: the drain closes it after
    # its grace and exits long before the 300 s graceful timeout. One that waited for the
    # timeout would still run when stop() gives up at 60 s (killed: not 0).
    srv = ServerProcess("basic:app", "--timeout-graceful-shutdown", "300")
    assert get(srv, "/").status == 200
    idle = srv.connect()
    assert srv.stop(sig, timeout=60) == 0
    assert Reader(idle).closed()
    idle.close()
    assert "draining" in srv.output()


def test_drain_finishes_in_flight_request():
    """SIGTERM while a handler holds a request (on the gate): the process does not exit
    while the request is held; once released, the request is answered in full, the process
    exits 0 and the port is closed. (The handler runs on the reactor here, so the listener
    only closes once it returns.)"""
    port, r = drain_while_held("/hold", "in-flight", listener_closes=False)
    assert r.header("connection") == "close", r  # answered during the drain
    # after the drain, new connections are refused
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run(
            [sys.executable, "-m", "ringbolt", "serve", "basic:app", "--app-dir", str(APPS), "--port", str(port)],
            capture_output=True, text=True, timeout=30, cwd=str(REPO),
        )
    assert p.returncode == 1
    assert "Address already in use" in p.stderr and f"127.0.0.1:{port}" in p.stderr


def _blocked(env_io: str, port: int, *args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).parent / "seccomp_block.py"), sys.executable, "-m", "ringbolt",
            "serve", "basic:app", "--app-dir", str(APPS), "--port", str(port), *args]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the seccomp filter uses x86_64 syscall numbers")
def test_io_uring_forced_but_blocked_names_the_cause():
    p = subprocess.run(_blocked("io_uring", free_port()), capture_output=True, text=True, timeout=30, cwd=str(REPO),
                       env={**os.environ, "RINGBOLT_IO": "io_uring"})
    assert p.returncode == 1, p.stderr
    assert "io_uring is blocked (EPERM)" in p.stderr and "seccomp" in p.stderr


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the seccomp filter uses x86_64 syscall numbers")
def test_io_uring_blocked_falls_back_to_epoll():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "RINGBOLT_IO"}
    proc = subprocess.Popen(_blocked("auto", port, "--threads", "2"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=str(REPO), env=env)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.05)
        with s:
            s.sendall(b"GET /users/7 HTTP/1.1\r\nHost: t\r\n\r\n" * 3)
            rd = Reader(s)
            for _ in range(3):
                assert rd.read().json() == {"id": 7, "type": "int"}
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=15)[0].decode()
    assert proc.returncode == 0, out
    assert "io_uring is blocked (EPERM)" in out and "falling back to epoll" in out
    assert "io: epoll (fallback: io_uring is blocked" in out


def test_bad_app_spec():
    p = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "no_such_module:app", "--app-dir", str(APPS)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "could not import 'no_such_module'" in p.stderr


def test_doctor_reports_io_uring():
    p = subprocess.run([sys.executable, "-m", "ringbolt", "doctor"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    assert "io_uring:          available" in p.stdout and "multishot_recv:  True" in p.stdout


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the seccomp filter uses x86_64 syscall numbers")
@pytest.mark.parametrize("env_io, code, will_use", [
    ("", 0, "will use:          epoll (fallback: io_uring is blocked (EPERM)"),  # what serve does then
    ("io_uring", 1, "will use:          nothing: RINGBOLT_IO=io_uring refuses to start without io_uring"),
    ("epoll", 0, "will use:          epoll (requested: RINGBOLT_IO=epoll)"),
])
def test_doctor_says_what_serve_will_use_when_io_uring_is_blocked(env_io, code, will_use):
    cmd = [sys.executable, str(Path(__file__).parent / "seccomp_block.py"), sys.executable, "-m", "ringbolt", "doctor"]
    env = {**{k: v for k, v in os.environ.items() if k != "RINGBOLT_IO"}, "RINGBOLT_IO": env_io}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == code, p.stdout + p.stderr
    assert "io_uring:          unavailable" in p.stdout and "reason:          io_uring is blocked (EPERM)" in p.stdout
    assert will_use in p.stdout and "required" not in p.stdout, p.stdout


@pytest.mark.skipif(not __import__("shutil").which("wrk"), reason="wrk is not installed")
def test_bench_command_measures_an_app(tmp_path):
    out = tmp_path / "bench.md"
    p = subprocess.run(
        [sys.executable, "-m", "ringbolt", "bench", "tests/py/apps/basic.py:app", "--path", "/users/7",
         "--duration", "1", "--rounds", "1", "--connections", "8", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=str(REPO),
    )
    assert p.returncode == 0, p.stdout + p.stderr
    report = out.read_text()
    row = next(line for line in report.splitlines() if line.startswith("| app |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[1]) > 0  # req/s measured
    assert cells[-3:] == ["0", "0", "1/1"]  # no non-2xx, no socket errors, the round ran
