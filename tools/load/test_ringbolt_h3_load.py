"""Owns: end-to-end tests of ringbolt-h3-load against tools/load/h3_testserver.py (aioquic's
HTTP/3 server, independent of ringbolt's) over real UDP on 127.0.0.1 — exact request
counts with -n, a one-second run, many streams on one connection, status codes, request
and response bodies, URI lists (-i), stream timeouts and resets, refused and silent servers, --json
shape and usage errors.

Run: python3 -m pytest tools/load/test_ringbolt_h3_load.py   (builds the binary via make
if it is missing; needs libngtcp2-crypto-gnutls-dev, libnghttp3-dev and the aioquic package)
"""
from __future__ import annotations

import json
import os
import signal
import threading
import socket
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
    return built("ringbolt-h3-load")


class Server:
    def __init__(self, proc: subprocess.Popen, udp_port: int, stats_port: int) -> None:
        self.proc = proc
        self.url = f"https://127.0.0.1:{udp_port}"
        self._stats = f"http://127.0.0.1:{stats_port}"

    def stats(self) -> dict:
        with urllib.request.urlopen(self._stats + "/__stats", timeout=5) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        with urllib.request.urlopen(self._stats + "/__reset", timeout=5) as resp:
            resp.read()


@pytest.fixture(scope="session")
def server():
    proc = subprocess.Popen([sys.executable, str(HERE / "h3_testserver.py"), "0"], stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        words = line.split()
        yield Server(proc, int(words[1]), int(words[3]))
    finally:
        proc.terminate()  # only the server this fixture started, by its Popen handle
        proc.wait(timeout=5)


def load(binary: Path, url: str, *args: str, timeout: float = 60) -> dict:
    out = subprocess.run([str(binary), "--json", *args, url], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_n_counts_exactly(binary, server):
    server.reset()
    r = load(binary, server.url + "/", "-c", "4", "-p", "8", "-n", "400")
    assert r["requests"] == 400
    assert r["status"] == {"200": 400}
    assert r["errors"]["total"] == 0
    assert r["reconnects"] == 0 and r["unfinished"] == 0
    assert r["latency_us"]["count"] == 400
    assert r["pipeline"] == 8 and r["connections"] == 4
    # without warm-up the server sees exactly the measured requests, on 4 QUIC connections
    seen = server.stats()
    assert seen["requests"] == 400
    assert seen["connections"] == 4


def test_one_second_run(binary, server):
    server.reset()
    r = load(binary, server.url + "/", "-c", "2", "--streams", "4", "-d", "1")
    assert 0.99 <= r["duration_s"] <= 1.01
    assert r["requests"] > 100
    assert r["status"] == {"200": r["requests"]}
    assert r["errors"]["total"] == 0
    assert r["requests_per_s"] == pytest.approx(r["requests"] / r["duration_s"], rel=1e-3)
    lat = r["latency_us"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    # what was measured was answered: the server saw at least that, plus the streams in flight
    seen = server.stats()["requests"]
    assert r["requests"] <= seen <= r["requests"] + r["unfinished"] + 2 * 4


def test_many_streams_on_one_connection(binary, server):
    server.reset()
    r = load(binary, server.url + "/", "-c", "1", "-p", "64", "-n", "640")
    assert r["status"] == {"200": 640} and r["errors"]["total"] == 0
    assert server.stats()["connections"] == 1


def test_more_streams_than_the_server_allows(binary, server):
    # aioquic allows 128 concurrent bidirectional streams: the rest wait for MAX_STREAMS
    r = load(binary, server.url + "/", "-c", "1", "-p", "300", "-n", "1500")
    assert r["status"] == {"200": 1500} and r["errors"]["total"] == 0
    assert r["reconnects"] == 0


def test_two_threads(binary, server):
    server.reset()
    r = load(binary, server.url + "/", "-t", "2", "-c", "4", "-p", "2", "-n", "200")
    assert r["threads"] == 2
    assert r["status"] == {"200": 200}
    assert server.stats()["requests"] == 200


def test_constant_rate(binary, server):
    r = load(binary, server.url + "/", "-c", "4", "-p", "4", "-R", "200", "-d", "2")
    assert r["mode"] == "constant-rate" and r["rate"] == 200
    assert 395 <= r["requests"] <= 400 and r["errors"]["total"] == 0
    # -n at 100 req/s: the 50th request is due 0.49 s after the start, so the run cannot be faster
    r = load(binary, server.url + "/", "-c", "2", "-p", "2", "-R", "100", "-n", "50")
    assert r["requests"] == 50
    assert 0.49 <= r["duration_s"] < 1.5


def test_constant_rate_charges_a_stall_in_full(binary, server):
    # the server is stopped 0.5 s into the run for 0.5 s: at 200 req/s about 100 requests
    # are due meanwhile, but only 8 can be in flight; the others wait as a backlog and each
    # is charged its wait from the intended time (a closed loop would hide all but 8)
    def stall():
        time.sleep(0.55)  # the run starts 50 ms after launch
        os.kill(server.proc.pid, signal.SIGSTOP)  # the server this module started
        time.sleep(0.5)
        os.kill(server.proc.pid, signal.SIGCONT)
    t = threading.Thread(target=stall)
    t.start()
    try:
        r = load(binary, server.url + "/", "-c", "2", "-p", "4", "-R", "200", "-d", "2")
    finally:
        t.join()
        os.kill(server.proc.pid, signal.SIGCONT)
    assert r["errors"]["total"] == 0
    assert r["requests"] >= 390
    lat = r["latency_us"]
    assert lat["p50"] < 100_000
    assert lat["p90"] >= 100_000
    assert lat["max"] >= 400_000


def test_overload_leaves_a_backlog(binary, server):
    r = load(binary, server.url + "/", "-c", "1", "-p", "1", "-R", "100000", "-d", "1")
    assert r["requests"] > 0 and r["errors"]["total"] == 0
    # about 100000 were due; the server answers a few thousand: the rest are unfinished
    assert r["unfinished"] > 10 * r["requests"]


def test_status_codes_counted(binary, server):
    r = load(binary, server.url + "/status/503", "-c", "2", "-n", "30")
    assert r["status"] == {"503": 30}
    assert r["non_2xx_3xx"] == 30
    r = load(binary, server.url + "/nowhere", "-c", "1", "-n", "7")
    assert r["status"] == {"404": 7}


def test_post_body_reaches_server(binary, server):
    server.reset()
    r = load(binary, server.url + "/echo", "-m", "POST", "--body-size", "64k", "-c", "2", "-p", "2", "-n", "20")
    assert r["status"] == {"200": 20} and r["errors"]["total"] == 0
    seen = server.stats()
    assert seen["paths"] == {"/echo": 20}
    assert seen["body_bytes"] == 20 * 65536
    assert r["bytes"] > 20 * 65536  # the echoes came back (plus QUIC and HTTP/3 framing)


def test_text_body_and_headers(binary, server):
    server.reset()
    r = load(binary, server.url + "/echo", "-b", "hello", "-H", "X-Test: 1", "-c", "1", "-n", "5")
    assert r["status"] == {"200": 5}
    assert server.stats()["body_bytes"] == 25


def test_big_responses(binary, server):
    r = load(binary, server.url + "/big", "-c", "2", "-p", "4", "-n", "40")
    assert r["status"] == {"200": 40} and r["errors"]["total"] == 0
    assert r["bytes"] > 40 * 100000


def test_timeouts_cancel_the_streams(binary, server):
    server.reset()
    r = load(binary, server.url + "/hold", "-c", "1", "-p", "3", "-n", "6", "--timeout", "300")
    assert r["requests"] == 0
    assert r["errors"]["timeout"] == 6 and r["errors"]["total"] == 6
    assert r["duration_s"] < 5
    seen = server.stats()
    assert seen["requests"] == 6
    assert seen["cancelled"] == 6  # each timed-out stream was reset/stopped, not left open


def test_reset_streams_are_read_errors(binary, server):
    r = load(binary, server.url + "/reset", "-c", "1", "-p", "3", "-n", "6")
    assert r["requests"] == 0
    assert r["errors"]["read"] == 6 and r["errors"]["total"] == 6
    assert r["reconnects"] == 0  # a reset stream does not cost the connection


def test_goaway_moves_to_a_new_connection(binary, server):
    server.reset()
    r = load(binary, server.url + "/goaway", "-c", "1", "-p", "1", "-n", "5")
    assert r["status"] == {"200": 5} and r["errors"]["total"] == 0
    # each response came with GOAWAY: the next request went on a new connection
    assert r["reconnects"] == 4
    assert server.stats()["connections"] == 5


def test_server_gone_ends_a_counted_run(binary):
    # a server that answered and then went away must not keep a -n run alive
    srv = subprocess.Popen([sys.executable, str(HERE / "h3_testserver.py"), "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline().split()[1])
        gen = subprocess.Popen([str(binary), "--json", "-c", "2", "-p", "2", "-n", "100000000", "--timeout", "300",
                                f"https://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        time.sleep(1.5)
    finally:
        srv.terminate()  # only the server this test started, by its Popen handle
        srv.wait(timeout=5)
    try:
        out, err = gen.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        gen.kill()  # the generator this test started, by its Popen handle
        gen.communicate()
        pytest.fail("ringbolt-h3-load kept retrying a server that is gone")
    assert gen.returncode == 0, err
    r = json.loads(out)
    assert r["requests"] > 0
    assert r["errors"]["connect"] >= 3 * 2 + 3
    assert "the server stopped answering" in r["first_error"]


def test_uri_list_rotates_per_request(binary, server, tmp_path):
    # h2load's -i format: full URIs (their host and port ignored: the URL operand's count),
    # a bare path, blank lines and CRLF; one connection takes them in turn from the first
    uris = tmp_path / "uris.txt"
    uris.write_text("https://localhost:8443/\r\n\n  https://example.invalid:1/big?x=1  \n/status/204\n")
    server.reset()
    r = load(binary, server.url + "/nowhere", "-i", str(uris), "-c", "1", "-p", "8", "-n", "300")
    assert r["errors"]["total"] == 0
    assert r["status"] == {"200": 200, "204": 100}
    assert server.stats()["paths"] == {"/": 100, "/big": 100, "/status/204": 100}
    # in order: with one stream the server sees /, /big, /status/204, / ...
    server.reset()
    r = load(binary, server.url + "/", "--input-file", str(uris), "-c", "1", "-p", "1", "-n", "4")
    assert r["status"] == {"200": 3, "204": 1}
    assert server.stats()["paths"] == {"/": 2, "/big": 1, "/status/204": 1}


def test_uri_list_on_many_connections(binary, server, tmp_path):
    uris = tmp_path / "uris.txt"
    uris.write_text("".join(f"/status/{200 + i}\n" for i in range(5)))
    server.reset()
    r = load(binary, server.url + "/", "-i", str(uris), "-c", "4", "-p", "4", "-n", "400")
    assert r["requests"] == 400 and r["errors"]["total"] == 0
    paths = server.stats()["paths"]
    # each connection rotates on its own: every path served, evenly up to one turn per connection
    assert set(paths) == {f"/status/{200 + i}" for i in range(5)}
    assert sum(paths.values()) == 400
    assert max(paths.values()) - min(paths.values()) <= 4
    assert r["status"] == {str(200 + i): paths[f"/status/{200 + i}"] for i in range(5)}


def test_refused_port_exits_quickly(binary):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nothing listens on the port now: the kernel answers with ICMP port unreachable
    out = subprocess.run([str(binary), "-d", "10", f"https://127.0.0.1:{port}/"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1
    assert "Connection refused" in out.stderr


def test_silent_server_is_a_handshake_timeout(binary):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))  # takes the datagrams and never answers
        port = s.getsockname()[1]
        out = subprocess.run([str(binary), "--json", "-c", "1", "--timeout", "100", "-d", "10",
                              f"https://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=10)
        assert s.recv(2048)[0] & 0x80  # what arrived is a QUIC long-header packet (the Initial)
    assert out.returncode == 1
    r = json.loads(out.stdout)
    assert r["requests"] == 0 and r["errors"]["connect"] >= 3


@pytest.mark.parametrize("args,message", [
    (["http://127.0.0.1:1/"], "only https://"),
    (["--body-size", "1g", "https://127.0.0.1:1/"], "bad body size"),
    (["-H", "nocolon", "https://127.0.0.1:1/"], "Name: value"),
    (["-p", "0", "https://127.0.0.1:1/"], "bad pipeline depth"),
    (["-R", "0", "https://127.0.0.1:1/"], "bad rate"),
    (["-H", "X-Many: 1"] * 65 + ["https://127.0.0.1:1/"], "at most 64 -H headers"),
    (["-i", "/nonexistent/uris.txt", "https://127.0.0.1:1/"], "cannot read URI list /nonexistent/uris.txt"),
])
def test_usage_errors(binary, args, message):
    out = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert message in out.stderr


@pytest.mark.parametrize("text,message", [
    ("", "holds no URI"),
    ("\n  \r\n", "holds no URI"),
    ("/ok\nstatic/reset.css\n", "line 2: not a URI"),
    ("/a b\n", "line 1: a space or control character"),
])
def test_bad_uri_lists(binary, tmp_path, text, message):
    uris = tmp_path / "uris.txt"
    uris.write_text(text)
    out = subprocess.run([str(binary), "-i", str(uris), "https://127.0.0.1:1/"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2
    assert message in out.stderr


def test_text_report(binary, server):
    out = subprocess.run([str(binary), "-c", "1", "-n", "10", server.url + "/"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ringbolt-h3-load " + server.url + "/")
    assert "streams 1" in out.stdout
    assert "requests      10 in" in out.stdout
    assert "status        200: 10" in out.stdout
