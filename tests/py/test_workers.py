"""Worker processes under the supervisor (``--workers``): real processes on 127.0.0.1.

Each test starts ``ringbolt serve tests/py/apps/workers_app.py`` with two workers of one
reactor thread each, drives it with real clients and sends real signals."""

from __future__ import annotations

import collections
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import APPS, REPO, LoggedServer, Reader, ServerProcess, free_port

APP = "workers_app:app"


def get_pid(port: int, timeout: float = 5.0) -> int:
    """GET /pid on a new connection; returns the pid of the worker that answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = Reader(s).read()
    assert r.status == 200, r
    return r.json()["pid"]


def wait_for_pids(port: int, count: int, exclude: set[int] = frozenset(), timeout: float = 10.0) -> set[int]:
    """Request /pid until ``count`` distinct pids not in ``exclude`` answered (new connections
    are spread over the workers by the kernel's SO_REUSEPORT hash)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = get_pid(port)
        if pid not in exclude:
            seen.add(pid)
            if len(seen) >= count:
                return seen
    raise AssertionError(f"only saw pids {seen} (excluding {exclude}) in {timeout} s")


def check_no_failures(failures: list[tuple[float, int | None, str, int | None]]) -> None:
    """No failed request at all. (Two native drain races once showed up here: a fresh
    connection closed unanswered by begin_drain, and a connection stranded after the
    draining reactor's exclusive accept wake-up was cancelled. Both are fixed in the
    reactor: fresh connections get a grace period, and the accept queue is swept.)"""
    assert not failures, failures[:5]


class WorkersServer(LoggedServer):
    """The supervisor with its output in a file, readable while it runs. It is returned
    once the supervisor has logged every worker ready: a worker accepts (and answers)
    a moment before its "ready" report reaches the supervisor, and a test that kills a
    worker in that moment kills, as far as the supervisor knows, a worker of the first
    start that failed: the supervisor stops everything (CI, loaded, twice)."""

    def __init__(self, *args: str, env: dict[str, str] | None, ready: int | None) -> None:
        self._log_path = tempfile.NamedTemporaryFile(prefix="ringbolt-workers-", suffix=".log")  # removed with it
        super().__init__(APP, Path(self._log_path.name), *args, env=env)
        if ready is not None:
            deadline = time.monotonic() + 30
            while f"all {ready} workers ready" not in self.output():
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the workers never all became ready:\n{self.output()}")
                time.sleep(0.02)


def start(*args: str, env: dict[str, str] | None = None, workers: int | None = 2) -> WorkersServer:
    extra = ["--workers", str(workers)] if workers is not None else []
    return WorkersServer(*extra, "--threads", "1", *args, env=env, ready=workers or 2)


class Client(threading.Thread):
    """Makes requests in a loop and records, for each, when it was sent and what came back.

    ``keep_alive``: reuse one connection while the server keeps it open (a
    ``Connection: close`` response or a closed connection makes it reconnect); otherwise
    one new connection per request. ``gate``: held during each request, so a test can
    act between two requests."""

    def __init__(self, port: int, keep_alive: bool = False, gate: threading.Lock | None = None) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.keep_alive = keep_alive
        self.gate = gate or threading.Lock()
        self.results: list[tuple[float, int | None, str, int | None]] = []  # (request written at, or a connect's failure seen at; status, error, pid)
        self.halt = threading.Event()

    def run(self) -> None:
        sock: socket.socket | None = None
        reader: Reader | None = None
        while not self.halt.is_set():
            with self.gate:
                sent = time.monotonic()
                try:
                    if sock is None:
                        sock = socket.create_connection(("127.0.0.1", self.port), timeout=3)
                        reader = Reader(sock)
                        sent = time.monotonic()
                    close = "" if self.keep_alive else "Connection: close\r\n"
                    sock.sendall(f"GET /pid HTTP/1.1\r\nHost: t\r\n{close}\r\n".encode())
                    assert reader is not None
                    r = reader.read()
                    pid = r.json()["pid"] if r.status == 200 else None
                    self.results.append((sent, r.status, "", pid))
                    if not self.keep_alive or (r.header("connection") or "").lower() == "close":
                        sock.close()
                        sock = None
                except (OSError, ConnectionError, ValueError) as exc:
                    # A connect that failed wrote nothing: it counts from when the failure
                    # came (a SYN sent after a drain began is dropped, retried and refused
                    # a second later, however early this thread last read the clock).
                    self.results.append((time.monotonic() if sock is None else sent, None, f"{type(exc).__name__}: {exc}", None))
                    if sock is not None:
                        sock.close()
                    sock = None
            time.sleep(0.001)
        if sock is not None:
            sock.close()

    def failures(self, before: float = float("inf")) -> list[tuple[float, int | None, str, int | None]]:
        return [r for r in self.results if r[0] < before and r[1] != 200]

    def pids(self) -> set[int]:
        return {r[3] for r in self.results if r[3] is not None}

    def pids_since(self, t: float) -> set[int]:
        return {r[3] for r in self.results if r[3] is not None and r[0] >= t}

    def stop(self) -> None:
        self.halt.set()
        self.join(10)
        assert not self.is_alive()


class LoadRun:
    output = ""  # the server's output, once it exited 0


@contextlib.contextmanager
def under_load(srv, client):
    """``client``'s load on ``srv`` for the block; after it, whatever happened, the client
    halts and the server stops; it must have exited 0 (its output in the LoadRun)."""
    run = LoadRun()
    try:
        yield run
    finally:
        client.halt.set()
        code = srv.stop()
    run.output = srv.output()
    assert code == 0, run.output


def test_two_workers_serve_and_run_their_startup_hooks(tmp_path: Path):
    hooks = tmp_path / "hooks"
    srv = start(env={"RINGBOLT_TEST_HOOK_LOG": str(hooks)})
    try:
        pids = wait_for_pids(srv.port, 2)
        assert srv.proc.pid not in pids
        assert sorted(int(line) for line in hooks.read_text().split()) == sorted(pids)  # once per worker
    finally:
        assert srv.stop() == 0, srv.output()
    out = srv.output()
    assert "[supervisor]" in out and "(workers: 2, threads per worker: 1)" in out and "all 2 workers ready" in out
    for pid in pids:
        assert f"[worker {pid}] serving on http://127.0.0.1:{srv.port}" in out


def test_killed_worker_is_replaced_and_port_keeps_answering():
    srv = start()
    gate = threading.Lock()
    client = Client(srv.port, gate=gate)
    with under_load(srv, client) as run:
        before = wait_for_pids(srv.port, 2)
        client.start()
        time.sleep(0.3)
        victim = min(before)
        # A request in flight inside a SIGKILLed process is lost with it: kill between two
        # requests, then check the port answers while the worker is dead and replaced.
        with gate:
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while Path(f"/proc/{victim}").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        after = wait_for_pids(srv.port, 2, exclude={victim})
        new = after - before
        assert len(new) == 1, (before, after)
        time.sleep(0.3)
        client.stop()
        assert len(client.results) > 20
        check_no_failures(client.failures())
    assert f"(pid {victim}) died (signal SIGKILL)" in run.output


def test_sigterm_drains_under_load():
    srv = start()
    clients = [Client(srv.port, keep_alive=True), Client(srv.port, keep_alive=True), Client(srv.port)]
    try:
        wait_for_pids(srv.port, 2)
        for c in clients:
            c.start()
        time.sleep(0.8)
        term_at = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code = srv.proc.wait(15)
        exit_after = time.monotonic() - term_at
        time.sleep(0.2)
    finally:
        for c in clients:
            c.stop()
        srv.stop()
    out = srv.output()
    assert code == 0, out
    assert exit_after < 10, out
    results = [r for c in clients for r in c.results]
    assert sum(1 for r in results if r[1] == 200 and r[0] < term_at) > 50
    assert all(r[1] in (200, None) for r in results), [r for r in results if r[1] not in (200, None)][:5]
    assert "SIGTERM received: draining 2 worker(s)" in out and "[supervisor] stopped" in out
    # after the supervisor exited, the port is closed
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
    check_no_failures([r for c in clients for r in c.failures(before=term_at)])
    # After the signal a new connection is answered or refused, never reset after its
    # request was written (test_drain_listeners.py covers each way of stopping).
    after = [r for c in clients for r in c.failures() if r[0] >= term_at]
    assert all(r[2].startswith("ConnectionRefusedError") for r in after), after[:5]


def test_sighup_replaces_all_workers_without_refusing_connections():
    srv = start()
    client = Client(srv.port)
    with under_load(srv, client) as run:
        before = wait_for_pids(srv.port, 2)
        client.start()
        time.sleep(0.3)
        sent_at = time.monotonic()
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(client.pids_since(sent_at) - before) < 2:
            time.sleep(0.05)
        # Once the old workers are drained, only new ones answer: wait (a hang bound, not
        # speed) for a stretch in which clients were served and no old pid answered.
        after: set[int] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            mark = time.monotonic()
            time.sleep(0.3)
            after = client.pids_since(mark)
            if after and not (after & before):
                break
        # The old workers answer no more, but may still be draining: the reload is complete
        # once they have exited (under load, after the loop above: a CI rehearsal stopped
        # the server before that, and the log had no "reload complete"). A hang bound.
        deadline = time.monotonic() + 30
        while "reload complete" not in srv.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        client.stop()
        assert len(client.pids_since(sent_at) - before) == 2 and after and not (after & before), (before, after)
        check_no_failures(client.failures())
    assert "SIGHUP received" in run.output and "reload complete" in run.output


LIMIT, CLIENTS = 100, 4


def test_limit_max_requests_recycles_workers_within_the_limit():
    """A worker drains once it has served its limit (+ its jitter, up to a tenth) and the
    requests in flight (one per client, and one more on a connection a client opened as
    the drain began, which its sweep of the accept queue answers with Connection: close):
    not whatever arrives until someone next looks at its count. Keep-alive clients and one
    that connects for each request."""
    srv = start("--limit-max-requests", str(LIMIT))
    clients = [Client(srv.port, keep_alive=True) for _ in range(CLIENTS - 1)] + [Client(srv.port)]
    try:
        first = wait_for_pids(srv.port, 2)
        for c in clients:
            c.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and srv.output().count("reached its request limit") < 4:
            time.sleep(0.05)
    finally:
        for c in clients:
            c.stop()
        code = srv.stop()
    out = srv.output()
    assert code == 0, out
    recycled = {int(p) for p in re.findall(r"\(pid (\d+)\) reached its request limit", out)}
    assert len(recycled) >= 4 and first <= recycled, (first, recycled, out[-3000:])
    assert "died" not in out and "die quickly" not in out, out
    served = collections.Counter(r[3] for c in clients for r in c.results if r[3] is not None)
    bound = LIMIT + LIMIT // 10 + 2 * CLIENTS  # (before the native limit: 368 served)
    assert all(n <= bound for n in served.values()), f"more than {bound} requests served by a worker: {served}"
    check_no_failures([r for c in clients for r in c.failures()])


def test_failing_startup_hook_stops_the_supervisor():
    start_at = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-m", "ringbolt", "serve", APP, "--app-dir", str(APPS), "--port", str(free_port()),
         "--workers", "2", "--threads", "1"],
        capture_output=True, text=True, timeout=30, cwd=str(REPO),
        env={**os.environ, "RINGBOLT_TEST_FAIL_STARTUP": "1"},
    )
    assert p.returncode != 0, p.stderr
    assert time.monotonic() - start_at < 10
    assert "startup-hook-failure-marker" in p.stderr
    assert "worker failed to start" in p.stderr


