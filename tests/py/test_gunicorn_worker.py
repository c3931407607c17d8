"""ringbolt as a gunicorn worker class (``gunicorn -k ringbolt.workers.RingboltWorker``):
gunicorn from PyPI started as a subprocess on 127.0.0.1, its arbiter's sockets served by
ringbolt's native server. Unchanged Flask, Django and Starlette apps; the client address
and gunicorn's settings as ringbolt applies them; the arbiter's signals (HUP and
--max-requests under load lose nothing, TERM lets a slow request finish, QUIT does not
wait for it, TTIN/TTOU); --timeout replacing a worker whose Python side is stuck, and not
one whose handler thread merely waits. Every process is ended by its pid; every wait is
bounded."""

from __future__ import annotations

import collections
import http.client
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import APPS, REPO, Reader, Response, free_port, get, metric_totals, request, stop_process
from keepalive_clients import KeepAliveClient, assert_every_request_answered

WORKER = "ringbolt.workers.RingboltWorker"
GUNICORN_MISSING = importlib.util.find_spec("gunicorn") is None
IO = os.environ.get("RINGBOLT_IO", "")


def _control_socket_args() -> list[str]:
    """gunicorn 24+ opens a control socket under ~/.gunicorn by default: parallel suites
    would share it."""
    from gunicorn.config import Config

    return ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


