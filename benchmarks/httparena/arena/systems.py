"""The servers the runner compares, and how each is started on one machine without docker.

- ringbolt: this repository's entry (benchmarks/httparena/ringbolt), with the Python
  given by --ringbolt-python.
- ringbolt-fastapi: HttpArena's FastAPI entry (frameworks/fastapi/app.py), unchanged,
  served by `ringbolt serve --interface asgi` through the same launcher.
- the peers, HttpArena's own entries from the checkout, each in a virtualenv of its own
  (the cache's venvs/<name>) made from the entry's requirements.txt with the Python
  version of its Dockerfile, and started with the Dockerfile's own CMD and ENV:
  fastpysgi-wsgi, fastpysgi-asgi, uvicorn, fastapi (uvicorn serving the FastAPI entry),
  robyn, granian (Granian serving the uvicorn entry's app: there is no Granian entry).
- ringzero: HttpArena's C io_uring entry, built from the checkout's source against
  liburing 2.9 (as its Dockerfile does).

A container sees /data, /certs and ports 8080-8443; here an entry's files are copied
into the run directory with those mapped (the checkout's data/ and certs/, free ports)
and with the worker count its code derives from the CPUs (`max(CPUs, 4)`) taking the
one CPU it is pinned to. Each substitution must match, or the runner stops, naming
the entry that changed; the run's JSON lists every substitution made.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

from .checkout import Checkout

HERE = os.path.dirname(os.path.abspath(__file__))
ENTRY_DIR = os.path.join(os.path.dirname(HERE), "ringbolt")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

# Per peer: (HttpArena entry directory, extra pip packages, [(file, old, new-template)]).
# new-template fields: {plain} {tls_h1} (ports), {cpus} (server CPU count).
PORT_MAPS: dict[str, list[tuple[str, str, str]]] = {
    "fastpysgi-wsgi": [("app.py", "add_bind('0.0.0.0', 8080)", "add_bind('127.0.0.1', {plain})"),
                       ("app.py", "add_bind('0.0.0.0', 8081,", "add_bind('127.0.0.1', {tls_h1},")],
    "fastpysgi-asgi": [("app.py", "add_bind('0.0.0.0', 8080)", "add_bind('127.0.0.1', {plain})"),
                       ("app.py", "add_bind('0.0.0.0', 8081,", "add_bind('127.0.0.1', {tls_h1},")],
    "robyn": [("app.py", 'app.start(host="0.0.0.0", port=8080)', 'app.start(host="127.0.0.1", port={plain})')],
    "ringzero": [("main.c", 'engine_listen(&g_eng, "0.0.0.0", 8080,', 'engine_listen(&g_eng, "127.0.0.1", {plain},')],
    # bjoern's app.py binds in its __main__ and forks WRK_COUNT - 1 more processes (none at one CPU).
    "bjoern": [("app.py", "host = '0.0.0.0'", "host = '127.0.0.1'"), ("app.py", "port = 8080", "port = {plain}")],
    # bottle and flask: the Dockerfile's launcher.py starts gunicorn twice, with
    # gunicorn_conf.py (plain) and gunicorn_conf_ssl.py (TLS), each with its own bind and
    # worker count (sync workers: one connection at a time each).
    "bottle": [("gunicorn_conf.py", 'bind = "0.0.0.0:8080"', 'bind = "127.0.0.1:{plain}"'),
               ("gunicorn_conf.py", "_WRK_COUNT = max(_WRK_COUNT, 4)", "_WRK_COUNT = max(_WRK_COUNT, {cpus})"),
               ("gunicorn_conf_ssl.py", 'bind = "0.0.0.0:8081"', 'bind = "127.0.0.1:{tls_h1}"'),
               ("gunicorn_conf_ssl.py", "_WRK_COUNT = max(_WRK_COUNT, 4)", "_WRK_COUNT = max(_WRK_COUNT, {cpus})")],
}
PORT_MAPS["flask"] = PORT_MAPS["bottle"]
# The worker count HttpArena's Python entries compute: at least 4 processes, whatever
# the CPUs. On the one CPU the runner gives a server, that is 4 processes sharing it.
DB_TESTS = ("async-db", "crud", "api-4", "api-16")
WORKERS_MAP = ("WRK_COUNT = max(WRK_COUNT, 4)", "WRK_COUNT = max(WRK_COUNT, {cpus})")


@dataclass
class Context:
    checkout: Checkout
    cache: str
    ringbolt_python: str
    server_cpus: str
    tools: dict[str, str]

    @property
    def cpu_count(self) -> int:
        return len(cpu_list(self.server_cpus))


def cpu_list(spec: str) -> list[int]:
    """taskset's list syntax: "0", "0,2", "0-3"."""
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


