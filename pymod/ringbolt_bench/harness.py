#!/usr/bin/env python3
"""Load comparison harness: ringbolt against its peers, one scenario at a time.

For each round and each system (interleaved: A B C A B C ...), the harness starts the
server pinned with `taskset -c SERVER_CPUS`, waits until the scenario URL answers
correctly, warms it up, then runs the load generator pinned with `taskset -c LOAD_CPUS`
and measures requests/s, p50/p99 latency, errors, server CPU time per request and
peak RSS. The report holds the medians over rounds and ratios to a baseline system.

Standard library only, and runnable by path (no package imports): `ringbolt bench` runs
it with the peers' interpreter, where matplotlib draws the charts when it is importable.
It ships in ringbolt's wheel as the top-level package ringbolt_bench (with the wrk
scripts and the nginx template), beside the ringbolt package and never imported by it;
in a source checkout it is pymod/ringbolt_bench/harness.py, the one copy.
Usage: see benchmarks/load/README.md, or `python pymod/ringbolt_bench/harness.py --help`.

Adding a system is one entry in SYSTEMS; adding a scenario is one entry in SCENARIOS.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent  # the wrk scripts and the nginx template
PROG = Path(__file__)  # what the report's command line names


def peers_cache() -> Path:
    """The virtualenv `ringbolt bench` installs the peers into on first use:
    $RINGBOLT_BENCH_PEERS, else $XDG_CACHE_HOME/ringbolt/bench-peers (~/.cache/...).
    As ringbolt_bench.peers.cache_dir(): this file is run by path and imports nothing."""
    env = os.environ.get("RINGBOLT_BENCH_PEERS")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ringbolt" / "bench-peers"


# Where the reference apps, the peers, the C server and the results are. In a source
# checkout (this file at pymod/ringbolt_bench/): benchmarks/load (its apps/, .venv-peers
# and .bin from setup_peers.sh, results/). Installed: the peers' cache venv, and results
# under the current directory; the reference systems then report themselves unavailable.
_CHECKOUT = (HERE.parents[1] if len(HERE.parents) > 1 else HERE) / "benchmarks" / "load"
if (_CHECKOUT / "apps").is_dir():
    ROOT = _CHECKOUT.parent.parent  # repository root
    APPS = _CHECKOUT / "apps"
    VENV = _CHECKOUT / ".venv-peers"
    BIN = _CHECKOUT / ".bin"
    RESULTS = _CHECKOUT / "results"
else:
    ROOT = Path.cwd()
    APPS = HERE / "apps"  # not shipped
    VENV = peers_cache()
    BIN = VENV / "bin"
    RESULTS = Path.cwd() / "ringbolt-bench-results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------
# Scenarios: what is requested and how a correct answer is recognised.
# --------------------------------------------------------------------------------------

def make_echo_body() -> bytes:
    """A deterministic JSON document of exactly 1024 bytes."""
    doc = {"id": 42, "name": "ringbolt-echo", "active": True, "score": 3.25,
           "tags": ["alpha", "beta", "gamma", "delta"],
           "items": [{"k": i, "v": f"value-{i:03d}"} for i in range(20)], "pad": ""}
    raw = json.dumps(doc, separators=(",", ":"))
    doc["pad"] = "p" * (1024 - len(raw))
    body = json.dumps(doc, separators=(",", ":")).encode()
    assert len(body) == 1024, len(body)
    return body


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: Optional[bytes] = None
    content_type: str = "application/json"
    # checks a response: (status, content-type, body) -> error message or None
    check: Callable[[int, str, bytes], Optional[str]] = lambda s, ct, b: None


def _expect(status: int, want_ct: str, predicate: Callable[[bytes], bool]) -> Callable[..., Any]:
    def check(got_status: int, ct: str, body: bytes) -> Optional[str]:
        if got_status != status:
            return f"status {got_status}, want {status}"
        if want_ct not in ct.lower():
            return f"content-type {ct!r}, want {want_ct}"
        try:
            ok = predicate(body)
        except Exception as exc:  # bad JSON and the like
            return f"body check failed: {exc!r}"
        return None if ok else f"unexpected body {body[:80]!r}"
    return check


ECHO_BODY = make_echo_body()
SCENARIOS: dict[str, Scenario] = {
    "plaintext": Scenario("plaintext", "GET", "/plaintext",
                          check=_expect(200, "text/plain", lambda b: b == b"Hello, World!")),
    "json": Scenario("json", "GET", "/json",
                     check=_expect(200, "application/json",
                                   lambda b: json.loads(b) == {"message": "Hello, World!"})),
    "param": Scenario("param", "GET", "/users/12345",
                      check=_expect(200, "application/json", lambda b: json.loads(b) == {"id": 12345})),
    "echo": Scenario("echo", "POST", "/echo", body=ECHO_BODY,
                     check=_expect(200, "application/json",
                                   lambda b: json.loads(b) == json.loads(ECHO_BODY))),
    "body10k": Scenario("body10k", "GET", "/body10k",
                        check=_expect(200, "", lambda b: len(b) == 10240)),
}
ALL_SCENARIOS = frozenset(SCENARIOS)


# --------------------------------------------------------------------------------------
# Systems: THE table. Command templates may use {port} {venv} {apps} {root} {bin} {tmp}
# {nginx} {ringbolt_python}. `probe` is a command that must succeed for the system to
# be available (else it is reported as "unavailable: <reason>").
# --------------------------------------------------------------------------------------

@dataclass
class System:
    cmd: list[str]
    cwd: str = "{apps}"
    scenarios: frozenset[str] = ALL_SCENARIOS
    env: dict[str, str] = field(default_factory=dict)
    probe: Optional[list[str]] = None
    # what a failed probe means, reported in front of the probe's last stderr line
    # (else the reason names the probe command)
    probe_meaning: Optional[str] = None
    prepare: Optional[Callable[[Path, int], None]] = None  # (tmpdir, port) before start
    ready_timeout: float = 30.0


def prepare_nginx(tmp: Path, port: int) -> None:
    text = (HERE / "nginx.conf.tmpl").read_text()
    (tmp / "nginx.conf").write_text(text.replace("@PORT@", str(port)).replace("@TMPDIR@", str(tmp)))
    (tmp / "body10k.bin").write_bytes(b"x" * 10240)


UVICORN_FLAGS = ["--host", "127.0.0.1", "--port", "{port}", "--http", "httptools",
                 "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
GRANIAN_FLAGS = ["--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
                 "--runtime-threads", "1", "--runtime-mode", "st", "--http", "1",
                 "--no-ws", "--log-level", "warning", "--no-access-log"]
FASTPYSGI_FLAGS = ["--host", "127.0.0.1", "--port", "{port}", "--loglevel", "1"]  # 1 = fatal errors only
PLAIN = frozenset({"plaintext"})


def ringbolt_system(module: str, extra_args: tuple[str, ...] = (), probe_code: str = "",
                    probe_meaning: Optional[str] = None) -> System:
    """How ringbolt is started: the one place to change when its CLI settles.
    {ringbolt_python} is $RINGBOLT_PYTHON or python3 (an interpreter where ringbolt is
    installed); $RINGBOLT_PYTHONPATH, when set, is put in front of PYTHONPATH for an
    uninstalled build (e.g. RINGBOLT_PYTHONPATH=pymod:builddir/pymod). `module` is
    `benchmarks.load.apps.<module>:app`, whatever it is (ringbolt App, ASGI or WSGI
    callable: `ringbolt serve` detects it); `probe_code` is extra Python run by the
    probe, which must exit 0 when this build can serve the app."""
    extra = os.environ.get("RINGBOLT_PYTHONPATH")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (extra, os.environ.get("PYTHONPATH")) if p)} if extra else {}
    return System(
        ["{ringbolt_python}", "-m", "ringbolt", "serve", f"benchmarks.load.apps.{module}:app",
         "--host", "127.0.0.1", "--port", "{port}", "--threads", "1", "--workers", "1", *extra_args],
        cwd="{root}",
        env=env,
        probe=["{ringbolt_python}", "-c", f"import ringbolt, benchmarks.load.apps.{module}\n{probe_code}"],
        probe_meaning=probe_meaning,
    )


# ringbolt's WSGI mode is announced by `ringbolt serve --wsgi-threads`; until a build has
# it, the ringbolt-wsgi system is reported as unavailable instead of failing to start.
RINGBOLT_HAS_WSGI = """
import subprocess, sys
out = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "--help"], capture_output=True, text=True).stdout
if "--wsgi-threads" not in out:
    sys.exit("`ringbolt serve --help` has no --wsgi-threads")