class Gunicorn:
    """A gunicorn arbiter with ringbolt's worker class on a free loopback port, its log (the
    arbiter's and the workers', stderr) in a file; returned once ``workers`` workers serve."""

    def __init__(self, tmp: Path, app: str, *args: str, env: dict[str, str] | None = None, workers: int = 1,
                 wait: bool = True) -> None:
        if GUNICORN_MISSING:
            pytest.fail(f"gunicorn is not installed for {sys.executable}: tools/install-deps.sh installs it "
                        f"(pip install gunicorn)", pytrace=False)
        self.port = free_port()
        self.host = "127.0.0.1"
        self.log = tmp / f"gunicorn-{self.port}.log"
        self._log_file = open(self.log, "wb")
        cmd = [sys.executable, "-m", "gunicorn", "-k", WORKER, "-b", f"127.0.0.1:{self.port}", "--chdir", str(APPS),
               "--workers", str(workers), "--log-level", "info", *_control_socket_args(), *args, app]
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=str(REPO),
                                     env={**os.environ, **(env or {})})
        if wait:
            self.wait_serving(workers)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def serving_pids(self) -> list[int]:
        """The workers that logged ringbolt's "serving on" line, in order."""
        return [int(p) for p in re.findall(r"\[(\d+)\] \[INFO\] serving on ", self.output())]

    def booted_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"Booting worker with pid: (\d+)", self.output())]

    def wait_log(self, pattern: str, timeout: float = 15, count: int = 1) -> str:
        deadline = time.monotonic() + timeout
        while True:
            out = self.output()
            if len(re.findall(pattern, out)) >= count:
                return out
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited ({self.proc.returncode}) before logging {pattern!r}:\n{out}")
            assert time.monotonic() < deadline, f"{pattern!r} not logged {count} time(s) in {timeout} s:\n{out}"
            time.sleep(0.05)

    def wait_all_serving(self, timeout: float = 20) -> None:
        """Every worker booted so far serves (its signal handlers are in), and no other is
        booting: the counts of the two lines agree twice, 0.3 s apart."""
        deadline = time.monotonic() + timeout
        agreed = 0
        while agreed < 2:
            out = self.output()
            booted = len(re.findall(r"Booting worker with pid: ", out))
            agreed = agreed + 1 if booted == len(re.findall(r"\[INFO\] serving on ", out)) else 0
            assert time.monotonic() < deadline, f"not every booted worker served within {timeout} s:\n{out}"
            time.sleep(0.3)

    def wait_serving(self, workers: int = 1, timeout: float = 20) -> None:
        self.wait_log(r"\[INFO\] serving on ", timeout, count=workers)
        self.connect(2).close()

    def connect(self, timeout: float = 5.0) -> socket.socket:
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the arbiter and wait for it; then no worker of it may be left (any one is
        SIGKILLed by its pid and the test fails)."""
        code = stop_process(self.proc, sig, timeout)
        self._log_file.close()
        left = [pid for pid in set(self.booted_pids()) if _is_our_worker(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"workers {left} outlived their arbiter:\n{self.output()}"
        return code


def _is_our_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"gunicorn" in f.read()
    except OSError:
        return False


def pid_of(srv: Gunicorn, path: str = "/ping") -> int:
    r = get(srv, path)
    assert r.status == 200, r
    return int(r.json()["pid"])


def send_slow(srv: Gunicorn, path: str) -> tuple[socket.socket, Reader]:
    s = srv.connect(timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return s, Reader(s)


def signal_in_slow_request(tmp_path: Path, graceful_timeout: str, path: str,
                           sig: signal.Signals) -> tuple[Gunicorn, socket.socket, Reader, float]:
    """A Gunicorn (--graceful-timeout ``graceful_timeout``) with a request to the slow
    ``path`` in its handler, then ``sig`` to the arbiter: the server, the request's socket
    and reader, and when the signal went."""
    srv = Gunicorn(tmp_path, "gunicorn_apps:wsgi", "--graceful-timeout", graceful_timeout)
    s, reader = send_slow(srv, path)
    time.sleep(0.4)
    sent = time.monotonic()
    srv.proc.send_signal(sig)
    return srv, s, reader, sent


def read_or_why(reader: Reader) -> Response | str:
    try:
        return reader.read()
    except (OSError, ConnectionError) as exc:
        return f"{type(exc).__name__}: {exc}"


# ---- unchanged framework apps ------------------------------------------------------------


@pytest.fixture(scope="module")
def flask_srv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("gunicorn-flask")
    data = tmp / "data.bin"
    data.write_bytes(bytes(range(256)) * 64)
    srv = Gunicorn(tmp, "flask_app:app", "--threads", "2",
                   env={"WSGI_TEST_FILE": str(data), "RINGBOLT_METRICS": "/__metrics"})
    srv.data = data
    yield srv
    assert srv.stop() == 0, srv.output()
    assert "flask-view-raised" in srv.output()  # Flask's own log of /boom reached the worker's stderr


def test_flask_app_served_unchanged(flask_srv: Gunicorn) -> None:
    r = get(flask_srv, "/")
    assert r.status == 200 and r.body == b"hello from flask", r
    r = get(flask_srv, "/users/42?q=x%20y")
    assert r.status == 200 and r.json() == {"id": 42, "q": "x y"}, r
    body = json.dumps({"items": [1, 2, 3]}).encode()
    r = request(flask_srv, b"POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert r.status == 201 and r.json() == {"got": {"items": [1, 2, 3]}, "n": 3}, r
    assert get(flask_srv, "/missing").status == 404
    assert get(flask_srv, "/boom").status == 500
    part = get(flask_srv, "/file", "Range: bytes=100-199\r\n")
    assert part.status == 206 and part.body == flask_srv.data.read_bytes()[100:200], part
    conn = http.client.HTTPConnection("127.0.0.1", flask_srv.port, timeout=5)  # a chunked body
    conn.request("GET", "/stream")
    streamed = conn.getresponse()
    assert streamed.status == 200 and streamed.read() == b"part-0;part-1;part-2;"
    conn.close()


def test_the_worker_really_serves_through_ringbolt(flask_srv: Gunicorn) -> None:
    """ringbolt's Server header, its native metrics route (RINGBOLT_METRICS) counting the
    requests, and its start-up line naming the io backend this suite runs on."""
    r = get(flask_srv, "/")
    assert r.header("server") == "ringbolt", r
    before = metric_totals(get(flask_srv, "/__metrics").body.decode())["requests"]
    for _ in range(3):
        get(flask_srv, "/")
    after = metric_totals(get(flask_srv, "/__metrics").body.decode())["requests"]
    assert after - before == 4, (before, after)  # three pages and the second metrics request
    out = flask_srv.output()
    line = re.search(r"serving on http://127\.0\.0\.1:\d+ \(io: ([^)]*)", out)
    assert line is not None, out
    assert line.group(1).startswith("epoll" if IO == "epoll" else "io_uring"), line.group(0)
    assert "WSGI application on 2 handler threads per worker" in out  # --threads 2


def test_django_app_served_unchanged(tmp_path: Path) -> None:
    from urllib.parse import urlencode

    srv = Gunicorn(tmp_path, "django_site.wsgi:application", "--threads", "2",
                   env={"DJANGO_TEST_DB": str(tmp_path / "db.sqlite3"), "WSGI_TEST_FILE": __file__})
    try:
        r = get(srv, "/hello/?name=gunicorn")
        assert r.status == 200 and r.body == b"hello from django, gunicorn", r
        moved = get(srv, "/hello")  # CommonMiddleware's APPEND_SLASH
        assert moved.status == 301 and moved.header("location") == "/hello/", moved
        form = urlencode({"text": "a note"}).encode()
        r = request(srv, b"POST /notes/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    + f"Content-Length: {len(form)}\r\n\r\n".encode() + form)
        assert r.status == 201, r
        nid = r.json()["id"]
        assert get(srv, f"/notes/{nid}/").json() == {"id": nid, "text": "a note"}
        assert get(srv, "/notes/999999/").status == 404
        assert get(srv, "/boom/").status == 500
    finally:
        code = srv.stop()
    assert code == 0, srv.output()
    assert "django-view-raised" in srv.output()


def test_asgi_apps_with_their_lifespan(tmp_path: Path) -> None:
    srv = Gunicorn(tmp_path, "starlette_app:app")
    try:
        assert get(srv, "/").body == b"hello from starlette"
        assert get(srv, "/state").json() == {"started": "yes", "greeting": "set on app.state at startup"}
        first = get(srv, "/resource").json()["served"]
        assert get(srv, "/resource").json()["served"] == first + 1  # the task its lifespan started
        assert get(srv, "/items/7").json() == {"item_id": 7, "type": "int"}
    finally:
        code = srv.stop()
    assert code == 0, srv.output()
    assert "event loop on the reactor thread" in srv.output()  # one socket, one reactor: the hosted loop


def test_a_ringbolt_app_is_served_natively(tmp_path: Path) -> None:
    srv = Gunicorn(tmp_path, "basic:app", "--threads", "3")
    try:
        r = get(srv, "/users/12")
        assert r.status == 200 and r.json() == {"id": 12, "type": "int"} and r.header("server") == "ringbolt", r
        assert get(srv, "/boom").status == 500
    finally:
        code = srv.stop()
    assert code == 0, srv.output()
    assert "WSGI application" not in srv.output()  # no mount: the App's own routes


# ---- the client and gunicorn's settings ---------------------------------------------------


@pytest.fixture(scope="module")
def default_srv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """gunicorn's defaults: --forwarded-allow-ips 127.0.0.1,::1, --limit-request-line 4094."""
    srv = Gunicorn(tmp_path_factory.mktemp("gunicorn-default"), "gunicorn_apps:wsgi")
    yield srv
    assert srv.stop() == 0, srv.output()


