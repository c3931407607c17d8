"""`ringbolt serve` end to end, on real processes: options from flags, RINGBOLT_* and
--env-file; app loading and its one-line errors (exit 2); --interface; the response
header switches; a port (or unix socket) already served; --uds and --fd; Ctrl-C once
(drain) and twice (forced exit); --reload."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import APPS, REPO, free_port, stop_process, wait_until_serving
from gate import WAIT, Gate, wait_refused

RINGBOLT = [sys.executable, "-m", "ringbolt"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGBOLT_") or k == "RINGBOLT_IO"}
    env.pop("WEB_CONCURRENCY", None)
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RINGBOLT, *args], capture_output=True, text=True, timeout=timeout, cwd=str(REPO),
                          env=env or clean_env())


class Server:
    """A `ringbolt ...` process; waits until `connect()` succeeds."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, port: int | None = None,
                 uds: str | None = None, **popen) -> None:
        self.port = port
        self.uds = uds
        self.proc = subprocess.Popen([*RINGBOLT, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     cwd=str(REPO), env=env or clean_env(), **popen)
        wait_until_serving(self)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        if self.uds is not None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.uds)
            return s
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        with self.connect(timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), fields, body

    def output(self) -> str:
        if self.proc.poll() is not None and self.proc.stdout is not None:
            return self.proc.stdout.read().decode(errors="replace")
        return ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return stop_process(self.proc, sig, 20)


def serve(*args: str, env: dict[str, str] | None = None, app: str = "cli_app:app") -> Server:
    port = free_port()
    return Server("serve", app, "--app-dir", str(APPS), "--port", str(port), "--threads", "1", *args, env=env,
                  port=port)


# ---- version, help, arguments ----

def test_version_and_help():
    for args in (["--version"], ["serve", "--version"], ["version"]):
        p = run_cli(*args)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("ringbolt ") and "Python" in p.stdout
    p = run_cli("serve", "--help")
    assert p.returncode == 0
    for group in ("application:", "socket:", "workers and threads:", "HTTP and limits:", "timeouts:", "logging:",
                  "development:"):
        assert group in p.stdout
    assert "[env RINGBOLT_TIMEOUT_KEEP_ALIVE]" in p.stdout


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--port", "x"], {}, "argument --port: expected an integer, not 'x'"),
        ([], {"RINGBOLT_PORT": "x"}, "RINGBOLT_PORT='x': expected an integer"),
        ([], {"RINGBOLT_LIFESPAN": "maybe"}, "RINGBOLT_LIFESPAN='maybe': choose from auto, on, off"),
        ([], {"RINGBOLT_DATE_HEADER": "perhaps"}, "RINGBOLT_DATE_HEADER='perhaps': expected true/false/1/0"),
        (["--header", "nocolon"], {}, "expected NAME:VALUE"),
        (["--header", "bad name:1"], {}, "invalid header name 'bad name'"),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
        (["--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/33"], {}, "'10.0.0.0/33' is not an IP address"),
        ([], {"RINGBOLT_FORWARDED_ALLOW_IPS": "localhost"}, "'localhost' is not an IP address or network"),
        ([], {"RINGBOLT_ACCESS_LOG": "maybe"}, "expected true/false/1/0"),
        (["--access-log-format", "%(z)s"], {}, "unknown atom %(z)s"),
        (["--access-log-format", "100% sure"], {}, "a '%' that is not"),
        (["--env-file", "/nonexistent/.env"], {}, "--env-file /nonexistent/.env: no such file"),
        (["--fd", "1000"], {}, "--fd 1000: not a socket"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, env, message):
    port = [] if "RINGBOLT_PORT" in env else ["--port", str(free_port())]  # the command line would win
    p = run_cli("serve", "cli_app:app", "--app-dir", str(APPS), *port, *args, env=clean_env(**env))
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ringbolt: error: "), p.stderr
    assert message in lines[0]


