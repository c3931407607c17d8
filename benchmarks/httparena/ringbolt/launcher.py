"""Serve an app on HttpArena's ports with `ringbolt serve`, one process per port:

    8080  HTTP/1.1 (and h2c for clients that ask)            every plain profile, /ws
    8081  HTTPS, ALPN http/1.1 only (--http 1)              json-tls
    8443  HTTPS, ALPN h2 and http/1.1                       baseline-h2, static-h2
          and HTTP/3 on UDP 8443 (--http3)                   baseline-h3, static-h3
    8082  h2c only (--http 2): HTTP/1.1 answered 505        baseline-h2c, json-h2c

    python launcher.py [APP [ringbolt serve options...]]    (APP defaults to app:app)

The TLS ports open when the certificate exists (TLS_CERT, TLS_KEY; HttpArena mounts
/certs). `--http {auto,1,2}` is `ringbolt serve`'s option for the HTTP versions a port
serves (docs/http.md); `--http3` adds HTTP/3 over QUIC on the UDP port of the same
number (docs/http3.md), with its default settings. Each process runs
WEB_CONCURRENCY workers (default: the CPUs this process may use, one reactor thread
each, as docs/deployment.md recommends for Python handlers). The ports, the host and
the log level can be moved with ARENA_PORT, ARENA_TLS_PORT, ARENA_H2_PORT,
ARENA_H2C_PORT, ARENA_HOST and ARENA_LOG_LEVEL (the local runner does). SIGTERM and
SIGINT go to every process; when one exits, the others are stopped and the launcher
exits with its status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = os.environ.get("ARENA_HOST", "0.0.0.0")
CERT = os.environ.get("TLS_CERT", "/certs/server.crt")
KEY = os.environ.get("TLS_KEY", "/certs/server.key")
# The upload profile sends bodies of up to 20 MiB; ringbolt refuses more than 16 MiB
# unless told (docs/cli.md: "Raise them for uploads").
MAX_BODY = str(64 << 20)


def _port(name: str, default: int) -> str:
    return os.environ.get(name, str(default))


def listeners(app: str, extra: list[str], ringbolt: list[str]) -> dict[str, list[str]]:
    base = [*ringbolt, "serve", app, "--host", HOST, "--threads", "1", "--max-body-size", MAX_BODY,
            "--log-level", os.environ.get("ARENA_LOG_LEVEL", "warning"), *extra]
    tls = ["--ssl-certfile", CERT, "--ssl-keyfile", KEY]
    out = {"plain": [*base, "--port", _port("ARENA_PORT", 8080)]}
    if os.path.exists(CERT) and os.path.exists(KEY):
        out["tls-h1"] = [*base, "--port", _port("ARENA_TLS_PORT", 8081), *tls, "--http", "1"]
        # baseline-h3 and static-h3 use the same port number over UDP, as HttpArena's
        # profiles say; TCP answers there carry Alt-Svc naming it.
        out["tls-h2"] = [*base, "--port", _port("ARENA_H2_PORT", 8443), *tls, "--http3"]
    # baseline-h2c and json-h2c: a port that speaks HTTP/2 with prior knowledge only (an
    # HTTP/1.1 request gets 505), so the profile cannot measure HTTP/1.1 by mistake.
    out["h2c"] = [*base, "--port", _port("ARENA_H2C_PORT", 8082), "--http", "2"]
    return out


def main() -> int:
    app = sys.argv[1] if len(sys.argv) > 1 else "app:app"
    extra = sys.argv[2:]
    os.environ.setdefault("WEB_CONCURRENCY", str(len(os.sched_getaffinity(0))))
    ringbolt = [sys.executable, "-m", "ringbolt"]
    if "/" not in app:  # module:attr, the module next to this file (app:app)
        extra = ["--app-dir", HERE, *extra]
    procs = {name: subprocess.Popen(cmd) for name, cmd in listeners(app, extra, ringbolt).items()}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    names = {p.pid: name for name, p in procs.items()}
    while names:
        pid, wait_status = os.wait()  # blocks: the launcher costs no CPU while it serves
        name = names.pop(pid, None)
        if name is None:
            continue
        procs[name].returncode = code = os.waitstatus_to_exitcode(wait_status)
        if not stopping:
            print(f"launcher: the {name} listener exited with status {code}: stopping the others",
                  file=sys.stderr, flush=True)
            status = code or 1
            stop(signal.SIGTERM, None)
    return status


if __name__ == "__main__":
    sys.exit(main())
