"""Starting the servers that benchmarks/load/tls_bench.py and h2_bench.py compare:
ringbolt, Granian (RSGI and ASGI) and nginx, one worker each, pinned to a CPU with
taskset, over plain TCP or TLS (one throwaway P-256 certificate for all of them), and
stopping them by pid. Standard library only and loadable by path, as is processes.py
beside it (whose process helpers it uses): the scripts run under an interpreter without
ringbolt."""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent


def _processes() -> Any:
    """processes.py beside this file, loaded by path once (a script may run without ringbolt installed)."""
    name = "ringbolt_bench_processes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "processes.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# The systems: ringbolt with a Python handler (`ringbolt`) or a native const route
# (`ringbolt-const`), Granian's two interfaces, nginx's `return 200`. Every one answers
# GET /plaintext with "Hello, World!" (benchmarks/load/apps/).
SYSTEMS = ("ringbolt", "ringbolt-const", "granian-rsgi", "granian-asgi", "nginx")


@dataclass
class Options:
    apps: Path  # benchmarks/load/apps: the apps' modules
    python: str = sys.executable  # the interpreter with ringbolt installed
    granian: str = "granian"
    nginx: str = "/usr/sbin/nginx"
    cpu: str = "0"  # taskset -c for the server
    http: str = "1"  # "1" or "2" (Granian's --http, nginx's `http2` on the listener)
    tls: Optional[tuple[Path, Path]] = None  # (certificate, key) PEM files: serve HTTPS


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[Any]
    tmp: Path
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.tmp / "server.log"

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its children (nginx's worker) so far."""
        procs = _processes()
        return float(procs.cpu_seconds(procs.process_tree(self.proc.pid)))


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for localhost/127.0.0.1 and its key (PKCS#8, which
    Granian requires)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def nginx_conf(tmp: Path, port: int, opts: Options) -> Path:
    """The harness's nginx template, its listener made `http2` and/or `ssl` (session cache
    and tickets on, as a TLS deployment has them)."""
    text = (HERE / "nginx.conf.tmpl").read_text().replace("@PORT@", str(port)).replace("@TMPDIR@", str(tmp))
    listen = f"listen 127.0.0.1:{port} backlog=4096;"
    flags = (" ssl" if opts.tls else "") + (" http2" if opts.http == "2" else "")
    new = f"listen 127.0.0.1:{port}{flags} backlog=4096;"
    if opts.tls:
        cert, key = opts.tls
        new += (f"\n        ssl_certificate {cert};\n        ssl_certificate_key {key};"
                "\n        ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_session_cache shared:SSL:10m;"
                "\n        ssl_session_tickets on;")
    assert listen in text, "nginx.conf.tmpl's listen line changed"
    (tmp / "body10k.bin").write_bytes(b"x" * 10240)
    conf = tmp / "nginx.conf"
    conf.write_text(text.replace(listen, new))
    return conf


def command(name: str, port: int, opts: Options, tmp: Path) -> list[str]:
    if name in ("ringbolt", "ringbolt-const"):
        module = "ringbolt_app:app" if name == "ringbolt" else "ringbolt_const:app"
        cmd = [opts.python, "-m", "ringbolt", "serve", module, "--app-dir", str(opts.apps), "--port", str(port),
               "--workers", "1", "--threads", "1", "--no-pin", "--log-level", "warning"]
        if opts.tls:
            cmd += ["--ssl-certfile", str(opts.tls[0]), "--ssl-keyfile", str(opts.tls[1])]
        return cmd
    if name in ("granian-rsgi", "granian-asgi"):
        interface, module = ("rsgi", "granian_rsgi:app") if name == "granian-rsgi" else ("asgi", "uvicorn_asgi:app")
        cmd = [opts.granian, "--interface", interface, "--http", opts.http, "--workers", "1",
               "--runtime-threads", "1", "--host", "127.0.0.1", "--port", str(port), "--no-ws",
               "--log-level", "warning", "--no-access-log", module]
        if opts.tls:
            # TLS 1.2 allowed as for the others (Granian's default minimum is 1.3; clients pick 1.3 anyway)
            cmd[-1:-1] = ["--ssl-certificate", str(opts.tls[0]), "--ssl-keyfile", str(opts.tls[1]),
                          "--ssl-protocol-min", "tls1.2"]
        return cmd
    if name == "nginx":
        return [opts.nginx, "-p", str(tmp), "-c", str(nginx_conf(tmp, port, opts))]
    raise ValueError(f"unknown system {name!r} (known: {', '.join(SYSTEMS)})")


def wait_listening(port: int, proc: subprocess.Popen[Any], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen within {timeout:g} s: {log.read_text(errors='replace')[-2000:]}")


def start(name: str, opts: Options, tmp: Path) -> Server:
    """`name` listening on a free port of 127.0.0.1, under `taskset -c opts.cpu`, in its own
    session (stop() ends it and its children by pid); its output goes to tmp/server.log."""
    procs = _processes()
    port = procs.free_port()
    env = {**os.environ, "PYTHONPATH": str(opts.apps)}
    log = tmp / "server.log"
    proc = procs.start_process(["taskset", "-c", opts.cpu, *command(name, port, opts, tmp)], str(opts.apps), env, log)
    server = Server(name, port, proc, tmp)
    try:
        wait_listening(port, proc, log)
    except BaseException:
        stop(server)
        raise
    return server


def stop(server: Server) -> None:
    _processes().stop_process(server.proc, timeout=20)
