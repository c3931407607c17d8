"""Starts fastapi_live's servers by fork: ``python live_launcher.py MODULE...`` imports the
server's modules and FastAPI once, then, for each JSON line on stdin
(``{"argv": ["uvicorn", "docs_src.x:app", ...], "cwd": ..., "log": ...}``), forks a child
that runs ``python -m <argv[0]> <argv[1:]>`` as the command line would (``runpy``, the
module's ``__main__``), its output in the log, in a session of its own, and answers
``{"pid": N}``. Starting a server then costs what importing the app and serving it costs,
not an interpreter and FastAPI's imports each time (some 0.6 s of CPU an app, for the few
hundred apps of the tutorial).

The launcher has no thread when it forks. It reaps its children before each fork, so a
pid the test process may still signal is never a stranger's (an exited child stays a
zombie until then: the test process reads its end as state Z). When stdin closes (the
test process ended, however it ended), it sends SIGTERM to the children still running,
SIGKILL to those left after 10 s, and exits."""

from __future__ import annotations

import importlib
import json
import os
import random
import runpy
import signal
import sys
import time
import traceback


def child(request: dict[str, object]) -> None:
    """In the forked child: become the server. Never returns."""
    code: object = 0
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(str(request["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        random.seed()  # not the launcher's sequence in every server
        cwd = str(request["cwd"])
        os.chdir(cwd)
        argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
        sys.argv = [argv[0], *argv[1:]]
        sys.path[0] = cwd  # as `python -m` puts the working directory first
        runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - told in the log, then the exit status
        traceback.print_exc()
        code = 1
    finally:
        if isinstance(code, str):
            print(code, file=sys.stderr)
            code = 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def reap(children: set[int]) -> None:
    """Forget the children that exited (waitpid): only then may their pids be reused."""
    for pid in list(children):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


def main() -> None:
    sys.path[0] = os.getcwd()  # what the children import is what `python -m` would find
    for name in sys.argv[1:]:
        importlib.import_module(name)
    children: set[int] = set()
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        reap(children)
        pid = os.fork()
        if pid == 0:
            child(request)
        children.add(pid)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
    reap(children)
    for pid in children:
        os.kill(pid, signal.SIGTERM)  # unreaped: still ours
    deadline = time.monotonic() + 10
    while children and time.monotonic() < deadline:
        time.sleep(0.05)
        reap(children)
    for pid in children:
        os.killpg(pid, signal.SIGKILL)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