def test_client_address_and_trusted_forwarding(default_srv: Gunicorn) -> None:
    with default_srv.connect() as s:
        s.sendall(b"GET /environ HTTP/1.1\r\nHost: example.test\r\n\r\n")
        env = Reader(s).read().json()
        local_port = s.getsockname()[1]
    assert env["REMOTE_ADDR"] == "127.0.0.1" and int(env["REMOTE_PORT"]) == local_port, env
    assert env["wsgi.url_scheme"] == "http" and env["HTTP_HOST"] == "example.test", env
    assert env["SERVER_PORT"] == str(default_srv.port) and env["wsgi.multiprocess"] is False, env
    # 127.0.0.1 is one of gunicorn's default --forwarded-allow-ips: its headers are believed
    r = get(default_srv, "/environ", "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n")
    assert r.json()["REMOTE_ADDR"] == "203.0.113.7" and r.json()["wsgi.url_scheme"] == "https", r


def test_default_request_line_limit_is_gunicorns(default_srv: Gunicorn) -> None:
    def line_of(n: int) -> Response:
        target = "/" + "a" * (n - len("GET / HTTP/1.1"))
        assert len(f"GET {target} HTTP/1.1") == n
        return request(default_srv, f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())

    assert line_of(4094).status == 200
    assert line_of(4095).status == 414


