"""Connections opened while a server drains or replaces its processes (issue 25, item 2).

Each new connection must end one of two ways: refused at once (ECONNREFUSED before
anything was written, which a client or a load balancer retries safely), or accepted and
answered. A connection the kernel accepted into a backlog that no process will accept
from again is reset when its listener finally closes: its request was written and is
lost (a POST cannot be retried safely). Clients here open a new connection per request
and record what became of every request they wrote, for each way a server replaces or
stops its processes: SIGTERM (with and without --workers, and to the --reload parent),
SIGHUP, --limit-max-requests recycling, and a --reload restart after a file change.

The handler sleeps 50 ms inline on the reactor, so connections queue in the backlogs and
a drain lasts long enough for clients to connect during it. Real processes and sockets
on 127.0.0.1; every loop is bounded in time and count."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from conftest import APPS, REPO, Reader, free_port, stop_process

REQUEST = b"GET /sleep?s=0.05 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
CLIENTS = 6
ANSWER_WITHIN = 20.0  # a hang bound: a connection queued for a restarting worker waits for it
RUN_BOUND = 60.0  # no client runs longer than this, whatever happens
MAX_ATTEMPTS = 5000  # per client


@dataclass
class Outcomes:
    answered: list[float] = field(default_factory=list)  # when each answered request was started
    refused: list[float] = field(default_factory=list)  # ECONNREFUSED at connect: nothing written
    # (started, why): a request written and not answered with 200 (reset, EOF, timeout,
    # other status); also, stricter than a client needs, a connection the kernel accepted
    # and reset before the request went out, and a connect that timed out
    lost: list[tuple[float, str]] = field(default_factory=list)


class Recorder(threading.Thread):
    """One request per new connection, in a loop, until halted; records each outcome."""

    def __init__(self, address: tuple[str, int] | str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.halt = threading.Event()
        self.out = Outcomes()

    def run(self) -> None:
        end = time.monotonic() + RUN_BOUND
        for _ in range(MAX_ATTEMPTS):
            if self.halt.is_set() or time.monotonic() > end:
                return
            self.attempt()

    def connect(self) -> socket.socket:
        if isinstance(self.address, tuple):
            return socket.create_connection(self.address, timeout=ANSWER_WITHIN)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(ANSWER_WITHIN)
            sock.connect(self.address)
        except BaseException:
            sock.close()
            raise
        return sock

    def attempt(self) -> None:
        started = time.monotonic()
        try:
            sock = self.connect()
        except (ConnectionRefusedError, FileNotFoundError):  # FileNotFoundError: the unix socket is gone
            self.out.refused.append(started)
            time.sleep(0.01)  # a refusing port is retried, as a client would, without spinning
            return
        except OSError as exc:  # a connect timeout: the SYN went unanswered
            self.out.lost.append((started, f"connect failed: {type(exc).__name__}: {exc}"))
            return
        with sock:
            try:
                sock.sendall(REQUEST)
            except OSError as exc:  # accepted by the kernel, then reset before we wrote
                self.out.lost.append((started, f"accepted, then reset before the request was written: "
                                               f"{type(exc).__name__}: {exc}"))
                return
            try:
                r = Reader(sock).read()
            except socket.timeout:
                why = f"no answer in {ANSWER_WITHIN} s"
            except ConnectionResetError:
                why = "ECONNRESET"
            except (ConnectionError, OSError) as exc:
                why = f"{type(exc).__name__}: {exc}"
            else:
                if r.status == 200:
                    self.out.answered.append(started)
                    return
                why = f"status {r.status}"
            self.out.lost.append((started, f"request written, then {why} after {time.monotonic() - started:.3f} s"))


class Server:
    """``ringbolt serve drain_app:app ARGS`` with its output in a file, readable while it
    runs; ready once the log says so (a --uds server has no TCP port to probe)."""

    def __init__(self, log: Path, *args: str) -> None:
        self.port = free_port()
        self.log = log
        self._log_file = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ringbolt", "serve", "drain_app:app", "--app-dir", str(APPS),
             "--port", str(self.port), *args],
            stdout=self._log_file, stderr=subprocess.STDOUT, cwd=str(REPO))
        workers = args[args.index("--workers") + 1] if "--workers" in args else None
        self.wait_log(f"all {workers} workers ready" if workers else "serving on", timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float) -> None:
        """Until the output contains ``text``; fails after ``timeout`` s (a hang bound)."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.proc.poll() is None, f"the server exited before logging {text!r}:\n{self.output()}"
            assert time.monotonic() < deadline, f"{text!r} never logged:\n{self.output()}"
            time.sleep(0.02)

    def stop(self) -> int:
        code = stop_process(self.proc, timeout=30)
        self._log_file.close()
        return code