BROKEN_MODULES = {
    "syntax_error": ("def f(:\n", "importing 'syntax_error' failed: SyntaxError: invalid syntax"),
    "raises": ("x = 1\nraise ValueError('no config')\n",
               "importing 'raises' failed: ValueError: no config (at "),
    "missing_dep": ("import no_such_dependency_xyz\n",
                    "importing 'missing_dep' failed: ModuleNotFoundError: No module named 'no_such_dependency_xyz'"),
    "exits": ("import sys\nsys.exit(3)\n", "importing 'exits' failed: SystemExit: 3"),
}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nosuch_module:app", "could not import 'nosuch_module': no module named 'nosuch_module'"),
        ("cli_app:nope", "module 'cli_app' has no attribute 'nope'"),
        ("cli_app:not_an_app", "cli_app:not_an_app is an int, not an application"),
        ("cli_app:asgi --factory", "--factory: cli_app:asgi() failed: TypeError"),
        ("cli_app:not_an_app --factory", "--factory: cli_app:not_an_app is an int, not a function"),
        *[(f"{name}:app", msg) for name, (_, msg) in BROKEN_MODULES.items()],
    ],
)
def test_an_app_that_cannot_be_loaded_is_one_line_and_exit_2(tmp_path, spec, message):
    for name, (source, _) in BROKEN_MODULES.items():
        (tmp_path / f"{name}.py").write_text(source)
    (tmp_path / "cli_app.py").write_text((APPS / "cli_app.py").read_text())
    p = run_cli("serve", *spec.split(), "--app-dir", str(tmp_path), "--port", str(free_port()))
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ringbolt: error: "), p.stderr
    assert message in lines[0]


def test_log_level_debug_shows_the_import_traceback(tmp_path):
    (tmp_path / "raises.py").write_text(BROKEN_MODULES["raises"][0])
    p = run_cli("serve", "raises:app", "--app-dir", str(tmp_path), "--log-level", "debug")
    assert p.returncode == 2
    assert "Traceback (most recent call last)" in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("ringbolt: error: importing 'raises' failed")


@pytest.mark.parametrize(
    "spec, interface, message",
    [
        ("cli_app:app", "asgi", "--interface asgi: cli_app:app is a ringbolt.App, not an ASGI 3 application"),
        ("cli_app:asgi", "native", "--interface native: cli_app:asgi is an ASGI 3 application, not a ringbolt.App"),
        ("cli_app:asgi", "wsgi", "--interface wsgi: cli_app:asgi is an ASGI 3 application, not a WSGI callable"),
        ("cli_app:wsgi", "asgi", "--interface asgi: cli_app:wsgi is a WSGI callable, not an ASGI 3 application"),
    ],
)
def test_interface_mismatch(spec, interface, message):
    p = run_cli("serve", spec, "--app-dir", str(APPS), "--interface", interface, "--port", str(free_port()))
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ringbolt: error: {message}"), p.stderr


# ---- where options come from ----

def test_options_from_environment_app_without_subcommand():
    port = free_port()
    env = clean_env(RINGBOLT_APP="cli_app:create_app", RINGBOLT_FACTORY="true", RINGBOLT_APP_DIR=str(APPS),
                    RINGBOLT_PORT=str(port), RINGBOLT_THREADS="1", RINGBOLT_SERVER_HEADER="0")
    srv = Server(env=env, port=port)  # plain `ringbolt`: everything from RINGBOLT_*
    try:
        status, fields, _ = srv.get("/env")
        assert status == 200 and "server" not in fields
    finally:
        assert srv.stop() == 0


def test_command_line_wins_over_environment():
    port = free_port()
    env = clean_env(RINGBOLT_PORT=str(free_port()), RINGBOLT_SERVER_HEADER="false", RINGBOLT_THREADS="1")
    srv = Server("--port", str(port), "cli_app:app", "--app-dir", str(APPS), "--server-header", env=env, port=port)
    try:
        status, fields, _ = srv.get("/env")
        assert status == 200 and fields["server"] == "ringbolt"
    finally:
        srv.stop()