@pytest.fixture(scope="module")
def tuned_srv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = Gunicorn(tmp_path_factory.mktemp("gunicorn-tuned"), "gunicorn_apps:wsgi", "--limit-request-line", "100",
                   "--limit-request-fields", "5", "--keep-alive", "1", "--forwarded-allow-ips", "10.9.8.7",
                   "--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s pid=%(p)s ua=%(a)s')
    yield srv
    assert srv.stop() == 0, srv.output()


def test_request_limits_map_to_ringbolts(tuned_srv: Gunicorn) -> None:
    def line_of(n: int) -> int:
        target = "/" + "a" * (n - len("GET / HTTP/1.1"))
        return request(tuned_srv, f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode()).status

    assert (line_of(100), line_of(101)) == (200, 414)  # --limit-request-line 100: gunicorn's boundary

    def fields(n: int) -> int:  # Host and n - 1 others
        extra = "".join(f"X-F{i}: v\r\n" for i in range(n - 1))
        return request(tuned_srv, f"GET / HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()).status

    assert (fields(5), fields(6)) == (200, 431)  # --limit-request-fields 5


def test_keep_alive_is_gunicorns(tuned_srv: Gunicorn) -> None:
    """--keep-alive 1: a connection idle for 0.3 s still serves; one idle for a second or
    more is closed (ringbolt's deadlines are whole seconds, never short)."""
    with tuned_srv.connect() as s:
        reader = Reader(s)
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        assert reader.read().status == 200
        time.sleep(0.3)
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        assert reader.read().status == 200
        answered = time.monotonic()
        assert reader.closed(timeout=5), "the idle connection was not closed"
        idle = time.monotonic() - answered
    assert 0.9 < idle < 3.5, idle


def test_untrusted_forwarding_headers_and_translated_access_log(tuned_srv: Gunicorn) -> None:
    r = get(tuned_srv, "/environ?n=fwd", "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n")
    env = r.json()
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["wsgi.url_scheme"] == "http", env  # not 10.9.8.7's headers
    out = tuned_srv.wait_log(r'127\.0\.0\.1 "GET /environ\?n=fwd HTTP/1\.1" 200 pid=\d+ ua=-')
    line = re.search(r'"GET /environ\?n=fwd HTTP/1\.1" 200 pid=(\d+) ua=-', out)
    assert line is not None and int(line.group(1)) == env["pid"], out  # %(p)s: the worker's pid, as gunicorn's
    assert "--access-logformat: %(a)s have no counterpart" in out, out  # the arbiter said so at start


def test_proxy_protocol(tmp_path: Path) -> None:
    srv = Gunicorn(tmp_path, "gunicorn_apps:wsgi", "--proxy-protocol", "v1")
    try:
        r = request(srv, b"PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n")
        assert r.status == 200 and (r.json()["REMOTE_ADDR"], r.json()["REMOTE_PORT"]) == ("203.0.113.9", "5555"), r
        with srv.connect() as s:  # 127.0.0.1 is trusted: it must send the header
            s.sendall(b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n")
            assert Reader(s).closed(timeout=5)
    finally:
        code = srv.stop()
    assert code == 0, srv.output()


@pytest.mark.parametrize("args, app, expect", [
    (["--proxy-protocol", "v1", "--proxy-allow-from", "10.0.0.1"], "gunicorn_apps:wsgi",
     "ringbolt trusts one list of addresses for both PROXY headers and forwarding headers"),
    ([], "gunicorn_apps:three_arguments",
     "neither a ringbolt.App, an ASGI 3 application (async (scope, receive, send)) nor a WSGI callable"),
], ids=["proxy-allow-from", "not-an-app"])
def test_what_ringbolt_cannot_serve_stops_gunicorn_naming_it(tmp_path: Path, args: list[str], app: str,
                                                             expect: str) -> None:
    srv = Gunicorn(tmp_path, app, *args, wait=False)
    try:
        code = srv.proc.wait(20)
    finally:
        srv.stop()
    assert code != 0 and expect in srv.output(), srv.output()
    assert "Traceback" not in srv.output(), srv.output()


# ---- the arbiter's signals and --max-requests --------------------------------------------


def _load(srv: Gunicorn, clients: int) -> list[KeepAliveClient]:
    load = [KeepAliveClient(srv.port, reconnect=True, run_for=60) for _ in range(clients)]
    for c in load:
        c.start()
    return load


def _stop_load(load: list[KeepAliveClient]) -> None:
    for c in load:
        c.halt.set()
    for c in load:
        c.join(10)
    assert not any(c.is_alive() for c in load), "a load client did not stop"


def _pids_answered(load: list[KeepAliveClient], since: float = 0) -> set[int]:
    return {pid for c in load for at, pid in list(c.pids) if at >= since}


def test_hup_under_load_loses_nothing(tmp_path: Path) -> None:
    srv = Gunicorn(tmp_path, "gunicorn_apps:wsgi", "--threads", "2", workers=2)
    load = _load(srv, 6)
    try:
        time.sleep(0.5)
        old = set(srv.booted_pids())
        assert _pids_answered(load) <= old and _pids_answered(load), "the clients are not served"
        for reload in range(2):
            hup_at = time.monotonic()
            srv.proc.send_signal(signal.SIGHUP)
            srv.wait_log(r"\[INFO\] serving on ", count=2 * (reload + 2))  # two new workers serve
            new = set(srv.booted_pids()) - old
            deadline = time.monotonic() + 20  # the old workers drain and exit
            while any(_is_our_worker(p) for p in old) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(_is_our_worker(p) for p in old), f"reload {reload + 1}: old workers {old} still run"
            time.sleep(0.3)
            assert _pids_answered(load, hup_at) & new, f"reload {reload + 1}: no client was served by {new}"
            old = set(srv.booted_pids())
    finally:
        _stop_load(load)
        code = srv.stop()
    assert code == 0, srv.output()
    assert_every_request_answered(load, "2 HUPs")
    assert sum(c.answered for c in load) > 100


MAX_REQUESTS, JITTER, CLIENTS = 150, 30, 6


@pytest.mark.parametrize("app, args", [("gunicorn_apps:wsgi", ["--threads", "2"]), ("gunicorn_apps:asgi", [])],
                         ids=["wsgi", "asgi"])
def test_max_requests_recycles_workers_within_the_limit_losing_nothing(tmp_path: Path, app: str,
                                                                        args: list[str]) -> None:
    """As gunicorn's own workers: a worker leaves after its --max-requests plus the jitter
    it drew, and the requests in flight: one per client when the limit is reached, and
    one more on a connection a client opened as the drain began (the drain's sweep of
    the shared accept queue answers it, with Connection: close)."""
    srv = Gunicorn(tmp_path, app, *args, "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", str(JITTER),
                   workers=2)
    load = _load(srv, CLIENTS)
    try:
        srv.wait_log(r"Autorestarting worker after current request\.", timeout=30, count=3)
        srv.wait_log(r"\[INFO\] serving on ", timeout=20, count=5)  # three replacements serve
        time.sleep(0.5)
    finally:
        _stop_load(load)
        # Each booted worker serving before the TERM: a TERM that reaches a worker between
        # gunicorn's fork and its signal handlers is the arbiter's to handle (it kills the
        # worker after --graceful-timeout), not what this test is about, and this test's
        # recycling boots workers many times a second.
        srv.wait_all_serving()
        code = srv.stop()
    out = srv.output()
    assert code == 0, out
    assert_every_request_answered(load, f"--max-requests {MAX_REQUESTS}")
    recycled = {int(p) for p in re.findall(r"\[(\d+)\] \[INFO\] Autorestarting worker", out)}
    served = collections.Counter(pid for c in load for _, pid in c.pids)
    assert len(recycled) >= 3 and recycled <= set(served), (recycled, served)
    bound = MAX_REQUESTS + JITTER + 2 * CLIENTS  # (before the native limit: up to 7,396)
    assert all(n <= bound for n in served.values()), f"more than {bound} requests served by a worker: {served}"
    assert all(served[pid] >= MAX_REQUESTS for pid in recycled), f"recycled before {MAX_REQUESTS}: {served}"


def test_term_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    srv, s, reader, sent = signal_in_slow_request(tmp_path, "10", "/sleep?s=1.5", signal.SIGTERM)
    r = read_or_why(reader)
    s.close()
    code = srv.stop()
    assert isinstance(r, Response) and r.status == 200 and r.header("connection") == "close", r
    assert time.monotonic() - sent > 0.9  # it waited for the handler
    assert code == 0, srv.output()
    with pytest.raises(OSError):  # the arbiter closed the listener
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()


def test_quit_does_not_wait_for_a_slow_request(tmp_path: Path) -> None:
    srv, s, reader, sent = signal_in_slow_request(tmp_path, "30", "/sleep?s=20", signal.SIGQUIT)
    code = srv.stop(timeout=15)
    took = time.monotonic() - sent
    r = read_or_why(reader)
    s.close()
    assert took < 5, f"QUIT took {took:.1f} s:\n{srv.output()}"
    assert not isinstance(r, Response), r  # cut off: a quick stop
    assert code == 0, srv.output()
    assert "quick shutdown: exiting with requests still in flight" in srv.output()


def test_ttin_adds_a_worker_and_ttou_retires_the_oldest(tmp_path: Path) -> None:
    srv = Gunicorn(tmp_path, "gunicorn_apps:wsgi")
    try:
        (first,) = srv.serving_pids()
        assert pid_of(srv) == first
        srv.proc.send_signal(signal.SIGTTIN)
        srv.wait_serving(2)
        second = srv.serving_pids()[1]
        assert second != first and _is_our_worker(second)
        srv.proc.send_signal(signal.SIGTTOU)  # the oldest goes: only the one TTIN added serves
        deadline = time.monotonic() + 15
        while _is_our_worker(first) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _is_our_worker(first), srv.output()
        assert {pid_of(srv) for _ in range(5)} == {second}
    finally:
        code = srv.stop()
    assert code == 0, srv.output()


# ---- --timeout -----------------------------------------------------------------------


@pytest.mark.parametrize("app, path", [("gunicorn_apps:wsgi", "/hold-gil?s=30"),
                                       ("gunicorn_apps:asgi", "/block-loop?s=30")],
                         ids=["wsgi-handler-holds-the-gil", "asgi-handler-blocks-the-loop"])
def test_timeout_replaces_a_worker_whose_python_side_is_stuck(tmp_path: Path, app: str, path: str) -> None:
    srv = Gunicorn(tmp_path, app, "--timeout", "2", "--threads", "4")
    try:
        (stuck,) = srv.serving_pids()
        if app.endswith(":asgi"):  # its lifespan startup ran in the worker
            assert get(srv, "/ping").json()["booted"] == stuck
        s, _ = send_slow(srv, path)
        srv.wait_log(rf"WORKER TIMEOUT \(pid:{stuck}\)", timeout=15)
        srv.wait_serving(2)
        s.close()
        fresh = pid_of(srv)
        assert fresh != stuck and not _is_our_worker(stuck), srv.output()
    finally:
        code = srv.stop()
    assert code == 0, srv.output()


@pytest.mark.parametrize("app, threads, slow, ping", [("gunicorn_apps:wsgi", "2", "/sleep?s=5", "/ping"),
                                                      ("asyncapp:app", "1", "/sleep?s=5", "/sleep?s=0")],
                         ids=["wsgi-handler-thread-sleeps", "ringbolt-async-handler-awaits"])
def test_timeout_spares_a_worker_whose_handler_waits(tmp_path: Path, app: str, threads: str, slow: str,
                                                    ping: str) -> None:
    """--timeout is not a request deadline for a worker with threads or an event loop
    (gunicorn's docs): a WSGI handler sleeping past it, the GIL released and another thread
    free, or an async handler awaiting past it, is answered, and the worker serves meanwhile.
    The last 3.5 s of the wait see no other request, so no other answer makes a beat."""
    srv = Gunicorn(tmp_path, app, "--timeout", "2", "--threads", threads)
    try:
        s, reader = send_slow(srv, slow)
        pings: list[int] = []

        def ping_meanwhile() -> None:
            for _ in range(4):
                pings.append(get(srv, ping).status)
                time.sleep(0.3)

        t = threading.Thread(target=ping_meanwhile)
        t.start()
        r = read_or_why(reader)
        t.join(10)
        s.close()
        assert isinstance(r, Response) and r.status == 200, r
        assert pings == [200] * 4
        assert len(srv.serving_pids()) == 1 and "WORKER TIMEOUT" not in srv.output(), srv.output()
    finally:
        code = srv.stop()
    assert code == 0, srv.output()
