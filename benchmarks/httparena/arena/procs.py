"""Processes the runner starts and measures: each in its own session (so its process
group holds everything it forks), stopped by pid and group, also on errors and Ctrl-C;
CPU time of a process tree from /proc; free loopback ports."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO, Sequence

TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (every thread's), [] once it is gone."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def parse_stat(text: str) -> tuple[int, int, int, int]:
    """(utime, stime, cutime, cstime) in clock ticks from a /proc/<pid>/stat line. The
    command name (field 2) may hold spaces and parentheses: fields are counted after the
    last ')'."""
    rest = text.rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state); utime..cstime are fields 14..17.
    return int(rest[11]), int(rest[12]), int(rest[13]), int(rest[14])


def cpu_ticks_split(pid: int) -> tuple[int, int]:
    """CPU time of ``pid``'s tree in clock ticks, (user, system): every live process (all
    its threads), plus what the ones that ended left in their parents' cutime and cstime
    (a process's time moves there when its parent reaps it)."""
    user = system = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                utime, stime, cutime, cstime = parse_stat(f.read())
        except (OSError, IndexError, ValueError):
            continue  # ended between the listing and the read
        user += utime + cutime
        system += stime + cstime
    return user, system


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of ``pid``'s tree in clock ticks (cpu_ticks_split)."""
    return sum(cpu_ticks_split(pid))


def cpu_seconds(pid: int) -> float:
    return cpu_ticks(pid) / TICKS


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, consecutive: int = 1) -> list[int]:
    """``count`` free loopback ports below the ephemeral range (as tests/py/conftest.py
    does, so that client sockets never take them meanwhile); the first ``consecutive``
    of them follow each other (an entry whose TLS port is its plain port + 1)."""
    taken: set[int] = set()
    out: list[int] = []
    for _ in range(2000):
        start = random.randrange(20000, 32000)
        want = consecutive if not out else 1
        run = list(range(start, start + want))
        if any(p in taken for p in run) or not all(port_free(p) for p in run):
            continue
        out += run
        taken.update(run)
        if len(out) >= count:
            return out[:count]
    raise RuntimeError("no free loopback ports between 20000 and 32000")


@dataclass
class Proc:
    """A process the runner started, in a session of its own."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: str | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 8.0) -> None:
        """SIGTERM to the process, its descendants and its group; SIGKILL to whatever is
        left after ``timeout`` seconds (ringzero, for one, does not end on SIGTERM)."""
        stop_tree(self.popen.pid, timeout, self.popen)
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_all(pids: Sequence[int], pgid: int | None, sig: int) -> None:
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass


def stop_tree(pid: int, timeout: float = 8.0, popen: subprocess.Popen[bytes] | None = None) -> None:
    try:
        pgid: int | None = os.getpgid(pid)
    except OSError:
        pgid = None
    if pgid == os.getpgrp():
        pgid = None  # never signal the runner's own group
    pids = tree(pid)
    _signal_all(pids, pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not any(_exists(p) for p in pids):
            break
        time.sleep(0.05)
    else:
        pids = tree(pid) + pids
        _signal_all(pids, pgid, signal.SIGKILL)
        deadline = time.monotonic() + 10  # SIGKILL is delivered when each gets the CPU
        while any(_exists(p) for p in pids) and time.monotonic() < deadline:
            if popen is not None:
                popen.poll()
            time.sleep(0.02)
    if popen is not None:
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def kill_group(pgid: int, grace: float = 1.0) -> None:
    """SIGTERM, then SIGKILL, to what is left of process group ``pgid`` (a session the
    runner started, whose leader has ended)."""
    if pgid == os.getpgrp():
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except OSError:
            return  # no process left in the group
        time.sleep(grace if sig == signal.SIGTERM else 0)


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def start(name: str, argv: Sequence[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
          cpus: str | None = None, log_path: str | None = None) -> Proc:
    """Start ``argv`` in a new session, pinned to ``cpus`` (a taskset list), output to
    ``log_path`` (or discarded)."""
    cmd = list(argv)
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    log = open(log_path, "ab") if log_path else None
    popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=log if log else subprocess.DEVNULL, stderr=subprocess.STDOUT,
                             start_new_session=True)
    return Proc(name, popen, log_path, log)


class Registry:
    """Every process started for a run, stopped in reverse order by ``stop_all`` (the
    runner calls it in a ``finally``, and on SIGTERM/SIGINT)."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, *args: object, **kwargs: object) -> Proc:
        proc = start(*args, **kwargs)  # type: ignore[arg-type]
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        while self.procs:
            self.procs.pop().stop()
