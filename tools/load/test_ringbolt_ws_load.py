"""Owns: end-to-end tests of ringbolt-ws-load against tools/load/ws_testserver.py (a
`websockets` echo server with routes that misbehave on purpose) — exact message counts
with -n, text and binary, 32 B and 16 KiB messages, pipelining, fragmented echoes and
server pings, corrupted, reordered and missing echoes, server closes, failed handshakes,
--json shape and usage errors; and the C++ unit tests of the codec (ws_codec_test.cpp).

Run: python3 -m pytest tools/load/test_ringbolt_ws_load.py   (builds the binary via make
if it is missing; needs liburing-dev, a C++20 compiler and the websockets package)
"""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tool_build import built

pytest.importorskip("websockets")

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def binary() -> Path:
    return built("ringbolt-ws-load")


@pytest.fixture(scope="session")
def port():
    proc = subprocess.Popen([sys.executable, str(HERE / "ws_testserver.py"), "0"], stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield int(line.split()[1])
    finally:
        proc.terminate()  # only the server this fixture started, by its Popen handle
        proc.wait(timeout=5)


def stats(port: int, reset: bool = False) -> dict:
    path = "/__reset" if reset else "/__stats"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return json.loads(resp.read())


def load(binary: Path, port: int, path: str, *args: str, expect_rc: int = 0, timeout: float = 30) -> dict:
    out = subprocess.run([str(binary), "--json", *args, f"ws://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == expect_rc, (out.returncode, out.stdout, out.stderr)
    return json.loads(out.stdout)


# (size, extra args): every message is checked byte for byte, and the server counts
# exactly the messages the generator reports
EXACT_CASES = [
    ("32", []),
    ("32", ["--text"]),
    ("16k", []),
    ("16k", ["--text"]),
    ("0", []),
    ("200000", []),  # 64-bit length field, several receive buffers per echo
    ("32", ["-p", "16"]),
    ("16k", ["-p", "4", "-t", "2"]),
]


@pytest.mark.parametrize("size,extra", EXACT_CASES)
def test_exact_counts(binary, port, size, extra):
    stats(port, reset=True)
    r = load(binary, port, "/echo", "-c", "8", "-n", "400", "-s", size, *extra)
    assert r["messages"] == 400
    assert r["errors"]["total"] == 0, r
    assert r["handshakes"] == 8 and r["reconnects"] == 0
    assert r["latency_us"]["count"] == 400
    assert r["opcode"] == ("text" if "--text" in extra else "binary")
    s = stats(port)
    assert s["messages"] == 400, s  # nothing sent that was not counted, nothing counted twice
    assert s["connections"] == 8


def test_duration_json_shape(binary, port):
    r = load(binary, port, "/echo", "-c", "4", "-d", "500ms", "-s", "64")
    assert r["messages"] > 0 and r["messages_per_s"] > 0
    assert 0.49 < r["duration_s"] < 0.6
    assert r["bytes"] >= r["messages"] * (64 + 2)
    for key in ("p50", "p90", "p99", "p99_9", "max"):
        assert r["latency_us"][key] >= r["latency_us"]["min"]
    assert r["errors"]["total"] == 0
    assert r["unfinished"] <= 4  # one in flight per connection when the window closes


def test_fragmented_echo_and_server_pings(binary, port):
    stats(port, reset=True)
    r = load(binary, port, "/fragment", "-c", "4", "-n", "200", "-s", "3000")
    assert r["messages"] == 200 and r["errors"]["total"] == 0, r
    assert r["pings"] == 200  # one ping before every echo, each answered
    assert stats(port)["pongs"] >= 196  # the last pongs may still be on their way at exit


def test_corrupted_echo_is_a_mismatch(binary, port):
    # one connection: the server counts every K-th message per connection, and how -n
    # spreads over several connections is up to timing
    r = load(binary, port, "/corrupt/10", "-c", "1", "-n", "400", "-s", "64")
    assert r["errors"]["mismatch"] == 40, r
    assert r["messages"] == 360


def test_corrupted_text_echo_is_a_mismatch(binary, port):
    r = load(binary, port, "/corrupt/5", "-c", "1", "-n", "100", "-s", "16k", "--text")
    assert r["errors"]["mismatch"] == 20 and r["messages"] == 80, r


def test_reordered_echo_is_a_mismatch(binary, port):
    # /swap answers each pair in reverse order: same lengths, same pattern, only the
    # sequence number in the payload tells them apart
    r = load(binary, port, "/swap", "-c", "1", "-p", "2", "-n", "100", "-s", "64")
    assert r["errors"]["mismatch"] == 100 and r["messages"] == 0, r


def test_missing_echo_times_out(binary, port):
    # /swap holds a lone message for ever: with one in flight, nothing comes back
    r = load(binary, port, "/swap", "-c", "2", "-d", "1", "--timeout", "200", "-s", "32")
    assert r["messages"] == 0
    assert r["errors"]["timeout"] >= 4, r
    assert r["reconnects"] >= 4


def test_server_close_reconnects(binary, port):
    r = load(binary, port, "/close-after/5", "-c", "4", "-n", "200", "-s", "32")
    assert r["server_closes"] >= 30
    assert r["reconnects"] >= 30
    # an echo sent in the moment between the 5th echo and the close is lost: a read error
    assert r["messages"] + r["errors"]["read"] == 200, r
    assert r["errors"]["total"] == r["errors"]["read"]


@pytest.mark.parametrize("path,reason", [("/bad-accept", "Sec-WebSocket-Accept"), ("/reject", "403")])
def test_failed_handshake(binary, port, path, reason):
    r = load(binary, port, path, "-c", "2", "-d", "2", expect_rc=1)
    assert r["messages"] == 0 and r["handshakes"] == 0
    assert r["errors"]["handshake"] >= 9
    assert reason in r["first_error"]


def test_nothing_listening(binary):
    out = subprocess.run([str(binary), "-c", "2", "-d", "5", "ws://127.0.0.1:1/"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1 and "cannot open" in out.stderr


@pytest.mark.parametrize("args", [["http://127.0.0.1:1/"], ["-s", "65m", "ws://127.0.0.1:1/"],
                                  ["-p", "0", "ws://127.0.0.1:1/"], []])
def test_usage_errors(binary, args):
    out = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2


def test_codec_unit_tests():
    """The C++ unit tests of the frame parser, frame building and handshake check
    (ws_codec_test.cpp), built with ASan and UBSan."""
    build = subprocess.run(["make", "-C", str(HERE), "ws-codec-test"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    out = subprocess.run([str(HERE / "ws-codec-test")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "all passed" in out.stdout
