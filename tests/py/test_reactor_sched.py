"""Reactor threads' scheduling policy (--reactor-sched): SCHED_BATCH when requests go to
the worker's asyncio loop (an ASGI app, async handlers), normal for an App whose
handlers all run inline and for a WSGI app (its handler pool measured no better under
batch); the flag and RINGBOLT_REACTOR_SCHED override it.
Threads are read from /proc of the real server: reactors are named rb-reactor-<i> and
the WSGI pool's threads rb-pool-<i>. And a busy loop thread that never blocks does not
keep a batch-scheduled reactor from answering a sync route on a shared CPU."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import seccomp_block
from conftest import APPS, REPO, Reader, ServerProcess


def server_threads(pid: int) -> dict[str, int]:
    """name -> policy (os.SCHED_*) of every thread of the server and its children."""
    out: dict[str, int] = {}
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids.extend(int(c) for c in children)
    for p in pids:
        for task in Path(f"/proc/{p}/task").iterdir():
            name = (task / "comm").read_text().strip()
            out[f"{name}@{p}:{task.name}"] = os.sched_getscheduler(int(task.name))
    return out


def policies(pid: int, prefix: str, count: int = 1) -> list[int]:
    """Policies of the threads named prefix*, once there are count of them: the server
    answers as soon as its first reactor listens, so the others may still be starting."""
    deadline = time.monotonic() + 10
    while True:
        found = [policy for key, policy in server_threads(pid).items() if key.startswith(prefix)]
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) >= count, f"{count} {prefix} threads wanted, in {sorted(server_threads(pid))}"
    return found


def get(srv: ServerProcess, path: str, timeout: float = 10):
    with srv.connect(timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return Reader(s).read()


@pytest.mark.parametrize(
    "app, args, env, expected",
    [
        pytest.param("asgi_app:app", (), {}, os.SCHED_BATCH, id="asgi-auto"),
        pytest.param("wsgi_app:app", (), {}, os.SCHED_OTHER, id="wsgi-auto"),
        pytest.param("wsgi_app:app", ("--reactor-sched", "batch"), {}, os.SCHED_BATCH, id="wsgi-batch"),
        pytest.param("basic:app", (), {}, os.SCHED_BATCH, id="app-with-an-async-handler-auto"),
        pytest.param("methods_app:app", (), {}, os.SCHED_OTHER, id="sync-app-auto"),
        pytest.param("asgi_app:app", ("--reactor-sched", "normal"), {}, os.SCHED_OTHER, id="asgi-normal"),
        pytest.param("methods_app:app", ("--reactor-sched", "batch"), {}, os.SCHED_BATCH, id="sync-app-batch"),
        pytest.param("asgi_app:app", (), {"RINGBOLT_REACTOR_SCHED": "normal"}, os.SCHED_OTHER, id="asgi-env-normal"),
    ],
)
def test_reactor_policy(app: str, args: tuple[str, ...], env: dict[str, str], expected: int):
    srv = ServerProcess(app, "--threads", "2", *args, env=env)
    try:
        assert get(srv, "/").status < 500  # serving (each app answers / somehow)
        assert policies(srv.proc.pid, "rb-reactor-", 2) == [expected, expected]
        if app == "wsgi_app:app":
            pool = policies(srv.proc.pid, "rb-pool-")
            assert all(p == os.SCHED_OTHER for p in pool)  # only the reactors change
    finally:
        assert srv.stop() == 0, srv.output()
    assert "SCHED_BATCH refused" not in srv.output()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the seccomp filter uses x86_64 syscall numbers")
def test_a_refused_batch_policy_is_logged_once_and_the_server_serves():
    # A container whose seccomp profile denies sched_setscheduler: each reactor keeps the
    # normal policy, reactor 0 says so once, and the server serves as usual.
    deny = seccomp_block.SYSCALLS["sched_setscheduler"]
    srv = ServerProcess("asgi_app:app", "--threads", "2", "--reactor-sched", "batch",
                        preexec_fn=lambda: seccomp_block.deny(deny))
    try:
        r = get(srv, "/method")
        assert r.status == 200 and r.body == b"GET"
        assert policies(srv.proc.pid, "rb-reactor-", 2) == [os.SCHED_OTHER, os.SCHED_OTHER]
    finally:
        assert srv.stop() == 0, srv.output()
    out = srv.output()
    assert out.count("SCHED_BATCH refused (Operation not permitted); they keep the normal policy") == 1, out


def test_a_bad_policy_is_refused_with_the_choices():
    r = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "basic:app", "--app-dir", str(APPS),
                        "--reactor-sched", "fifo"], cwd=str(REPO), capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "--reactor-sched" in r.stderr and "fifo" in r.stderr and "batch" in r.stderr, r.stderr


def test_app_run_refuses_a_bad_policy():
    code = "from ringbolt import App; App().run(port=0, reactor_sched='fifo')"
    r = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "ValueError: reactor_sched must be 'auto', 'batch' or 'normal', not 'fifo'" in r.stderr, r.stderr


@pytest.mark.parametrize("hosted", [True, False], ids=["loop-on-the-reactor", "loop-thread"])
def test_a_spinning_loop_thread_does_not_starve_a_batch_reactor_on_its_cpu(hosted: bool):
    # Server and loop on one CPU; an async handler keeps that CPU and the GIL for 5 s
    # without blocking. With one reactor the loop runs on the reactor's thread (normal
    # policy) and the reactor's stand-in thread serves its connections meanwhile; with
    # RINGBOLT_HOST_LOOP=0 the loop has its own thread and the reactor is batch-scheduled.
    # Either way a sync route (which needs the GIL too: CPython's forced switch hands it
    # over) is answered before the spin ends.
    cpu = min(os.sched_getaffinity(0))
    srv = ServerProcess("stall_app:app", "--threads", "1", preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
                        env={} if hosted else {"RINGBOLT_HOST_LOOP": "0"})
    try:
        assert policies(srv.proc.pid, "rb-reactor-") == [os.SCHED_OTHER if hosted else os.SCHED_BATCH]
        results: dict[str, object] = {}
        spinner = threading.Thread(target=lambda: results.setdefault("spin", get(srv, "/spin?s=5", timeout=20)))
        spinner.start()
        time.sleep(0.5)  # the loop thread is spinning now
        r = get(srv, "/sync", timeout=10)
        assert r.status == 200 and r.body == b"sync"
        assert "spin" not in results, "the sync answer came only after the spin ended"
        spinner.join(20)
        assert results["spin"].status == 200 and results["spin"].body.startswith(b"spun ")
    finally:
        srv.stop()
    if hosted:  # the sync answer came from the stand-in
        assert "a stand-in thread serves its connections" in srv.output(), srv.output()
