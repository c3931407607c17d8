"""The end-to-end subset `make kernels` runs on each kernel (tools/kernel-vm), beside
test_kernel_table.py: one server, TLS with HTTP/3 and two workers, reached by clients no
one here wrote: HTTP/1.1 and HTTP/2 (ALPN) by httpx, HTTP/3 by aioquic, a WebSocket by
`websockets`, static files, and a drain (SIGTERM) that finishes a request in flight. On
whichever io backend the kernel gets (the table's row); short, because the VM emulates
the CPU (TCG, about 10x slower than the host)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "py"))
import h3_client  # noqa: E402
from conftest import free_port  # noqa: E402
from h2_tls_helpers import certs  # noqa: E402,F401  (a fixture)

APPS = Path(__file__).parent / "apps"
WAIT = 60  # seconds: an emulated CPU


class Served:
    def __init__(self, certs: Path, static: Path, log: Path) -> None:  # noqa: F811
        self.port = free_port()
        self.log = log
        self._out = open(log, "wb")
        env = {**os.environ, "KERNEL_STATIC_DIR": str(static)}
        env.pop("RINGBOLT_IO", None)  # what the kernel gets
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ringbolt", "serve", "kernel_app:app", "--app-dir", str(APPS), "--port",
             str(self.port), "--workers", "2", "--http3", "--ssl-certfile", str(certs / "server.crt"),
             "--ssl-keyfile", str(certs / "server.key"), "--timeout-graceful-shutdown", "30"],
            stdout=self._out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
        deadline = time.monotonic() + WAIT * 2
        while self.output().count("serving on") < 2:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.output()
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(WAIT)
        finally:
            self._out.close()


@pytest.fixture(scope="module")
def static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("static")
    (d / "big.bin").write_bytes(os.urandom(3 << 20))
    return d


@pytest.fixture(scope="module")
def srv(certs: Path, static: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:  # noqa: F811
    s = Served(certs, static, tmp_path_factory.mktemp("log") / "server.log")
    yield s
    assert s.stop() == 0, s.output()


def client(http2: bool) -> httpx.Client:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return httpx.Client(http1=not http2, http2=http2, verify=ctx, timeout=WAIT)


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2"])
def test_tls_by_alpn_requests_bodies_and_static_files(srv: Served, static: Path, http2: bool) -> None:
    with client(http2) as c:
        for _ in range(3):  # several requests on one connection
            r = c.get(srv.url("/hello"))
            assert r.status_code == 200 and r.json()["hello"] == ("2" if http2 else "1.1"), r.text
        body = os.urandom(1 << 20)
        r = c.post(srv.url("/echo"), content=body)
        assert r.status_code == 200 and r.content == body
        r = c.get(srv.url("/static/big.bin"))
        assert r.status_code == 200
        assert hashlib.sha256(r.content).digest() == hashlib.sha256((static / "big.bin").read_bytes()).digest()


def test_http3(srv: Served, static: Path) -> None:
    r = h3_client.get(srv.port, "/hello")
    assert r.status == 200 and b'"3"' in r.body, r
    r = h3_client.get(srv.port, "/static/big.bin")
    assert r.status == 200 and r.body == (static / "big.bin").read_bytes()


def test_websocket_over_tls(srv: Served) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    async def talk() -> list[str]:
        async with ws_connect(f"wss://127.0.0.1:{srv.port}/ws", ssl=ctx, open_timeout=WAIT) as ws:
            got = []
            for word in ("io", "uring", "x" * 100_000):
                await ws.send(word)
                got.append(await asyncio.wait_for(ws.recv(), WAIT))
            return got

    assert asyncio.run(talk()) == ["IO", "URING", "X" * 100_000]


def test_a_drain_finishes_the_request_in_flight(certs: Path, static: Path, tmp_path: Path) -> None:  # noqa: F811
    s = Served(certs, static, tmp_path / "server.log")
    got: list[httpx.Response | Exception] = []

    def slow() -> None:
        try:
            with client(False) as c:
                got.append(c.get(s.url("/slow?s=3")))
        except Exception as exc:  # noqa: BLE001 - reported below
            got.append(exc)

    t = threading.Thread(target=slow)
    t.start()
    deadline = time.monotonic() + WAIT
    while "slow: started" not in s.output():
        assert time.monotonic() < deadline and t.is_alive(), (got, s.output())
        time.sleep(0.05)
    code = s.stop()
    t.join(WAIT)
    assert code == 0, s.output()
    assert len(got) == 1 and isinstance(got[0], httpx.Response) and got[0].status_code == 200, (got, s.output())
    assert got[0].json()["slept"] is True
