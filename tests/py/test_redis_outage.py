"""A Redis that hangs (SIGSTOP: its connections stay open, nothing answers) under a server
with one reactor (tests/py/apps/redis_outage_app.py): the routes under a Redis rate limit,
on the Redis response cache and reading Redis sessions answer within the documented bound
(a connect and a read timeout, then at once while the breaker is open) with the
documented answers, the native /health/live keeps answering at once, and after SIGCONT
the server uses Redis again (docs/rate-limits.md, docs/caching.md, docs/sessions.md)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import httpx
import pytest
import redis

from conftest import LoggedServer, Reader, Response
from redis_server import redis_process
from ringbolt._redis import Breaker, RedisSettings
from ringbolt.sessions import RedisStore as SessionStore

# What a request may take while Redis hangs: the app's connect and read timeouts (0.05 s
# and 0.2 s here), with room for this shared machine's scheduling. A probe must stay "well
# under a second".
BOUND = 1.0
LIVE_BOUND = 0.5
RETRY_AFTER = 0.5  # the app's breaker: seconds Redis is skipped after a failure

# (method, path, with the session cookie, the answer while Redis hangs): the limit and the
# cache fail open (the request is let through, the handler runs), the sessions fail closed
# (503, Retry-After): a read, and a login's write (without a cookie: nothing to read first).
OUTAGE = [
    ("GET", "/limit", False, 200),
    ("GET", "/limit-async", False, 200),
    ("GET", "/cached", False, 200),
    ("GET", "/cached-async", False, 200),
    ("GET", "/session", True, 503),
    ("GET", "/session-async", True, 503),
    ("POST", "/login", True, 503),
    ("POST", "/login", False, 503),
]


@pytest.fixture(scope="module")
def redis_proc() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with redis_process() as got:
        yield got


@pytest.fixture(scope="module")
def srv(redis_proc: tuple[str, subprocess.Popen[bytes]], tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LoggedServer]:
    log = tmp_path_factory.mktemp("outage") / "server.log"
    s = LoggedServer("redis_outage_app:app", log, "--threads", "1",
                     env={"RINGBOLT_TEST_REDIS_URL": redis_proc[0], "RINGBOLT_TEST_REDIS_RETRY_AFTER": str(RETRY_AFTER)})
    yield s
    assert s.stop() == 0, s.output()


class LiveProbe(threading.Thread):
    """GET /health/live every 50 ms on a connection of its own, recording how long each
    answer took (one that fails counts as 5 s)."""

    def __init__(self, srv: LoggedServer) -> None:
        super().__init__(daemon=True)
        self.srv = srv
        self.times: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            took, r = send(self.srv, "GET", "/health/live", {}, timeout=5)
            self.times.append(took if isinstance(r, Response) and r.status == 200 else 5.0)
            self.stopped.wait(0.05)


def send(srv: LoggedServer, method: str, path: str, headers: dict[str, str], timeout: float = 3,
         start: threading.Barrier | None = None) -> tuple[float, Response | str]:
    """One request on a connection of its own (sent once ``start`` lets every sender go):
    how long its answer took, and the answer (or why there was none)."""
    body = b'{"user": "bo"}' if method == "POST" else b""
    fields = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = (f"{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n{fields}\r\n").encode() + body
    with srv.connect(timeout) as s:
        if start is not None:
            start.wait()
        started = time.monotonic()
        try:
            s.sendall(raw)
            r = Reader(s).read()
            return time.monotonic() - started, r
        except OSError as exc:  # a hang past the timeout: reported, not raised in a worker thread
            return time.monotonic() - started, repr(exc)


def test_a_hung_redis_costs_a_request_the_timeout_and_the_probes_nothing(
        srv: LoggedServer, redis_proc: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = redis_proc
    base = f"http://{srv.host}:{srv.port}"
    with httpx.Client(base_url=base, timeout=5) as c:
        login = c.post("/login", json={"user": "ann"})
        assert login.status_code == 200, login.text
        cookie = {"cookie": f"session={login.cookies['session']}"}
        assert c.get("/session", headers=cookie).json() == {"user": "ann"}
        assert c.get("/cached").json() == c.get("/cached").json()  # stored, then a hit
        assert c.get("/limit", headers={"x-client": "before"}).status_code == 200

    probe = LiveProbe(srv)
    probe.start()
    proc.send_signal(signal.SIGSTOP)
    rounds: list[tuple[list[tuple[str, str, bool, int]], list[tuple[float, Response | str]]]] = []
    try:
        time.sleep(0.2)  # the probe's answers before the first Redis call
        jobs = [job for job in OUTAGE for _ in range(3)]
        for _ in range(3):  # the first round meets the timeout; each later one, the breaker trying Redis again
            start = threading.Barrier(len(jobs))
            with ThreadPoolExecutor(len(jobs)) as pool:
                rounds.append((jobs, list(pool.map(
                    lambda j: send(srv, j[0], j[1], {**(cookie if j[2] else {}), "x-client": "during"}, start=start),
                    jobs))))
            time.sleep(RETRY_AFTER + 0.1)
    finally:
        proc.send_signal(signal.SIGCONT)
        probe.stopped.set()
        probe.join()

    for jobs, answers in rounds:
        late = [(p, took, r) for (_, p, _, _), (took, r) in zip(jobs, answers) if isinstance(r, str) or took > BOUND]
        assert not late, late
        for (method, path, _, status), (_, r) in zip(jobs, answers):
            assert isinstance(r, Response) and r.status == status, (method, path, r)
            if status == 503:
                assert 1 <= int(r.header("retry-after") or "0") <= 5, r
                assert "Redis" in r.json()["detail"] and r.header("set-cookie") is None, r  # the cookie is kept
    assert len(probe.times) > 20 and max(probe.times) < LIVE_BOUND, sorted(probe.times)[-5:]

    # Redis answers again: after the breaker's wait every client uses it.
    with httpx.Client(base_url=base, timeout=5) as c:
        deadline = time.monotonic() + 10
        while c.get("/session", headers=cookie).status_code != 200:
            assert time.monotonic() < deadline, "the sessions never used Redis again"
            time.sleep(0.1)
        assert c.get("/session-async", headers=cookie).json() == {"user": "ann"}
        time.sleep(RETRY_AFTER + 0.1)  # (every breaker past its wait)
        statuses = [c.get(path, headers={"x-client": "after"}).status_code
                    for path in ("/limit", "/limit-async", "/limit", "/limit", "/limit", "/limit")]
        assert statuses == [200] * 5 + [429], statuses  # counted in Redis again
        for path in ("/cached", "/cached-async"):
            first = c.get(path).json()
            assert c.get(path).json() == first  # read from Redis again (and stored, on a miss)
    keys = redis.Redis.from_url(url)
    try:
        assert any(keys.scan_iter(match="outage:cache:*")) and any(keys.scan_iter(match="ringbolt:rate:*"))
    finally:
        keys.close()
    out = srv.output()
    for client in ("rate limit 5/minute", "the response cache", "the session store"):
        assert out.count(f"{client}: Redis at {url} f") == 1, out  # failed: logged once per outage
        assert out.count(f"{client}: Redis at {url} answers again") == 1, out
    assert "Traceback" not in out, out


@pytest.mark.parametrize("kw, error", [
    ({"url": "127.0.0.1:6379"}, "redis://, rediss:// or unix://"),
    ({"timeout": 0}, "timeout must be a number of seconds"),
    ({"connect_timeout": "1"}, "connect_timeout must be a number of seconds"),
    ({"retry_after": True}, "retry_after must be a number of seconds"),
    ({"timeout": 61}, "from 0.001 to 60"),
])
def test_bad_redis_settings_are_refused(kw: dict[str, object], error: str) -> None:
    args = {"url": "redis://127.0.0.1:6379/0", **kw}
    with pytest.raises(ValueError, match=error):
        RedisSettings(**args)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=error):  # the stores take the same keywords
        SessionStore(**args)  # type: ignore[arg-type]


def test_a_password_is_not_logged() -> None:
    assert RedisSettings("redis://:s3cret@cache:6380/1").shown() == "redis://:***@cache:6380/1"
    assert RedisSettings("rediss://ann:s3cret@cache/0").shown() == "rediss://ann:***@cache/0"
    assert RedisSettings("unix:///run/redis.sock").shown() == "unix:///run/redis.sock"


def test_the_breaker_is_one_per_server_and_lets_one_call_try_again() -> None:
    a = RedisSettings("redis://127.0.0.1:1/0", retry_after=0.05)
    assert Breaker.of(a) is Breaker.of(RedisSettings("redis://127.0.0.1:1/3"))  # another db, the same server
    assert Breaker.of(a) is not Breaker.of(RedisSettings("redis://127.0.0.1:2/0"))
    breaker = Breaker()
    assert breaker.allow(0.05)
    breaker.failed(0.05)
    assert not breaker.allow(0.05) and 0 < breaker.wait() <= 0.05
    time.sleep(0.06)
    assert [breaker.allow(0.05) for _ in range(3)] == [True, False, False]  # one call tries Redis
    breaker.succeeded()
    assert breaker.allow(0.05) and breaker.wait() == 0
