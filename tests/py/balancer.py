"""HAProxy (Debian's haproxy) in front of ringbolt for the end-to-end tests that need a real
load balancer (test_proxy_protocol.py, test_connection_facts.py): TCP mode, one frontend on
a free port per backend, each backend's lines as the test gives them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port


def haproxy() -> str:
    path = shutil.which("haproxy")
    if path is None:
        pytest.fail("haproxy is needed (apt-get install haproxy; make deps does)")
    return path


def start_haproxy(tmp_path: Path, backends: dict[str, str]) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """HAProxy in TCP mode with a frontend on a free port for each backend (its section's
    lines as given), started and listening; a backend server that refuses a connection is
    not retried but another chosen (redispatch). Returns the process and each backend's
    frontend port."""
    ports = {name: free_port() for name in backends}
    sections = "".join(f"""
frontend front_{name}
    bind 127.0.0.1:{ports[name]}
    default_backend back_{name}
backend back_{name}
    {lines}
""" for name, lines in backends.items())
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"""
global
    log stderr format raw local0 warning
    # a frontend whose port is taken fails to start instead of sharing it (SO_REUSEPORT)
    noreuseport
defaults
    mode tcp
    option redispatch
    retries 3
    timeout connect 5s
    timeout client 30s
    timeout server 30s
{sections}""")
    proc = subprocess.Popen([haproxy(), "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    waiting = set(ports.values())
    while waiting and time.monotonic() < deadline:
        for port in list(waiting):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                waiting.discard(port)
            except OSError:
                time.sleep(0.05)
    if waiting:
        proc.kill()
        raise AssertionError(f"haproxy did not listen: {proc.communicate()[0].decode(errors='replace')}")
    return proc, ports