"""

UVICORN_FASTAPI = System(["{venv}/bin/uvicorn", "fastapi_app:app", *UVICORN_FLAGS],
                         probe=["{venv}/bin/python", "-c", "import fastapi, uvloop, httptools"])

SYSTEMS: dict[str, System] = {
    "c-uring": System(["{bin}/c_uring_hello", "{port}"], scenarios=PLAIN),
    "nginx": System(["{nginx}", "-p", "{tmp}", "-c", "{tmp}/nginx.conf", "-e", "{tmp}/error.log"],
                    scenarios=frozenset({"plaintext", "json", "param", "body10k"}),
                    prepare=prepare_nginx),
    "uvicorn": System(["{venv}/bin/uvicorn", "uvicorn_asgi:app", *UVICORN_FLAGS],
                      probe=["{venv}/bin/python", "-c", "import uvicorn, uvloop, httptools"]),
    "uvicorn-fastapi": UVICORN_FASTAPI,
    "fastapi": UVICORN_FASTAPI,  # the older name of uvicorn-fastapi
    "granian-rsgi": System(["{venv}/bin/granian", "--interface", "rsgi", *GRANIAN_FLAGS,
                            "granian_rsgi:app"]),
    "granian-asgi": System(["{venv}/bin/granian", "--interface", "asgi", *GRANIAN_FLAGS,
                            "uvicorn_asgi:app"]),
    "granian-fastapi": System(["{venv}/bin/granian", "--interface", "asgi", *GRANIAN_FLAGS,
                               "fastapi_app:app"],
                              probe=["{venv}/bin/python", "-c", "import fastapi"]),
    # WSGI runs on Granian's blocking threads: one, like ringbolt's --wsgi-threads 1
    "granian-wsgi": System(["{venv}/bin/granian", "--interface", "wsgi", "--blocking-threads", "1",
                            *GRANIAN_FLAGS, "wsgi_app:app"]),
    # fastpysgi tells ASGI from WSGI itself; one process, the app called on its libuv loop
    "fastpysgi-asgi": System(["{venv}/bin/fastpysgi", "uvicorn_asgi:app", *FASTPYSGI_FLAGS],
                             probe=["{venv}/bin/python", "-c", "import fastpysgi"]),
    "fastpysgi-wsgi": System(["{venv}/bin/fastpysgi", "wsgi_app:app", *FASTPYSGI_FLAGS],
                             probe=["{venv}/bin/python", "-c", "import fastpysgi"]),
    "socketify": System(["{venv}/bin/python", "socketify_app.py", "{port}"],
                        probe=["{venv}/bin/python", "-c", "import socketify"]),
    "robyn": System(["{venv}/bin/python", "robyn_app.py", "--processes", "1", "--workers", "1",
                     "--log-level", "WARN", "--disable-openapi"],
                    env={"ROBYN_HOST": "127.0.0.1", "ROBYN_PORT": "{port}"},
                    probe=["{venv}/bin/python", "-c", "import robyn"]),
    "ringbolt": ringbolt_system("ringbolt_app"),
    "ringbolt-const": ringbolt_system("ringbolt_const"),
    "ringbolt-async": ringbolt_system("ringbolt_async"),
    # server mode (issue 9): the peers' apps, unchanged
    "ringbolt-asgi": ringbolt_system("uvicorn_asgi"),
    "ringbolt-fastapi": ringbolt_system("fastapi_app", probe_code="import fastapi"),
    "ringbolt-wsgi": ringbolt_system("wsgi_app", ("--wsgi-threads", "1"), RINGBOLT_HAS_WSGI,
                                     probe_meaning="this ringbolt build cannot serve WSGI yet"),
}


def add_user_app(spec: str, path: str, method: str, body: Optional[bytes], compare: list[str]) -> list[str]:
    """Register the user's own ringbolt app as system `app` and scenario `app` (any 2xx
    answer counts as correct), plus `name=module:attr` peers serving the user's ASGI
    version of it (uvicorn, granian). Returns the system names, the app first."""
    cwd = os.getcwd()
    SCENARIOS["app"] = Scenario("app", method, path, body=body,
                                check=lambda st, ct, b: None if 200 <= st < 300 else f"status {st}")
    SYSTEMS["app"] = System(["{ringbolt_python}", "-m", "ringbolt", "serve", spec, "--app-dir", cwd,
                             "--host", "127.0.0.1", "--port", "{port}", "--threads", "1"],
                            cwd=cwd, scenarios=frozenset({"app"}),
                            probe=["{ringbolt_python}", "-c", "import ringbolt"])
    names = ["app"]
    for item in compare:
        peer, _, target = item.partition("=")
        if not target:
            sys.exit(f"--compare {item!r}: use name=module:attr with an ASGI version of the app "
                     f"(peers: uvicorn, granian)")
        if peer == "uvicorn":
            cmd = ["{venv}/bin/uvicorn", target, "--app-dir", cwd, *UVICORN_FLAGS]
        elif peer == "granian":
            cmd = ["{venv}/bin/granian", "--interface", "asgi", *GRANIAN_FLAGS, target]
        elif peer == "fastpysgi":
            cmd = ["{venv}/bin/fastpysgi", target, *FASTPYSGI_FLAGS]
        else:
            sys.exit(f"--compare: unknown peer {peer!r} (uvicorn, granian, fastpysgi)")
        SYSTEMS[peer] = System(cmd, cwd=cwd, scenarios=frozenset({"app"}), env={"PYTHONPATH": cwd})
        names.append(peer)
    return names


def template_vars(port: int, tmp: Path) -> dict[str, str]:
    return {
        "port": str(port), "venv": str(VENV), "apps": str(APPS), "root": str(ROOT),
        "bin": str(BIN), "tmp": str(tmp),
        "nginx": shutil.which("nginx") or "/usr/sbin/nginx",
        "ringbolt_python": os.environ.get("RINGBOLT_PYTHON", "python3"),
    }


def expand(items: list[str], tvars: dict[str, str]) -> list[str]:
    return [item.format(**tvars) for item in items]


def unavailable_reason(name: str, system: System, scenario: str) -> Optional[str]:
    """Why this system cannot run this scenario here, or None."""
    if scenario not in system.scenarios:
        return f"no {scenario} scenario"
    tvars = template_vars(0, Path(tempfile.gettempdir()))
    exe = expand(system.cmd[:1], tvars)[0]
    if not (shutil.which(exe) or (os.path.isfile(exe) and os.access(exe, os.X_OK))):
        hint = "run benchmarks/load/setup_peers.sh" if str(VENV) in exe or str(BIN) in exe else "not installed"
        return f"{exe} not found ({hint})"
    if system.probe:
        try:
            env = {**os.environ, **{k: v.format(**tvars) for k, v in system.env.items()}}
            res = subprocess.run(expand(system.probe, tvars), capture_output=True, text=True,
                                 timeout=60, cwd=system.cwd.format(**tvars), env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"probe failed: {exc}"
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["exit %d" % res.returncode])[-1]
            if system.probe_meaning:
                return f"{system.probe_meaning} ({last})"
            return f"probe `{' '.join(expand(system.probe, tvars))}` failed: {last}"
    return None


# --------------------------------------------------------------------------------------
# Processes: start pinned, find descendants, measure CPU and RSS, stop by pid.
# --------------------------------------------------------------------------------------

LIVE: dict[int, subprocess.Popen[Any]] = {}  # every process we started and have not reaped


class Interrupted(Exception):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:  # turn SIGTERM into an exception so finally blocks run
    raise Interrupted(f"signal {signum}")


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


def http_request(port: int, scenario: Scenario, timeout: float = 2.0) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": scenario.content_type} if scenario.body is not None else {}
        conn.request(scenario.method, scenario.path, body=scenario.body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read()
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[Any], port: int, scenario: Scenario, timeout: float) -> Optional[str]:
    """None once the scenario URL answers correctly; else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} before answering"
        try:
            status, ctype, body = http_request(port, scenario)
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
            continue
        err = scenario.check(status, ctype, body)
        return None if err is None else f"wrong answer: {err}"
    return f"not ready after {timeout:.0f}s ({last})"


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