@dataclass
class Case:
    """How to start the server, and what to do to it once clients are running: ``act``
    returns when the event is over (the server exited, or its processes were replaced)."""

    args: tuple[str, ...]
    act: Callable[[Server, Path], None]
    refusals_allowed: bool  # a stop refuses new connections; a replacement must not
    reload_app: bool = False  # serve a copy of the app from a directory the test may change
    uds: bool = False  # listen on a unix socket (--uds), which the CLI binds and hands over


def sigterm(srv: Server, app_dir: Path) -> None:
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(30) == 0, srv.output()


def sighup(srv: Server, app_dir: Path) -> None:
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_log("reload complete", timeout=60)


def limit_reached(times: int) -> Callable[[Server, Path], None]:
    def act(srv: Server, app_dir: Path) -> None:
        deadline = time.monotonic() + 60
        while srv.output().count("reached its request limit") < times:
            assert time.monotonic() < deadline, f"fewer than {times} recyclings in 60 s:\n{srv.output()}"
            time.sleep(0.05)
        # the last replacement is up: as many "ready" lines as workers ever started
        while srv.output().count(") ready") < srv.output().count("started worker"):
            assert time.monotonic() < deadline, f"a replacement never became ready:\n{srv.output()}"
            time.sleep(0.05)

    return act


def file_changed(srv: Server, app_dir: Path) -> None:
    module = app_dir / "drain_app.py"
    module.write_text(module.read_text() + "\n# changed by the test\n")
    srv.wait_log("restarting the server", timeout=30)
    deadline = time.monotonic() + 60
    while srv.output().count("serving on") < 2:  # the new child accepts
        assert time.monotonic() < deadline, f"the server never came back:\n{srv.output()}"
        time.sleep(0.05)


