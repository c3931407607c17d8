"""The faults issue 8 found in the old connection core (drain, timeouts while the app
owns a request, slow request bodies, memory kept after slow readers leave), each as a
test of the fixed behaviour.

They were written as reproducers against the old core (6cdeb20: xfail there, and failing
with --runxfail on both backends, as its message records); the connection-core rewrite
made them pass and the marks went. Real processes, real sockets on 127.0.0.1; every
loop is bounded in time and count."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Reader, ServerProcess
from keepalive_clients import KeepAliveClient, assert_every_request_answered, connection_says_close, read_response

APP = "drain_app:app"


def get_pid(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = Reader(s).read()
    assert r.status == 200, r
    return r.json()["pid"]


def wait_for_pids(port: int, count: int, timeout: float = 10.0) -> set[int]:
    """New connections until ``count`` distinct worker pids answered (SO_REUSEPORT spreads them)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.add(get_pid(port))
        if len(seen) >= count:
            return seen
    raise AssertionError(f"only saw worker pids {seen} in {timeout} s")


def read_until_close(sock: socket.socket, deadline: float) -> tuple[bytes, str]:
    """Everything the server sends until it closes: (bytes, 'EOF' | 'reset' | 'timeout')."""
    got = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, "timeout"
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return got, "timeout"
        except ConnectionResetError:
            return got, "reset"
        if not data:
            return got, "EOF"
        got += data


# ---------------------------------------------------------------------------------------
# 1. A drain loses requests that fresh connections had already sent.
# ---------------------------------------------------------------------------------------

FRESH_CONNECTIONS = 12
DRAIN_TRIALS = 4
SLOW_REQUEST = b"GET /sleep?s=0.5 HTTP/1.1\r\nHost: t\r\n\r\n"


def _drain_trial() -> list[str]:
    """One server, 12 fresh connections each with one request in flight, SIGTERM 0.2 s
    later. Returns what went wrong (empty: every request answered 200 + Connection: close)."""
    srv = ServerProcess(APP, "--workers", "2", "--threads", "1")
    problems: list[str] = []
    socks: list[socket.socket] = []
    try:
        wait_for_pids(srv.port, 2)  # both workers serve
        for _ in range(FRESH_CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(SLOW_REQUEST)
            socks.append(s)
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGTERM)
        # 12 requests of 0.5 s on 2 single-threaded workers take ~3 s; 20 s only catches hangs.
        deadline = time.monotonic() + 20
        for i, s in enumerate(socks):
            r = read_response(s, Reader(s), deadline)
            if isinstance(r, str):
                problems.append(f"connection {i}: request sent before SIGTERM got no response ({r})")
            elif r.status != 200:
                problems.append(f"connection {i}: status {r.status}: {r!r}")
            elif not connection_says_close(r):
                problems.append(f"connection {i}: response finished during the drain has no Connection: close "
                                f"(headers {r.headers})")
        try:
            code = srv.proc.wait(20)
        except subprocess.TimeoutExpired:  # reported below; stop() in finally kills it
            code = None
        if code != 0:
            problems.append(f"supervisor exit code {code}")
    finally:
        for s in socks:
            s.close()
        srv.stop()
    if problems:
        problems.append("server output:\n" + srv.output()[-3000:])
    return problems



def test_drain_answers_every_request_already_sent():
    for trial in range(DRAIN_TRIALS):  # the loss is intermittent: a few bounded trials
        problems = _drain_trial()
        assert not problems, f"trial {trial + 1}/{DRAIN_TRIALS}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------
# 2. Keep-alive clients during a drain (SIGTERM) and a rolling reload (SIGHUP): a request
#    sent on a connection whose previous response did not say close is always answered.
# ---------------------------------------------------------------------------------------


TERM_TRIALS = 5
TERM_CLIENTS = 8



