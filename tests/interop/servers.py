"""The servers under test in the interop matrix (tests/interop/run.py): ringbolt on either io
backend, or Hypercorn (aioquic's QUIC server) for the comparison column, both serving
tests/interop/app.py over HTTPS and HTTP/3 on one port number; the certificates they use;
and the server's CPU time, all its processes together."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TICK = os.sysconf("SC_CLK_TCK")
# Client tools must not run with a sanitizer preloaded (as in the TLS tests of tests/py).
CLIENT_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}


# ---- certificates ----

@dataclass
class Certs:
    dir: Path
    cert: Path  # the leaf alone (a P-256 key): what every case but amplificationlimit serves
    key: Path
    big_chain: Path  # a leaf with 150 names, then four RSA-3072 intermediates
    big_key: Path

    def chain_der_bytes(self, big: bool) -> int:
        """The DER size of the certificates the server sends (its TLS Certificate message
        is a little more)."""
        return sum(len(der) for der in _pem_certs(self.big_chain if big else self.cert))


def _pem_certs(path: Path) -> list[bytes]:
    import base64

    out: list[bytes] = []
    cur: list[str] = []
    for line in path.read_text().splitlines():
        if "BEGIN CERTIFICATE" in line:
            cur = []
        elif "END CERTIFICATE" in line:
            out.append(base64.b64decode("".join(cur)))
        else:
            cur.append(line.strip())
    return out


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, env=CLIENT_ENV)


def make_certs(d: Path) -> Certs:
    """A CA and a leaf for localhost, 127.0.0.1 and ::1; and a large chain (for the
    amplification limit: a server's first flight that cannot fit in 3x a client Initial):
    a root, four intermediates and a leaf with many names. Made once per directory."""
    d.mkdir(parents=True, exist_ok=True)
    names = "DNS:localhost,IP:127.0.0.1,IP:::1"
    if not (d / "server.crt").exists():
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                 "-out", "ca.crt", "-days", "30", "-subj", "/CN=ringbolt interop CA", cwd=d)
        _leaf(d, "server", "ca", names)
    if not (d / "big-chain.crt").exists():
        _openssl("req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout", "root.key", "-out", "root.crt",
                 "-days", "30", "-subj", "/CN=ringbolt interop root", cwd=d)
        issuer = "root"
        (d / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        for i in range(1, 5):
            name = f"int{i}"
            _openssl("req", "-newkey", "rsa:3072", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                     "-subj", f"/O=ringbolt interop/OU=a long organizational unit name {i}/CN=intermediate {i}", cwd=d)
            _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.crt", "-CAkey", f"{issuer}.key",
                     "-CAcreateserial", "-out", f"{name}.crt", "-days", "30", "-extfile", "ca.ext", cwd=d)
            issuer = name
        many = ",".join(f"DNS:host-{i:03d}.interop.ringbolt.test" for i in range(150))
        _leaf(d, "big", issuer, f"{names},{many}")
        chain = [(d / "big.crt").read_text()] + [(d / f"int{i}.crt").read_text() for i in range(4, 0, -1)]
        (d / "big-chain.crt").write_text("".join(chain))
    return Certs(d, d / "server.crt", d / "server.key", d / "big-chain.crt", d / "big.key")


def _leaf(d: Path, name: str, ca: str, sans: str) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=d)
    (d / f"{name}.ext").write_text(f"subjectAltName={sans}\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "30", "-extfile", f"{name}.ext", cwd=d)


# ---- ports and CPU ----

def free_port(host: str) -> int:
    """A port free for both TCP and UDP on `host` (the HTTP/3 listener takes the TCP
    listener's number)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as u:
                u.bind((host, port))
            return int(port)
        except OSError:
            continue
    raise RuntimeError(f"no port free for TCP and UDP on {host}")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and every process under it (/proc/PID/stat), in seconds."""
    kids = _children()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError):
            pass
        todo += kids.get(p, [])
    return total / TICK


# ---- the servers ----

class ServerFailed(Exception):
    """The server did not start (or died): the reason carries its output."""


class Server:
    """One server process (and its workers) for one case; its output goes to `log`."""

    def __init__(self, kind: str, host: str, certs: Certs, log: Path, io: str = "io_uring", workers: int = 1,
                 threads: int = 1, big_chain: bool = False, retry_always: bool = False,
                 extra: list[str] | None = None) -> None:
        self.kind, self.host, self.log = kind, host, log
        self.port = free_port(host)
        cert = certs.big_chain if big_chain else certs.cert
        key = certs.big_key if big_chain else certs.key
        env = {**os.environ, "PYTHONPATH": str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        bind = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        if kind == "ringbolt":
            cmd = [sys.executable, "-m", "ringbolt", "serve", "app:app", "--app-dir", str(HERE), "--host", host,
                   "--port", str(self.port), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--http3",
                   "--threads", str(threads), "--log-level", "debug", "--max-body-size", str(64 << 20),
                   "--metrics", "/metrics"]
            if workers > 1:
                cmd += ["--workers", str(workers)]
            if retry_always:
                cmd += ["--http3-retry-above", "0"]
            env["RINGBOLT_IO"] = io
        elif kind == "hypercorn":
            # Hypercorn has no option to force a Retry: the retry case runs on its defaults.
            cmd = [sys.executable, "-m", "hypercorn", "--bind", bind, "--quic-bind", bind, "--certfile", str(cert),
                   "--keyfile", str(key), "--workers", str(workers), "--log-level", "info", "--error-logfile", "-",
                   "app:app"]
        else:
            raise ValueError(f"unknown server {kind!r}")
        cmd += extra or []
        self.cmd = cmd
        self._log_file = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT, env=env, cwd=str(HERE))
        self._wait_serving()

    def _wait_serving(self, timeout: float = 30.0) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"{self.kind} exited with {self.proc.returncode} at start: {self.tail(8)}")
            try:
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(0.2)
                    s.connect((self.host, self.port))
                if self._udp_bound() and (self.kind != "hypercorn" or "(QUIC)" in self.output()):
                    return  # (Hypercorn's worker logs its QUIC listener once it serves)
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerFailed(f"{self.kind} did not start in {timeout:g} s: {self.tail(8)}")

    def _udp_bound(self) -> bool:
        """Whether something listens on the UDP port (the QUIC listener may come a moment
        after the TCP one: Hypercorn binds them in turn)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as u:
                u.bind((self.host, self.port))
            return False
        except OSError:
            return True

    def counters(self) -> dict[str, int]:
        """ringbolt's QUIC and HTTP/3 counters that are not zero (its /metrics over HTTPS,
        summed over the reactors; with --workers, the answering worker's), for a failure's
        report; {} for Hypercorn or when they cannot be read."""
        if self.kind != "ringbolt" or not self.alive():
            return {}
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((self.host, self.port), timeout=5) as raw, \
                    ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError:
            return {}
        totals: dict[str, int] = {}
        for line in data.decode(errors="replace").splitlines():
            m = re.match(r"ringbolt_((?:quic|h3)_\w+?)(?:_total)?\{core=\"\d+\"\} (\d+)", line)
            if m:
                totals[m.group(1)] = totals.get(m.group(1), 0) + int(m.group(2))
        return {k: v for k, v in totals.items() if v}

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def tail(self, n: int = 12, grep: tuple[str, ...] = ()) -> str:
        lines = self.output().splitlines()
        if grep:
            lines = [x for x in lines if any(g in x for g in grep)]
        return "\n".join(lines[-n:])

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode
