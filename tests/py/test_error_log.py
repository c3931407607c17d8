"""Handler tracebacks are rate-limited per kind (the exception's type and the line that
raised it): 200 failing requests give one traceback and a count, a different failure
still gets its own traceback; the count comes every 10 s, and at the latest when the
server stops."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from conftest import LoggedServer, get
from ringbolt._error_log import INTERVAL_S, ErrorLog

REQUESTS = 200


@pytest.mark.parametrize("app, path, periodic", [
    ("error_log_apps:app", "/boom/{i}", True),        # sync handler, inline (native _log_exception)
    ("error_log_apps:app", "/aboom/{i}", False),      # async handler, on the loop
    ("error_log_apps:asgi_app", "/boom/{i}", False),  # an ASGI app raising before its start
    ("error_log_apps:wsgi_app", "/boom/{i}", False),  # a WSGI app raising (wsgi._log)
], ids=["sync", "async", "asgi", "wsgi"])
def test_one_traceback_per_kind_and_a_count(tmp_path: Path, app: str, path: str, periodic: bool) -> None:
    srv = LoggedServer(app, tmp_path / "server.log", "--threads", "1")
    try:
        for i in range(REQUESTS):
            assert get(srv, path.format(i=i)).status == 500
        if periodic:  # the count line comes within the interval (10 s), not only at the stop
            srv.wait_log("more ZeroDivisionError (", timeout=INTERVAL_S + 20)
        assert get(srv, "/other").status == 500  # another kind: its own traceback
        assert get(srv, path.format(i="last")).status == 500
    finally:
        assert srv.stop() == 0, srv.output()
    out = srv.output()
    tracebacks = re.findall(r"^Traceback \(most recent call last\):$", out, re.M)
    assert len(tracebacks) == 2, out  # the first ZeroDivisionError, the KeyError
    assert out.count("ZeroDivisionError: integer division or modulo by zero") == 1, out
    assert out.count("KeyError: 'another kind'") == 1, out
    counts = [int(n) for n in re.findall(r"(\d+) more ZeroDivisionError \(\S+error_log_apps\.py:\d+\) ", out)]
    assert sum(counts) == REQUESTS, out  # the 199 after the first, and the last one
    assert len(counts) <= 2, out  # one line at the interval and/or one at the stop, never one per request
    assert "boom/last" in out.split("more ZeroDivisionError")[-1], out  # the count names the last request


@pytest.mark.parametrize("setting, interval", [("0.3", 0.3), ("often", 10.0), ("0", 10.0)])
def test_the_interval_is_set_in_the_servers_environment(tmp_path: Path, setting: str, interval: float) -> None:
    srv = LoggedServer("error_log_apps:app", tmp_path / "server.log", "--threads", "1",
                       env={"RINGBOLT_ERROR_LOG_INTERVAL": setting})
    try:
        for i in range(3):
            assert get(srv, f"/boom/{i}").status == 500
        if interval < 1:  # the count line comes long before the default 10 s
            srv.wait_log("2 more ZeroDivisionError (", timeout=5)
        else:
            srv.wait_log(f"RINGBOLT_ERROR_LOG_INTERVAL='{setting}' is not a number of seconds above 0: using 10",
                         timeout=10)
            assert "more ZeroDivisionError" not in srv.output()  # not before the 10 s
    finally:
        assert srv.stop() == 0, srv.output()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[tuple[float, object]] = []

    def schedule(self, delay: float, fn: object) -> None:
        self.timers.append((self.now + delay, fn))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [fn for at, fn in self.timers if at <= self.now]
        self.timers = [(at, fn) for at, fn in self.timers if at > self.now]
        for fn in due:
            fn()  # type: ignore[operator]


def _fail(exc_type: type[BaseException]) -> BaseException:
    try:
        raise exc_type("x")
    except BaseException as exc:  # noqa: BLE001
        return exc


def test_counts_are_reported_every_interval_and_a_quiet_kind_is_new_again(caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    log = ErrorLog(logging.getLogger("ringbolt.test_error_log"), interval_s=10, forget_s=300,
                   clock=lambda: t.now, schedule=t.schedule)
    caplog.set_level(logging.ERROR, "ringbolt.test_error_log")

    def records() -> list[tuple[bool, str]]:
        out = [(r.exc_info is not None, r.getMessage()) for r in caplog.records]
        caplog.clear()
        return out

    # (advance by, failures of ValueError, failures of OSError, the lines expected)
    steps = [
        (0, 5, 0, [(True, "req 0")]),                    # the first in full, 4 counted
        (9, 0, 0, []),                                   # not yet 10 s
        (1, 0, 0, [(False, "4 more ValueError")]),       # the count, once
        (5, 3, 1, [(True, "req 0")]),                    # OSError is another kind: in full
        (10, 0, 0, [(False, "3 more ValueError")]),      # 3 counted; OSError had no more
        (20, 0, 0, []),                                  # nothing counted: no line
        (301, 1, 0, [(True, "req 0")]),                  # quiet for 301 s: in full again
    ]
    for advance, values, oserrors, expected in steps:
        t.advance(advance)
        for i in range(values):
            log.failure(_fail(ValueError), "req %d", i)
        for i in range(oserrors):
            log.failure(_fail(OSError), "req %d", i)
        got = records()
        assert len(got) == len(expected), got
        for (has_tb, text), (want_tb, start) in zip(got, expected):
            assert has_tb == want_tb and text.startswith(start), got
    # the count line names the kind's place and its last failure
    log.failure(_fail(ValueError), "req %d", 41)
    log.failure(_fail(ValueError), "req %d", 42)
    t.advance(10)
    (has_tb, text), = records()
    assert not has_tb and re.match(r"2 more ValueError \(\S+test_error_log\.py:\d+\) .*the last: req 42$", text), text


def test_an_exception_without_a_traceback_is_told_apart_by_its_message(caplog: pytest.LogCaptureFixture) -> None:
    # (the server's native checks of an answer raise with no Python frame)
    t = FakeTime()
    log = ErrorLog(logging.getLogger("ringbolt.test_error_log"), clock=lambda: t.now, schedule=t.schedule)
    caplog.set_level(logging.ERROR, "ringbolt.test_error_log")
    for message in ["Content-Length: 99 does not match", "invalid header name 'a b'", "Content-Length: 99 does not match"]:
        log.failure(ValueError(message), "answer for %s", message)
    assert [r.getMessage() for r in caplog.records] == [
        "answer for Content-Length: 99 does not match", "answer for invalid header name 'a b'"]
    caplog.clear()
    t.advance(10)
    assert [r.getMessage() for r in caplog.records] == [
        "1 more ValueError ('Content-Length: 99 does not match') since its traceback was logged (counted, not logged "
        "again); the last: answer for Content-Length: 99 does not match"]