@dataclass
class Launch:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    substitutions: list[str] = field(default_factory=list)


@dataclass
class System:
    name: str
    kind: str  # ringbolt | peer | engine
    entry: str | None  # the HttpArena entry it comes from (frameworks/<entry>)
    describe: str
    launch: Callable[[Context, dict[str, int], str], Launch]
    tests: Callable[[Context], list[str]]
    unsupported: Callable[[Context], dict[str, str]] = lambda ctx: {}
    env: dict[str, str] = field(default_factory=dict)  # over the profile's (PG_DRIVER...)


# ---- copying an entry with its container paths and ports mapped ----

def materialize(ctx: Context, entry: str, dest: str, ports: dict[str, int]) -> list[str]:
    """Copy frameworks/<entry> to ``dest`` with /data, /certs, the ports and the worker
    count mapped; return what was substituted."""
    src = ctx.checkout.file("frameworks", entry)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(src, dest, symlinks=True)
    values = {**{k: str(v) for k, v in ports.items()}, "cpus": str(ctx.cpu_count)}
    done: list[str] = []
    data, certs = ctx.checkout.file("data") + "/", ctx.checkout.file("certs") + "/"
    for name in sorted(os.listdir(dest)):
        path = os.path.join(dest, name)
        if not name.endswith(".py") or not os.path.isfile(path):
            continue
        text = open(path, encoding="utf-8").read()
        for old, new in (("/data/", data), ("/certs/", certs), (WORKERS_MAP[0], WORKERS_MAP[1].format(**values))):
            n = text.count(old)
            if n:
                text = text.replace(old, new)
                done.append(f"{entry}/{name}: {old!r} -> {new!r} ({n}x)")
        open(path, "w", encoding="utf-8").write(text)
    for name, old, template in PORT_MAPS.get(entry, []):
        path = os.path.join(dest, name)
        text = open(path, encoding="utf-8").read()
        new = template.format(**values)
        if old not in text:
            raise RuntimeError(f"HttpArena's frameworks/{entry}/{name} no longer contains {old!r}: "
                               f"the runner's mapping (arena/systems.py PORT_MAPS) needs an update")
        open(path, "w", encoding="utf-8").write(text.replace(old, new))
        done.append(f"{entry}/{name}: {old!r} -> {new!r}")
    return done


def dockerfile(checkout: Checkout, entry: str) -> tuple[list[str], dict[str, str], str | None]:
    """(CMD, ENV, python version of FROM python:X.Y) of frameworks/<entry>/Dockerfile."""
    text = open(checkout.file("frameworks", entry, "Dockerfile"), encoding="utf-8").read()
    cmd: list[str] = []
    env: dict[str, str] = {}
    version = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("CMD "):
            cmd = json.loads(line[4:])
        elif line.startswith("ENV ") and "=" in line:
            key, _, value = line[4:].strip().partition("=")
            env[key.strip()] = value.strip()
        m = re.match(r"FROM python:(\d+\.\d+)", line)
        if m:
            version = m.group(1)
    return cmd, env, version


def _map_values(values: list[str] | dict[str, str], ports: dict[str, int]) -> list[str] | dict[str, str]:
    mapping = {"8080": str(ports["plain"]), "8081": str(ports["tls_h1"]), "0.0.0.0": "127.0.0.1"}
    if isinstance(values, dict):
        return {k: mapping.get(v, v) for k, v in values.items()}
    return [mapping.get(v, v) for v in values]


