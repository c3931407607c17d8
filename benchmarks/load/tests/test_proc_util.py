"""proc_util.wait_listening, the wait every load script does for its server: it returns once
a real socket on 127.0.0.1 listens, fails as soon as the server process has died (naming
its exit status and what it wrote to stderr), and fails at its deadline otherwise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proc_util import free_port, wait_listening  # noqa: E402


def test_returns_once_the_port_listens() -> None:
    port = free_port()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    later = threading.Timer(0.3, srv.listen)  # listens only after the wait began
    later.start()
    try:
        t0 = time.monotonic()
        wait_listening("127.0.0.1", port, 10)
        assert 0.25 <= time.monotonic() - t0 < 5
        conn, _ = srv.accept()  # the wait's own connection reached this listener
        conn.close()
    finally:
        later.cancel()
        srv.close()


def test_fails_fast_with_the_exit_status_of_a_dead_server() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stderr.write('bind failed: boom'); sys.exit(3)"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match=r"exited with status 3 before listening on 127\.0\.0\.1:\d+: "
                                               r"bind failed: boom"):
            wait_listening("127.0.0.1", port, 60, proc)
        assert time.monotonic() - t0 < 10  # not the 60 s deadline
    finally:
        proc.wait(10)


def test_a_dead_server_without_a_stderr_pipe_still_names_its_status() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"], stderr=subprocess.DEVNULL)
    proc.wait(10)
    with pytest.raises(RuntimeError, match=r"exited with status 7 before listening"):
        wait_listening("127.0.0.1", free_port(), 60, proc)


def test_fails_at_the_deadline_when_nothing_listens() -> None:
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"nothing listens on 127\.0\.0\.1:{port} after 0\.5 s"):
        wait_listening("127.0.0.1", port, 0.5)
    assert 0.5 <= time.monotonic() - t0 < 3