def test_env_file(tmp_path):
    env_file = tmp_path / "app.env"
    port = free_port()
    env_file.write_text(f'# settings\nCLI_GREETING="hello from the file"\nexport RINGBOLT_PORT={port}\n'
                        f"ALREADY_SET=from-file\n")
    srv = Server("cli_app:app", "--app-dir", str(APPS), "--threads", "1", "--env-file", str(env_file),
                 env=clean_env(), port=port)  # RINGBOLT_PORT from the file counts as --port
    try:
        status, _, body = srv.get("/env")
        assert status == 200 and b"hello from the file" in body
    finally:
        srv.stop()
    port = free_port()
    srv = Server("cli_app:app", "--app-dir", str(APPS), "--threads", "1", "--port", str(port),
                 env=clean_env(RINGBOLT_ENV_FILE=str(env_file), CLI_GREETING="from the environment"), port=port)
    try:
        assert b"from the environment" in srv.get("/env")[2]  # a variable already set wins over the file
    finally:
        srv.stop()


def test_factory():
    srv = serve("--factory", app="cli_app:create_app")
    try:
        assert srv.get("/env")[0] == 200
    finally:
        srv.stop()


def test_asgi_root_path():
    srv = serve("--root-path", "/api", app="cli_app:asgi")
    try:
        assert srv.get("/x")[2] == b"root_path=/api"
    finally:
        srv.stop()


def test_failing_lifespan_startup_exits_nonzero_with_the_error():
    p = run_cli("serve", "cli_app:asgi", "--app-dir", str(APPS), "--port", str(free_port()), "--lifespan", "on",
                env=clean_env(CLI_FAIL_STARTUP="1"))
    assert p.returncode != 0
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("ringbolt: error: ") and "RuntimeError: database unreachable" in last, p.stderr


# ---- response header switches ----

@pytest.mark.parametrize(
    "args, present, absent",
    [
        ([], {"server": "ringbolt"}, ()),
        (["--no-server-header"], {}, ("server",)),
        (["--no-date-header"], {"server": "ringbolt"}, ("date",)),
        (["--header", "X-Frame-Options: DENY", "--header", "x-team:core"], {"x-frame-options": "DENY",
                                                                             "x-team": "core"}, ()),
        (["--header", "Server: edge/1"], {"server": "edge/1"}, ()),
    ],
)
def test_response_header_switches(args, present, absent):
    srv = serve(*args)
    try:
        status, fields, _ = srv.get("/env")
        assert status == 200
        for name, value in present.items():
            assert fields.get(name) == value, fields
        for name in absent:
            assert name not in fields, fields
        if "date" not in absent:
            assert fields.get("date", "").endswith("GMT")
        status, fields, _ = srv.get("/nowhere")  # native answers carry them too
        assert status == 404
        for name, value in present.items():
            assert fields.get(name) == value, fields
    finally:
        srv.stop()


# ---- listeners ----

@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_already_served_is_refused(workers):
    first = serve()
    try:
        p = run_cli("serve", "cli_app:app", "--app-dir", str(APPS), "--port", str(first.port), "--threads", "1",
                    "--workers", workers)
        assert p.returncode == 1, p.stderr
        assert "address already in use" in p.stderr.lower(), p.stderr
        for _ in range(20):  # the first still gets every connection
            assert first.get("/env")[0] == 200
    finally:
        assert first.stop() == 0


def test_a_port_served_by_something_else_is_refused():
    with socket.socket() as other:  # not ringbolt, no SO_REUSEPORT
        other.bind(("127.0.0.1", 0))
        other.listen()
        p = run_cli("serve", "cli_app:app", "--app-dir", str(APPS), "--port", str(other.getsockname()[1]))
        assert p.returncode == 1 and "address already in use" in p.stderr.lower(), p.stderr


def test_unix_socket(tmp_path):
    path = str(tmp_path / "rb.sock")
    srv = Server("serve", "cli_app:app", "--app-dir", str(APPS), "--uds", path, "--threads", "1", uds=path)
    try:
        status, _, body = srv.get("/env")
        assert status == 200
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o666)
        p = run_cli("serve", "cli_app:app", "--app-dir", str(APPS), "--uds", path)
        assert p.returncode == 1 and "address already in use" in p.stderr.lower(), p.stderr
        assert srv.get("/env")[0] == 200
    finally:
        assert srv.stop() == 0
    assert not os.path.exists(path)
    stale = socket.socket(socket.AF_UNIX)  # a socket file nobody accepts on is replaced
    stale.bind(path)
    stale.close()
    srv = Server("serve", "cli_app:app", "--app-dir", str(APPS), "--uds", path, "--threads", "1", "--workers", "2",
                 uds=path)
    try:
        assert srv.get("/env")[0] == 200
    finally:
        assert srv.stop() == 0