# --------------------------------------------------------------------------------------
# Load generators: build the command, parse the output into one LoadResult.
# --------------------------------------------------------------------------------------

@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    non_2xx: int = 0
    socket_errors: int = 0
    raw: str = ""


@dataclass
class LoadSpec:
    generator: str
    port: int
    scenario: Scenario
    duration: float
    connections: int
    threads: int
    pipeline: int
    tmp: Path


def cpu_count_of(cpus: str) -> int:
    n = 0
    for part in cpus.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            n += int(hi) - int(lo) + 1
        elif part.strip():
            n += 1
    return max(n, 1)


def body_file(spec: LoadSpec) -> Optional[Path]:
    if spec.scenario.body is None:
        return None
    path = spec.tmp / f"{spec.scenario.name}.body"
    path.write_bytes(spec.scenario.body)
    return path


def wrk_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    env = {}
    if spec.scenario.method != "GET":
        env["WRK_METHOD"] = spec.scenario.method
    bf = body_file(spec)
    if bf:
        env["WRK_BODY_FILE"] = str(bf)
        env["WRK_CONTENT_TYPE"] = spec.scenario.content_type
    cmd = ["wrk", "-t", str(min(spec.threads, spec.connections)), "-c", str(spec.connections),
           "-d", f"{spec.duration:g}s", "--timeout", "5s"]
    if spec.pipeline > 1:
        cmd += ["-s", str(HERE / "pipeline.lua"), url, "--", str(spec.pipeline)]
    else:
        cmd += ["-s", str(HERE / "report.lua"), url]
    return cmd, env


