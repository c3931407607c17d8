"""Shared by the HTTP/2 and TLS end-to-end tests (test_http2.py, test_http2_tls.py,
test_tls.py and the files that import from them): the backends, a server per test,
certificates made at test time (openssl req into a temporary directory), TLS client
contexts and an HTTP/1.1 reader over TLS, the h2 client (the Python `h2` library over a
socket), the metrics counters, and curl. Their apps share apps/transfer_routes.py."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import BACKENDS as _LANE_BACKENDS
from conftest import ServerProcess, metric_totals

BACKENDS = _LANE_BACKENDS  # this pass's (conftest.lane_backends)
# Client tools (curl, openssl, h2load) are not under test: under `make asan-py` they must
# not run with the sanitizer preloaded (curl hangs with it).
CLIENT_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}


def env_io(io: str) -> dict[str, str]:
    """The server environment that selects the io backend `io` (io_uring is the default)."""
    return {"RINGBOLT_IO": "epoll"} if io == "epoll" else {}


@contextmanager
def running(app: str, *args: str, io: str = "io_uring", env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A server of its own for one test, on backend `io`; it must exit cleanly (0) after."""
    s = ServerProcess(app, *args, env={**env_io(io), **(env or {})})
    try:
        yield s
    finally:
        assert s.stop() == 0, s.output()


def wait_for(cond: Any, timeout: float = 20.0) -> bool:
    """Poll `cond` until it holds (a generous bound: the counters are updated per turn)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return bool(cond())


def curl(*args: str, write_out: str = "%{http_version} %{http_code}", timeout: float = 60) -> tuple[str, list[str]]:
    """Run curl with `args` (options and the URL): the body, and the `write_out` fields
    curl prints after it."""
    if shutil.which("curl") is None:
        pytest.fail("curl is needed (apt-get install curl)")
    out = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-w", "\n" + write_out, *args],
                         capture_output=True, env=CLIENT_ENV, timeout=timeout + 10)
    assert out.returncode == 0, out.stderr
    body, _, tail = out.stdout.decode().rpartition("\n")
    return body, tail.split()


def h2load(url: str) -> str:
    """h2load's report of 2000 requests over 10 connections, 10 streams each, to `url`."""
    return subprocess.run(["h2load", "-n", "2000", "-c", "10", "-m", "10", url], capture_output=True,
                          env=CLIENT_ENV, timeout=120).stdout.decode()


# ---- certificates and TLS clients ----

def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, env=CLIENT_ENV)


