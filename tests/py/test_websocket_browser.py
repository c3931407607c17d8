"""A real browser's WebSocket over HTTP/2 (RFC 8441): headless Chromium (Debian's
`chromium`, default features) loads a page over HTTPS, which it fetches over HTTP/2 (ALPN
h2), and the page's script opens `new WebSocket("wss://<same origin>/ws")`. Chromium carries
a WebSocket on an HTTP/2 connection it already has to the origin when that connection's
SETTINGS offered extended CONNECT, so the app (tests/py/apps/ws_browser_app.py) sees the
handshake as HTTP/2 (`scope["http_version"] == "2"`) and echoes a message back; the page
writes what it got. No flag makes Chromium do so: it is the browser's default behaviour."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import LoggedServer, stop_process
from h2_tls_helpers import BACKENDS, CLIENT_ENV, certs, env_io  # noqa: F401  (certs is a fixture)
from test_http3_browser import chromium, spki_sha256


@pytest.mark.parametrize("io", BACKENDS)
def test_chromium_opens_its_websocket_on_the_pages_http2_connection(io: str, certs: Path,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    s = LoggedServer("ws_browser_app:app", log, "--ssl-certfile", str(certs / "server.crt"), "--ssl-keyfile",
                     str(certs / "server.key"), "--threads", "1", "--access-log", env=env_io(io))
    browser = subprocess.Popen(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}",
         f"--ignore-certificate-errors-spki-list={spki_sha256(certs / 'server.crt')}",
         f"https://127.0.0.1:{s.port}/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CLIENT_ENV)
    try:
        deadline = time.monotonic() + 60
        while "REPORT " not in s.output() and time.monotonic() < deadline and browser.poll() is None:
            time.sleep(0.2)
        m = re.search(r"REPORT (.*)", s.output())
        assert m is not None, s.output()[-2000:]
        got = json.loads(m.group(1))
        assert got == {"first": {"http_version": "2"}, "echo": "echo me"}, got
    finally:
        stop_process(browser, timeout=20)  # the browser this test started
        assert s.stop() == 0, s.output()
    # The page itself came over HTTP/2 (the connection the WebSocket rode on).
    assert '"GET / HTTP/2.0" 200' in s.output(), s.output()[-2000:]
