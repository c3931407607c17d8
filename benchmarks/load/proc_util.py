"""What the load scripts read of a server from /proc (its process tree, CPU time) and a
free loopback port, the --server-cpu/--load-cpu options, the waits for a server's listening
socket and first answer (a TLS client's context for a self-signed one), and the nginx.conf of a peer run. Shared by the load scripts
(ab_ringbolt.py, static_bench.py, stream_bench.py, instr_per_request.py, many_conns_bench.py...)
and the HttpArena runner's tests."""
from __future__ import annotations

import argparse
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

# The process tree and the /proc/<pid>/stat fields are the HttpArena runner's (one copy).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "httparena"))
from arena.procs import parse_stat, tree  # noqa: E402,F401  (tree: re-exported to the load scripts)

TCK = os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the server's processes, every thread."""
    user = system = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                utime, stime, _, _ = parse_stat(f.read())
            user += utime
            system += stime
        except OSError:
            pass
    return user / TCK, system / TCK


def add_pinning(parser: argparse.ArgumentParser) -> None:
    """--server-cpu and --load-cpu: the CPU lists (taskset -c) the server and the load
    generator run on, 0 and 1 by default, so they never share a core."""
    parser.add_argument("--server-cpu", default="0", help="taskset -c list for the server (default 0)")
    parser.add_argument("--load-cpu", default="1", help="taskset -c list for the load generator (default 1)")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _stderr_tail(proc: subprocess.Popen, limit: int = 2000) -> str:
    """What a dead process left in its stderr pipe (the last ``limit`` characters), read
    without blocking: a child of it may still hold the pipe open."""
    if proc.stderr is None:
        return ""
    try:
        os.set_blocking(proc.stderr.fileno(), False)
        data = proc.stderr.read()
    except (OSError, ValueError):
        return ""
    if not data:
        return ""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return ": " + text[-limit:].strip()


def wait_listening(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Until something accepts a TCP connection at ``host``:``port`` (tries 50 ms apart).
    RuntimeError after ``timeout`` seconds, or as soon as ``proc`` (the server, if given)
    has exited, naming its exit status and the end of its stderr when that is a pipe."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before listening on "
                               f"{host}:{port}{_stderr_tail(proc)}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g} s") from None
            time.sleep(0.05)


def insecure_tls() -> ssl.SSLContext:
    """A client context that takes any certificate: the run's own self-signed one."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wait_answering(proc: subprocess.Popen, log: Path, probe: Callable[[], object], timeout: float = 30) -> None:
    """Until ``probe()`` (a request to the server ``proc``) returns without OSError (tries
    50 ms apart). RuntimeError as soon as ``proc`` has exited, with the end of its ``log``,
    or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            probe()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer from the server after {timeout:g} s") from None
            time.sleep(0.05)


def wait_for_200(url: str, label: str, tries: int = 300) -> None:
    """Until ``url`` answers 200 (tries 50 ms apart); RuntimeError naming ``label`` if not."""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{label}: no answer at {url}")


def stop(proc: subprocess.Popen, timeout: float, group: bool = False) -> None:
    """SIGTERM, then SIGKILL if ``proc`` has not exited within ``timeout`` seconds; ``group``:
    to its whole process group (a server whose workers outlive their parent)."""
    def send(sig: int) -> None:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    send(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()


def nginx_conf(tmp: str, port: int, server: str, *, connections: int, http: str = "",
               listen: str = "", user_root: bool = False) -> str:
    """An nginx.conf for one worker in the foreground whose files all go under ``tmp``: no
    access log, sendfile, long keep-alive, ``http`` lines added to the http block, a server
    on 127.0.0.1:``port`` (``listen``: its options) whose block holds ``server``."""
    user = "user root;\n" if user_root else ""
    http = http + "\n" if http else ""
    return f"""worker_processes 1;
daemon off;
{user}pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    keepalive_requests 10000000;
{http}    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port}{listen};
{server}
    }}
}}
"""