WORKERS = ("--workers", "2", "--threads", "1")
CASES = {
    "single-process-sigterm": Case(("--threads", "2"), sigterm, refusals_allowed=True),
    "workers-sigterm": Case(WORKERS, sigterm, refusals_allowed=True),
    "workers-sighup": Case(WORKERS, sighup, refusals_allowed=False),
    "workers-limit-max-requests": Case((*WORKERS, "--limit-max-requests", "40"), limit_reached(3),
                                       refusals_allowed=False),
    "uds-single-process-sigterm": Case(("--threads", "2"), sigterm, refusals_allowed=True, uds=True),
    "uds-workers-sigterm": Case(WORKERS, sigterm, refusals_allowed=True, uds=True),
    "reload-file-change": Case(("--threads", "1", "--reload"), file_changed, refusals_allowed=False,
                               reload_app=True),
    "reload-sigterm": Case(("--threads", "1", "--reload"), sigterm, refusals_allowed=True, reload_app=True),
    "reload-workers-sigterm": Case((*WORKERS, "--reload"), sigterm, refusals_allowed=True, reload_app=True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_no_request_written_during_a_drain_or_replacement_is_lost(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    args = list(case.args)
    if case.reload_app:
        shutil.copy(APPS / "drain_app.py", tmp_path / "drain_app.py")
        args += ["--app-dir", str(tmp_path)]  # after the default --app-dir: this one counts
    if case.uds:
        args += ["--uds", str(tmp_path / "s.sock")]
    log = tmp_path / "server.log"
    srv = Server(log, *args)
    clients = [Recorder(str(tmp_path / "s.sock") if case.uds else ("127.0.0.1", srv.port)) for _ in range(CLIENTS)]
    try:
        for c in clients:
            c.start()
        warm_deadline = time.monotonic() + 30
        while sum(len(c.out.answered) for c in clients) < 2 * CLIENTS:  # a hang bound, not speed
            assert time.monotonic() < warm_deadline, f"clients are not being served:\n{srv.output()}"
            time.sleep(0.02)
        event_at = time.monotonic()
        case.act(srv, tmp_path)
        event_end = time.monotonic()
        time.sleep(0.3)  # clients keep going a moment after the event (refused or served)
    finally:
        for c in clients:
            c.halt.set()
        for c in clients:
            c.join(ANSWER_WITHIN + 10)
        code = srv.stop()
    stuck = [i for i, c in enumerate(clients) if c.is_alive()]
    out = [c.out for c in clients]
    lost = [f"client {i}: connected at {t - event_at:+.3f} s from the event: {x}"
            for i, o in enumerate(out) for t, x in o.lost]
    refused = [t for o in out for t in o.refused]
    during = [t for o in out for t in o.answered + o.refused if event_at <= t <= event_end]
    summary = (f"{name}: {sum(len(o.answered) for o in out)} answered, {len(refused)} refused, {len(lost)} lost; "
               f"{len(during)} connections opened during the event ({event_end - event_at:.2f} s)")
    assert not stuck, f"clients {stuck} never finished; {summary}"
    assert code == 0, srv.output()
    assert not lost, f"{summary}:\n" + "\n".join(lost[:12]) + "\n" + srv.output()[-3000:]
    if not case.refusals_allowed:
        assert not refused, f"{summary}: a replacement refused connections"
    # The path ran: clients opened connections while the server drained or replaced.
    assert during, summary


def test_a_stopping_listener_takes_no_new_connection_and_keeps_its_queue() -> None:
    """What a stop does to each TCP listener before its last descriptor closes
    (``_native.refuse_new_connections``): a new client's SYN goes unanswered (it retries and
    is refused once the listener is closed), while a connection the kernel completed before
    is still in the accept queue and served. Without it, a handshake that completes between
    a reactor's last sweep of its queue and the close is reset after the client wrote."""
    from ringbolt import _native

    lst = socket.create_server(("127.0.0.1", 0), backlog=8)
    port = lst.getsockname()[1]
    early = socket.create_connection(("127.0.0.1", port), timeout=2)
    _native.refuse_new_connections(lst.fileno())
    late = socket.socket()
    late.settimeout(0.3)
    try:
        with pytest.raises(socket.timeout):  # no SYN-ACK: the handshake never started
            late.connect(("127.0.0.1", port))
        conn, _ = lst.accept()  # the connection queued before the gate is still there
        with conn:
            early.sendall(b"ping")
            conn.settimeout(2)
            assert conn.recv(4) == b"ping"
            conn.sendall(b"pong")
            early.settimeout(2)
            assert early.recv(4) == b"pong"
        lst.close()  # now nothing listens: a client is refused at once, nothing written
        again = socket.socket()
        try:
            again.settimeout(2)
            with pytest.raises(ConnectionRefusedError):
                again.connect(("127.0.0.1", port))
        finally:
            again.close()
    finally:
        late.close()
        early.close()
        lst.close()


def test_a_stopping_unix_listener_refuses_at_once_and_keeps_its_queue(tmp_path: Path) -> None:
    from ringbolt import _native

    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as lst:
        lst.bind(path)
        lst.listen(8)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as early:
            early.connect(path)
            early.sendall(b"ping")
            _native.refuse_new_connections(lst.fileno())
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as late:
                with pytest.raises(ConnectionRefusedError):
                    late.connect(path)
            conn, _ = lst.accept()
            with conn:
                conn.settimeout(2)
                assert conn.recv(4) == b"ping"


def test_refusing_new_connections_on_a_socket_that_does_not_listen_says_why() -> None:
    from ringbolt import _native

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as idle, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for sock in (idle, udp):
            with pytest.raises(OSError, match="not a listening stream socket"):
                _native.refuse_new_connections(sock.fileno())


def test_a_single_process_turns_new_unix_clients_away_while_a_reactor_is_busy(tmp_path: Path) -> None:
    """A single process's --uds listener (bound by the CLI for this process alone) is shared
    by its reactors. On SIGTERM the first reactor to drain turns new clients away there
    (refused at once, nothing written) even while another reactor is still busy in a
    handler and holds the socket open: otherwise a client connecting then is queued, and
    reset if it lands between that reactor's last sweep and its close (CI met it once:
    uds-single-process-sigterm, a client accepted and reset at +0.184 s)."""
    sock_path = tmp_path / "s.sock"
    srv = Server(tmp_path / "server.log", "--threads", "2", "--uds", str(sock_path))
    busy = socket.socket(socket.AF_UNIX)
    try:
        busy.settimeout(20)
        busy.connect(str(sock_path))
        busy.sendall(b"GET /sleep?s=2 HTTP/1.1\r\nHost: t\r\n\r\n")  # one reactor sleeps 2 s in it
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        srv.wait_log("draining", timeout=5)
        time.sleep(0.3)  # the other reactor has begun its drain; the busy one has not
        late = socket.socket(socket.AF_UNIX)
        late.settimeout(2)
        try:
            with pytest.raises(ConnectionRefusedError):
                late.connect(str(sock_path))
        finally:
            late.close()
        reply = Reader(busy).read()  # what the busy reactor was doing is still answered
        assert reply.status == 200, reply
    finally:
        busy.close()
        try:
            code = srv.proc.wait(timeout=30)  # the SIGTERM above ends it once drained
        except subprocess.TimeoutExpired:
            code = srv.stop()
            raise
    assert code == 0, srv.output()
