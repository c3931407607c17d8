"""Health probes (app.health, docs/health.md) over real sockets: live, ready and startup
before and after the startup hooks, user checks failing, hanging and passing again, a
Kubernetes-style probe loop through a SIGTERM drain, renamed and disabled probes, HTTP/2,
--workers 2, and proof that a probe never enters Python."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import APPS, LoggedServer, Reader, ServerProcess, free_port, get, metric_totals, request
import h3_client
from h2_tls_helpers import Client, certs, status, tls_args, wait_for  # noqa: F401  (certs is a fixture)
from ringbolt import App

LIVE, READY, STARTUP = "/health/live", "/health/ready", "/health/startup"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The files the test app watches: the startup gate, the database check's file (made:
    the check passes) and the hang file (absent: the async check returns at once)."""
    f = {"gate": tmp_path / "gate", "db": tmp_path / "db", "hang": tmp_path / "hang", "slow": tmp_path / "slow"}
    f["db"].touch()
    return f


def env_of(files: dict[str, Path], **extra: str) -> dict[str, str]:
    return {"RINGBOLT_TEST_GATE": str(files["gate"]), "RINGBOLT_TEST_DB": str(files["db"]),
            "RINGBOLT_TEST_HANG": str(files["hang"]), "RINGBOLT_TEST_SLOW": str(files["slow"]), **extra}


@pytest.fixture
def logged(tmp_path: Path, files: dict[str, Path]) -> Iterator[Any]:
    """Starts `health_app:<name>` with its output in a file; stops it (exit 0) after."""
    started: list[LoggedServer] = []

    def start(name: str = "app", *args: str, **extra: str) -> LoggedServer:
        srv = LoggedServer(f"health_app:{name}", tmp_path / f"server{len(started)}.log", *args,
                           env=env_of(files, **extra))
        started.append(srv)
        return srv

    yield start
    for srv in started:
        assert srv.stop() == 0, srv.output()


def probe(srv: ServerProcess, path: str) -> tuple[int, dict[str, Any] | None]:
    r = get(srv, path)
    if r.status in (200, 503) and r.header("content-type") == "application/json":
        assert r.header("cache-control") == "no-store", r
        return r.status, r.json()
    return r.status, None


def wait_status(srv: ServerProcess, path: str, want: int, timeout: float = 5.0) -> dict[str, Any] | None:
    """The probe's body once it answers `want`; fails after `timeout` s."""
    seen: list[Any] = []

    def answered() -> bool:
        seen[:] = [probe(srv, path)]
        return seen[0][0] == want

    assert wait_for(answered, timeout), f"{path} never answered {want}: last {seen}\n{srv.output()}"
    return seen[0][1]


STARTING_BODY = {"status": "unavailable", "reason": "starting"}
# (path, status and body while the startup hook waits, once it has run)
STARTUP_CASES = [
    (LIVE, (200, {"status": "ok"}), (200, {"status": "ok"})),
    (STARTUP, (503, STARTING_BODY), (200, {"status": "ok"})),
    (READY, (503, {**STARTING_BODY, "checks": {"db": "pending", "queue": "pending", "cache": "pending"}}),
     (200, {"status": "ok", "checks": {"db": "ok", "queue": "ok", "cache": "ok"}})),
]


