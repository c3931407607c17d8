"""Owns: end-to-end tests of ringbolt-load against tools/load/testserver.py — exact
request counts with -n, status-code counting, chunked and close-delimited bodies,
pipelining, reconnects after the server closes, timeouts, --json shape and the
constant-rate mode.

Run: python3 -m pytest tools/load/test_ringbolt_load.py   (builds the binary via make
if it is missing; needs liburing-dev and a C++20 compiler)
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tool_build import built

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def binary() -> Path:
    return built("ringbolt-load")


@pytest.fixture(scope="session")
def server():
    proc = subprocess.Popen([sys.executable, str(HERE / "testserver.py"), "0"], stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()  # only the server this fixture started, by its Popen handle
        proc.wait(timeout=5)


def stats(base: str, reset: bool = False) -> dict:
    with urllib.request.urlopen(base + ("/__reset" if reset else "/__stats"), timeout=5) as resp:
        return {} if reset else json.loads(resp.read())


def load(binary: Path, url: str, *args: str, timeout: float = 30) -> dict:
    out = subprocess.run([str(binary), "--json", *args, url], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_n_counts_exactly(binary, server):
    stats(server, reset=True)
    r = load(binary, server + "/", "-c", "4", "-n", "300")
    assert r["requests"] == 300
    assert r["status"] == {"200": 300}
    assert r["errors"]["total"] == 0
    assert r["reconnects"] == 0
    assert r["latency_us"]["count"] == 300
    # without warm-up the server sees exactly the measured requests
    seen = stats(server)
    assert seen["requests"] == 300
    assert seen["connections"] == 4 + 1  # ours, and the one asking for the stats


def test_status_codes_counted(binary, server):
    r = load(binary, server + "/status/503", "-c", "2", "-n", "50")
    assert r["status"] == {"503": 50}
    assert r["non_2xx_3xx"] == 50
    r = load(binary, server + "/nowhere", "-c", "1", "-n", "7")
    assert r["status"] == {"404": 7}


def test_chunked_and_big_bodies(binary, server):
    r = load(binary, server + "/chunked", "-c", "3", "-n", "200")
    assert r["status"] == {"200": 200} and r["errors"]["total"] == 0
    r = load(binary, server + "/big", "-c", "2", "-n", "40")
    assert r["status"] == {"200": 40} and r["errors"]["total"] == 0
    assert r["bytes"] > 40 * 100000


@pytest.mark.parametrize("path", ["/chunked", "/", "/big"])
def test_pipelining_keeps_order_and_count(binary, server, path):
    stats(server, reset=True)
    r = load(binary, server + path, "-c", "2", "-p", "16", "-n", "640")
    assert r["requests"] == 640
    assert r["status"] == {"200": 640}
    assert r["errors"]["total"] == 0
    assert stats(server)["requests"] == 640


@pytest.mark.parametrize("path", ["/close", "/http10", "/http10-until-close"])
def test_server_close_is_reconnected(binary, server, path):
    stats(server, reset=True)
    r = load(binary, server + path, "-c", "2", "-n", "60")
    assert r["requests"] == 60
    assert r["status"] == {"200": 60}
    assert r["errors"]["total"] == 0
    # every response closes its connection: one reconnect per response but the last
    # of each connection, give or take the last ones
    assert 56 <= r["reconnects"] <= 60
    assert stats(server)["connections"] >= 58


def test_close_with_pipelined_requests_requeues(binary, server):
    # the 5th response on every connection says close: the requests pipelined behind
    # it are sent again on the new connection, not lost and not counted as errors
    stats(server, reset=True)
    r = load(binary, server + "/close-after/5", "-c", "2", "-p", "8", "-n", "100")
    assert r["requests"] == 100
    assert r["status"] == {"200": 100}
    assert r["errors"]["total"] == 0
    assert r["reconnects"] >= 18


def test_dropped_connection_counts_read_errors(binary, server):
    r = load(binary, server + "/drop", "-c", "2", "-n", "20", "--timeout", "1000")
    assert r["requests"] == 0
    assert r["errors"]["read"] == 20
    assert r["reconnects"] >= 19


def test_timeout(binary, server):
    r = load(binary, server + "/slow/400", "-c", "1", "-d", "0.5", "--timeout", "100")
    assert r["requests"] == 0
    assert 2 <= r["errors"]["timeout"] <= 5


def test_duration_and_body(binary, server):
    r = load(binary, server + "/echo", "-c", "2", "-d", "0.5", "-m", "POST", "-b", "x" * 1000,
             "-H", "X-Test: 1")
    assert 0.49 < r["duration_s"] < 0.52
    assert r["requests"] > 10
    assert r["status"] == {"200": r["requests"]}
    # 1000-byte echoes: the body really went out and came back
    assert r["bytes"] >= r["requests"] * 1000


def test_constant_rate_below_capacity(binary, server):
    r = load(binary, server + "/", "-c", "4", "-R", "400", "-d", "1")
    assert 360 <= r["requests"] <= 402
    assert r["mode"] == "constant-rate" and r["rate"] == 400
    assert r["latency_us"]["p50"] < 20000


def test_constant_rate_counts_stall_from_intended_time(binary, server):
    # one connection, 100 req/s, a server that takes 50 ms: after the first request the
    # next ones are due before the previous answer arrives, so intended-time latency
    # grows with the backlog instead of staying at 50 ms (no coordinated omission)
    r = load(binary, server + "/slow/50", "-c", "1", "-R", "100", "-d", "1", "--timeout", "5000")
    assert r["requests"] >= 15
    assert r["latency_us"]["max"] > 300_000
    assert r["unfinished"] > 20  # overdue requests at the end are reported


def test_bad_usage(binary):
    out = subprocess.run([str(binary), "-c", "0", "http://127.0.0.1:1/"], capture_output=True, text=True)
    assert out.returncode == 2
    out = subprocess.run([str(binary), "https://127.0.0.1:1/"], capture_output=True, text=True)
    assert out.returncode == 2 and "TLS" in out.stderr


def test_connection_refused_fails(binary):
    start = time.monotonic()
    out = subprocess.run([str(binary), "-c", "2", "-d", "60", "http://127.0.0.1:1/"], capture_output=True,
                         text=True, timeout=90)
    assert out.returncode == 1
    # Gives up at once instead of spinning for the whole 60 s; the bound leaves a loaded CI
    # machine plenty of room (it takes milliseconds) and still fails a tool that keeps trying.
    assert time.monotonic() - start < 30