def venv_dir(ctx: Context, name: str) -> str:
    return os.path.join(ctx.cache, "venvs", name)


def _base_env(ctx: Context) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGBOLT_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({"TLS_CERT": ctx.checkout.file("certs", "server.crt"),
                "TLS_KEY": ctx.checkout.file("certs", "server.key"),
                "DATASET_PATH": ctx.checkout.file("data", "dataset.json")})
    return env


# ---- ringbolt's entries ----

def _ringbolt_env(ctx: Context, ports: dict[str, int]) -> dict[str, str]:
    env = _base_env(ctx)
    env.update({"ARENA_HOST": "127.0.0.1", "ARENA_PORT": str(ports["plain"]),
                "ARENA_TLS_PORT": str(ports["tls_h1"]), "ARENA_H2_PORT": str(ports["tls_h2"]),
                "ARENA_H2C_PORT": str(ports["h2c"]), "STATIC_DIR": ctx.checkout.file("data", "static"),
                "WEB_CONCURRENCY": str(ctx.cpu_count)})
    return env


def _ringbolt_launch(ctx: Context, ports: dict[str, int], run_dir: str) -> Launch:
    return Launch([ctx.ringbolt_python, os.path.join(ENTRY_DIR, "launcher.py")], ENTRY_DIR, _ringbolt_env(ctx, ports))


def _entry_tests(folder: str) -> Callable[[Context], list[str]]:
    def tests(ctx: Context) -> list[str]:
        with open(os.path.join(os.path.dirname(ENTRY_DIR), folder, "meta.json")) as f:
            return list(json.load(f)["tests"])
    return tests


def _ringbolt_fastapi_launch(ctx: Context, ports: dict[str, int], run_dir: str) -> Launch:
    dest = os.path.join(run_dir, "fastapi")
    subs = materialize(ctx, "fastapi", dest, ports)
    argv = [ctx.ringbolt_python, os.path.join(ENTRY_DIR, "launcher.py"), os.path.join(dest, "app.py") + ":app",
            "--interface", "asgi"]
    return Launch(argv, dest, _ringbolt_env(ctx, ports), subs)


# ---- HttpArena's entries ----

def _peer_launch(entry: str) -> Callable[[Context, dict[str, int], str], Launch]:
    def launch(ctx: Context, ports: dict[str, int], run_dir: str) -> Launch:
        dest = os.path.join(run_dir, entry)
        subs = materialize(ctx, entry, dest, ports)
        cmd, denv, _ = dockerfile(ctx.checkout, entry)
        venv = venv_dir(ctx, entry)
        if not os.path.exists(os.path.join(venv, "bin", "python")):
            raise RuntimeError(f"{entry}: no virtualenv {venv}: run `benchmarks/httparena/run deps --systems {entry}`")
        argv = _map_values(cmd, ports)
        assert isinstance(argv, list)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = os.path.join(venv, "bin", "python")
        env = _base_env(ctx)
        mapped_env = _map_values(denv, ports)
        assert isinstance(mapped_env, dict)
        for key, value in mapped_env.items():  # ENV PATH="/usr/local/bin:$PATH" refers to the env so far
            env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value.strip('"'))
        env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
        env["VIRTUAL_ENV"] = venv
        subs.append(f"{entry}/Dockerfile CMD {cmd} -> {argv}")
        return Launch(argv, dest, env, subs)
    return launch


def _meta_tests(entry: str) -> Callable[[Context], list[str]]:
    return lambda ctx: list(ctx.checkout.meta(entry)["tests"])


