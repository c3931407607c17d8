"""The harness's processes: start one in its own session, find its descendants through
/proc, measure their CPU time and peak RSS, stop them by pid. Standard library only and
importing nothing beside it: servers.py loads it by path."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")

LIVE: dict[int, subprocess.Popen[Any]] = {}  # every process we started and have not reaped


def all_ppids() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        out[int(entry)] = int(fields[1])
    return out


def process_tree(root: int) -> list[int]:
    """root and all its live descendants."""
    ppids = all_ppids()
    children: dict[int, list[int]] = {}
    for pid, ppid in ppids.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in ppids or pid == root:
            tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime (all threads) of these processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def peak_rss_kib(pids: list[int]) -> int:
    """Sum over the processes of their VmHWM (peak resident set), KiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def start_process(cmd: list[str], cwd: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[Any]:
    log = open(log_path, "wb")
    try:
        # its own session/process group, so a Ctrl-C in the terminal reaches only us and
        # we stop the server ourselves, by pid
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()
    LIVE[proc.pid] = proc
    return proc


def stop_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """SIGTERM the process, its descendants and its process group (it leads its own
    session, so the group id is its pid); SIGKILL whatever remains after timeout."""
    try:
        tree = process_tree(proc.pid) if proc.poll() is None else []
        for pid in tree:
            _signal(pid, signal.SIGTERM)
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None and not any(_alive(p) for p in tree if p != proc.pid):
                break
            time.sleep(0.05)
        for pid in tree:
            if _alive(pid):
                _signal(pid, signal.SIGKILL)
        _signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    finally:
        LIVE.pop(proc.pid, None)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2] != "Z"


def stop_all() -> None:
    for proc in list(LIVE.values()):
        stop_process(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])
