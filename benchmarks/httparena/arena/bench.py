"""One run: the sidecars, then for each profile and connection count, rounds in which
every system is started fresh, validated (the first time), warmed up and loaded while
its CPU time is read; everything it started is stopped by pid in a ``finally``."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from . import loadgen, procs, report, services, validate
from .checkout import PINNED_COMMIT, RUNNABLE_TOOLS, Profile
from .deps import gcannon_fixes
from .systems import DB_TESTS, NOT_MEASURED, SYSTEMS, Context, System

DB_PROFILES = DB_TESTS
DB_WARMUP_MAX = 60  # seconds of warm-up at most for a database profile (bench.warm_pools)

# framework_wait_ready's probes (scripts/lib/framework.sh), ported: (port, scheme, path,
# curl flags) per endpoint.
_PROBES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "h2": ("tls_h2", "https", "/baseline2?a=1&b=1", ()),
    "static-h2": ("tls_h2", "https", "/static/reset.css", ()),
    "h2c": ("h2c", "http", "/baseline2?a=1&b=1", ("--http2-prior-knowledge",)),
    "json-h2c": ("h2c", "http", "/baseline2?a=1&b=1", ("--http2-prior-knowledge",)),
    "static": ("plain", "http", "/static/reset.css", ()),
    "json": ("plain", "http", "/json/1", ()),
    "json-tls": ("tls_h1", "https", "/json/1?m=1", ()),
    "ws-echo": ("plain", "http", "/ws", ()),
    # validate.sh's fallback for h3 entries: their TLS listener answers h2 on the same
    # port number (framework.sh probes h3 profiles the same way)
    "h3": ("tls_h2", "https", "/baseline2?a=1&b=1", ()),
    "static-h3": ("tls_h2", "https", "/static/reset.css", ()),
}
_DEFAULT_PROBE = ("plain", "http", "/baseline11?a=1&b=1", ())


@dataclass
class Settings:
    profiles: list[str]
    systems: list[str]
    connections: list[str]  # numbers, or "profile" for the profile's own counts
    rounds: int
    duration: int
    warmup: int
    db_warmup: int
    server_cpus: str
    load_cpus: str
    db_cpus: str
    pg_driver: str
    measure_invalid: bool
    results: str
    plot: bool
    command: str
    server_env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0


@dataclass
class Run:
    ctx: Context
    settings: Settings
    run_dir: str
    registry: procs.Registry = field(default_factory=procs.Registry)
    pg: services.Postgres | None = None
    redis: services.Redis | None = None
    validation: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    substitutions: dict[str, list[str]] = field(default_factory=dict)

    # ---- the whole run ----

    def execute(self) -> dict[str, Any]:
        plan = self.plan()
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        load_before = os.getloadavg()
        old = {s: signal.signal(s, _interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
        try:
            if any(p.name in DB_PROFILES for p, _ in plan):
                self.start_sidecars(any(p.name == "crud" for p, _ in plan))
            for profile, systems in plan:
                for conns in self.connection_counts(profile):
                    for rnd in range(1, self.settings.rounds + 1):
                        order = systems[rnd - 1:] + systems[:rnd - 1]  # each round starts elsewhere
                        for system in order:
                            if self.invalid(system, profile):
                                continue
                            self.runs.append(self.one(system, profile, conns, rnd))
                            self.save(started, load_before)
        finally:
            self.registry.stop_all()
            if self.redis:
                self.redis.stop()
            if self.pg:
                self.pg.stop()
            for s, handler in old.items():
                signal.signal(s, handler)
        return self.save(started, load_before, final=True)

    def plan(self) -> list[tuple[Profile, list[System]]]:
        """For each profile asked for, the systems that serve it; the others are listed
        with the reason (an entry that does not subscribe to it, or cannot serve it here)."""
        profiles = self.ctx.checkout.profiles
        out = []
        for name in self.settings.profiles:
            if name not in profiles:
                raise SystemExit(f"unknown profile {name!r}: HttpArena's are {', '.join(profiles)}")
            serving = []
            for sname in self.settings.systems:
                system = SYSTEMS[sname]
                if name not in system.tests(self.ctx):
                    self.notes.append(f"{name}: {sname} has no entry for it (not in its meta.json tests)")
                    continue
                why = system.unsupported(self.ctx).get(name)
                if why:
                    self.notes.append(f"{name}: {sname} not run: {why}")
                    print(f"[arena] {name}: {sname} not run: {why}", flush=True)
                    continue
                serving.append(system)
            if profiles[name].tool not in RUNNABLE_TOOLS:
                self.notes.append(f"{name}: needs {profiles[name].tool}, which this runner does not drive")
                continue
            if serving:
                out.append((profiles[name], serving))
        self.notes += not_measured_notes(self.ctx, self.settings.profiles)
        return out

    def connection_counts(self, profile: Profile) -> list[int]:
        out: list[int] = []
        for c in self.settings.connections:
            for n in (profile.connections if c == "profile" else (int(c),)):
                if n not in out:
                    out.append(n)
        return out

    def start_sidecars(self, redis: bool) -> None:
        seed, source = self.ctx.checkout.seed_sql(self.ctx.cache)
        self.notes.append(f"PostgreSQL seed: {source}")
        port = procs.free_ports(1)[0]
        self.pg = services.Postgres(seed, cpus=self.settings.db_cpus, port=port, log_dir=self.logs)
        print(f"[arena] PostgreSQL on 127.0.0.1:{port}, loading {seed}", flush=True)
        self.pg.start()
        self.notes.append(f"{self.pg.version()}: {self.pg.rows} rows in items, data in "
                          f"{'RAM (/dev/shm)' if self.pg.in_ram else 'a disk directory, fsync off'}")
        if redis:
            self.redis = services.Redis(self.registry, cpus=self.settings.db_cpus, port=procs.free_ports(1)[0],
                                        log_dir=self.logs)
            self.redis.start()
            self.notes.append(self.redis.version())

    @property
    def logs(self) -> str:
        path = os.path.join(self.run_dir, "logs")
        os.makedirs(path, exist_ok=True)
        return path

    def invalid(self, system: System, profile: Profile) -> bool:
        v = self.validation.get(system.name, {}).get(profile.name)
        return v is not None and not v["ok"] and not self.settings.measure_invalid

    # ---- one system, one profile, one round ----

    def env_for(self, profile: Profile) -> dict[str, str]:
        """What HttpArena's framework_start passes for the profile (DATABASE_URL and
        DATABASE_MAX_CONN for the database ones, REDIS_URL for crud)."""
        env: dict[str, str] = {"PG_DRIVER": self.settings.pg_driver}
        if profile.name in DB_PROFILES and self.pg:
            env.update({"DATABASE_URL": self.pg.url, "DATABASE_MAX_CONN": "256"})
        if profile.name == "crud" and self.redis:
            env["REDIS_URL"] = self.redis.url
        return env

    def one(self, system: System, profile: Profile, conns: int, rnd: int) -> dict[str, Any]:
        label = f"{profile.name}-c{conns}-r{rnd}-{system.name}"
        ports = dict(zip(("plain", "tls_h1", "tls_h2", "h2c"), procs.free_ports(4, consecutive=2)))
        row: dict[str, Any] = {"profile": profile.name, "connections": conns, "round": rnd,
                               "system": system.name, "tool": profile.tool, "ports": ports, "error": None}
        sdir = os.path.join(self.run_dir, "servers", label)
        os.makedirs(sdir, exist_ok=True)
        print(f"[arena] {label}: starting", flush=True)
        proc = None
        try:
            launch = system.launch(self.ctx, ports, sdir)
            self.substitutions.setdefault(system.name, launch.substitutions)
            env = {**launch.env, **self.env_for(profile)}
            env.update(system.env)
            if system.kind == "ringbolt":
                env.update(self.settings.server_env)
            proc = self.registry.start(system.name, launch.argv, cwd=launch.cwd, env=env,
                                       cpus=self.settings.server_cpus,
                                       log_path=os.path.join(self.logs, f"{label}.server.log"))
            self.wait_ready(proc, profile, ports)
            if self.validation.get(system.name, {}).get(profile.name) is None:
                self.validate(system, profile, ports, sdir)
                if self.invalid(system, profile):
                    row["error"] = "failed HttpArena's validation"
                    return row
            requests_dir, notes = self.ctx.checkout.requests_dir(sdir, self.ctx.cache, ports)
            for n in notes:
                if n not in self.notes:
                    self.notes.append(n)
            argv = self.ctx.checkout.tool_args(profile, conns=conns, duration="5s", requests_dir=requests_dir,
                                               ports=ports, tools=self.ctx.tools)
            timeout = max(self.settings.duration, DB_WARMUP_MAX) + 60
            if profile.name in DB_PROFILES:
                row["warmup"] = self.warm_pools(argv, profile, label, timeout)
            elif self.settings.warmup > 0:
                warm = loadgen.adjust(argv, profile.tool, duration=self.settings.warmup)
                loadgen.run(warm, profile.tool, cpus=self.settings.load_cpus, log_dir=self.logs,
                            label=label + ".warmup", timeout=timeout)
            measured = loadgen.adjust(argv, profile.tool, duration=self.settings.duration)
            row["command"] = " ".join(measured)
            if not proc.alive():
                raise RuntimeError(f"the server exited during the warm-up ({_status(proc)}): {proc.log_tail()}")
            (user0, sys0), t0 = procs.cpu_ticks_split(proc.pid), time.monotonic()
            result = loadgen.run(measured, profile.tool, cpus=self.settings.load_cpus, log_dir=self.logs,
                                 label=label, timeout=timeout)
            (user1, sys1), t1 = procs.cpu_ticks_split(proc.pid), time.monotonic()
            if not proc.alive():
                raise RuntimeError(f"the server exited during the run ({_status(proc)}): {proc.log_tail()}")
            row.update(result.as_dict())
            row.update(cpu_figures(user1 - user0, sys1 - sys0, t1 - t0, result))
            if result.ok == 0:
                row["error"] = f"no successful responses ({result.non_2xx} non-2xx, {result.errors} errors)"
            print(f"[arena] {label}: {row['rps']:,.0f} req/s, p99 {row.get('p99_ms')} ms, "
                  f"{row['cpu_us_per_req'] or 0:.1f} CPU µs/req ({row['cpu_user_us_per_req'] or 0:.2f} user), "
                  f"server CPU {(row['cpu_busy'] or 0) * 100:.0f}% busy, load {(row['load_busy'] or 0) * 100:.0f}% "
                  f"busy, {row['load_sleeps_per_1k'] or 0:.1f} load sleeps/1k"
                  + (f", {result.non_2xx} non-2xx" if result.non_2xx else "")
                  + (f", {result.errors} errors" if result.errors else ""), flush=True)
        except (RuntimeError, ValueError, OSError, subprocess.CalledProcessError) as exc:
            row["error"] = str(exc)[:2000]
            print(f"[arena] {label}: FAILED: {row['error']}", flush=True)
        finally:
            if proc is not None:
                self.registry.stop(proc)
        return row

    def warm_pools(self, argv: list[str], profile: Profile, label: str, timeout: float) -> list[dict[str, float]]:
        """Load a database profile until the server's pools have opened their connections:
        warm-ups until one during which PostgreSQL received no connection (not even one
        dropped before it authenticated), at most DB_WARMUP_MAX seconds in all. The first
        lasts --db-warmup seconds, and each after one that opened connections twice as
        long: a SCRAM-authenticated connect costs tens of ms of the server's CPU (asyncpg's
        runs on the event loop), the end of a warm-up cancels the connects still under
        way, and a pool that opens slowly can hold every connection of the load generator
        at its first database request for warm-up after warm-up, at the same low rate, so
        a steady req/s alone proves nothing. Returns each warm-up's seconds, req/s and
        the connections PostgreSQL received during it."""
        seen: list[dict[str, float]] = []
        spent = 0
        d = self.settings.db_warmup
        while spent < DB_WARMUP_MAX:
            d = max(1, min(d, DB_WARMUP_MAX - spent))
            warm = loadgen.adjust(argv, profile.tool, duration=d)
            before = self.pg.connects() if self.pg else 0
            r = loadgen.run(warm, profile.tool, cpus=self.settings.load_cpus, log_dir=self.logs,
                            label=f"{label}.warmup{len(seen) + 1}", timeout=timeout)
            spent += d
            opened = (self.pg.connects() if self.pg else 0) - before
            seen.append({"seconds": d, "rps": r.rps, "connects": opened})
            if r.rps > 0 and opened == 0:
                break
            if opened or r.rps == 0:
                d *= 2
        return seen

    def wait_ready(self, proc: procs.Proc, profile: Profile, ports: dict[str, int]) -> None:
        port, scheme, path, flags = _PROBES.get(profile.endpoint, _DEFAULT_PROBE)
        url = f"{scheme}://127.0.0.1:{ports[port]}{path}"
        deadline = time.monotonic() + self.settings.ready_timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"the server exited while starting ({_status(proc)}): {proc.log_tail()}")
            probe = subprocess.run(["curl", "-sk", "-o", "/dev/null", "--max-time", "2", *flags, url],
                                   capture_output=True, stdin=subprocess.DEVNULL)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer {url} within {self.settings.ready_timeout:.0f} s: "
                           f"{proc.log_tail()}")

    def validate(self, system: System, profile: Profile, ports: dict[str, int], sdir: str) -> None:
        twin = validate.H3_TWINS.get(profile.name)
        print(f"[arena] validating {system.name} for {profile.name} (scripts/validate.sh"
              + (f" for {twin}, and its checks over HTTP/3)" if twin else ")"), flush=True)
        verdict = validate.run(self.ctx.checkout, system.name, twin or profile.name, ports,
                               os.path.join(sdir, "validate"), self.pg.port if self.pg else None,
                               self.pg.bindir if self.pg else None)
        if twin:
            verdict = validate.merge(verdict, validate.run_h3(self.ctx.ringbolt_python, profile.name,
                                                              ports["tls_h2"], os.path.join(sdir, "validate")))
        self.validation.setdefault(system.name, {})[profile.name] = {
            "ok": verdict.ok, "passed": verdict.passed, "failed": verdict.failed,
            "failures": verdict.failures, "skipped": verdict.skipped}
        state = "passed" if verdict.ok else "FAILED"
        print(f"[arena] validation {state}: {verdict.passed} passed, {verdict.failed} failed"
              + "".join(f"\n    {f}" for f in verdict.failures[:8]), flush=True)

    # ---- results ----

    def save(self, started: str, load_before: tuple[float, float, float], final: bool = False) -> dict[str, Any]:
        summary = report.summarize(self.runs)
        data = {
            "date": started,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z") if final else None,
            "command": self.settings.command,
            "machine": machine(),
            "load_average": {"start": load_before, "end": os.getloadavg()},
            "arena": {"dir": self.ctx.checkout.path, "commit": self.ctx.checkout.commit, "pinned": PINNED_COMMIT},
            "settings": {k: v for k, v in vars(self.settings).items() if k != "command"},
            "tools": self.ctx.tools,
            "systems": {name: {"describe": SYSTEMS[name].describe,
                               "substitutions": self.substitutions.get(name, [])} for name in self.settings.systems},
            "versions": versions(self.ctx, self.settings.systems) if final else {},
            "notes": self.notes,
            "services": {"postgres": {"dir": self.pg.dir, "port": self.pg.port} if self.pg else None,
                         "redis": {"port": self.redis.port} if self.redis else None},
            "validation": self.validation,
            "runs": self.runs,
            "summary": summary,
        }
        report.write_json(self.settings.results, data)
        return data


def not_measured_notes(ctx: Context, profiles: list[str]) -> list[str]:
    """A note for each of HttpArena's Python entries the runner cannot start here
    (systems.NOT_MEASURED) that serves some of ``profiles``: which, and why not."""
    out = []
    for entry, why in NOT_MEASURED.items():
        if not os.path.exists(ctx.checkout.file("frameworks", entry, "meta.json")):
            continue
        served = [p for p in profiles if p in ctx.checkout.meta(entry).get("tests", [])]
        if served:
            out.append(f"HttpArena's {entry} entry serves {', '.join(served)} but is not measured: {why}")
    return out


def cpu_figures(user_ticks: int, sys_ticks: int, seconds: float, result: loadgen.Result) -> dict[str, Any]:
    """The server's CPU per request (user and system apart too) and how busy it was; the
    load generator's busy share and its sleeps (voluntary context switches) per 1,000
    responses. A load generator that sleeps often is waiting for the server: each of its
    wake-ups is a cross-CPU wake the server's kernel pays in its send path."""
    cpu_s = (user_ticks + sys_ticks) / procs.TICKS
    per_req = 1e6 / result.ok if result.ok else None
    out: dict[str, Any] = {
        "cpu_seconds": cpu_s,
        "cpu_busy": cpu_s / seconds if seconds > 0 else None,
        "cpu_us_per_req": cpu_s * per_req if per_req else None,
        "cpu_user_us_per_req": user_ticks / procs.TICKS * per_req if per_req else None,
        "cpu_sys_us_per_req": sys_ticks / procs.TICKS * per_req if per_req else None,
        "load_busy": None, "load_sleeps_per_1k": None}
    if result.load_user_s is not None and result.load_sys_s is not None and seconds > 0:
        out["load_busy"] = (result.load_user_s + result.load_sys_s) / seconds
    if result.load_sleeps is not None and result.ok:
        out["load_sleeps_per_1k"] = result.load_sleeps * 1000 / result.ok
    return out


