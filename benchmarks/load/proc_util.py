"""What the load scripts read of a server from /proc (its process tree, CPU time) and a
free loopback port. Shared by ab_ringbolt.py, stream_bench.py and instr_per_request.py."""
from __future__ import annotations

import os
import socket

TCK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a supervisor's workers, for example)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the server's processes, every thread."""
    user = system = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fl = f.read().rsplit(")", 1)[1].split()
            user += int(fl[11])
            system += int(fl[12])
        except OSError:
            pass
    return user / TCK, system / TCK


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