def parse_wrk(out: str) -> LoadResult:
    m = re.search(r"^HARNESS (.*)$", out, re.M)
    if not m:
        raise ValueError("no HARNESS line in wrk output (Lua done() hook did not run)")
    kv = {k: float(v) for k, v in (item.split("=") for item in m.group(1).split())}
    res = LoadResult(requests=int(kv["requests"]), seconds=kv["duration_us"] / 1e6, raw=out)
    res.rps = res.requests / res.seconds if res.seconds else 0.0
    res.p50_ms, res.p99_ms = kv["p50_us"] / 1000, kv["p99_us"] / 1000
    res.socket_errors = int(kv["connect"] + kv["read"] + kv["write"] + kv["timeout"])
    non = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    res.non_2xx = int(non.group(1)) if non else 0
    return res


def h2load_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    cmd = ["h2load", "--h1", "-c", str(spec.connections), "-t", str(min(spec.threads, spec.connections)),
           "-D", f"{max(1, round(spec.duration))}", "-m", str(spec.pipeline),
           "--log-file", str(spec.tmp / "h2load.log")]
    bf = body_file(spec)
    if bf:  # h2load turns a data file into a POST
        cmd += ["-d", str(bf), "-H", f"content-type: {spec.scenario.content_type}"]
    return cmd + [url], {}


