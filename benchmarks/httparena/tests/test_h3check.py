"""h3check.py (validate.sh's h2 checks made over HTTP/3) can fail: against an HTTP/3
server that answers other things (tools/load/h3_testserver.py, aioquic: "Hello, World!"
on /, 404 elsewhere) only the ALPN check passes, and against a port where nothing
listens the connection fails. ringbolt's own answers pass it in test_smoke.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from arena import validate

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTSERVER = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "load", "h3_testserver.py")
PYTHON = os.environ.get("RINGBOLT_PYTHON", sys.executable)


def test_wrong_answers_fail(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = subprocess.Popen([PYTHON, TESTSERVER, "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline().split()[1])  # type: ignore[union-attr]
        base = validate.run_h3(PYTHON, "baseline-h3", port, str(tmp_path / "b"))
        static = validate.run_h3(PYTHON, "static-h3", port, str(tmp_path / "s"))
    finally:
        srv.terminate()  # the server this test started, by its Popen handle
        srv.wait(timeout=5)
    assert (base.ok, base.passed, base.failed) == (False, 1, 3), base.output
    assert "PASS [HTTP/3 protocol negotiation] (ALPN h3)" in base.output
    assert any("expected body '55', got HTTP 404" in f for f in base.failures), base.failures
    # the 404 check passes (nonexistent.txt is not there either); the rest fail
    assert (static.ok, static.passed, static.failed) == (False, 2, 4), static.output
    assert any("expected Content-Type 'text/css'" in f for f in static.failures), static.failures


def test_nothing_listening_fails(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    v = validate.run_h3(PYTHON, "baseline-h3", port, str(tmp_path))
    assert (v.ok, v.passed, v.failed) == (False, 0, 1), v.output
    assert "no QUIC connection" in v.failures[0]
