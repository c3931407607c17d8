"""Fixtures: start a real ringbolt server (a subprocess on 127.0.0.1, free port) and
talk to it over raw sockets, so tests see exactly the bytes on the wire."""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

APPS = Path(__file__).parent / "apps"

# Set by `make asan-py`: the servers run under ASan+UBSan. Memory bounds then allow for the
# sanitizer's quarantine and shadow (they still catch unbounded growth), and the few tests
# whose conditions the sanitizer runtime itself cannot live with say so when they skip.
SANITIZER = os.environ.get("RINGBOLT_TEST_SANITIZER", "")
RSS_SLACK_MIB = int(os.environ.get("RINGBOLT_TEST_RSS_SLACK_MIB", "0"))
REPO = Path(__file__).resolve().parents[2]


def lane_backends() -> list[str]:
    """The io backends a test parametrized over them runs on in this pass. `make test` runs
    the suite once per backend (RINGBOLT_TEST_IO=io_uring, then RINGBOLT_IO=epoll), so each
    such case runs once, in its backend's pass (each ran in both passes, twice in CI: the
    epoll pass of 2026-11-28 spent 270 of its 482 CPU s on them); the ASan suite names
    io_uring (Makefile asan-py). Neither set (a plain `pytest tests/py`): both."""
    io = os.environ.get("RINGBOLT_IO") or os.environ.get("RINGBOLT_TEST_IO")
    return [io] if io in ("io_uring", "epoll") else ["io_uring", "epoll"]


BACKENDS = lane_backends()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_LOW = _ephemeral_low()


def _port_slice() -> tuple[int, int]:
    """This suite's own share of the ports below the ephemeral range. CI runs up to four
    suites at once (Python 3.11 on io_uring, then epoll; 3.12; 3.13; 3.11 under ASan):
    two that picked the same free port within a server's start-up both started a server
    there, the later one failed to bind while still importing its app, and its test, which
    waits until the port accepts, talked to the other suite's server (a CI rehearsal:
    a FastAPI answer without its field, then the server killed by SIGTERM mid-start). Each
    (Python minor version, sanitizer, io backend) takes a slice of its own."""
    low, high = 10000, _EPHEMERAL_LOW
    index = ((sys.version_info.minor - 11) % 4) * 4
    index += 2 if os.environ.get("RINGBOLT_TEST_SANITIZER") else 0
    index += 1 if os.environ.get("RINGBOLT_IO") == "epoll" else 0
    width = (high - low) // 16
    return low + index * width, low + (index + 1) * width


def free_port() -> int:
    """A port to start a server on, chosen below the kernel's ephemeral range: a port from
    bind(("127.0.0.1", 0)) is one the kernel also hands to outgoing connections, so under
    parallel suites a client's connect() could take it between this check and the
    server's bind ("Address already in use", seen in a CI rehearsal). Random within this
    suite's slice (``_port_slice``), then checked free; bind(0) only where the range leaves
    no room below it."""
    rng = random.Random()
    low, high = _port_slice()
    for _ in range(200):
        if _EPHEMERAL_LOW <= 11000 or high - low < 100:
            break
        port = rng.randrange(low, high)
        if port not in _HANDED and _free_for_tcp_and_udp(port):
            return _hand(port)
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED and _free_for_tcp_and_udp(port):
            return _hand(port)
    raise RuntimeError("no port free for both TCP and UDP on 127.0.0.1")


# The ports handed out lately: a test that asks for two before binding either (HAProxy's
# frontends, a server's listeners) must get two. Once two HAProxy frontends (PROXY v1 and
# v2) got the same port, both bound it with SO_REUSEPORT, and the kernel spread the
# connections between them (a CI rehearsal: 7 tests saw the other version's header).
_HANDED: collections.deque[int] = collections.deque(maxlen=64)


def _hand(port: int) -> int:
    _HANDED.append(port)
    return port


def _free_for_tcp_and_udp(port: int) -> bool:
    """Both protocols: an HTTP/3 server binds UDP on its TCP listener's number, and a
    CI rehearsal once found that UDP port taken by another lane ("cannot open UDP ... for
    HTTP/3: Address already in use")."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def host_the_loop(app: Any) -> None:
    """Give `app` an `async def` route that no test calls: its event loop is then hosted on
    the reactor's thread (the hosted mode every app with an async handler runs in, as
    HttpArena's entry does), and its sync handlers run in the hosted batches."""

    @app.get("/async")
    async def never_called(req: Any) -> str:
        return "async"


def sync_and_hosted_client(make_app: Callable[[], Any]) -> Any:
    """A module-scoped `client` fixture for tests that must hold in both of an app's modes: a
    TestClient over make_app()'s app as it is (sync-only), then over another with its
    event loop hosted on the reactor's thread (host_the_loop). In the test module:
    ``client = sync_and_hosted_client(make_app)``."""

    @pytest.fixture(scope="module", params=[False, True], ids=["sync-only", "hosted-loop"])
    def client(request: pytest.FixtureRequest) -> Any:
        from ringbolt.testing import TestClient

        app = make_app()
        if request.param:
            host_the_loop(app)
        with TestClient(app) as c:
            yield c

    return client


#: how long a server process may take to start (RINGBOLT_TEST_START_TIMEOUT: longer in an
#: emulated VM, Makefile kernels, where importing the package alone takes seconds)
START_TIMEOUT = float(os.environ.get("RINGBOLT_TEST_START_TIMEOUT", "15"))


