"""The systems the harness compares: where their apps, peers and binaries are (a source
checkout or an installed wheel), how each one is started and probed (SYSTEMS: adding a
system is one entry), the user's own app with its --compare peers, and why a system
cannot run here."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import peers
from .scenarios import ALL_SCENARIOS, SCENARIOS, Scenario

HERE = Path(__file__).resolve().parent  # the nginx template

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
    VENV = peers.cache_dir()  # where `ringbolt bench` installs them on first use
    BIN = VENV / "bin"
    RESULTS = Path.cwd() / "ringbolt-bench-results"


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


def template_vars(port: int, tmp: Path, venv: Path) -> dict[str, str]:
    return {
        "port": str(port), "venv": str(venv), "apps": str(APPS), "root": str(ROOT),
        "bin": str(BIN), "tmp": str(tmp),
        "nginx": shutil.which("nginx") or "/usr/sbin/nginx",
        "ringbolt_python": os.environ.get("RINGBOLT_PYTHON", "python3"),
    }


def expand(items: list[str], tvars: dict[str, str]) -> list[str]:
    return [item.format(**tvars) for item in items]


def unavailable_reason(name: str, system: System, scenario: str, venv: Path) -> Optional[str]:
    """Why this system cannot run this scenario here, with the peers in `venv`, or None."""
    if scenario not in system.scenarios:
        return f"no {scenario} scenario"
    tvars = template_vars(0, Path(tempfile.gettempdir()), venv)
    exe = expand(system.cmd[:1], tvars)[0]
    if not (shutil.which(exe) or (os.path.isfile(exe) and os.access(exe, os.X_OK))):
        hint = "run benchmarks/load/setup_peers.sh" if str(venv) in exe or str(BIN) in exe else "not installed"
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