def test_probes_before_and_after_startup(logged: Any, files: dict[str, Path]) -> None:
    srv = logged()  # it listens while its startup hook waits for the gate
    for path, before, _ in STARTUP_CASES:
        assert probe(srv, path) == before, path
    r = get(srv, "/pid")  # the app itself is not reached before its startup hook has run
    assert r.status == 503 and r.header("retry-after") == "1" and "starting" in r.json()["detail"], r
    files["gate"].touch()
    wait_status(srv, READY, 200)
    for path, _, after in STARTUP_CASES:
        assert probe(srv, path) == after, path
    for path, _, after in STARTUP_CASES:  # HEAD: the same status, no body
        r = request(srv, f"HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode(), head_request=True)
        assert r.status == after[0] and r.body == b"" and int(r.header("content-length") or 0) > 0, r
    assert get(srv, "/pid").status == 200


# (what the test does to the check's files, the checks the ready probe then shows)
CHECK_CASES = [
    ("db gone", {"db": "failing", "queue": "ok", "cache": "ok"}),
    ("db back", {"db": "ok", "queue": "ok", "cache": "ok"}),
    ("queue hangs", {"db": "ok", "queue": "timeout", "cache": "ok"}),  # async: cancelled each round
    ("queue back", {"db": "ok", "queue": "ok", "cache": "ok"}),
    ("cache hangs", {"db": "ok", "queue": "ok", "cache": "timeout"}),  # sync: outwaited, not restarted
    ("cache back", {"db": "ok", "queue": "ok", "cache": "ok"}),
]


def test_checks_flip_and_hang(logged: Any, files: dict[str, Path]) -> None:
    files["gate"].touch()
    srv = logged()
    wait_status(srv, READY, 200)
    actions = {"db gone": files["db"].unlink, "db back": files["db"].touch, "queue hangs": files["hang"].touch,
               "queue back": files["hang"].unlink, "cache hangs": files["slow"].touch,
               "cache back": files["slow"].unlink}
    for action, checks in CHECK_CASES:
        actions[action]()
        want = 200 if all(v == "ok" for v in checks.values()) else 503
        t0 = time.monotonic()
        body = wait_status(srv, READY, want, timeout=3.0)  # interval 0.2 s + timeout 0.3 s
        assert time.monotonic() - t0 < 2.0, action
        assert body == {"status": "ok" if want == 200 else "unavailable", **({} if want == 200 else
                                                                              {"reason": "checks"}),
                        "checks": checks}, action
        if action.endswith("hangs"):
            # A hung check never holds a probe up: answered at once, many times over.
            for _ in range(5):
                t = time.monotonic()
                assert probe(srv, READY)[0] == 503
                assert time.monotonic() - t < 0.2
        assert probe(srv, LIVE)[0] == 200 and probe(srv, STARTUP)[0] == 200, action
    time.sleep(0.6)  # a few more rounds: nothing new is logged while nothing changes
    out = srv.output()
    assert out.count("health check 'db' failed") == 1, out
    assert out.count("health check 'db' passes again") == 1, out
    assert out.count("health check 'queue' took longer than") == 1, out
    assert out.count("health check 'queue' passes again") == 1, out
    assert out.count("health check 'cache' took longer than") == 1, out
    assert out.count("health check 'cache' passes again") == 1, out


def test_a_hung_check_does_not_hold_the_exit(logged: Any, files: dict[str, Path]) -> None:
    files["gate"].touch()
    files["slow"].touch()  # the sync check never returns while the server runs
    srv = logged()
    want = {"status": "unavailable", "reason": "checks", "checks": {"db": "ok", "queue": "ok", "cache": "timeout"}}
    assert wait_for(lambda: probe(srv, READY) == (503, want), 5.0), srv.output()
    t = time.monotonic()
    assert srv.stop() == 0, srv.output()
    assert time.monotonic() - t < 5, "the hung check held the exit"


def test_probes_never_enter_python(logged: Any, files: dict[str, Path]) -> None:
    files["gate"].touch()
    srv = logged("app", "--metrics")
    wait_status(srv, READY, 200)
    before = metric_totals(get(srv, "/metrics").body.decode())
    n = 60
    for i in range(n):
        assert probe(srv, (LIVE, READY, STARTUP)[i % 3])[0] == 200
    after = metric_totals(get(srv, "/metrics").body.decode())
    assert after["requests"] - before["requests"] >= n + 1, (before, after)
    assert after["python_requests"] == before["python_requests"], (before, after)
    assert get(srv, "/pid").status == 200  # and the app's own requests are counted
    assert metric_totals(get(srv, "/metrics").body.decode())["python_requests"] == after["python_requests"] + 1


def test_probes_answered_while_python_holds_the_gil(logged: Any, files: dict[str, Path]) -> None:
    """A handler holds the GIL for seconds (the regex engine never lets it go): probes on
    other connections are still answered at once by the other reactor. The kernel sends
    each new connection to either reactor at random, and a probe that lands on the busy
    one waits out its 0.25 s, so the hold is long enough (about 5 s here) for three to
    land on the free one: at n=25 (1.2 s) a third of runs ran out of time."""
    files["gate"].touch()
    srv = logged("app", "--threads", "2")
    wait_status(srv, READY, 200)
    held: list[Any] = []

    def hold() -> None:
        with srv.connect(60) as s:
            s.sendall(b"GET /hold?n=27 HTTP/1.1\r\nHost: t\r\n\r\n")
            held.append(Reader(s).read())

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.3)
    answered: list[float] = []  # how long each probe answered during the hold took
    while holder.is_alive() and len(answered) < 3:
        t = time.monotonic()
        with srv.connect() as s:  # new connections: the kernel spreads them over both reactors
            s.sendall(f"GET {READY} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            s.settimeout(0.25)
            try:
                ok = s.recv(100).startswith(b"HTTP/1.1 200")
            except TimeoutError:
                ok = False  # this connection landed on the reactor that runs the handler
        if ok and holder.is_alive():
            answered.append(time.monotonic() - t)
    holder.join(60)
    assert held and held[0].status == 200 and held[0].json() == {"matched": False}, held
    assert len(answered) == 3, f"only {len(answered)} probes answered while a handler held the GIL"
    assert max(answered) < 0.25, answered


@pytest.mark.parametrize("args", [("--handler-threads", "4"), ("--workers", "2", "--handler-threads", "2")],
                         ids=["single", "workers"])
def test_probe_loop_through_a_drain(logged: Any, files: dict[str, Path], args: tuple[str, ...]) -> None:
    """A Kubernetes-style readiness loop (a new connection every 100 ms) while SIGTERM
    drains the server with a long request in flight: ready turns 503 at once and stays so
    through the drain delay, then the server refuses connections; the in-flight request
    and a request sent during the delay are answered 200."""
    files["gate"].touch()
    # Blocking handlers on a pool (--handler-threads): a reactor running a sync handler
    # inline answers nothing else until it returns, a probe neither.
    srv = logged("app", *args, RINGBOLT_TEST_DRAIN_DELAY="1.0")
    wait_status(srv, READY, 200)
    results: list[tuple[float, str]] = []
    stop = threading.Event()

    def probe_loop() -> None:
        while not stop.is_set():
            t = time.monotonic()
            try:
                results.append((t, str(probe(srv, READY)[0])))
            except OSError as exc:
                results.append((t, type(exc).__name__))
            stop.wait(max(0.0, 0.1 - (time.monotonic() - t)))

    in_flight: list[Any] = []
    loop = threading.Thread(target=probe_loop)
    slow = threading.Thread(target=lambda: in_flight.append(get(srv, "/sleep?s=2.0")))
    loop.start()
    slow.start()
    time.sleep(0.5)
    t_signal = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    during = get(srv, "/pid")  # a new connection within the delay: still served
    slow.join(10)
    srv.proc.wait(15)
    stop.set()
    loop.join(5)
    assert in_flight and in_flight[0].status == 200 and in_flight[0].json()["slept"] == 2.0, in_flight
    assert during.status == 200, during
    before = [r for t, r in results if t < t_signal]
    after = [r for t, r in results if t >= t_signal]
    assert before and set(before) == {"200"}, results
    # 200 until the signal is handled (within one 100 ms poll), then 503, then refused.
    seq = "".join("o" if r == "200" else "u" if r == "503" else "x" for r in after)
    assert seq.count("u") >= 6, results  # the 1 s delay: ready answers 503 all along
    first = seq.index("u")
    assert first <= 2, results  # at once: within two probes of the signal
    rest = seq[first:]  # never ready again, and once refused never answered again
    assert "o" not in rest and ("x" not in rest or "u" not in rest[rest.index("x"):]), results
    assert srv.proc.returncode == 0, srv.output()


# (app, path, status)
PATH_CASES = [
    ("renamed", "/livez", 200),
    ("renamed", "/readyz", 200),
    ("renamed", LIVE, 404),
    ("renamed", READY, 404),
    ("renamed", STARTUP, 404),  # startup=None: turned off
    ("renamed", "/startupz", 404),
]


def test_renamed_and_disabled_probes(logged: Any, files: dict[str, Path]) -> None:
    files["gate"].touch()
    srv = logged("renamed")
    wait_status(srv, "/readyz", 200)
    for _, path, want in PATH_CASES:
        assert get(srv, path).status == want, path


def test_probes_over_http2(logged: Any, files: dict[str, Path]) -> None:
    srv = logged()
    c = Client(srv)  # h2c by prior knowledge, one connection for every probe
    for path, before, _ in STARTUP_CASES:
        r = c.get(path)
        assert (status(r), json.loads(r["body"])) == before, path
        assert r["headers"]["cache-control"] == "no-store"
    files["gate"].touch()
    assert wait_for(lambda: status(c.get(READY)) == 200, 5.0)
    for path, _, after in STARTUP_CASES:
        r = c.get(path)
        assert (status(r), json.loads(r["body"])) == after, path
    c.close()


def test_probes_over_http3(logged: Any, files: dict[str, Path], certs: Path) -> None:  # noqa: F811
    srv = logged("app", *tls_args(certs), "--http3", "--threads", "1")
    for path, before, _ in STARTUP_CASES:
        r = h3_client.get(srv.port, path)
        assert (r.status, json.loads(r.body)) == before, path
        assert r.header("cache-control") == "no-store"
    files["gate"].touch()
    assert wait_for(lambda: h3_client.get(srv.port, READY).status == 200, 5.0)
    for path, _, after in STARTUP_CASES:
        r = h3_client.get(srv.port, path)
        assert (r.status, json.loads(r.body)) == after, path


def test_a_failing_startup_hook_stops_the_server(files: dict[str, Path]) -> None:
    """With probes the server listens before its startup hooks run; one that fails still
    stops it, with the hook's error, as without probes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ringbolt", "serve", "health_app:app", "--app-dir", str(APPS), "--port",
         str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, **env_of(files, RINGBOLT_TEST_FAIL_STARTUP="1")})
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0, out
    assert b"error: the database is not there" in out, out


def test_a_probe_path_a_route_has_is_refused() -> None:
    app = App()

    @app.get("/health/live")
    def mine(req: Any) -> str:
        return "mine"

    app.health()
    with pytest.raises(ValueError, match="GET /health/live is already registered"):
        app.run(port=0, log_level="warning")  # refused while the routes are built, before it listens


def test_each_worker_answers_its_own_state(logged: Any, files: dict[str, Path]) -> None:
    srv = logged("app", "--workers", "2")
    pids = set()
    for _ in range(20):  # new connections reach both workers; each says it is starting
        assert probe(srv, STARTUP)[0] == 503 and probe(srv, LIVE)[0] == 200
    files["gate"].touch()
    wait_status(srv, READY, 200)
    deadline = time.monotonic() + 10
    while len(pids) < 2 and time.monotonic() < deadline:
        r = get(srv, "/pid")
        if r.status == 200:
            pids.add(r.json()["pid"])
    assert len(pids) == 2, pids
    assert wait_for(lambda: all(probe(srv, READY)[0] == 200 for _ in range(20)), 5.0)


def test_probes_under_gunicorn(tmp_path: Path, files: dict[str, Path]) -> None:
    from test_gunicorn_worker import Gunicorn

    srv = Gunicorn(tmp_path, "health_app:app", env=env_of(files), wait=False)
    try:
        assert wait_for(lambda: _answers(srv), 20.0), srv.output()
        assert probe(srv, STARTUP)[0] == 503 and probe(srv, LIVE)[0] == 200  # the hook waits
        files["gate"].touch()
        wait_status(srv, READY, 200)
        assert probe(srv, STARTUP)[0] == 200 and get(srv, "/pid").status == 200
    finally:
        assert srv.stop() == 0, srv.output()


def _answers(srv: Any) -> bool:
    try:
        return probe(srv, LIVE)[0] == 200
    except OSError:
        return False


# (keyword arguments, exception, words in its message)
BAD_CONFIG = [
    ({"live": "health"}, ValueError, "must start with '/'"),
    ({"ready": "/x", "startup": "/x"}, ValueError, "share a path"),
    ({"checks": {"db": 1}}, TypeError, "not callable"),
    ({"checks": {"": lambda: True}}, ValueError, "non-empty string"),
    ({"checks": [lambda: True]}, TypeError, "mapping"),
    ({"checks": {"db": lambda: True}, "ready": None}, ValueError, "need the ready probe"),
    ({"interval": 0}, ValueError, "interval must be more than 0"),
    ({"timeout": -1}, ValueError, "timeout must be more than 0"),
    ({"drain_delay": -0.5}, ValueError, "drain_delay must be at least 0"),
    ({"interval": "5"}, TypeError, "interval must be a number"),
]


@pytest.mark.parametrize("kwargs,exc,words", BAD_CONFIG)
def test_bad_configuration_is_refused(kwargs: dict[str, Any], exc: type[Exception], words: str) -> None:
    with pytest.raises(exc, match=words):
        App().health(**kwargs)


def test_health_twice_is_refused() -> None:
    app = App()
    app.health()
    with pytest.raises(ValueError, match="already configured"):
        app.health()
