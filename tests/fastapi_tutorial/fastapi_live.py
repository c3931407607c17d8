"""A pytest plugin (``-p fastapi_live --live-server MODE``) that sends FastAPI's tutorial
tests through live servers: the ``TestClient`` a test builds (``fastapi.testclient`` /
``starlette.testclient``: real FastAPI's, or ringbolt.fastapi's under fastapi_swap) becomes
a client that sends every request over a real socket to a server process serving the same
app, found as the attribute of the module the test imported it from
(``TestClient(mod.app)`` -> ``docs_src.x.y:app``).

Modes: ``uvicorn`` (``uvicorn docs_src.x.y:app``), ``ringbolt`` (``ringbolt serve``, as it
serves a FastAPI app by default), ``ringbolt-asgi`` (``ringbolt serve --no-plan`` where the
flag exists: the app as a plain ASGI app), ``ringbolt-swap`` (``ringbolt serve`` with the
imports swapped in the server too: a sitecustomize in swap_site/; needs ``-p fastapi_swap``).
``--live-http 2`` speaks h2c with prior knowledge (ringbolt modes; uvicorn has no HTTP/2 here),
and fails a request answered over another version; WebSockets open over HTTP/1.1 in both
(the ``websockets`` client has no RFC 8441).

What a live server cannot give is not faked: the app sees a real client address, an
exception the app raises stays in the server (its 500 is the answer), lifespan runs once in
the server when it starts (``with TestClient(app)`` is a no-op), and a test that patches
the test process (``app.dependency_overrides``, ``monkeypatch``, an environment variable set
by a test: every server gets the session's environment) changes nothing the server sees.
An ``https`` base URL is sent as plain HTTP with ``X-Forwarded-Proto: https``, the servers
trusting it from 127.0.0.1 (uvicorn's default; ringbolt's ``--proxy-headers``).

Each (app, root path) gets one server per test process, started by its first request and
stopped at the session's end (by pid: SIGTERM, then SIGKILL); at most ``_KEEP`` run at
once (the least recently used stops first). Its output goes to a log file whose tail a
failure to start quotes; a server that does not start fails the tests of its app at once.
``--live-launch fork`` (the default) forks each server from live_launcher.py, a process
that imported the server and FastAPI once; ``exec`` runs each as its own command line.
``--live-port PORT`` starts none: every request goes to the server the caller started
there (tools/service-suite: one service's app, its own test suite)."""

from __future__ import annotations

import collections
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast
from urllib.parse import urljoin

import httpx
import pytest

HERE = Path(__file__).resolve().parent
MODES = ("uvicorn", "ringbolt", "ringbolt-asgi", "ringbolt-swap")
_KEEP = 4  # servers alive at once per test process
_START_TIMEOUT = 15.0  # s for a server to listen (under FastAPI's 20 s per test)
_REQUEST_TIMEOUT = 15.0
# Ports below the ephemeral range (tests/py/conftest.py's free_port says why), and below
# the 10000.. slices tests/py's suites take, so a suite running beside this one never
# picks the same port.
_PORTS = (7000, 10000)


class _Settings:
    mode = ""
    http = "1.1"
    root = Path.cwd()
    logs = Path.cwd() / "live-logs"
    launch = "fork"
    env: dict[str, str] = {}
    port = 0  # --live-port: the one server every app's requests go to (started by the caller)
    no_plan: bool | None = None  # whether `ringbolt serve` has --no-plan (asked once)


settings = _Settings()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fastapi-live", "FastAPI's TestClient through a live server")
    group.addoption("--live-server", choices=MODES, default=None, help="serve each app with this server")
    group.addoption("--live-http", choices=("1.1", "2"), default="1.1", help="HTTP version the client speaks")
    group.addoption("--live-logs", default=None, help="folder of the servers' output (default: ./live-logs)")
    group.addoption("--live-port", type=int, default=0,
                    help="send every request to the server already listening on this port of 127.0.0.1 (one "
                         "started by the caller, serving the app the tests import): none is started")
    group.addoption("--live-launch", choices=("fork", "exec"), default="fork",
                    help="start each server as a fork of a process that imported the server and FastAPI "
                         "once (live_launcher.py), or as its own command line")