def _granian_launch(ctx: Context, ports: dict[str, int], run_dir: str) -> Launch:
    dest = os.path.join(run_dir, "granian-uvicorn-app")
    subs = materialize(ctx, "uvicorn", dest, ports)
    venv = venv_dir(ctx, "granian")
    granian = os.path.join(venv, "bin", "granian")
    if not os.path.exists(granian):
        raise RuntimeError(f"granian: no {granian}: run `benchmarks/httparena/run deps --systems granian`")
    base = [granian, "--interface", "asgi", "--host", "127.0.0.1", "--workers", str(ctx.cpu_count),
            "--runtime-threads", "1", "--runtime-mode", "st", "--loop", "uvloop", "--log-level", "error", "app:app"]
    tls = ["--ssl-certificate", ctx.checkout.file("certs", "server.crt"),
           "--ssl-keyfile", ctx.checkout.file("certs", "server.key")]
    # The two listeners uvicorn's launcher.py makes (plain, and TLS on the next port), and
    # the HTTP/2 ones Granian can add for the h2 profiles: TLS with h2 in ALPN (8443) and
    # h2c only (8082, `--http 2`), as ringbolt's launcher opens them.
    listeners = [base + ["--port", str(ports["plain"])],
                 base + ["--port", str(ports["tls_h1"])] + tls,
                 base + ["--http", "auto", "--port", str(ports["tls_h2"])] + tls,
                 base + ["--http", "2", "--port", str(ports["h2c"])]]
    script = "set -e\n" + "".join(f"{_sh(argv)} &\n" for argv in listeners) + "wait -n\n"
    env = _base_env(ctx)
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
    return Launch(["bash", "-c", script], dest, env, subs)


# The h2 profiles Granian serves with the uvicorn entry's app, which answers their
# endpoints (/baseline2, /json/{n}, /static/...) though uvicorn itself has no HTTP/2.
GRANIAN_H2_TESTS = ["baseline-h2", "static-h2", "baseline-h2c", "json-h2c"]


def _granian_tests(ctx: Context) -> list[str]:
    return list(ctx.checkout.meta("uvicorn")["tests"]) + GRANIAN_H2_TESTS


def _sh(argv: list[str]) -> str:
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


def ringzero_binary(ctx: Context, port: int) -> str:
    """frameworks/ringzero built as its Dockerfile builds it (-O2 -march=native, liburing
    2.9 from the cache's prefix), its port mapped; one binary per port, cached."""
    out_dir = os.path.join(ctx.cache, "build", f"ringzero-{ctx.checkout.commit[:12]}-{port}")
    binary = os.path.join(out_dir, "server")
    if os.path.exists(binary):
        return binary
    prefix = os.path.join(ctx.cache, "liburing")
    if not os.path.exists(os.path.join(prefix, "include", "liburing.h")):
        raise RuntimeError(f"ringzero: liburing 2.9 is not built in {prefix}: run `benchmarks/httparena/run deps`")
    src = os.path.join(out_dir, "src")
    materialize(ctx, "ringzero", src, {"plain": port, "tls_h1": port + 1})
    flags = ["-O2", "-Wall", "-march=native", "-pthread", "-Iinclude", f"-I{prefix}/include"]
    sources = [os.path.join("src", "lib", c) for c in sorted(os.listdir(os.path.join(src, "src", "lib")))
               if c.endswith(".c")] + ["main.c"]
    objs = []
    for c in sources:
        obj = os.path.join(out_dir, os.path.basename(c)[:-2] + ".o")
        subprocess.run(["gcc", *flags, "-c", c, "-o", obj], cwd=src, check=True, capture_output=True)
        objs.append(obj)
    subprocess.run(["gcc", "-o", binary + ".tmp", *objs, f"-L{prefix}/lib", f"-Wl,-rpath,{prefix}/lib",
                    "-luring", "-lpthread"], check=True, capture_output=True)
    os.replace(binary + ".tmp", binary)
    return binary


def _ringzero_launch(ctx: Context, ports: dict[str, int], run_dir: str) -> Launch:
    binary = ringzero_binary(ctx, ports["plain"])
    cmd, _, _ = dockerfile(ctx.checkout, "ringzero")  # ["/server", "64"]: 64 reactor threads
    argv = [binary, *[str(ctx.cpu_count) if a == "64" else a for a in cmd[1:]]]
    return Launch(argv, os.path.dirname(binary), _base_env(ctx),
                  [f"ringzero/main.c: port 8080 -> {ports['plain']}", f"Dockerfile CMD {cmd} -> {argv}"])