def _leaf(d: Path, name: str, cn: str, sans: str, ca: str = "ca") -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    (d / f"{name}.ext").write_text(f"subjectAltName={sans}\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "30", "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two CAs and the certificates the tests use: server (localhost, 127.0.0.1; its key
    also encrypted with "s3cret"), other.test, *.example.org, renewed (localhost again),
    client (of ca) and stranger (of ca2)."""
    d = tmp_path_factory.mktemp("tls-certs")
    for ca in ("ca", "ca2"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 f"{ca}.key", "-out", f"{ca}.crt", "-days", "30", "-subj", f"/CN=ringbolt test {ca}", cwd=d)
    _leaf(d, "server", "localhost", "DNS:localhost,IP:127.0.0.1")
    _leaf(d, "other", "other.test", "DNS:other.test")
    _leaf(d, "wild", "wild.example.org", "DNS:*.example.org")
    _leaf(d, "renewed", "renewed.localhost", "DNS:localhost,IP:127.0.0.1")
    _leaf(d, "client", "test client", "DNS:client.test")
    _leaf(d, "stranger", "stranger client", "DNS:stranger.test", ca="ca2")
    _openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:s3cret", "-out", "server-enc.key", cwd=d)
    return d


def tls_args(d: Path, *extra: str) -> list[str]:
    return ["--ssl-certfile", str(d / "server.crt"), "--ssl-keyfile", str(d / "server.key"), *extra]


def client_ctx(certs: Path | None = None, *, version: ssl.TLSVersion | None = None, cert: str | None = None,
               alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if cert is not None and certs is not None:
        ctx.load_cert_chain(certs / f"{cert}.crt", certs / f"{cert}.key")
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(srv: ServerProcess, ctx: ssl.SSLContext | None = None, sni: str | None = None,
                session: ssl.SSLSession | None = None, timeout: float = 10.0) -> ssl.SSLSocket:
    raw = socket.create_connection((srv.host, srv.port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return (ctx or client_ctx()).wrap_socket(raw, server_hostname=sni, session=session)


def read_response(s: socket.socket, buf: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (Content-Length or chunked) from `s`; `buf` keeps what follows."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head: {bytes(buf)!r}")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    del buf[:]
    buf += rest
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}

    def need(n: int) -> None:
        while len(buf) < n:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed in a body")
            buf.extend(chunk)

    if headers.get("transfer-encoding") == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in buf:
                need(len(buf) + 1)
            line, _, _ = bytes(buf).partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            need(len(line) + 2 + size + 2)
            body += buf[len(line) + 2:len(line) + 2 + size]
            del buf[:len(line) + 2 + size + 2]
            if size == 0:
                return status, headers, bytes(body)
    n = int(headers.get("content-length", "0"))
    need(n)
    body = bytes(buf[:n])
    del buf[:n]
    return status, headers, body


def handshake_through_bios(s: socket.socket, obj: ssl.SSLObject, inc: ssl.MemoryBIO, out: ssl.MemoryBIO) -> None:
    """A client handshake of `obj` (over memory BIOs `inc`, `out`) on socket `s`."""
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            s.sendall(out.read())
            data = s.recv(65536)
            assert data, "closed in the handshake"
            inc.write(data)
    s.sendall(out.read())


def corrupt_record_after_an_answer(host: str, port: int, ctx: ssl.SSLContext, path: str = "/",
                                   timeout: float = 20.0) -> str:
    """A TLS connection (through memory BIOs, so the records can be touched) whose first
    request is answered, then whose second request's record has one ciphertext bit
    flipped. What the client then read: the SSLError of the server's alert (its text), or
    "closed" when the server closed without one."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()

    def read_until(done: Any) -> bytes:
        got = b""
        while not done(got):
            try:
                got += obj.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed")
            inc.write(data)
        return got

    with socket.create_connection((host, port), timeout=timeout) as s:
        handshake_through_bios(s, obj, inc, out)
        obj.write(request)
        s.sendall(out.read())
        assert b" 200 " in read_until(lambda got: b"\r\n\r\n" in got)
        time.sleep(0.5)  # the answer's records read: the next record starts anew (kTLS may switch here)
        obj.write(request)
        record = bytearray(out.read())
        record[-20] ^= 0x01  # in the ciphertext (or the tag): it no longer authenticates
        s.sendall(bytes(record))
        try:
            read_until(lambda got: False)
        except ssl.SSLError as e:
            return str(e)
        except (ConnectionError, OSError):
            return "closed"
    return "closed"


def tls_get(srv: ServerProcess, path: str, ctx: ssl.SSLContext | None = None, sni: str | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    """GET `path` over HTTP/1.1 on a new TLS connection."""
    with tls_connect(srv, ctx, sni) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        return read_response(s, bytearray())


def tls_counters(srv: ServerProcess) -> dict[str, int]:
    """The server's counters (its --metrics route, read over HTTPS/1.1)."""
    return metric_totals(tls_get(srv, "/metrics")[2].decode())


# ---- an HTTP/2 client over the h2 library ----

class Client:
    """One HTTP/2 connection (h2c, or over `sock` when given: a TLS socket) driven by the
    `h2` library; responses by stream id as {"headers", "body", "ended", "reset"}."""

    def __init__(self, srv: ServerProcess, *, settings: dict[int, int] | None = None, validate: bool = True,
                 sock: socket.socket | None = None) -> None:
        self.sock = sock if sock is not None else srv.connect(timeout=20)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_outbound_headers=validate, normalize_outbound_headers=validate,
                                        validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.responses: dict[int, dict[str, Any]] = {}
        self.events: list[Any] = []
        self.closed = False

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path: str, method: str = "GET", body: bytes | None = None,
                headers: list[tuple[str, str]] | None = None) -> int:
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "localhost"),
                *(headers or [])]
        self.conn.send_headers(sid, hdrs, end_stream=body is None)
        self.responses[sid] = {"headers": None, "body": b"", "ended": False, "reset": None}
        if body is not None:
            self.send_body(sid, body)
        self.flush()
        return sid

    def send_body(self, sid: int, body: bytes) -> None:
        view = memoryview(body)
        while True:
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                self.flush()
                self.pump()
                continue
            piece, view = view[:window], view[window:]
            self.conn.send_data(sid, bytes(piece), end_stream=len(view) == 0)
            if len(view) == 0:
                break
        self.flush()

    def pump(self, timeout: float = 20.0) -> bool:
        """Read once; False on EOF."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.events += self.take(data)
        self.flush()
        return True

    def take(self, data: bytes, grant: bool = True) -> list[Any]:
        """Feed bytes read from the socket to the connection and note each stream's answer in
        `responses`; each DATA frame is acknowledged (its window granted back) when `grant`.
        Returns the events."""
        events = self.conn.receive_data(data)
        for ev in events:
            r = self.responses.get(getattr(ev, "stream_id", -1))
            if isinstance(ev, h2.events.ResponseReceived) and r is not None:
                r["headers"] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                if r is not None:
                    r["body"] += ev.data
                if grant:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and r is not None:
                r["ended"] = True
            elif isinstance(ev, h2.events.StreamReset) and r is not None:
                r["reset"] = ev.error_code
                r["ended"] = True
        return list(events)

    def wait(self, *sids: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.responses[s]["ended"] for s in sids):
            assert time.monotonic() < deadline, "no answer in time"
            assert self.pump(), "the server closed the connection"

    def get(self, path: str, timeout: float = 30.0, **kw: Any) -> dict[str, Any]:
        sid = self.request(path, **kw)
        self.wait(sid, timeout=timeout)
        return self.responses[sid]

    def close(self) -> None:
        self.sock.close()


def status(r: dict[str, Any]) -> int:
    return int(r["headers"][":status"])


def h2_counters(srv: ServerProcess) -> dict[str, int]:
    """The server's counters (its --metrics route, read over h2c)."""
    with Client(srv) as c:
        return metric_totals(c.get("/metrics")["body"].decode())