def parse_h2load(out: str, log_path: Optional[Path] = None) -> LoadResult:
    res = LoadResult(raw=out)
    fin = re.search(r"finished in ([\d.]+)(ms|s), ([\d.]+) req/s", out)
    reqs = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                     r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (fin and reqs and codes):
        raise ValueError("could not parse h2load output")
    res.seconds = float(fin.group(1)) / (1000 if fin.group(2) == "ms" else 1)
    res.requests = int(reqs.group(3))
    res.rps = float(fin.group(3))
    res.non_2xx = int(codes.group(2)) + int(codes.group(3)) + int(codes.group(4))
    res.socket_errors = int(reqs.group(6)) + int(reqs.group(7))
    if log_path and log_path.exists():  # lines: start time (us), status, latency (us)
        lat = []
        with open(log_path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
        if lat:
            lat.sort()
            res.p50_ms = lat[int(0.50 * (len(lat) - 1))] / 1000
            res.p99_ms = lat[int(0.99 * (len(lat) - 1))] / 1000
    return res


def oha_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    if spec.pipeline > 1:
        raise ValueError("oha cannot pipeline")
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    help_text = subprocess.run(["oha", "--help"], capture_output=True, text=True).stdout
    fmt = ["--output-format", "json"] if "--output-format" in help_text else ["--json"]
    cmd = ["oha", "--no-tui", *fmt, "-z", f"{spec.duration:g}s", "-c", str(spec.connections),
           "-m", spec.scenario.method]
    bf = body_file(spec)
    if bf:
        cmd += ["-D", str(bf), "-T", spec.scenario.content_type]
    return cmd + [url], {}


def parse_oha(out: str) -> LoadResult:
    data = json.loads(out[out.index("{"):])
    summary = data.get("summary", {})
    res = LoadResult(raw=out)
    codes = {int(k): v for k, v in (data.get("statusCodeDistribution") or {}).items()}
    res.requests = sum(codes.values())
    res.seconds = float(summary.get("total", 0.0))
    res.rps = float(summary.get("requestsPerSec", 0.0))
    pct = data.get("latencyPercentiles", {})
    if "p50" in pct and pct["p50"] is not None:
        res.p50_ms = pct["p50"] * 1000
    if "p99" in pct and pct["p99"] is not None:
        res.p99_ms = pct["p99"] * 1000
    res.non_2xx = sum(v for k, v in codes.items() if not 200 <= k < 300)
    res.socket_errors = sum((data.get("errorDistribution") or {}).values())
    return res


RINGBOLT_LOAD_DIR = ROOT / "tools" / "load"


def ringbolt_load_binary() -> Optional[str]:
    """$RINGBOLT_LOAD, else tools/load/ringbolt-load (built with make when missing),
    else ringbolt-load on PATH."""
    env = os.environ.get("RINGBOLT_LOAD")
    if env:
        return env
    local = RINGBOLT_LOAD_DIR / "ringbolt-load"
    if not local.exists() and RINGBOLT_LOAD_DIR.is_dir() and shutil.which("make"):
        subprocess.run(["make", "-C", str(RINGBOLT_LOAD_DIR)], capture_output=True)
    if local.exists():
        return str(local)
    return shutil.which("ringbolt-load")


def ringbolt_load_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    exe = ringbolt_load_binary() or "ringbolt-load"
    cmd = [exe, "--json", "-t", str(min(spec.threads, spec.connections)), "-c", str(spec.connections),
           "-d", f"{spec.duration:g}", "-p", str(spec.pipeline), "--timeout", "5000",
           "-m", spec.scenario.method]
    bf = body_file(spec)
    if bf:
        cmd += ["--body-file", str(bf), "-H", f"Content-Type: {spec.scenario.content_type}"]
    return cmd + [url], {}


def parse_ringbolt_load(out: str) -> LoadResult:
    """The --json object (see tools/load/README.md); latencies are in microseconds."""
    data = json.loads(out[out.index("{"):])
    res = LoadResult(raw=out)
    res.requests = int(data["requests"])
    res.seconds = float(data["duration_s"])
    res.rps = float(data["requests_per_s"])
    lat = data.get("latency_us") or {}
    if lat.get("count"):
        res.p50_ms, res.p99_ms = lat["p50"] / 1000, lat["p99"] / 1000
    # same meaning as wrk's "Non-2xx or 3xx responses" and socket errors
    res.non_2xx = int(data["non_2xx_3xx"])
    res.socket_errors = int(data["errors"]["total"])
    return res


def run_load(spec: LoadSpec, load_cpus: str) -> LoadResult:
    if spec.generator == "wrk":
        cmd, extra_env = wrk_command(spec)
    elif spec.generator == "ringbolt-load":
        cmd, extra_env = ringbolt_load_command(spec)
    elif spec.generator == "h2load":
        cmd, extra_env = h2load_command(spec)
    elif spec.generator == "oha":
        cmd, extra_env = oha_command(spec)
    else:
        raise ValueError(f"unknown generator {spec.generator}")
    env = {**os.environ, **extra_env}
    proc = subprocess.Popen(["taskset", "-c", load_cpus, *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=str(spec.tmp),
                            start_new_session=True)
    LIVE[proc.pid] = proc
    try:
        out, _ = proc.communicate(timeout=spec.duration + 60)
    finally:
        if proc.poll() is None:
            stop_process(proc)
        LIVE.pop(proc.pid, None)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.generator} exited {proc.returncode}: {out.strip()[-300:]}")
    if spec.generator == "wrk":
        return parse_wrk(out)
    if spec.generator == "h2load":
        return parse_h2load(out, spec.tmp / "h2load.log")
    if spec.generator == "ringbolt-load":
        return parse_ringbolt_load(out)
    return parse_oha(out)


# --------------------------------------------------------------------------------------
# One measured round of one system.
# --------------------------------------------------------------------------------------

@dataclass
class RoundResult:
    system: str
    scenario: str
    round: int
    ok: bool
    error: str = ""
    rps: float = 0.0
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    non_2xx: int = 0
    socket_errors: int = 0
    requests: int = 0
    cpu_us_per_req: Optional[float] = None
    peak_rss_mib: Optional[float] = None


def run_round(name: str, system: System, scenario: Scenario, rnd: int, args: Any) -> RoundResult:
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix=f"ringbolt-load-{name}-"))
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}-{scenario.name}-r{rnd}.log"
    tvars = template_vars(port, tmp)
    result = RoundResult(name, scenario.name, rnd, ok=False)
    proc = None
    try:
        if system.prepare:
            system.prepare(tmp, port)
        cmd = ["taskset", "-c", args.server_cpus, *expand(system.cmd, tvars)]
        env = {**os.environ, **{k: v.format(**tvars) for k, v in system.env.items()}}
        proc = start_process(cmd, system.cwd.format(**tvars), env, log_path)
        err = wait_ready(proc, port, scenario, system.ready_timeout)
        if err:
            result.error = f"failed to start: {err}; log: {log_tail(log_path)}"
            return result
        spec = LoadSpec(args.generator, port, scenario, args.warmup, args.connections,
                        cpu_count_of(args.load_cpus), args.pipeline, tmp)
        if args.warmup > 0:
            run_load(spec, args.load_cpus)
        spec.duration = args.duration
        tree = process_tree(proc.pid)
        cpu_before = cpu_seconds(tree)
        load = run_load(spec, args.load_cpus)
        tree_after = process_tree(proc.pid)
        # a process born during the window counts fully; one that died in it is lost
        cpu_after = cpu_seconds(tree_after)
        result.peak_rss_mib = peak_rss_kib(tree_after) / 1024
        if proc.poll() is not None:
            result.error = f"server exited during the run (code {proc.returncode})"
            return result
        result.ok = True
        result.rps, result.p50_ms, result.p99_ms = load.rps, load.p50_ms, load.p99_ms
        result.non_2xx, result.socket_errors, result.requests = load.non_2xx, load.socket_errors, load.requests
        if load.requests:
            result.cpu_us_per_req = (cpu_after - cpu_before) / load.requests * 1e6
        return result
    except (RuntimeError, ValueError, OSError) as exc:
        result.error = str(exc)
        return result
    finally:
        if proc is not None:
            stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Report: Markdown table, JSON, charts.
# --------------------------------------------------------------------------------------

def median(values: list[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(value: Optional[float], spec: str = ".0f") -> str:
    return "n/a" if value is None else format(value, spec)


def ratio(value: Optional[float], base: Optional[float]) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}"


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"kernel": platform.release(), "cpu": cpu, "cpus": str(os.cpu_count()),
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "python": platform.python_version()}


def summarize(results: list[RoundResult], systems: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in systems:
        rows = [r for r in results if r.system == name and r.ok]
        out[name] = {
            "rounds_ok": len(rows),
            "rps": median([r.rps for r in rows]),
            "p50_ms": median([r.p50_ms for r in rows]),
            "p99_ms": median([r.p99_ms for r in rows]),
            "cpu_us_per_req": median([r.cpu_us_per_req for r in rows]),
            "peak_rss_mib": median([r.peak_rss_mib for r in rows]),
            "non_2xx": sum(r.non_2xx for r in rows),
            "socket_errors": sum(r.socket_errors for r in rows),
        }
    return out


def render_markdown(args: Any, command_line: str, info: dict[str, str],
                    per_scenario: dict[str, tuple[list[str], list[RoundResult], dict[str, str]]],
                    charts: dict[str, list[Path]]) -> str:
    lines = ["# ringbolt load comparison", "",
             f"- date: {info['date']}",
             f"- machine: kernel `{info['kernel']}`, CPU `{info['cpu']}`, {info['cpus']} CPUs",
             f"- command: `{command_line}`",
             f"- generator: {args.generator}; duration {args.duration:g}s after {args.warmup:g}s warm-up; "
             f"{args.connections} connections; pipeline depth {args.pipeline}; {args.rounds} round(s), "
             f"systems interleaved per round",
             f"- pinning: servers on CPUs `{args.server_cpus}`, load generator on CPUs `{args.load_cpus}`",
             f"- baseline for ratios: `{args.baseline}` (first one measured in each scenario)", ""]
    for scen, (systems, results, unavailable) in per_scenario.items():
        summary = summarize(results, systems)
        # --baseline may list fallbacks: the first one measured in this scenario is used
        candidates = [b.strip() for b in args.baseline.split(",") if b.strip()]
        base_name = next((b for b in candidates if summary.get(b, {}).get("rounds_ok")), None)
        base = summary[base_name] if base_name else {}
        base_text = f"`{base_name}`" if base_name else \
            f"`{args.baseline}` (not measured in this scenario, so ratios are n/a)"
        lines += [f"## Scenario `{scen}`", "",
                  f"Medians over rounds. `x base` = ratio to {base_text}.", "",
                  "| system | req/s | x base | p50 ms | p99 ms | CPU µs/req | CPU x base | peak RSS MiB "
                  "| non-2xx | socket errors | rounds ok |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in systems:
            s = summary[name]
            if s["rounds_ok"] == 0:
                continue
            lines.append(
                f"| {name} | {fmt(s['rps'])} | {ratio(s['rps'], base.get('rps'))} | "
                f"{fmt(s['p50_ms'], '.3f')} | {fmt(s['p99_ms'], '.3f')} | "
                f"{fmt(s['cpu_us_per_req'], '.2f')} | "
                f"{ratio(s['cpu_us_per_req'], base.get('cpu_us_per_req'))} | "
                f"{fmt(s['peak_rss_mib'], '.1f')} | {s['non_2xx']} | {s['socket_errors']} | "
                f"{s['rounds_ok']}/{args.rounds} |")
        problems = [f"- `{n}`: unavailable: {why}" for n, why in unavailable.items()]
        for r in results:
            if not r.ok:
                problems.append(f"- `{r.system}` round {r.round}: {r.error}")
        if problems:
            lines += ["", "Not measured:", ""] + problems
        lines += ["", "<details><summary>Per round</summary>", "",
                  "| round | system | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MiB | non-2xx | socket errors |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            if r.ok:
                lines.append(f"| {r.round} | {r.system} | {fmt(r.rps)} | {fmt(r.p50_ms, '.3f')} | "
                             f"{fmt(r.p99_ms, '.3f')} | {fmt(r.cpu_us_per_req, '.2f')} | "
                             f"{fmt(r.peak_rss_mib, '.1f')} | {r.non_2xx} | {r.socket_errors} |")
        lines += ["", "</details>", ""]
        for chart in charts.get(scen, []):
            try:
                rel = os.path.relpath(chart, Path(args.out).resolve().parent)
            except ValueError:
                rel = str(chart)
            lines.append(f"![{chart.stem}]({rel})")
        lines.append("")
    return "\n".join(lines)


def draw_charts(stem: str, scenario: str, systems: list[str], results: list[RoundResult]) -> list[Path]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    summary = summarize(results, systems)
    names = [n for n in systems if summary[n]["rounds_ok"]]
    if not names:
        return []
    RESULTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, label in (("rps", "requests/s (higher is better)"),
                       ("cpu_us_per_req", "server CPU µs per request (lower is better)"),
                       ("p99_ms", "p99 latency ms (lower is better)")):
        values = [summary[n][key] or 0.0 for n in names]
        fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(names) + 2), 3.6))
        bars = ax.bar(names, values, color="#4a78b5")
        ax.bar_label(bars, labels=[f"{v:,.2f}" if v < 100 else f"{v:,.0f}" for v in values], fontsize=8)
        ax.set_title(f"{scenario}: {label}", fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        fig.tight_layout()
        path = RESULTS / f"{stem}-{scenario}-{key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="systems: " + ", ".join(SYSTEMS) +
                                       "; scenarios: " + ", ".join(SCENARIOS))
    p.add_argument("--systems", default="c-uring,nginx,uvicorn,granian-rsgi,socketify,robyn",
                   help="comma-separated names from the systems table")
    p.add_argument("--scenario", default="plaintext", help="one scenario or a comma-separated list")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per system and round")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each measurement")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--server-cpus", default="0", help="taskset list for the server")
    p.add_argument("--load-cpus", default="1", help="taskset list for the load generator")
    p.add_argument("--baseline", default="c-uring,nginx",
                   help="system the ratios are relative to; a comma-separated list gives "
                        "fallbacks (the first one measured in each scenario is used)")
    p.add_argument("--pipeline", type=int, default=1, help="HTTP/1.1 pipelining depth (1 = none)")
    p.add_argument("--generator", default="wrk", choices=["wrk", "ringbolt-load", "h2load", "oha"],
                   help="load generator (ringbolt-load: tools/load/, built with make if missing, "
                        "or $RINGBOLT_LOAD)")
    p.add_argument("--out", default="BENCHMARKS-run.md", help="Markdown report path")
    p.add_argument("--results", type=Path, default=None,
                   help=f"per-round logs, raw JSON and charts (default {RESULTS})")
    p.add_argument("--peers-venv", type=Path, default=None,
                   help=f"the virtualenv with the Python peers (default {VENV})")
    p.add_argument("--list", action="store_true", help="list systems and whether they can run, then exit")
    p.add_argument("--app", help="benchmark your own ringbolt app (module:attr or file.py:attr) instead of "
                                 "the reference systems; scenario = --method --path")
    p.add_argument("--path", default="/", help="with --app: the path to load")
    p.add_argument("--method", default="GET", help="with --app: the method")
    p.add_argument("--body-file", help="with --app: request body")
    p.add_argument("--compare", default="", help="with --app: peers serving an ASGI version of the app, "
                                                 "e.g. uvicorn=myapp_asgi:app,granian=myapp_asgi:app")
    args = p.parse_args(argv)
    if args.app:
        body = Path(args.body_file).read_bytes() if args.body_file else None
        names = add_user_app(args.app, args.path, args.method.upper(), body,
                             [c.strip() for c in args.compare.split(",") if c.strip()])
        args.systems = ",".join(names)
        args.scenario = "app"
        args.baseline = "app"
    if args.pipeline < 1 or args.rounds < 1 or args.connections < 1 or args.duration <= 0:
        p.error("pipeline, rounds and connections must be >= 1, duration > 0")
    if args.generator == "wrk" and not (float(args.duration).is_integer() and float(args.warmup).is_integer()):
        p.error("wrk takes whole seconds: --duration and --warmup must be integers")  # "-d 1.5s" is refused
    return args