def test_web_concurrency_sets_the_worker_count():
    srv = start(env={"WEB_CONCURRENCY": "2"}, workers=None)
    try:
        pids = wait_for_pids(srv.port, 2)
        assert srv.proc.pid not in pids
    finally:
        assert srv.stop() == 0, srv.output()
    assert "(workers: 2, threads per worker: 1)" in srv.output()


def test_new_clients_are_served_while_a_worker_crash_loops(tmp_path: Path):
    """Each worker accepts from its own SO_REUSEPORT listeners, and the kernel spreads new
    connections over every listener in the group, also over those of a worker that is
    down. While one worker cannot start, the supervisor steers new connections to the
    listeners of the workers that are ready, so no new client waits for the broken one;
    once it is ready again it gets its share back."""
    fail = tmp_path / "fail-startup"
    srv = start(env={"RINGBOLT_TEST_FAIL_WHILE_EXISTS": str(fail)})
    try:
        before = wait_for_pids(srv.port, 2)
        victim = min(before)
        survivor = max(before)
        fail.write_text("")
        os.kill(victim, signal.SIGKILL)
        # Each failed start imports the app afresh; on a loaded CI machine (two other
        # suites and a sanitizer build beside this one) a start took over 5 s.
        deadline = time.monotonic() + 45
        while len(fail.read_text().split()) < 2:  # two failed starts: the crash loop runs
            if time.monotonic() >= deadline:
                # Once seen in CI (under load) and not reproduced: say what the supervisor did.
                srv.stop()
                pytest.fail(f"the victim's replacement failed to start {len(fail.read_text().split())} times "
                            f"in 45 s (2 expected); victim {victim}; server log:\n{srv.output()}")
            time.sleep(0.05)
        answered: list[int] = []
        stalled = 0
        for _ in range(40):  # new connections; about half would hash to the victim's listener
            try:
                answered.append(get_pid(srv.port, timeout=2.0))
            except (TimeoutError, socket.timeout):
                stalled += 1
        assert stalled == 0 and set(answered) == {survivor}, (stalled, set(answered), survivor)
        failed_starts = len(fail.read_text().split())
        fail.unlink()
        after = wait_for_pids(srv.port, 2, exclude={victim}, timeout=45)  # the replacement serves again
        assert survivor in after and len(after - before) == 1, (before, after)
    finally:
        code = srv.stop()
    out = srv.output()
    assert code == 0, out
    assert failed_starts >= 2 and "startup-hook-fails-while-the-file-exists" in out
    assert "workers die quickly" in out


