"""FastAPI's StaticFiles over HTTP/2 with many concurrent streams and over HTTPS/1.1 with
many connections, with the event loop on the reactor's thread (--threads 1): every request
is answered, and SIGTERM ends the server within seconds. (HttpArena's FastAPI app was once
seen to answer nothing under h2load -c 64 -m 64 and not to exit on SIGTERM; this guards
that path: StaticFiles reads each file on anyio's worker threads, which hand the results
back to the loop with call_soon_threadsafe. The hang itself has not been reproduced on
this tree: these pass, and at this load the stand-in thread does not take over.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ServerProcess
from h2_tls_helpers import CLIENT_ENV, certs, client_ctx, tls_args, tls_get  # noqa: F401  (certs is a fixture)

FILES = {f"f{i}.{ext}": (bytes([97 + i % 26]) * (1000 * (i + 1) ** 2)) for i, ext in
         enumerate(["css", "js", "html", "svg", "json", "txt", "css", "js"])}


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("static")
    for name, body in FILES.items():
        (d / name).write_bytes(body)
    return d


def _server(certs: Path, static_dir: Path) -> ServerProcess:
    return ServerProcess("fastapi_static_app:app", "--interface", "asgi", "--threads", "1", "--workers", "1",
                         *tls_args(certs), env={"RINGBOLT_TEST_STATIC": str(static_dir)})


def _stop_within(srv: ServerProcess, seconds: float) -> None:
    t0 = time.monotonic()
    code = srv.stop(timeout=seconds)
    assert code == 0 and time.monotonic() - t0 < seconds, srv.output()


def test_h2_many_streams_all_answered_then_sigterm_exits(certs: Path, static_dir: Path, tmp_path: Path) -> None:
    if shutil.which("h2load") is None:
        pytest.fail("h2load is needed (apt-get install nghttp2-client)")
    srv = _server(certs, static_dir)
    try:
        uris = tmp_path / "uris.txt"
        uris.write_text("".join(f"https://127.0.0.1:{srv.port}/static/{n}\n" for n in FILES))
        for conns, streams, n in ((64, 64, 8192), (4, 4, 800)):
            out = subprocess.run(["h2load", "-n", str(n), "-c", str(conns), "-m", str(streams), "-i", str(uris),
                                  "-H", "Accept-Encoding: br;q=1, gzip;q=0.8"],
                                 capture_output=True, env=CLIENT_ENV, timeout=90).stdout.decode()
            m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", out)
            assert m is not None, out
            assert (int(m[2]), int(m[3])) == (n, n), out  # every stream answered, 2xx
            assert f"status codes: {n} 2xx" in out, out
    finally:
        _stop_within(srv, 10)


def test_https11_many_connections_all_answered_then_sigterm_exits(certs: Path, static_dir: Path) -> None:
    srv = _server(certs, static_dir)
    try:
        ctx = client_ctx()
        names = list(FILES) * 8

        def get(name: str) -> tuple[int, bytes]:
            status, _headers, body = tls_get(srv, f"/static/{name}", ctx)
            return status, body

        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(get, names))
        for name, (status, body) in zip(names, results):
            assert status == 200 and body == FILES[name], (name, status, len(body))
    finally:
        _stop_within(srv, 10)