def test_sigterm_drain_loses_no_keep_alive_request():
    for trial in range(TERM_TRIALS):
        srv = ServerProcess(APP, "--threads", "2")
        clients = [KeepAliveClient(srv.port, reconnect=False, run_for=8) for _ in range(TERM_CLIENTS)]
        try:
            for c in clients:
                c.start()
            # Every client served before the signal (a bound for a loaded machine, not a speed:
            # CI saw 0.4 s pass with one of 8 clients still unanswered).
            served_by = time.monotonic() + 10
            while not all(c.answered > 0 for c in clients) and time.monotonic() < served_by:
                time.sleep(0.05)
            assert all(c.answered > 0 for c in clients), "clients were not served before the signal"
            srv.proc.send_signal(signal.SIGTERM)
            code = srv.proc.wait(15)
            for c in clients:
                c.join(10)
            assert not any(c.is_alive() for c in clients), "a client still runs 10 s after the server exited"
        finally:
            for c in clients:
                c.halt.set()
            srv.stop()
        assert code == 0, srv.output()
        assert_every_request_answered(clients, f"trial {trial + 1}/{TERM_TRIALS}")


HUP_RELOADS = 5
HUP_CLIENTS = 6



def test_sighup_reload_loses_no_keep_alive_request():
    srv = ServerProcess(APP, "--workers", "2", "--threads", "1")
    clients = [KeepAliveClient(srv.port, reconnect=True, run_for=60) for _ in range(HUP_CLIENTS)]

    def pids_since(t: float) -> set[int]:
        return {pid for c in clients for (at, pid) in list(c.pids) if at >= t}

    try:
        known = wait_for_pids(srv.port, 2)  # every worker pid seen so far
        for c in clients:
            c.start()
        time.sleep(0.4)
        for reload in range(HUP_RELOADS):
            served_from = time.monotonic()  # some client is answered after this point (a hang bound, not speed)
            while not pids_since(served_from) and time.monotonic() < served_from + 30:
                time.sleep(0.05)
            assert pids_since(served_from), "clients are not being served"
            known |= pids_since(0)
            hup_at = time.monotonic()
            srv.proc.send_signal(signal.SIGHUP)
            # Both workers replaced: two pids never seen before answer. The 6 clients'
            # reconnections may all hash to one new worker (SO_REUSEPORT), so fresh probe
            # connections (a new source port each) find the other; then let the last old
            # worker drain.
            deadline = hup_at + 30  # a hang, not speed: drains take ~1-2 s per worker (idle grace)
            fresh: set[int] = set()
            while time.monotonic() < deadline and len(fresh) < 2:
                fresh |= ({get_pid(srv.port)} | pids_since(hup_at)) - known
                time.sleep(0.02)
            assert len(fresh) >= 2, f"reload {reload + 1}: workers were not replaced (new pids {fresh})"
            known |= fresh
            time.sleep(0.7)
            lost = [f"client {i}: {x}" for i, c in enumerate(clients) for x in c.lost + c.connect_errors]
            if lost:
                break
    finally:
        for c in clients:
            c.halt.set()
        for c in clients:
            c.join(10)
        code = srv.stop()
    assert code == 0, srv.output()
    assert_every_request_answered(clients, f"{reload + 1} reload(s)")


# ---------------------------------------------------------------------------------------
# 3. A header timeout while the application owns the request closes with no answer.
# ---------------------------------------------------------------------------------------