def pytest_configure(config: pytest.Config) -> None:
    mode = config.getoption("live_server")
    if not mode:
        return
    settings.mode, settings.http = mode, config.getoption("live_http")
    settings.root = Path(str(config.rootpath))
    settings.logs = Path(config.getoption("live_logs") or settings.root / "live-logs")
    settings.launch = config.getoption("live_launch")
    settings.port = config.getoption("live_port")
    # the environment every server starts with: the session's, never what a test set
    # since (monkeypatch.setenv), which a server started later would otherwise see
    settings.env = dict(os.environ)
    if mode == "uvicorn" and settings.http == "2":
        raise pytest.UsageError("--live-server uvicorn serves no HTTP/2 here (its --http2 needs zttp)")
    import fastapi

    swapped = fastapi.__name__.startswith("ringbolt.")
    if swapped != (mode == "ringbolt-swap"):
        raise pytest.UsageError(f"--live-server {mode} needs {'' if mode == 'ringbolt-swap' else 'no '}-p fastapi_swap "
                                f"(fastapi here is {fastapi.__name__})")
    import fastapi.testclient
    import starlette.testclient

    originals = {id(fastapi.testclient.TestClient), id(starlette.testclient.TestClient)}
    for module in (fastapi.testclient, starlette.testclient):
        module.TestClient = LiveClient  # type: ignore[attr-defined]
    # and where a module imported already holds it: a conftest.py (`from fastapi.testclient
    # import TestClient`), which pytest imports before this hook
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            if id(value) in originals and not module.__name__.startswith(("fastapi.", "starlette.")):
                setattr(module, name, LiveClient)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` (FastAPI's own), the tests of a file go to one worker, so
    its apps' servers start once: each test not in a group (FastAPI's ``workdir_lock``) is
    put in its file's. (xdist appends the group to the test's id: run.py takes it off.)"""
    if not settings.mode or not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(config.rootpath).as_posix()))


def pytest_report_header(config: pytest.Config) -> str | None:
    if not settings.mode:
        return None
    return f"TestClient is a live client: {settings.mode} over HTTP/{settings.http}, logs in {settings.logs}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    servers.stop_all()
    launcher.close()


# ---------------------------------------------------------------- the servers


def _free_port(rng: random.Random) -> int:
    for _ in range(200):
        port = rng.randrange(*_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {_PORTS[0]}..{_PORTS[1]} on 127.0.0.1")


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on 127.0.0.1:port or *:port (/proc/net/tcp)."""
    inodes: set[str] = set()
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] in wanted and fields[3] == "0A":
                    inodes.add(fields[9])
    except OSError:
        pass
    return inodes


def _owns_listener(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on `port`: a port another process
    took between our check and the server's bind would accept our connections too."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
    except OSError:
        return False
    return False


def _has_no_plan() -> bool:
    if settings.no_plan is None:
        out = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "--help"], capture_output=True, text=True,
                             timeout=60)
        settings.no_plan = "--no-plan" in out.stdout
    return settings.no_plan


def server_command(target: str, port: int, root_path: str) -> list[str]:
    """The command line serving `target` (``module:attr``) in the current mode."""
    common = [target, "--app-dir", str(settings.root), "--host", "127.0.0.1", "--port", str(port),
              "--timeout-graceful-shutdown", "2"]
    if root_path:
        common += ["--root-path", root_path]
    if settings.mode == "uvicorn":  # (its info level logs every request)
        return [sys.executable, "-m", "uvicorn", *common, "--log-level", "warning"]
    # info: the start-up line "N of M routes planned" (and why each other is not), which
    # run.py counts
    cmd = [sys.executable, "-m", "ringbolt", "serve", *common, "--log-level", "info", "--proxy-headers"]
    if settings.mode == "ringbolt-asgi" and _has_no_plan():
        cmd.append("--no-plan")
    return cmd


def server_env() -> dict[str, str]:
    env = dict(settings.env)
    if settings.mode == "ringbolt-swap":
        # swap_site/sitecustomize.py installs fastapi_swap before the app is imported
        paths = [str(HERE / "swap_site"), str(HERE), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


class Server:
    """One server process serving one app (module:attr) under one root path."""

    def __init__(self, target: str, root_path: str) -> None:
        self.target, self.root_path = target, root_path
        self.proc: subprocess.Popen[bytes] | Forked | None = None
        self.port = 0
        self.log = settings.logs / f"{target.replace(':', '.')}{root_path.replace('/', '_')}.{os.getpid()}.log"
        self.error: str | None = None  # why it did not start: every later request fails with it

    def start(self) -> None:
        settings.logs.mkdir(parents=True, exist_ok=True)
        rng = random.Random()
        for _attempt in range(3):
            self.port = _free_port(rng)
            cmd = server_command(self.target, self.port, self.root_path)
            with open(self.log, "ab") as out:
                out.write(f"$ {' '.join(cmd)}  ({settings.launch})\n".encode())
            if settings.launch == "fork":
                self.proc = launcher.start(cmd[2:], self.log)  # (cmd: python -m MODULE ARGS...)
            else:
                with open(self.log, "ab") as out:
                    self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                                 cwd=settings.root, env=server_env(), start_new_session=True)
            why = self._wait_listening()
            if why is None:
                return
            self.stop()
            if "already in use" not in why:
                break
        self.error = f"{settings.mode} did not start serving {self.target}: {why}"
        raise RuntimeError(self.error)

    def _wait_listening(self) -> str | None:
        assert self.proc is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"it exited with {self.proc.returncode}:\n{self.tail()}"
            if _owns_listener(self.proc.pid, self.port):
                return None
            time.sleep(0.02)
        return f"not listening on port {self.port} after {_START_TIMEOUT:.0f} s:\n{self.tail()}"

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name; None once the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


class Forked:
    """A server the launcher forked (Popen's calls the harness uses). It is the launcher's
    child: it stays a zombie (state Z, its exit status in /proc) until the launcher's next
    fork reaps it, so its pid is never another process's while this one is in use."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            stat = _proc_stat(self.pid)
            if stat is None:
                self.returncode = -1  # reaped already: the status is gone
            elif stat[0] == "Z":
                status = int(stat[49]) if len(stat) > 49 else 0  # exit_code, in waitpid's form
                self.returncode = os.waitstatus_to_exitcode(status) if status else 0
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)  # its own session: the server and what it started


class Launcher:
    """The test process's live_launcher.py, started with the first server."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def _line(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        fd, data, deadline = self.proc.stdout.fileno(), b"", time.monotonic() + timeout
        while not data.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                self.close()
                raise RuntimeError(f"the launcher {'ended' if ready else 'did not answer'} (its output: "
                                   f"{settings.logs / 'launcher.log'})")
            data += chunk
        return json.loads(data)  # type: ignore[no-any-return]

    def start(self, argv: list[str], log: Path) -> Forked:
        if self.proc is None:
            preload = (["uvicorn.main"] if settings.mode == "uvicorn" else
                       ["ringbolt.cli", "ringbolt.app", "ringbolt.asgi"])
            preload += ["fastapi", "fastapi.responses", "fastapi.security", "pydantic"]
            with open(settings.logs / "launcher.log", "ab") as err:
                self.proc = subprocess.Popen([sys.executable, str(HERE / "live_launcher.py"), *preload],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, bufsize=0,
                                             cwd=settings.root, env=server_env())
            self._line(60.0)
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"argv": argv, "cwd": str(settings.root), "log": str(log)}) + "\n").encode())
        return Forked(int(self._line(10.0)["pid"]))

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # it stops its children still running, then ends
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


launcher = Launcher()


class Servers:
    """The servers of this test process: one per (app, root path), at most _KEEP running."""

    def __init__(self) -> None:
        self.running: collections.OrderedDict[tuple[str, str], Server] = collections.OrderedDict()
        self.failed: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()

    def port(self, target: str, root_path: str) -> int:
        key = (target, root_path)
        with self.lock:
            if key in self.failed:
                raise RuntimeError(self.failed[key])
            server = self.running.get(key)
            if server is not None and server.alive():
                self.running.move_to_end(key)
                return server.port
            if server is not None:  # it died: this and every later request of its app fail, with its output
                del self.running[key]
                code = server.proc.returncode if server.proc is not None else None
                self.failed[key] = f"{settings.mode} serving {target} exited with {code}:\n{server.tail()}"
                server.stop()
                raise RuntimeError(self.failed[key])
            while len(self.running) >= _KEEP:
                _, oldest = self.running.popitem(last=False)
                oldest.stop()
            server = Server(target, root_path)
            try:
                server.start()
            except RuntimeError as exc:
                self.failed[key] = str(exc)
                raise
            self.running[key] = server
            return server.port

    def stop_all(self) -> None:
        with self.lock:
            while self.running:
                _, server = self.running.popitem()
                server.stop()


servers = Servers()


def app_target(app: Any) -> str:
    """``module:attr`` of `app` among the modules imported from the tests' root (docs_src
    first): what the server imports."""
    root = str(settings.root)
    found: list[tuple[int, str]] = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if not path.startswith(root) or name == "__main__":
            continue
        for attr, value in list(vars(module).items()):
            if value is app:
                found.append((0 if name.startswith("docs_src.") else 1, f"{name}:{attr}"))
    if not found:
        raise LookupError(f"the app given to TestClient ({type(app).__name__}) is no module's attribute under {root}: "
                          "a live server cannot import it")
    return min(found, key=lambda f: (f[0], not f[1].endswith(":app"), f[1]))[1]


# ---------------------------------------------------------------- the client


class _LiveTransport(httpx.BaseTransport):
    """Each request on a connection of its own to the app's server, read whole and closed:
    a client a test never closes leaves no socket behind (FastAPI's tests turn
    ResourceWarning into an error)."""

    def __init__(self, client: "LiveClient") -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = self.client.server_port()
        headers = list(request.headers.raw)
        if request.url.scheme in ("https", "wss") and "x-forwarded-proto" not in request.headers:
            headers.append((b"X-Forwarded-Proto", b"https"))
        body = request.read()
        live = httpx.Request(request.method, httpx.URL(scheme="http", host="127.0.0.1", port=port,
                                                       raw_path=request.url.raw_path),
                             headers=headers, stream=httpx.ByteStream(body),
                             extensions={"timeout": httpx.Timeout(_REQUEST_TIMEOUT).as_dict()})
        h2 = settings.http == "2"
        with httpx.HTTPTransport(http1=not h2, http2=h2, verify=False) as transport:
            response = transport.handle_request(live)
            try:
                raw = b"".join(response.iter_raw())
            finally:
                response.close()
        version = response.extensions.get("http_version", b"")
        if h2 and version != b"HTTP/2":
            raise AssertionError(f"asked for HTTP/2 (h2c prior knowledge), answered {version!r}")
        return httpx.Response(response.status_code, headers=response.headers.raw, stream=httpx.ByteStream(raw),
                              extensions={"http_version": version,
                                          "reason_phrase": response.extensions.get("reason_phrase", b"")})


class LiveClient(httpx.Client):
    """Starlette's ``TestClient`` calls and defaults (base URL ``http://testserver`` sent as
    the Host, redirects followed, cookies, ``user-agent: testclient``) over a live server."""

    __test__ = False

    def __init__(self, app: Any, base_url: str = "http://testserver", raise_server_exceptions: bool = True,
                 root_path: str = "", backend: str = "asyncio", backend_options: Any = None, cookies: Any = None,
                 headers: dict[str, str] | None = None, follow_redirects: bool = True,
                 client: tuple[str, int] = ("testclient", 50000)) -> None:
        self.app = app
        self.root_path = root_path
        self.raise_server_exceptions = raise_server_exceptions  # (nothing the server raises reaches here)
        self._target: str | None = None
        all_headers = {"user-agent": "testclient", **(headers or {})}
        super().__init__(base_url=base_url, headers=all_headers, transport=_LiveTransport(self),
                         follow_redirects=follow_redirects, cookies=cookies)

    def server_port(self) -> int:
        if settings.port:
            return settings.port
        if self._target is None:
            self._target = app_target(self.app)  # at the first request: the module is whole by then
        return servers.port(self._target, self.root_path)

    def __enter__(self) -> "LiveClient":
        return self  # the lifespan runs in the server, once, when it starts

    def __exit__(self, *args: Any) -> None:
        self.close()

    def websocket_connect(self, url: str, subprotocols: list[str] | None = None, **kwargs: Any) -> "LiveWebSocket":
        return LiveWebSocket(self, urljoin("ws://testserver", url), subprotocols, kwargs)


def _disconnect_types() -> tuple[type[BaseException], Any]:
    """WebSocketDisconnect and WebSocketDenialResponse as the tests import them (Starlette's,
    or ringbolt.fastapi's under the swap)."""
    import starlette.testclient
    import starlette.websockets

    return starlette.websockets.WebSocketDisconnect, getattr(starlette.testclient, "WebSocketDenialResponse", None)


class LiveWebSocket:
    """Starlette's ``WebSocketTestSession`` calls over a real WebSocket (``websockets``'
    sync client, HTTP/1.1 upgrade): a close from the server is ``WebSocketDisconnect`` with
    its code, a refused handshake ``WebSocketDenialResponse`` (a WebSocketDisconnect)."""

    def __init__(self, client: LiveClient, url: str, subprotocols: list[str] | None, kwargs: dict[str, Any]) -> None:
        self.client, self.subprotocols, self.kwargs = client, subprotocols, kwargs
        self.url = httpx.URL(url)  # Starlette's: ws://testserver whatever the base URL
        self.ws: Any = None
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] | None = None

    def __enter__(self) -> "LiveWebSocket":
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect

        disconnect, denial = _disconnect_types()
        port = self.client.server_port()
        headers = httpx.Headers(self.client.headers)
        headers.update(httpx.Headers(self.kwargs.get("headers")))
        tls = self.url.scheme in ("https", "wss")
        cookie = httpx.Request("GET", self.url.copy_with(scheme="https" if tls else "http"))
        self.client.cookies.set_cookie_header(cookie)
        extra = [(k, v) for k, v in headers.multi_items() if k.lower() not in ("host", "connection", "upgrade",
                                                                                "user-agent")
                 and not k.lower().startswith("sec-websocket-")]
        if "cookie" in cookie.headers:
            extra.append(("cookie", cookie.headers["cookie"]))
        if tls:
            extra.append(("x-forwarded-proto", "https"))
        sock = socket.create_connection(("127.0.0.1", port), timeout=_REQUEST_TIMEOUT)
        uri = str(self.url.copy_with(scheme="wss" if tls else "ws"))
        try:
            self.ws = connect(uri.replace("wss://", "ws://", 1), sock=sock, subprotocols=cast(Any, self.subprotocols),
                              compression=None, additional_headers=extra, proxy=None,
                              user_agent_header=headers.get("user-agent"), open_timeout=_REQUEST_TIMEOUT,
                              ping_interval=None, close_timeout=5, max_size=None).__enter__()  # (closed by close())
        except InvalidStatus as exc:
            sock.close()
            response = exc.response
            if denial is None:
                raise disconnect(1008) from None
            raise denial(response.status_code, headers=list(response.headers.raw_items()),
                         content=response.body or b"") from None
        except BaseException:
            sock.close()
            raise
        self.accepted_subprotocol = self.ws.subprotocol
        self.extra_headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                              for k, v in self.ws.response.headers.raw_items()
                              if k.lower() not in ("upgrade", "connection", "sec-websocket-accept",
                                                   "sec-websocket-protocol")]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(1000)

    def _closed(self, exc: Any) -> BaseException:
        disconnect, _ = _disconnect_types()
        frame = exc.rcvd
        return disconnect(frame.code if frame is not None else 1006, frame.reason if frame is not None else "")

    def receive(self) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed

        try:
            data = self.ws.recv(timeout=_REQUEST_TIMEOUT)
        except ConnectionClosed as exc:
            frame = exc.rcvd
            return {"type": "websocket.close", "code": frame.code if frame is not None else 1006,
                    "reason": frame.reason if frame is not None else ""}
        return {"type": "websocket.send", "text" if isinstance(data, str) else "bytes": data}

    def _data(self) -> str | bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            return self.ws.recv(timeout=_REQUEST_TIMEOUT)  # type: ignore[no-any-return]
        except ConnectionClosed as exc:
            raise self._closed(exc) from None

    def receive_text(self) -> str:
        data = self._data()
        if not isinstance(data, str):
            raise KeyError("text")  # Starlette reads message["text"] of a binary message
        return data

    def receive_bytes(self) -> bytes:
        data = self._data()
        if not isinstance(data, bytes):
            raise KeyError("bytes")
        return data

    def receive_json(self, mode: str = "text") -> Any:
        data = self.receive_text() if mode == "text" else self.receive_bytes().decode("utf-8")
        return json.loads(data)

    def _send(self, data: str | bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self.ws.send(data)
        except ConnectionClosed as exc:
            raise self._closed(exc) from None

    def send(self, message: Any) -> None:
        """An ASGI message (``websocket.receive`` with text or bytes, ``websocket.disconnect``)."""
        if message.get("type") == "websocket.disconnect":
            self.close(message.get("code", 1000), message.get("reason") or "")
        elif message.get("text") is not None:
            self._send(message["text"])
        else:
            self._send(message.get("bytes") or b"")

    def send_text(self, data: str) -> None:
        self._send(data)

    def send_bytes(self, data: bytes) -> None:
        self._send(data)

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self._send(text if mode == "text" else text.encode("utf-8"))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        if self.ws is not None:
            self.ws.close(code, reason or "")  # (a second close does nothing)