def test_inherited_fd():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    fd = listener.fileno()
    srv = Server("serve", "cli_app:app", "--app-dir", str(APPS), "--fd", str(fd), "--threads", "2", port=port,
                 pass_fds=(fd,))
    listener.close()
    try:
        assert srv.get("/env")[0] == 200
        # The socket accepted before the server ran (it was listening already), and the
        # reactors answer just before Python installs its SIGTERM handler: give it time.
        time.sleep(0.5)
    finally:
        code = srv.stop()
        assert code == 0, srv.output()


# ---- signals ----

def test_first_ctrl_c_drains_second_forces():
    """A handler holds a request on the gate (on a handler thread, so the reactor drains
    meanwhile). First Ctrl-C: the drain begins (the port refuses) but the process waits
    for the request and answers it once released. Ctrl-C twice: exit 130 at once, with the
    request still held (a process that waited for it would never exit) and never answered."""
    srv = serve("--handler-threads", "2", app="gate_app:app")
    try:
        with Gate() as gate, srv.connect(WAIT) as held:
            held.sendall(f"GET {gate.path('/hold', 'drained')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert gate.wait_entered(1) == ["drained"]
            srv.proc.send_signal(signal.SIGINT)  # drains: the request in flight is answered
            assert wait_refused(srv.port), "the drain did not begin"
            with pytest.raises(subprocess.TimeoutExpired):
                srv.proc.wait(1)  # never exits while the request is held
            gate.release()
            assert b"drained" in held.recv(65536)
        assert srv.proc.wait(WAIT) == 0
    finally:
        srv.stop()

    srv = serve("--handler-threads", "2", app="gate_app:app")
    try:
        with Gate() as gate, srv.connect(WAIT) as held:
            held.sendall(f"GET {gate.path('/hold', 'forced')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert gate.wait_entered(1) == ["forced"]
            srv.proc.send_signal(signal.SIGINT)
            assert wait_refused(srv.port), "the drain did not begin"  # the first Ctrl-C was handled
            assert srv.proc.poll() is None  # still draining: the handler is held
            srv.proc.send_signal(signal.SIGINT)
            assert srv.proc.wait(WAIT) == 130
            assert held.recv(65536) == b""  # cut off, never answered
    finally:
        srv.stop()


def test_second_ctrl_c_forces_the_supervisor_and_its_workers():
    srv = serve("--workers", "2")
    try:
        slow = srv.connect(20)
        slow.sendall(b"GET /sleep?s=15 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert srv.proc.poll() is None
        srv.proc.send_signal(signal.SIGINT)
        assert srv.proc.wait(5) == 130
        slow.close()
        assert "SIGKILL" in srv.output()
    finally:
        srv.stop()


# ---- --reload ----

def test_reload_restarts_on_a_changed_file(tmp_path):
    module = tmp_path / "reloaded.py"
    module.write_text('from ringbolt import App\napp = App()\n\n@app.get("/")\ndef index(req):\n    return "v1"\n')
    port = free_port()
    srv = Server("reloaded:app", "--app-dir", str(tmp_path), "--port", str(port), "--threads", "1", "--reload",
                 port=port)
    try:
        assert srv.get("/")[2] == b"v1"
        module.write_text(module.read_text().replace('"v1"', '"v2"'))
        deadline = time.monotonic() + 20
        body = b""
        while time.monotonic() < deadline and body != b"v2":
            time.sleep(0.2)
            body = srv.get("/")[2]
        assert body == b"v2"
        (tmp_path / "notes.txt").write_text("not python")  # ignored: no restart
    finally:
        assert srv.stop(signal.SIGINT) == 0
    out = srv.output()
    assert out.count("restarting the server") == 1, out