def _status(proc: procs.Proc) -> str:
    code = proc.popen.returncode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"kernel": platform.release(), "cpu": model, "cpus": os.cpu_count(), "python": sys.version.split()[0]}


def versions(ctx: Context, systems: list[str]) -> dict[str, Any]:
    """The packages each system ran with (pip freeze of its Python), and the tools'."""
    out: dict[str, Any] = {}
    for name in systems:
        system = SYSTEMS[name]
        py = ctx.ringbolt_python if system.kind == "ringbolt" else os.path.join(ctx.cache, "venvs", name, "bin", "python")
        if os.path.exists(py):
            freeze = subprocess.run([py, "-m", "pip", "freeze", "--disable-pip-version-check"], capture_output=True,
                                    text=True).stdout.split()
            ver = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                                 text=True).stdout.strip()
            out[name] = {"python": ver, "packages": freeze}
    for tool, path in ctx.tools.items():
        if tool == "h2load-h3":  # ringbolt-h3-load, built from this tree
            out[tool] = f"ringbolt-h3-load ({path}, standing for h2load-h3)"
            continue
        flag = "--version" if tool == "h2load" else "-v"
        try:
            r = subprocess.run([path, flag], capture_output=True, text=True, timeout=10)
            out[tool] = (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else path
            if tool == "gcannon":
                out[tool] += f" (fixes: {gcannon_fixes(path) or 'none recorded'})"
        except (OSError, subprocess.TimeoutExpired):
            out[tool] = path
    return out