# Run in its own process: the supervisor's reaping (waitpid(-1)) must not take pytest's
# other children.
_UNREAD_READY_SCRIPT = r'''
import json, os, signal, time
from ringbolt.supervisor import Supervisor, Worker

def child(report, exit_code=None):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if exit_code is not None:
            os._exit(exit_code)
        time.sleep(60)
        os._exit(0)
    os.write(w, json.dumps(report).encode() + b"\n")
    os.close(w)
    os.set_blocking(r, False)
    return pid, r

def wait_exited(pid):
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet

sup = Supervisor(lambda *a, **k: None, host="127.0.0.1", port=0, workers=2, threads=1)
a, ra = child({"event": "ready", "port": 1})
b, rb = child({"event": "ready", "port": 1})
sup.workers = {a: Worker(a, 0, 0, ra), b: Worker(b, 1, 0, rb)}
# Both workers are ready (their reports sit in the pipes, not read yet: a loaded
# supervisor) when worker 0 is killed.
os.kill(a, signal.SIGKILL)
wait_exited(a)
first = sup._reap()
# Its replacement fails at start-up, before worker 1's report was read.
c, rc = child({"event": "error", "message": "hook-fails"}, exit_code=3)
sup.workers[c] = Worker(c, 0, 0, rc)
wait_exited(c)
second = sup._reap()
os.kill(b, signal.SIGKILL)
wait_exited(b)
sup._reap()
print(json.dumps({"first": first, "second": second, "booting": sup.booting, "backoff": sup.backoff}))
'''


def test_a_ready_slot_crash_loops_instead_of_failing_the_start_while_reports_are_unread():
    """Both workers of the first start were ready, but the supervisor had read only one
    of the two "ready" reports when worker 0 died (CI, loaded: the failure of
    test_new_clients_are_served_while_a_worker_crash_loops). The failing start of its
    replacement is a crash loop (backoff), not a failed first start that stops the
    server: slot 0 had a ready worker."""
    p = subprocess.run([sys.executable, "-c", _UNREAD_READY_SCRIPT], capture_output=True, text=True, timeout=60,
                       cwd=str(REPO))
    assert p.returncode == 0, p.stderr
    result = __import__("json").loads(p.stdout.strip().splitlines()[-1])
    assert result["first"] is None and result["second"] is None, result
    assert result["backoff"] > 0, result  # the replacement died quickly: the crash-loop backoff
    assert result["booting"] is False, result  # worker 1's report, read when it was reaped