SYSTEMS: dict[str, System] = {s.name: s for s in [
    System("ringbolt", "ringbolt", None, "this repository's entry: native App API, asyncpg, Redis for crud",
           _ringbolt_launch, _entry_tests("ringbolt")),
    System("ringbolt-psycopg", "ringbolt", None, "ringbolt's entry with psycopg 3 (psycopg_pool) instead of asyncpg",
           _ringbolt_launch, lambda ctx: [t for t in _entry_tests("ringbolt")(ctx) if t in DB_TESTS],
           env={"PG_DRIVER": "psycopg"}),
    System("ringbolt-fastapi", "ringbolt", "fastapi", "HttpArena's FastAPI entry, unchanged, on `ringbolt serve "
           "--interface asgi`", _ringbolt_fastapi_launch, _entry_tests("ringbolt-fastapi")),
    System("fastpysgi-wsgi", "peer", "fastpysgi-wsgi", "HttpArena's fastpysgi-wsgi entry",
           _peer_launch("fastpysgi-wsgi"), _meta_tests("fastpysgi-wsgi")),
    System("fastpysgi-asgi", "peer", "fastpysgi-asgi", "HttpArena's fastpysgi-asgi entry",
           _peer_launch("fastpysgi-asgi"), _meta_tests("fastpysgi-asgi")),
    System("uvicorn", "peer", "uvicorn", "HttpArena's uvicorn entry (raw ASGI app, uvloop)",
           _peer_launch("uvicorn"), _meta_tests("uvicorn")),
    System("fastapi", "peer", "fastapi", "HttpArena's FastAPI entry on uvicorn", _peer_launch("fastapi"),
           _meta_tests("fastapi")),
    System("robyn", "peer", "robyn", "HttpArena's Robyn entry", _peer_launch("robyn"), _meta_tests("robyn")),
    System("granian", "peer", "uvicorn", "Granian (ASGI, one worker, single-threaded runtime) serving the "
           "uvicorn entry's app, also over h2 (TLS) and h2c for the h2 profiles", _granian_launch, _granian_tests),
    System("bjoern", "peer", "bjoern", "HttpArena's bjoern entry (WSGI, C on libev)", _peer_launch("bjoern"),
           _meta_tests("bjoern")),
    System("bottle", "peer", "bottle", "HttpArena's bottle entry (gunicorn, sync workers)", _peer_launch("bottle"),
           _meta_tests("bottle")),
    System("flask", "peer", "flask", "HttpArena's Flask entry (gunicorn, sync workers)", _peer_launch("flask"),
           _meta_tests("flask")),
    System("ringzero", "engine", "ringzero", "HttpArena's ringzero entry (C, io_uring), built from source",
           _ringzero_launch, _meta_tests("ringzero")),
]}

# HttpArena's Python entries the runner cannot start here, and why (`run list` prints
# them, every run's notes name them): the checkout's Python entries are either in
# SYSTEMS (by entry) or here, as tests/test_systems.py checks.
NOT_MEASURED = {
    "pyronova": "a Rust extension (pyo3, hyper, tokio) its Dockerfile builds from its git tag with rustup's Rust "
                "and maturin: there is no wheel or sdist on the package index the runner installs from, and the "
                "build needs rustup and crates.io (Debian's rustc and cargo install, but without the crates its "
                "Cargo.toml names they cannot build it, and the repository vendors none)",
    "slimeweb": "a Rust extension (hyper) its Dockerfile installs as `slimeweb` from PyPI: there is no wheel or "
                "sdist on the package index the runner installs from, and no crates to build one from source",
}

# Extra packages a peer's virtualenv gets besides its entry's requirements.txt.
EXTRA_PACKAGES = {"granian": ["granian[uvloop]"]}


def python_for(version: str | None) -> str:
    """An interpreter of ``version`` (tools/find-python), else this one."""
    if version:
        found = subprocess.run([os.path.join(REPO_ROOT, "tools", "find-python"), version], capture_output=True,
                               text=True)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return sys.executable
