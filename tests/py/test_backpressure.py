"""Backpressure and observability on a live server: the concurrency cap (503 +
Retry-After), the connection cap, a client that never reads, and the metrics route."""

from __future__ import annotations

import re
import socket
import time

import pytest

from conftest import Reader, ServerProcess, get
from gate import WAIT, Gate


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _hold(srv: ServerProcess, gate: Gate, name: str, count: int) -> list[socket.socket]:
    """`count` fresh connections, each sending a request that the gate app holds."""
    socks = [srv.connect(timeout=WAIT) for _ in range(count)]
    for i, s in enumerate(socks):
        s.sendall(f"GET {gate.path('/hold', f'{name}{i}')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return socks


def _fill_cap_of_two(srv: ServerProcess, gate: Gate) -> list[socket.socket]:
    """Two requests held inside the app: a cap of 2 is full until the gate opens."""
    held = _hold(srv, gate, "held", 2)
    assert len(gate.wait_entered(2)) == 2, "the two requests under the cap did not reach the app"
    return held


def _release_held(gate: Gate, held: list[socket.socket]) -> None:
    """Opens the gate: each held request is answered in full."""
    gate.release()
    for i, s in enumerate(held):
        r = Reader(s).read()
        assert r.status == 200 and r.json() == {"released": f"held{i}"}, r
        s.close()


def test_concurrency_cap_answers_503_while_the_cap_is_full():
    """Two handlers are held inside the app (the cap of 2 is full, and stays full until the
    gate opens): every further request is answered 503 + Retry-After before the gate
    opens, never reaches the app, and the held ones are answered once it does. A 503 that
    waited for the busy handlers would never come while they are held: the read would time
    out. Handlers that block run on handler threads, so the reactor stays free to refuse."""
    srv = ServerProcess("gate_app:app", "--threads", "1", "--handler-threads", "2", "--limit-concurrency", "2")
    try:
        with Gate() as gate:
            held = _fill_cap_of_two(srv, gate)
            extra = _hold(srv, gate, "extra", 6)
            for s in extra:
                r = Reader(s).read()
                assert (r.status, r.header("retry-after")) == (503, "1"), r
                s.close()
            assert gate.held() == 2, "the refused requests must not have run"
            _release_held(gate, held)
            assert sorted(gate.entered()) == ["held0", "held1"]
        assert get(srv, "/fast/1").status == 200  # serving again once the load is gone
    finally:
        assert srv.stop() == 0


def test_connection_cap_holds_and_resumes():
    srv = ServerProcess("pressure:app", "--threads", "1", "--limit-connections", "4")
    try:
        held = [srv.connect() for _ in range(4)]
        for i, s in enumerate(held):
            s.sendall(f"GET /fast/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert Reader(s).read().status == 200
        # A fifth client completes the TCP handshake (backlog) but is not served while at the cap.
        extra = srv.connect(timeout=5)
        extra.sendall(b"GET /fast/99 HTTP/1.1\r\nHost: t\r\n\r\n")
        extra.settimeout(0.7)
        with pytest.raises(socket.timeout):
            extra.recv(100)
        held.pop().close()  # below the cap: accepting resumes, the waiting client is served
        extra.settimeout(5)
        assert Reader(extra).read().json() == {"n": 99}
        extra.close()
        for s in held:
            s.close()
    finally:
        assert srv.stop() == 0


def test_client_that_never_reads_is_bounded():
    srv = ServerProcess("pressure:app", "--threads", "1", "--write-timeout", "3")
    try:
        s = srv.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = _rss_kib(srv.proc.pid)
        # 20,000 pipelined requests for 64 KiB each (1.3 GB of responses if all were
        # produced), never reading a byte: the server must stop parsing and reading.
        req = b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * 100
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sent < 200 * len(req):
            try:
                sent += s.send(req[sent % len(req):])
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.5)
        after = _rss_kib(srv.proc.pid)
        assert after - before < 48 * 1024, f"RSS grew by {after - before} KiB"
        assert get(srv, "/fast/2").json() == {"n": 2}  # everyone else is still served
        s.close()
    finally:
        assert srv.stop() == 0


def test_slow_reader_gets_every_response_in_order():
    """Backpressure pauses, then resumes: a client that reads slowly still gets all of
    its pipelined responses, complete and in order."""
    srv = ServerProcess("pressure:app", "--threads", "1")
    try:
        with srv.connect(timeout=10) as s:
            n = 300  # 300 x 64 KiB = 19 MiB through a 1 MiB high-water mark
            s.sendall(b"".join(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" if i % 2 else
                               f"GET /fast/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(n)))
            rd = Reader(s)
            for i in range(n):
                r = rd.read()
                assert r.status == 200
                if i % 2:
                    assert len(r.body) == 65536
                else:
                    assert r.json() == {"n": i}
                if i % 50 == 0:
                    time.sleep(0.05)
    finally:
        assert srv.stop() == 0


_SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+Inf]+$')


def test_metrics_route_is_prometheus_text():
    srv = ServerProcess("pressure:app", "--threads", "2", "--metrics")
    try:
        for i in range(10):
            assert get(srv, f"/fast/{i}").status == 200
        assert get(srv, "/const").status == 200
        r = get(srv, "/metrics")
        assert r.status == 200
        assert r.header("content-type").startswith("text/plain; version=0.0.4")
        text = r.body.decode()
        types = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                types[name] = kind
                continue
            assert _SAMPLE.match(line), f"not Prometheus text: {line!r}"
        assert types["ringbolt_requests_total"] == "counter"
        assert types["ringbolt_request_duration_seconds"] == "histogram"
        assert types["ringbolt_app_queue_depth"] == "gauge"
        assert types["ringbolt_log_lines_dropped_total"] == "counter"
        assert re.search(r"^ringbolt_log_lines_dropped_total 0$", text, re.M)
        depth = sum(int(m) for m in re.findall(r'^ringbolt_app_queue_depth\{core="\d+"\} (\d+)$', text, re.M))
        assert depth == 0  # every request handed to Python has been answered
        total = sum(int(m) for m in re.findall(r'^ringbolt_requests_total\{core="\d+"\} (\d+)$', text, re.M))
        assert total >= 11
        count = re.search(r'^ringbolt_request_duration_seconds_count\{route="/fast/\{n:int\}"\} (\d+)$', text, re.M)
        assert count and int(count.group(1)) == 10
        inf = re.search(r'^ringbolt_request_duration_seconds_bucket\{route="/fast/\{n:int\}",le="\+Inf"\} (\d+)$', text, re.M)
        assert inf and int(inf.group(1)) == 10
    finally:
        assert srv.stop() == 0


def test_blocking_handlers_on_handler_threads_do_not_block_the_core():
    """With --handler-threads, a handler that blocks does not hold up its reactor: while
    four handlers are held inside the app at once (so blocking handlers overlap), other
    requests on the same core (native and Python) are answered. A blocked reactor would
    answer nothing until the gate opens: the reads would time out."""
    srv = ServerProcess("gate_app:app", "--threads", "1", "--handler-threads", "6")
    try:
        with Gate() as gate:
            held = [srv.connect(timeout=WAIT) for _ in range(4)]
            for i, s in enumerate(held):
                s.sendall(f"GET {gate.path('/hold', f'h{i}')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert len(gate.wait_entered(4)) == 4, f"blocking handlers did not overlap: {gate.entered()}"
            with srv.connect(timeout=WAIT) as s:
                s.sendall(b"GET /const HTTP/1.1\r\nHost: t\r\n\r\nGET /fast/3 HTTP/1.1\r\nHost: t\r\n\r\n")
                rd = Reader(s)
                assert rd.read().body == b"ok"
                assert rd.read().json() == {"n": 3}
            assert gate.held() == 4, "answered while the four handlers were still held"
            gate.release()
            for i, s in enumerate(held):
                assert Reader(s).read().json() == {"released": f"h{i}"}
                s.close()
    finally:
        assert srv.stop() == 0


def test_concurrency_cap_is_one_count_for_all_reactors_of_a_worker():
    """--limit-concurrency is process-wide: two reactors share the cap of 2. Two requests
    are held inside the app (the cap is full until the gate opens); twelve more, on fresh
    connections the kernel spreads over both reactors, are each answered 503 and none
    reaches the app. A cap per reactor would let some through on the reactor holding
    fewer than two (they would be held at the gate, and their 503 never come). Decided
    by the gate, not by how long a handler sleeps: no timing in the outcome."""
    srv = ServerProcess("gate_app:app", "--threads", "2", "--handler-threads", "4", "--limit-concurrency", "2")
    try:
        with Gate() as gate:
            held = _fill_cap_of_two(srv, gate)
            extra = _hold(srv, gate, "extra", 12)
            for i, s in enumerate(extra):
                try:
                    r = Reader(s).read()
                except OSError:  # timed out: the request got past the cap and is held at the gate
                    pytest.fail(f"extra{i} got no 503: it went past the cap (entered: {gate.entered()})")
                assert (r.status, r.header("retry-after")) == (503, "1"), r
                s.close()
            assert gate.held() == 2, f"refused requests ran: {gate.entered()}"
            _release_held(gate, held)
        assert get(srv, "/fast/2").status == 200
    finally:
        assert srv.stop() == 0