def wait_until_serving(server: Any, timeout: float | None = None) -> None:
    """Returns once `server.connect(0.2)` succeeds; stops the server and raises, with its
    output, when its process exits first or `timeout` s (START_TIMEOUT) pass."""
    timeout = START_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}: {server.output()}")
        try:
            server.connect(0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server did not start: {server.output()}")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Stops a server the test started: `sig` while it runs, then up to `timeout` s for it
    to exit before it is killed (SIGKILL); its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class ServerProcess:
    def __init__(self, app: str, *args: str, env: dict[str, str] | None = None, **popen: Any) -> None:
        """`popen` overrides Popen arguments (e.g. preexec_fn, or stdout/stderr elsewhere)."""
        self.port = free_port()
        self.host = "127.0.0.1"
        cmd = [sys.executable, "-m", "ringbolt", "serve", app, "--app-dir", str(APPS), "--port", str(self.port), *args]
        self.proc = subprocess.Popen(
            cmd,
            **{"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, **popen},
            env={**os.environ, **(env or {})},
            cwd=str(REPO),
        )
        self._output = b""
        wait_until_serving(self)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def output(self) -> str:
        if self.proc.poll() is not None and self.proc.stdout is not None:
            self._output += self.proc.stdout.read()
        return self._output.decode(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        return stop_process(self.proc, sig, timeout)


class UvicornProcess(ServerProcess):
    """An app of tests/py/apps served by uvicorn instead, for differential tests; returned
    once it accepts. `args` go to uvicorn."""

    def __init__(self, app: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--app-dir", str(APPS), "--port", str(self.port),
             "--log-level", "warning", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(REPO), env={**os.environ, **(env or {})})
        self._output = b""
        wait_until_serving(self)


class LoggedServer(ServerProcess):
    """A server whose output goes to a file, readable while it runs (`output()`,
    `wait_log`)."""

    def __init__(self, app: str, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._log_file = open(log, "wb")
        super().__init__(app, *args, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 10.0) -> str:
        """The output once it contains `text`; fails after `timeout` s (a hang bound)."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.output()
            if text in out:
                return out
            assert time.monotonic() < deadline, f"{text!r} never logged; output:\n{out}"
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        code = super().stop(sig, timeout)
        self._log_file.close()
        return code


def served(app: str, *args: str):
    """A module fixture's body: ``app`` served for the module's tests, then stopped; it
    must exit 0."""
    srv = ServerProcess(app, *args)
    yield srv
    code = srv.stop()
    assert code == 0, srv.output()


@pytest.fixture(scope="module")
def server():
    yield from served("basic:app", "--threads", "2")


@pytest.fixture(scope="module")
def client(srv: ServerProcess) -> Iterator[httpx.Client]:
    """An httpx client of the module's ``srv`` fixture (a module with its own ``client``
    fixture overrides this one)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as c:
        yield c


class Response:
    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, version: str) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.version = version

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        import json

        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


class Reader:
    """Reads HTTP/1.1 responses from a socket (Content-Length framing; HEAD aware)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read(self, head_request: bool = False) -> Response:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError(f"connection closed before a full response head: {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
        resp = Response(int(status), reason, headers, b"", version)  # type: ignore[arg-type]
        length = resp.header("content-length")
        if head_request or length is None:
            return resp
        n = int(length)
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("connection closed inside a body")
        resp.body, self.buf = self.buf[:n], self.buf[n:]
        return resp

    def closed(self, timeout: float = 3.0) -> bool:
        """True when the server closes the connection (EOF or reset) with nothing more sent."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return not self.buf
                self.buf += data
        except ConnectionResetError:
            return not self.buf
        except socket.timeout:
            return False


def request(srv: ServerProcess, raw: bytes, head_request: bool = False) -> Response:
    with srv.connect() as s:
        s.sendall(raw)
        return Reader(s).read(head_request)


def get(srv: ServerProcess, path: str, headers: str = "") -> Response:
    return request(srv, f"GET {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n".encode())


def slow_requests_took(srv: ServerProcess, n: int, ms: int) -> float:
    """Seconds `n` connections took to be answered `GET /slow/{ms}` (`{"slept":ms}`, an
    app's blocking endpoint), all sent before any is answered: well under `n * ms` when
    the endpoints overlap."""
    conns = [srv.connect(timeout=10) for _ in range(n)]
    try:
        t0 = time.monotonic()
        for s in conns:
            s.sendall(f"GET /slow/{ms} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        for s in conns:
            data = b""
            while not data.endswith(b"}"):
                chunk = s.recv(4096)
                assert chunk, data
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(f'{{"slept":{ms}}}'.encode()), data
        return time.monotonic() - t0
    finally:
        for s in conns:
            s.close()


PROBLEM_TYPE = "application/problem+json"


def metric_totals(text: str) -> dict[str, int]:
    """`ringbolt_<name>{core="N"} value` lines of a /metrics body, summed over the cores,
    by name (without `ringbolt_` and `_total`)."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"ringbolt_(\w+?)(?:_total)?\{core=\"\d+\"\} (\d+)", line)
        if m:
            totals[m.group(1)] = totals.get(m.group(1), 0) + int(m.group(2))
    return totals


def assert_problem(r: Response, status: int, detail_has: str | None = None) -> dict:
    """`r` is an RFC 9457 problem answer for `status` (the app's one error format): type
    about:blank, the reason phrase as title, a detail (containing `detail_has`)."""
    assert r.status == status, r
    assert r.header("content-type") == PROBLEM_TYPE, r
    body = r.json()
    assert body["type"] == "about:blank" and body["status"] == status, body
    assert body["title"] == r.reason, (body, r.reason)
    assert isinstance(body["detail"], str) and body["detail"], body
    if detail_has is not None:
        assert detail_has in body["detail"], body
    return body
