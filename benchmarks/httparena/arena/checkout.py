"""What the runner reads from an HttpArena checkout, at run time: the profiles
(scripts/lib/profiles.sh), the load generators' command lines (scripts/lib/tools/*.sh,
called in bash exactly as benchmark.sh calls them), the entries' meta.json, the request
templates and the data. Nothing of HttpArena is copied into this repository.

A checkout from a mirror may lack HttpArena's largest files (data/pgdb-seed.sql,
requests/upload-10m.raw, requests/upload-20m.raw): they are then made in the cache from
the checkout's own generator (scripts/generate-pgdb.py) and from the shape of
requests/upload-2m.raw, and the run's JSON says so.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

# The HttpArena commit the runner was written against and measured with (2026-04-29).
PINNED_COMMIT = "28606bafd5526c28b8438f630d7dca73b2869e28"
ARENA_URL = "https://github.com/MDA2AV/HttpArena"

# The files a mirror may lack, and what stands in for them.
UPLOAD_SIZES = {"upload-10m.raw": 10 << 20, "upload-20m.raw": 20 << 20}


@dataclass(frozen=True)
class Profile:
    """One line of PROFILES in scripts/lib/profiles.sh."""

    name: str
    pipeline: int
    req_per_conn: int
    cpu_limit: str
    connections: tuple[int, ...]
    endpoint: str

    @property
    def tool(self) -> str:
        return endpoint_tool(self.endpoint)


# The load generators whose command lines the runner takes from HttpArena. h2load-h3
# (h2load built with ngtcp2) stands for the project's ringbolt-h3-load, which runs the
# same request mix (loadgen.h3_equivalent).
RUNNABLE_TOOLS = ("gcannon", "wrk", "h2load", "h2load-h3")


def endpoint_tool(endpoint: str) -> str:
    """profiles.sh's endpoint_tool(), ported (a case statement)."""
    if endpoint in ("static", "json-tls"):
        return "wrk"
    if endpoint in ("h2", "static-h2", "h2c", "json-h2c", "gateway-64", "grpc", "grpc-tls", "production-stack"):
        return "h2load"
    if endpoint in ("h3", "static-h3", "gateway-h3"):
        return "h2load-h3"
    if endpoint in ("grpc-stream", "grpc-stream-tls"):
        return "ghz"
    return "gcannon"


def parse_profile_spec(name: str, spec: str) -> Profile:
    """"pipeline|req_per_conn|cpu_limit|connections|endpoint" (parse_profile in profiles.sh)."""
    parts = spec.split("|")
    if len(parts) != 5:
        raise ValueError(f"profile {name}: spec {spec!r} must have exactly 4 '|' separators")
    pipeline, req, cpu, conns, endpoint = parts
    return Profile(name, int(pipeline), int(req), cpu, tuple(int(c) for c in conns.split(",") if c), endpoint)


