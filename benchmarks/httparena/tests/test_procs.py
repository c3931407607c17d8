"""The runner's process control and CPU accounting, on real processes: the CPU time of a
server is its whole tree's (workers, threads, children it already reaped), and stopping
a server ends everything it started, also what ignores SIGTERM or left its group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from arena import procs

# Burns `s` seconds of CPU (process time, so a loaded machine only makes it slower).
BURN = "import time\ndef burn(s):\n    end = time.process_time() + s\n    while time.process_time() < end: pass\n"


@pytest.mark.parametrize("line, want", [
    ("42 (python3) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 7 3 20 0 1 0", (150, 25, 7, 3)),
    ("42 (a b) c)) R 1 42 42 0 -1 0 0 0 0 0 11 22 33 44 20 0 1 0", (11, 22, 33, 44)),  # ')' and spaces in the name
])
def test_parse_stat(line: str, want: tuple[int, int, int, int]) -> None:
    assert procs.parse_stat(line) == want


def _wait_for(path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.mark.parametrize("reap", [False, True], ids=["live-child", "reaped-child"])
def test_cpu_of_a_tree_counts_children(tmp_path, reap: bool) -> None:  # type: ignore[no-untyped-def]
    """A parent that does nothing, a child that burns 0.4 s of CPU: the tree's time grows
    by that, whether the child is still running (its own stat) or already reaped (the
    parent's cutime)."""
    done = tmp_path / "done"
    child = f"{BURN}burn(0.4)\nopen({str(done)!r}, 'w').close()\n" + ("" if reap else "time.sleep(60)\n")
    parent = (f"import subprocess, sys, time\np = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
              + ("p.wait()\nopen({!r}, 'w').close()\n".format(str(tmp_path / "reaped")) if reap else "")
              + "time.sleep(60)\n")
    proc = procs.start("tree", [sys.executable, "-c", parent])
    try:
        before = procs.cpu_seconds(proc.pid)
        _wait_for(str(tmp_path / ("reaped" if reap else "done")))
        after = procs.cpu_seconds(proc.pid)
        assert len(procs.tree(proc.pid)) == (1 if reap else 2)
        # the child's 0.4 s (minus what it had used before `before`), its start-up, no more
        assert 0.3 <= after - before <= 2.0, (before, after)
    finally:
        proc.stop()


def test_stop_ends_what_ignores_sigterm_and_what_left_the_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A server that ignores SIGTERM, its child in its group and a grandchild in a session
    of its own: all gone after stop(), by SIGKILL after the grace time."""
    ready = tmp_path / "ready"
    grandchild = "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n"
    child = (f"import os, signal, subprocess, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
             f"subprocess.Popen([sys.executable, '-c', {grandchild!r}], start_new_session=True)\n"
             f"time.sleep(0.3)\nopen({str(ready)!r}, 'w').close()\ntime.sleep(120)\n")
    server = (f"import signal, subprocess, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              f"subprocess.Popen([sys.executable, '-c', {child!r}])\ntime.sleep(120)\n")
    proc = procs.start("stubborn", [sys.executable, "-c", server])
    _wait_for(str(ready))
    pids = procs.tree(proc.pid)
    assert len(pids) == 3
    t0 = time.monotonic()
    proc.stop(timeout=1.0)
    assert time.monotonic() - t0 < 30
    assert not [p for p in pids if procs._exists(p)]


def test_stop_of_a_well_behaved_server_is_sigterm() -> None:
    proc = procs.start("polite", [sys.executable, "-c", "import time; time.sleep(120)"])
    time.sleep(0.2)
    proc.stop(timeout=30)
    assert proc.popen.returncode == -signal.SIGTERM


def test_registry_stops_everything_in_reverse(tmp_path) -> None:  # type: ignore[no-untyped-def]
    reg = procs.Registry()
    started = [reg.start(f"p{i}", [sys.executable, "-c", "import time; time.sleep(120)"]) for i in range(3)]
    reg.stop(started[1])
    assert reg.procs == [started[0], started[2]]
    reg.stop_all()
    assert reg.procs == [] and all(not p.alive() for p in started)


def test_start_pins_and_logs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "out.log"
    proc = procs.start("pinned", [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                       cpus="0", log_path=str(log))
    proc.popen.wait(timeout=60)
    proc.stop()
    assert log.read_text().strip() == "[0]"
    assert os.getpgid(os.getpid()) != proc.pid  # its own session, not the runner's group


def test_free_ports() -> None:
    ports = procs.free_ports(4, consecutive=2)
    assert len(set(ports)) == 4 and ports[1] == ports[0] + 1
    assert all(20000 <= p < 32000 and procs.port_free(p) for p in ports)


def test_kill_group_ends_the_leftovers_of_a_session() -> None:
    # A session leader that ends at once, leaving a sleeper behind in its group (as
    # validate.sh leaves its watchdog).
    leader = subprocess.Popen(["bash", "-c", "sleep 120 & echo $!"], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    sleeper = int(leader.stdout.readline())  # type: ignore[union-attr]
    leader.wait(timeout=30)
    assert procs._exists(sleeper)
    procs.kill_group(leader.pid, grace=0.2)
    deadline = time.monotonic() + 30
    while procs._exists(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not procs._exists(sleeper)


def test_cpu_split_puts_a_busy_loop_in_user_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A process burning 0.4 s in a Python loop: its user time grows by about that, its
    system time far less."""
    done = tmp_path / "done"
    # the clock read only every 100,000 additions: reading it is a system call
    burn = ("import time\ndef burn(s):\n    end = time.process_time() + s\n"
            "    while time.process_time() < end: sum(range(100_000))\n")
    proc = procs.start("burn", [sys.executable, "-c", f"{burn}time.sleep(0.2)\nburn(0.4)\n"
                                f"open({str(done)!r}, 'w').close()\ntime.sleep(60)\n"])
    try:
        user0, sys0 = procs.cpu_ticks_split(proc.pid)
        _wait_for(str(done))
        user1, sys1 = procs.cpu_ticks_split(proc.pid)
        assert 0.3 <= (user1 - user0) / procs.TICKS <= 2.0, (user0, user1)
        assert (sys1 - sys0) / procs.TICKS < 0.2, (sys0, sys1)
    finally:
        proc.stop()
