"""An async handler that never yields: sync routes are still answered, the stall is
logged with the route and where the loop is stuck, and the other async requests are
answered once it ends. A sync handler that blocks the reactor's thread: a connection
made meanwhile is answered once it returns, and the stall log names that handler."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import BACKENDS, APPS, Reader, ServerProcess


def get(srv: ServerProcess, path: str, timeout: float = 15):
    with srv.connect(timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return Reader(s).read()


def test_a_blocked_loop_does_not_stop_sync_routes_and_is_logged():
    srv = ServerProcess("stall_app:app", "--threads", "1")
    try:
        results: dict[str, object] = {}
        blocker = threading.Thread(target=lambda: results.setdefault("block", get(srv, "/block?s=3.5")))
        blocker.start()
        time.sleep(0.5)  # the loop is now inside time.sleep
        waiting = threading.Thread(target=lambda: results.setdefault("async", get(srv, "/async")))
        waiting.start()
        r = get(srv, "/sync", timeout=2)  # on the reactor: not held up by the loop
        assert r.status == 200 and r.body == b"sync"
        assert "async" not in results, "an async request was answered while the loop was blocked"
        blocker.join(15)
        waiting.join(15)
        assert results["block"].body == b"unblocked"
        assert results["async"].body == b"async"
        time.sleep(1.5)  # the watchdog looks every 0.5 s: let it see the loop turn again
    finally:
        srv.stop()
    out = srv.output()
    assert "the event loop has not run for" in out, out
    assert "the async handler of GET /block blocks it" in out, out
    assert "time.sleep" in out, out  # the stack names where it is stuck
    assert "the event loop runs again" in out, out


def test_the_stand_in_waits_as_long_as_standin_after_ms_says(tmp_path):
    # RINGBOLT_STANDIN_AFTER_MS=20000: a loop blocked for 2.5 s is not stood in for, so a
    # sync route waits for it (under valgrind a loop turn lasts that long, and a stand-in
    # would serve the connections instead of the path measured). 300: it takes over.
    # /sync is sent once /block's handler has begun to block the loop (it writes the time
    # to STALL_BEGAN_FILE): on a loaded machine /block may reach the loop late.
    for after, stands_in in (("20000", False), ("300", True)):
        began_file = tmp_path / f"began-{after}"
        srv = ServerProcess("stall_app:app", "--threads", "1",
                            env={"RINGBOLT_STANDIN_AFTER_MS": after, "STALL_BEGAN_FILE": str(began_file)})
        try:
            results: dict[str, object] = {}
            blocker = threading.Thread(target=lambda: results.setdefault("block", get(srv, "/block?s=2.5")))
            blocker.start()
            deadline = time.monotonic() + 15
            while not began_file.exists():
                assert time.monotonic() < deadline, "/block's handler never ran"
                time.sleep(0.01)
            began = float(began_file.read_text())
            time.sleep(0.3)  # the loop is now inside time.sleep
            r = get(srv, "/sync", timeout=10)
            took = time.monotonic() - began
            assert r.status == 200 and r.body == b"sync"
            if stands_in:
                # answered while the loop still sleeps: /block's answer is not sent yet
                assert "block" not in results, f"{after} ms: /sync waited for the blocked loop"
            else:
                # answered only once the loop ran again. (Not "/block answered first": both
                # answers go out in the same turn, and /block's thread may read its own after
                # this one.)
                assert took >= 2.45, f"{after} ms: /sync answered {took:.2f} s after the loop began to sleep"
            blocker.join(15)
            assert results["block"].body == b"unblocked"
        finally:
            srv.stop()
        assert ("a stand-in thread serves its connections" in srv.output()) == stands_in, srv.output()


def test_a_bad_standin_after_ms_is_refused():
    r = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "stall_app:app", "--app-dir", str(APPS), "--threads",
                        "1", "--port", "0"], env={**os.environ, "RINGBOLT_STANDIN_AFTER_MS": "0.5"},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "RINGBOLT_STANDIN_AFTER_MS must be a number of milliseconds above 0, not '0.5'" in r.stderr, r.stderr


# A sync handler runs inline on the reactor's thread. While it blocks for longer than the
# keep-alive timeout, a client connects and sends a whole request: once the handler
# returns, that request must be read and answered. Its connection's idle clock must not
# count the time the reactor was away (it was armed from the loop's time before the
# block and fired on the first sweep after it: closed, no answer). With an async route
# the reactor's thread also runs the event loop (hosted), whose watchdog then names the
# sync handler that blocks it.
BLOCKED_REACTORS = [
    pytest.param("slow:app", "/slow?s=7", None, id="sync-app"),
    pytest.param("stall_app:app", "/sync-block/7", "the sync handler of GET /sync-block/{s} blocks it", id="hosted-loop"),
]


@pytest.mark.parametrize("app,blocker,logged", BLOCKED_REACTORS)
def test_a_connection_made_while_a_sync_handler_blocks_the_reactor_is_answered(app, blocker, logged):
    srv = ServerProcess(app, "--threads", "1", "--keep-alive-timeout", "5")
    try:
        results: dict[str, object] = {}
        blocked = threading.Thread(target=lambda: results.setdefault("block", get(srv, blocker, timeout=30)))
        blocked.start()
        time.sleep(1.0)  # the reactor is inside the handler's 7 s sleep
        with srv.connect(timeout=30) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # whole, and keep-alive
            r = Reader(s).read()
        assert r.status == 200, r
        blocked.join(30)
        assert results["block"].status == 200, results
    finally:
        srv.stop()
    out = srv.output()
    if logged is not None:
        assert logged in out, out
        assert "the async handler of" not in out and "an async handler blocks it" not in out, out


# The same for a connection already open and kept alive (issue 40, finding 8): its first
# request answered before the block, its second sent while the reactor is blocked for
# longer than the keep-alive timeout. That request must be answered once the handler
# returns: the idle clock measures the client, and the client was not idle.
@pytest.mark.parametrize("io", BACKENDS)
@pytest.mark.parametrize("app,blocker,logged", BLOCKED_REACTORS)
def test_a_request_sent_on_a_kept_alive_connection_while_the_reactor_blocks_is_answered(app, blocker, logged, io):
    srv = ServerProcess(app, "--threads", "1", "--keep-alive-timeout", "5",
                        env={"RINGBOLT_IO": "epoll"} if io == "epoll" else {})
    try:
        with srv.connect(timeout=30) as kept:
            kept.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            reader = Reader(kept)
            assert reader.read().status == 200
            results: dict[str, object] = {}
            blocked = threading.Thread(target=lambda: results.setdefault("block", get(srv, blocker, timeout=30)))
            blocked.start()
            time.sleep(1.0)  # the reactor is inside the handler's 7 s sleep
            kept.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # the second request, on the kept connection
            r = reader.read()
            assert r.status == 200, r
        blocked.join(30)
        assert results["block"].status == 200, results
    finally:
        srv.stop()