@pytest.mark.parametrize("clock, second_half", [
    ("--header-timeout", b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Half: "),  # head not finished
    ("--body-timeout", b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"),  # body not finished
], ids=["header", "body"])
def test_read_timeout_while_handler_runs_still_answers_the_request(clock, second_half):
    srv = ServerProcess(APP, "--threads", "1", "--handler-threads", "2", clock, "1")
    try:
        with srv.connect(timeout=15) as s:
            # A 2.5 s request, then half of a pipelined second one: its read clock (1 s)
            # runs out while the handler still owns the first request.
            s.sendall(b"GET /sleep?s=2.5 HTTP/1.1\r\nHost: t\r\n\r\n" + second_half)
            reader = Reader(s)
            r = read_response(s, reader, time.monotonic() + 15)
            assert not isinstance(r, str), f"the first request got no response: {r}"
            assert r.status == 200 and r.json()["slept"] == 2.5, r
            # Afterwards: a 408 for the unfinished request and/or the close, within a bound.
            rest, how = read_until_close(s, time.monotonic() + 10)
            rest = reader.buf + rest
            assert how in ("EOF", "reset"), f"the connection neither closed nor answered the half request: {rest!r}"
            assert rest == b"" or rest.startswith(b"HTTP/1.1 408 "), rest
        assert srv.stop() == 0, srv.output()
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------------
# 4. Slow request bodies have no floor: bytes trickling in keep a connection forever.
# ---------------------------------------------------------------------------------------

TRICKLE_FOR_S = 20.0  # a trickle stops by itself after this
ANSWER_BOUND_S = 15.0  # the 408 + close must come within this


class Trickle(threading.Thread):
    """Sends ``head``, then ``piece`` once a second, until the server answered or closed,
    ``TRICKLE_FOR_S`` passed, or the whole body was sent."""

    def __init__(self, port: int, head: bytes, piece: bytes, body_len: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = head
        self.piece = piece
        self.body_len = body_len
        self.answered = threading.Event()
        self.sent_body = 0
        self.started = time.monotonic()

    def run(self) -> None:
        end = self.started + TRICKLE_FOR_S
        try:
            self.sock.sendall(self.head)
            while not self.answered.wait(1.0) and time.monotonic() < end and self.sent_body < self.body_len:
                self.sock.sendall(self.piece)
                self.sent_body += len(self.piece)
        except OSError:
            pass  # the server closed: the reader reports what it got



def test_trickled_bodies_are_ended_with_408():
    srv = ServerProcess(APP, "--threads", "1", "--body-timeout", "2")
    trickles = {
        "content-length body at 5 B/s": Trickle(
            srv.port, b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n", b"abcde", 100000),
        "chunked body at 1 B/s": Trickle(
            srv.port, b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n186a0\r\n", b"z", 100000),
    }
    outcomes: dict[str, tuple[bytes, str, float]] = {}
    try:
        for t in trickles.values():
            t.start()

        def watch(name: str, t: Trickle) -> None:
            got, how = read_until_close(t.sock, t.started + ANSWER_BOUND_S)
            t.answered.set()
            outcomes[name] = (got, how, time.monotonic() - t.started)

        watchers = [threading.Thread(target=watch, args=item, daemon=True) for item in trickles.items()]
        for w in watchers:
            w.start()
        for w in watchers:
            w.join(ANSWER_BOUND_S + 5)
        for t in trickles.values():
            t.answered.set()
            t.join(5)
    finally:
        for t in trickles.values():
            t.answered.set()
            t.sock.close()
        code = srv.stop()
    assert code == 0, srv.output()
    problems = []
    for name, t in trickles.items():
        got, how, took = outcomes[name]
        if how == "timeout":
            problems.append(f"{name}: still open after {took:.1f} s with {t.sent_body} body bytes sent "
                            f"(received {got!r})")
        elif not got.startswith(b"HTTP/1.1 408 "):
            problems.append(f"{name}: closed after {took:.1f} s ({how}) without a 408: {got!r}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------
# 5. Memory the server took for slow readers is kept after they left.
# ---------------------------------------------------------------------------------------

RSS_SLACK_MIB = 40
# Safety valve: the current core buffers every pipelined response of a slow reader
# (300 x 20 x 1 MiB), which took one server past 9 GiB and kept it busy for half a minute.
# Past this cap the test stops its readers, kills the server it started and fails.
RSS_CAP_MIB = 2048


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(1)
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            return Reader(s).read().status == 200
    except (OSError, ConnectionError):
        return False



@pytest.mark.parametrize("readers, pipelined", [(300, 20), (20, 20)], ids=["300x20", "20x20"])
def test_memory_returns_after_slow_readers_leave(readers, pipelined):
    """``readers`` connections each pipeline ``pipelined`` requests for 1 MiB and read
    nothing for ~3 s, then leave; 2 s later the server's RSS is back near where it was.
    (300x20 is the scenario; 20x20 shows the retention on the current core, which fails
    300x20 earlier, at the RSS cap.)"""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = readers + 256
    if soft < need:  # the test client's own sockets
        assert hard == resource.RLIM_INFINITY or hard >= need, f"RLIMIT_NOFILE hard limit {hard} < {need}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    srv = ServerProcess(APP, "--threads", "1")  # one process: its own pid is the one to measure
    pid = srv.proc.pid
    socks: list[socket.socket] = []
    peak = 0.0

    def sample(phase: str) -> float:
        nonlocal peak
        v = rss_mib(pid)
        peak = max(peak, v)
        if v > RSS_CAP_MIB:
            for s in socks:
                s.close()
            srv.proc.kill()  # the server this test started, by its pid
            raise AssertionError(f"server RSS {v:.0f} MiB passed the {RSS_CAP_MIB} MiB cap {phase} "
                                 f"(before: {before:.1f} MiB): responses for slow readers are not bounded")
        return v

    try:
        with srv.connect() as s:  # warm up: the route and its 1 MiB answer, read fully
            s.sendall(b"GET /mib HTTP/1.1\r\nHost: t\r\n\r\n" * 2)
            rd = Reader(s)
            assert len(rd.read().body) == 1 << 20 and len(rd.read().body) == 1 << 20
        time.sleep(0.5)
        before = rss_mib(pid)
        request = b"GET /mib HTTP/1.1\r\nHost: t\r\n\r\n" * pipelined
        for _ in range(readers):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(request)
            socks.append(s)
        until = time.monotonic() + 3.0  # nobody reads for ~3 s
        while time.monotonic() < until:
            time.sleep(0.2)
            sample("while the readers were idle")
        # Sanity (no vacuous pass): the server did answer every reader; the bytes wait unread.
        poller = select.poll()
        for s in socks:
            poller.register(s, select.POLLIN)
        deadline = time.monotonic() + 5
        ready = 0
        while time.monotonic() < deadline:
            ready = len(poller.poll(200))
            sample("while the readers were idle")
            if ready == readers:
                break
        assert ready == readers, f"only {ready} of {readers} readers got any byte (peak RSS {peak:.0f} MiB)"
        for s in socks:
            s.close()
        socks = []
        left_at = time.monotonic()
        while not answers_ping(srv.port):
            sample("after the readers left")
            assert time.monotonic() - left_at < 20, "the server does not answer 20 s after the readers left"
        time.sleep(max(0.0, left_at + 2.0 - time.monotonic()))
        after = sample("after the readers left")
        numbers = (f"{readers}x{pipelined}: RSS before {before:.1f} MiB, peak {peak:.1f} MiB, "
                   f"{time.monotonic() - left_at:.1f} s after the readers left {after:.1f} MiB")
        print(numbers)
        assert after - before <= RSS_SLACK_MIB, numbers
    finally:
        for s in socks:
            s.close()
        code = srv.stop()
    assert code == 0, srv.output()


def test_a_sigterm_that_interrupts_a_log_write_still_drains() -> None:
    """Python runs a signal handler between the main thread's bytecodes, also while the
    main thread is inside a write to stderr; the handler's own log line then meets
    RuntimeError (reentrant call), as a SIGTERM sent while the server logged its start
    did in Debian 11's kernel in a VM (tests/kernels): the exception left the handler,
    and the server exited 1 without a drain. The drain must begin all the same, and the
    line be said."""
    srv = ServerProcess("reentrant_log_app:app")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert Reader(s).read().status == 200
    code = srv.stop(signal.SIGTERM, timeout=15)
    out = srv.output()
    assert code == 0, out
    assert "SIGTERM received: draining" in out, out
    assert "Traceback" not in out, out
