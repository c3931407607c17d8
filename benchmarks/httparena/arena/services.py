"""The database profiles' sidecars, as HttpArena runs them (scripts/lib/postgres.sh,
redis.sh) but without docker: a throwaway PostgreSQL cluster (initdb + pg_ctl in a
temporary directory, as the `postgres` user when the runner is root; role and database
`bench`/`benchmark`, max_connections=256, on 127.0.0.1 and a free port, loaded with
HttpArena's seed) and a redis-server with HttpArena's flags. Both are pinned to the
CPUs given (the load generator's, by default), so the server's CPU is its own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from . import procs


class Missing(RuntimeError):
    """A system package the database profiles need is not installed."""


def _pg_bindir() -> str:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]) if
                  d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(os.path.realpath(initdb))
    raise Missing("PostgreSQL is not installed (initdb not found): apt-get install postgresql "
                  "(or run `benchmarks/httparena/run deps`)")


class Postgres:
    """A PostgreSQL cluster of its own; ``stop()`` (also from a ``finally``) removes it."""

    def __init__(self, seed_sql: str, *, cpus: str | None, port: int, log_dir: str, table: str = "items") -> None:
        self.bindir = _pg_bindir()
        self.table = table  # the seed must leave rows in it
        self.port = port
        self.cpus = cpus
        self.seed_sql = seed_sql
        self.log_copy = os.path.join(log_dir, "postgres.log")  # the log, kept when the cluster goes
        # HttpArena keeps the data directory in RAM (docker --tmpfs); /dev/shm does the same.
        base = "/dev/shm" if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > (1 << 30) else None
        self.dir = tempfile.mkdtemp(prefix="ringbolt-arena-pg-", dir=base)
        self.in_ram = base is not None
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.user: str | None = None
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise Missing("the runner is root and there is no `postgres` user to run PostgreSQL as: "
                              "apt-get install postgresql creates it") from exc
            self.user = "postgres"
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.url = f"postgres://bench:bench@127.0.0.1:{port}/benchmark"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(argv)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        if self.cpus:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, cwd="/")

    def _psql(self, *args: str, database: str = "benchmark") -> str:
        out = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                              "-h", "127.0.0.1", "-p", str(self.port), "-U", "bench", "-d", database, *args],
                             capture_output=True, text=True, env={**os.environ, "PGPASSWORD": "bench"})
        if out.returncode != 0:
            raise RuntimeError(f"psql {' '.join(args)[:200]} failed: {out.stderr.strip()}")
        return out.stdout

    def start(self) -> None:
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write("bench\n")
        if self.user:
            shutil.chown(pwfile, self.user)
        self._run(os.path.join(self.bindir, "initdb"), "-D", data, "-U", "bench", "--pwfile", pwfile,
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c max_connections=256 "
                   f"-c unix_socket_directories={self.dir} -c shared_buffers=128MB -c log_connections=on")
        if not self.in_ram:  # on disk, fsync would measure the disk; in RAM it costs nothing
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        result = self._run(os.path.join(self.bindir, "pg_ctl"), "-D", data, "-o", options, "-l", self.log_path,
                           "-w", "-t", "60", "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()} {self._log_tail()}")
        self._psql("-c", "CREATE DATABASE benchmark", database="postgres")
        self._psql("-f", self.seed_sql)
        rows = self._psql("-tAc", f"SELECT count(*) FROM {self.table}").strip()
        if not rows.isdigit() or int(rows) == 0:
            raise RuntimeError(f"the seed {self.seed_sql} left no rows in {self.table} ({rows!r})")
        self.rows = int(rows)

    def connects(self) -> int:
        """Connections PostgreSQL has received so far (log_connections: one line each, also
        for the ones dropped before they authenticated, and for cancel requests)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().count(b"connection received:")
        except OSError:
            return 0

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def postmaster_pid(self) -> int | None:
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if os.path.isdir(os.path.join(self.dir, "data")):
            self._run(os.path.join(self.bindir, "pg_ctl"), "-D", os.path.join(self.dir, "data"), "-m", "fast",
                      "-w", "-t", "20", "stop", check=False)
            pid = self.postmaster_pid()
            if pid is not None:
                procs.stop_tree(pid, timeout=5)
        if os.path.isfile(self.log_path):
            shutil.copyfile(self.log_path, self.log_copy)
        shutil.rmtree(self.dir, ignore_errors=True)

    def version(self) -> str:
        out = subprocess.run([os.path.join(self.bindir, "postgres"), "--version"], capture_output=True, text=True)
        return out.stdout.strip()


class Redis:
    """redis-server with scripts/lib/redis.sh's flags, as the runner's child."""

    def __init__(self, registry: procs.Registry, *, cpus: str | None, port: int, log_dir: str) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise Missing("redis-server is not installed: apt-get install redis-server "
                          "(or run `benchmarks/httparena/run deps`)")
        self.registry = registry
        self.cpus = cpus
        self.port = port
        self.log_path = os.path.join(log_dir, "redis.log")
        self.url = f"redis://127.0.0.1:{port}"
        self.proc: procs.Proc | None = None

    def start(self) -> None:
        argv = [self.binary, "--protected-mode", "no", "--bind", "127.0.0.1", "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--maxmemory", "512mb", "--maxmemory-policy", "allkeys-lru",
                "--io-threads", "1", "--daemonize", "no"]
        self.proc = self.registry.start("redis", argv, cpus=self.cpus, log_path=self.log_path)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"redis-server exited: {self.proc.log_tail()}")
            if _redis_ping(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not answer PING within 15 s")

    def version(self) -> str:
        out = subprocess.run([self.binary or "redis-server", "--version"], capture_output=True, text=True)
        return out.stdout.strip()

    def stop(self) -> None:
        if self.proc is not None:
            self.registry.stop(self.proc)
            self.proc = None


def _redis_ping(port: int) -> bool:
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False
