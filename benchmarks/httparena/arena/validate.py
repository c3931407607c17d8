"""HttpArena's own validation (scripts/validate.sh, and validate-ws.py through it) run
against a server the runner started, without docker.

validate.sh builds and starts the entry's container, and a Postgres container for the
database profiles, then checks the entry on ports 8080/8081/8082/8443 with curl and
python. Here it runs from a copy in which only the four port assignments, the checkout's
paths and the meta.json it reads change (the copy's meta.json lists the one profile
validated), with a `docker` first on PATH that does nothing except `docker exec <pg>
pg_isready|psql ...`, which it runs against the runner's PostgreSQL. Every check is
theirs, with their requests and their verdicts.

HttpArena has no HTTP/3 check (its baseline-h3 and static-h3 validation pages rely on
the h2 checks of the same endpoints on port 8443). An HTTP/3 profile is validated with
validate.sh's checks of its h2 twin (H3_TWINS) and the same checks made over HTTP/3 by
h3check.py (aioquic: Debian 12's curl has no HTTP/3); both must pass.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from dataclasses import dataclass, field

from . import procs
from .checkout import Checkout

_SHIM = """#!/bin/sh
# docker, as validate.sh uses it, for a server and a PostgreSQL the runner started:
# only `docker exec <container> pg_isready|psql ...` does something.
if [ "$1" = exec ]; then
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            -*) shift ;;
            *) shift; break ;;  # the container name
        esac
    done
    [ -n "$ARENA_PGPORT" ] || exit 1
    case "$1" in
        pg_isready|psql) cmd="$ARENA_PGBIN/$1"; shift; exec "$cmd" -h 127.0.0.1 -p "$ARENA_PGPORT" "$@" ;;
    esac
    exit 1
fi
exit 0
"""


# An HTTP/3 profile and the h2 profile whose validate.sh checks cover its endpoints.
H3_TWINS = {"baseline-h3": "baseline-h2", "static-h3": "static-h2"}
H3CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "h3check.py")


@dataclass
class Verdict:
    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0


def patched_script(checkout: Checkout, ports: dict[str, int], meta_path: str) -> str:
    """validate.sh with the runner's ports, the checkout's paths and ``meta_path``."""
    text = open(checkout.file("scripts", "validate.sh"), encoding="utf-8").read()
    subs = {
        r"^PORT=8080$": f"PORT={ports['plain']}",
        r"^H2PORT=8443$": f"H2PORT={ports['tls_h2']}",
        r"^H1TLS_PORT=8081$": f"H1TLS_PORT={ports['tls_h1']}",
        r"^H2C_PORT=8082$": f"H2C_PORT={ports['h2c']}",
        r'^SCRIPT_DIR=.*$': f"SCRIPT_DIR={shlex.quote(checkout.file('scripts'))}",
        r'^META_FILE=.*$': f"META_FILE={shlex.quote(meta_path)}",
    }
    for pattern, new in subs.items():
        text, n = re.subn(pattern, lambda _m, new=new: new, text, count=1, flags=re.M)
        if n != 1:
            raise RuntimeError(f"scripts/validate.sh no longer has a line matching {pattern!r}: "
                               "arena/validate.py needs an update")
    return text


def parse_output(output: str) -> Verdict:
    """validate.sh's verdict: the "=== Results: N passed, M failed ===" line, the FAIL and
    SKIP lines."""
    v = Verdict(output=output)
    m = re.search(r"=== Results: (\d+) passed, (\d+) failed ===", output)
    if m:
        v.passed, v.failed = int(m.group(1)), int(m.group(2))
    else:
        v.failed = max(1, output.count("FAIL"))
    for line in output.splitlines():
        s = line.strip()
        if s.startswith("FAIL") or s.startswith("✗") or (s.startswith("[FAIL]")):
            v.failures.append(s)
        elif s.startswith("SKIP"):
            v.skipped.append(s)
    if not m:
        v.failures.append("validate.sh ended without its Results line: " + (output.strip().splitlines() or [""])[-1])
    return v


def run(checkout: Checkout, name: str, profile: str, ports: dict[str, int], work_dir: str,
        pg_port: int | None, pg_bindir: str | None, timeout: float = 300) -> Verdict:
    """Validate ``profile`` of the server on ``ports``, as validate.sh <name> would."""
    os.makedirs(work_dir, exist_ok=True)
    meta = os.path.join(work_dir, "meta.json")
    with open(meta, "w") as f:
        json.dump({"display_name": name, "tests": [profile]}, f)
    script = os.path.join(work_dir, "validate.sh")
    with open(script, "w", encoding="utf-8") as f:
        f.write(patched_script(checkout, ports, meta))
    bindir = os.path.join(work_dir, "bin")
    os.makedirs(bindir, exist_ok=True)
    shim = os.path.join(bindir, "docker")
    with open(shim, "w") as f:
        f.write(_SHIM)
    os.chmod(shim, os.stat(shim).st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
           "VALIDATE_TIMEOUT": str(int(timeout)), "PGPASSWORD": "bench", "PGUSER": "bench"}
    if pg_port is not None and pg_bindir:
        env.update({"ARENA_PGPORT": str(pg_port), "ARENA_PGBIN": pg_bindir})
    # Output to a file, not a pipe: validate.sh's watchdog (a subshell sleeping for the
    # whole timeout) keeps its stdout open after the script ends. The script runs in a
    # session of its own, and whatever it left behind is stopped with it.
    log = os.path.join(work_dir, "validate.log")
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", script, name], cwd=work_dir, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout + 30)
            late = ""
        except subprocess.TimeoutExpired:
            late = f"\n(the runner stopped validate.sh after {timeout + 30:.0f} s)"
        finally:
            procs.stop_tree(proc.pid, timeout=2, popen=proc)
            procs.kill_group(proc.pid)  # the session's leftovers (the watchdog and its sleep)
    with open(log, errors="replace") as f:
        output = f.read() + late
    return parse_output(output)


def run_h3(python: str, profile: str, port: int, work_dir: str, timeout: float = 120) -> Verdict:
    """h3check.py's checks of ``profile`` over HTTP/3 on UDP ``port``, with ``python``
    (which must have aioquic)."""
    os.makedirs(work_dir, exist_ok=True)
    try:
        out = subprocess.run([python, H3CHECK, profile, str(port)], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        output = out.stdout + out.stderr
    except subprocess.TimeoutExpired as exc:
        output = f"{exc.stdout or ''}\nFAIL [HTTP/3 checks]: h3check.py did not finish within {timeout:.0f} s"
    with open(os.path.join(work_dir, "h3check.log"), "w") as f:
        f.write(output)
    return parse_output(output)


def merge(*verdicts: Verdict) -> Verdict:
    """One verdict of several runs of checks: every check counted, every failure kept."""
    out = Verdict()
    for v in verdicts:
        out.passed += v.passed
        out.failed += v.failed
        out.failures += v.failures
        out.skipped += v.skipped
        out.output += v.output
    return out