def main(argv: list[str]) -> int:
    global RESULTS, VENV
    args = parse_args(argv)
    RESULTS = (args.results or RESULTS).resolve()
    VENV = (args.peers_venv or VENV).absolute()  # not resolved: a venv's python is a symlink
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    scenarios = [s.strip() for s in args.scenario.split(",") if s.strip()]
    for name in systems:
        if name not in SYSTEMS:
            sys.exit(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    for scen in scenarios:
        if scen not in SCENARIOS:
            sys.exit(f"unknown scenario {scen!r}; known: {', '.join(SCENARIOS)}")
    if args.list:
        for name, system in SYSTEMS.items():
            why = unavailable_reason(name, system, scenarios[0])
            print(f"{name:16s} {'ok' if why is None else 'unavailable: ' + why}")
        return 0
    if args.generator == "ringbolt-load":
        if not ringbolt_load_binary():
            sys.exit(f"ringbolt-load not built: run make -C {RINGBOLT_LOAD_DIR}")
    elif not shutil.which(args.generator):
        sys.exit(f"load generator {args.generator} not on PATH" + (" (Debian: apt-get install wrk)"
                                                                  if args.generator == "wrk" else ""))
    if args.generator == "oha" and args.pipeline > 1:
        sys.exit("oha cannot pipeline: use wrk or h2load")
    if not shutil.which("taskset"):
        sys.exit("taskset not found (util-linux)")

    command_line = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(PROG)] + argv)
    info = machine_info()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    per_scenario: dict[str, tuple[list[str], list[RoundResult], dict[str, str]]] = {}
    stem = Path(args.out).stem
    interrupted = False
    try:
        for scen_name in scenarios:
            scenario = SCENARIOS[scen_name]
            unavailable: dict[str, str] = {}
            runnable = []
            for name in systems:
                why = unavailable_reason(name, SYSTEMS[name], scen_name)
                if why:
                    unavailable[name] = why
                    print(f"[{scen_name}] {name}: unavailable: {why}", flush=True)
                else:
                    runnable.append(name)
            results: list[RoundResult] = []
            per_scenario[scen_name] = (systems, results, unavailable)
            for rnd in range(1, args.rounds + 1):
                for name in runnable:  # interleaved: every system once per round
                    print(f"[{scen_name}] round {rnd}/{args.rounds} {name} ...", end=" ", flush=True)
                    r = run_round(name, SYSTEMS[name], scenario, rnd, args)
                    results.append(r)
                    if r.ok:
                        print(f"{r.rps:,.0f} req/s, p99 {fmt(r.p99_ms, '.2f')} ms, "
                              f"{fmt(r.cpu_us_per_req, '.2f')} CPU µs/req", flush=True)
                    else:
                        print(f"FAILED: {r.error}", flush=True)
    except (KeyboardInterrupt, Interrupted):
        interrupted = True
        print("\ninterrupted: stopping servers, writing a partial report", file=sys.stderr)
    finally:
        stop_all()

    charts = {}
    for scen_name, (systems_, results, _) in per_scenario.items():
        charts[scen_name] = draw_charts(stem, scen_name, systems_, results)
    report = render_markdown(args, command_line, info, per_scenario, charts)
    Path(args.out).write_text(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = {"command": command_line, "machine": info, "args": vars(args),
           "results": [r.__dict__ for _, (_, res, _) in per_scenario.items() for r in res],
           "unavailable": {s: u for s, (_, _, u) in per_scenario.items()}}
    (RESULTS / f"{stem}.json").write_text(json.dumps(raw, indent=1, default=str))
    print(f"report: {args.out}; raw data: {RESULTS / (stem + '.json')}"
          + (f"; charts: {RESULTS}" if any(charts.values()) else "; no charts (nothing measured, or matplotlib not importable)"))
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
