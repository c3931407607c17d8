"""A redis-server of the test's own, on a free port, without persistence; stopped (and
its files gone) when the context ends."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Iterator

from conftest import free_port, stop_process


def _pong(url: str) -> bool:
    import redis  # ringbolt[redis]'s client, as the store under test uses it

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False
    finally:
        client.close()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Yields the server's URL (``redis://127.0.0.1:PORT/0``)."""
    with redis_process() as (url, _):
        yield url


@contextlib.contextmanager
def redis_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yields the server's URL and its process (a test that stops it with SIGSTOP)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (tools/install-deps.sh installs it)"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ringbolt-redis-") as d:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", d, "--daemonize", "no"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 10
            while not _pong(url):
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                assert time.monotonic() < deadline, "redis-server did not answer PING in 10 s"
                time.sleep(0.02)
            yield url, proc
        finally:
            proc.send_signal(signal.SIGCONT)  # a stopped server would not see SIGTERM
            stop_process(proc)