class Checkout:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        if not os.path.isfile(os.path.join(self.path, "scripts", "lib", "profiles.sh")):
            raise FileNotFoundError(
                f"{self.path} is not an HttpArena checkout (no scripts/lib/profiles.sh): give --arena-dir "
                f"or ARENA_DIR, or run `benchmarks/httparena/run deps --arena-dir DIR --arena-git GITDIR` to export "
                f"it from a local clone or mirror of {ARENA_URL} (without --arena-git, deps clones it)")
        self._profiles: dict[str, Profile] | None = None

    def file(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    @property
    def commit(self) -> str:
        """The checkout's commit: git's HEAD, else the ``.arena-commit`` file that
        `run deps --arena-git` writes when it exports a tree."""
        try:
            return subprocess.run(["git", "-C", self.path, "rev-parse", "HEAD"], capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
        try:
            with open(self.file(".arena-commit"), encoding="utf-8") as f:
                return f.read().strip()
        except OSError:
            return "unknown (not a git checkout)"

    def bash(self, script: str, env: dict[str, str] | None = None) -> str:
        """Run ``script`` in bash after sourcing scripts/lib/common.sh (its paths and
        defaults), from the checkout's root; return stdout."""
        full = f'set -euo pipefail\nsource "{self.file("scripts", "lib", "common.sh")}"\n{script}\n'
        out = subprocess.run(["bash", "-c", full], cwd=self.path, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL,
                             env={**os.environ, **(env or {})})
        if out.returncode != 0:
            raise RuntimeError(f"bash from {self.path} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
        return out.stdout

    @property
    def profiles(self) -> dict[str, Profile]:
        """PROFILES and PROFILE_ORDER of scripts/lib/profiles.sh, in that order."""
        if self._profiles is None:
            out = self.bash(f'source "{self.file("scripts", "lib", "profiles.sh")}"\n'
                            'for p in "${PROFILE_ORDER[@]}"; do printf "%s\\t%s\\n" "$p" "${PROFILES[$p]}"; done')
            self._profiles = {}
            for line in out.splitlines():
                name, spec = line.split("\t", 1)
                self._profiles[name] = parse_profile_spec(name, spec)
        return self._profiles

    def meta(self, framework: str) -> dict[str, Any]:
        with open(self.file("frameworks", framework, "meta.json"), encoding="utf-8") as f:
            meta: dict[str, Any] = json.load(f)
        return meta

    def tool_args(self, profile: Profile, *, conns: int, duration: str, requests_dir: str,
                  ports: dict[str, int], tools: dict[str, str], threads: int = 1) -> list[str]:
        """The load generator's argv for ``profile``, from HttpArena's own
        ``<tool>_build_args`` (scripts/lib/tools/<tool>.sh) with the runner's ports,
        requests directory, tool binaries and thread count (for h2load-h3, the binary
        ``tools["h2load-h3"]``: loadgen.adjust makes the argv ringbolt-h3-load's)."""
        tool = profile.tool
        if tool not in RUNNABLE_TOOLS:
            raise ValueError(f"profile {profile.name}: load generator {tool} is not supported by this runner")
        env = {"THREADS": str(threads), "H2THREADS": str(threads), "H3THREADS": str(threads)}
        overrides = "\n".join([
            f"PORT={ports['plain']}", f"H2PORT={ports['tls_h2']}", f"H1TLS_PORT={ports['tls_h1']}",
            f"H2C_PORT={ports['h2c']}", f"REQUESTS_DIR={shlex.quote(requests_dir)}",
            f"GCANNON={shlex.quote(tools.get('gcannon', 'gcannon'))}",
            f"H2LOAD={shlex.quote(tools.get('h2load', 'h2load'))}",
            f"WRK={shlex.quote(tools.get('wrk', 'wrk'))}", "H2LOAD_CMD=", "WRK_CMD=",
            f"H2LOAD_H3={shlex.quote(tools.get('h2load-h3', 'h2load-h3'))}", "H2LOAD_H3_CMD=",
        ])
        script = (f"{overrides}\nsource \"{self.file('scripts', 'lib', 'tools', tool + '.sh')}\"\n"
                  f"{tool.replace('-', '_')}_build_args {shlex.quote(profile.endpoint)} {conns} {profile.pipeline} "
                  f"{shlex.quote(duration)} {profile.req_per_conn}")
        args = self.bash(script, env).splitlines()
        # gcannon_build_args leaves out the binary (gcannon_run adds it); wrk's and
        # h2load's include theirs.
        return [tools.get("gcannon", "gcannon"), *args] if tool == "gcannon" else args

    # ---- data that may be missing from a mirror ----

    def seed_sql(self, cache_dir: str) -> tuple[str, str]:
        """(path of the PostgreSQL seed, where it came from)."""
        seed = self.file("data", "pgdb-seed.sql")
        if os.path.isfile(seed) and os.path.getsize(seed) > 0:
            return seed, "data/pgdb-seed.sql"
        out = os.path.join(cache_dir, f"pgdb-seed-{self.commit[:12]}.sql")
        if not os.path.isfile(out):
            subprocess.run(["python3", self.file("scripts", "generate-pgdb.py"), self.file("data", "dataset.json"),
                            out + ".tmp"], check=True, capture_output=True)
            os.replace(out + ".tmp", out)
        return out, "generated by scripts/generate-pgdb.py (data/pgdb-seed.sql is not in this checkout)"

    def requests_dir(self, run_dir: str, cache_dir: str, ports: dict[str, int]) -> tuple[str, list[str]]:
        """A requests directory for one server: links to every file of requests/, the
        upload templates a mirror lacks (made once in the cache), and the h2load URI lists
        (which name HttpArena's ports) with this server's ports. Returns (dir, notes)."""
        src = self.file("requests")
        out = os.path.join(run_dir, "requests")
        os.makedirs(out, exist_ok=True)
        notes = []
        port_map = {"localhost:8080": f"127.0.0.1:{ports['plain']}", "localhost:8081": f"127.0.0.1:{ports['tls_h1']}",
                    "localhost:8082": f"127.0.0.1:{ports['h2c']}", "localhost:8443": f"127.0.0.1:{ports['tls_h2']}"}
        for name in sorted(os.listdir(src)):
            path, dest = os.path.join(src, name), os.path.join(out, name)
            if os.path.lexists(dest):
                os.unlink(dest)
            if name.endswith(".txt") and os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for old, new in port_map.items():
                    text = text.replace(old, new)
                with open(dest, "w", encoding="utf-8") as f:
                    f.write(text)
            elif os.path.isfile(path):
                os.symlink(path, dest)
        for name, size in UPLOAD_SIZES.items():
            dest = os.path.join(out, name)
            if os.path.isfile(dest):
                continue
            made = self._upload_template(cache_dir, name, size)
            os.symlink(made, dest)
            notes.append(f"requests/{name} made by the runner ({size} random bytes, the head of upload-2m.raw)")
        return out, notes

    def _upload_template(self, cache_dir: str, name: str, size: int) -> str:
        out = os.path.join(cache_dir, name)
        if os.path.isfile(out):
            return out
        with open(self.file("requests", "upload-2m.raw"), "rb") as f:
            template = f.read(4096)
        head = template.split(b"\r\n\r\n", 1)[0]
        lines = [(b"Content-Length: %d" % size) if line.lower().startswith(b"content-length:") else line
                 for line in head.split(b"\r\n")]
        rng = random.Random(size)  # the same bytes on every machine
        os.makedirs(cache_dir, exist_ok=True)
        with open(out + ".tmp", "wb") as f:
            f.write(b"\r\n".join(lines) + b"\r\n\r\n")
            left = size
            while left:
                n = min(left, 1 << 20)
                f.write(rng.randbytes(n))
                left -= n
        os.replace(out + ".tmp", out)
        return out
