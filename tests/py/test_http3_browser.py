"""A real browser over HTTP/3: headless Chromium (Debian's `chromium`) forced onto QUIC for
the server's origin loads a page (tests/py/apps/h3_browser_app.py) whose script fetches a
request's version, uploads 3 MiB, has 64 KiB echoed, reads a 21 MB streamed answer and
makes 32 requests at once; the page says what it got, and the server's access log shows
that every request, the page's included, came over HTTP/3. A second page fetches 300
resources, at once or one after another, on one QUIC connection: Chromium sends a
PRIORITY_UPDATE with every request, and one naming a stream past the first 100 the server
granted once closed the connection (H3_ID_ERROR), failing every fetch still in flight.

Chromium takes a self-made certificate for QUIC when its public key's hash is given
(`--ignore-certificate-errors-spki-list`); it does not switch to HTTP/3 through `Alt-Svc`
for such a certificate (only for one from a root it knows), hence the forcing flag."""

from __future__ import annotations

import base64
import json
import hashlib
import re
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from conftest import LoggedServer
from h2_tls_helpers import BACKENDS, CLIENT_ENV, certs, env_io, tls_counters  # noqa: F401  (certs is a fixture)

RESOURCES = 300


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is needed for the browser test (apt-get install chromium; make deps does)")
    return path


def spki_sha256(cert: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium's
    --ignore-certificate-errors-spki-list wants it."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    pub = subprocess.run(["openssl", "x509", "-inform", "DER", "-pubkey", "-noout"], input=der,
                         capture_output=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                          capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def load_page(port: int, cert: Path, profile: Path, path: str) -> str:
    """The page's DOM after its script ran (virtual time lets it finish its fetches).

    A Chromium that prints nothing at all (no DOM, not even its error page for a failed
    load: it crashed or was killed, as once in a loaded CI run) is started once more, with
    a fresh profile; a second empty run fails the test with Chromium's exit status and
    stderr."""
    why = ""
    for attempt in (1, 2):
        out = subprocess.run(
            [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile / str(attempt)}", "--enable-quic",
             f"--origin-to-force-quic-on=127.0.0.1:{port}",
             f"--ignore-certificate-errors-spki-list={spki_sha256(cert)}", "--virtual-time-budget=30000",
             "--dump-dom", f"https://127.0.0.1:{port}{path}"],
            capture_output=True, timeout=90, env=CLIENT_ENV)
        dom = out.stdout.decode(errors="replace")
        if dom.strip():
            return dom
        why = f"Chromium exited {out.returncode} and printed no DOM: {out.stderr.decode(errors='replace')[-1500:]}"
    raise AssertionError(why)


@pytest.mark.parametrize("io", BACKENDS)
def test_chromium_loads_a_page_and_its_fetches_over_http3(io: str, certs: Path, tmp_path: Path) -> None:  # noqa: F811
    log = tmp_path / "server.log"
    s = LoggedServer("h3_browser_app:app", log, "--ssl-certfile", str(certs / "server.crt"), "--ssl-keyfile",
                     str(certs / "server.key"), "--http3", "--threads", "1", "--access-log", env=env_io(io))
    try:
        dom = load_page(s.port, certs / "server.crt", tmp_path / "profile", "/page")
        m = re.search(r'<pre id="out">([^<]*)</pre>', dom)
        assert m is not None, dom[-2000:]
        assert m.group(1).startswith("done "), m.group(1)
        got = json.loads(m.group(1)[len("done "):])
        assert got == {"version": "3", "uploaded": 3 * 1024 * 1024, "echo_same": True, "streamed": 21_000_000,
                       "parallel_h3": 32}
    finally:
        assert s.stop() == 0, s.output()
    access = [line for line in s.output().splitlines() if "ACCESS:" in line]
    paths = [re.search(r'"(\S+) (\S+) (HTTP/[\d.]+)"', line) for line in access]
    assert all(p is not None for p in paths), access
    versions = {p.group(3) for p in paths if p}
    assert versions == {"HTTP/3"}, access
    seen = [(p.group(1), p.group(2).split("?")[0]) for p in paths if p]
    for want in [("GET", "/page"), ("POST", "/upload"), ("POST", "/echo"), ("GET", "/stream/3500")]:
        assert want in seen, seen
    assert seen.count(("GET", "/inspect")) == 33, seen


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
@pytest.mark.parametrize("io", BACKENDS)
def test_chromium_loads_300_resources_on_one_http3_connection(io: str, mode: str, certs: Path,  # noqa: F811
                                                               tmp_path: Path) -> None:
    """300 fetches (all at once, or each awaited) on one connection, three times the 100
    streams the server grants at first: each answered 200 with its own body over h3, one
    QUIC connection accepted, no HTTP/3 connection error."""
    log = tmp_path / "server.log"
    s = LoggedServer("h3_browser_app:app", log, "--ssl-certfile", str(certs / "server.crt"), "--ssl-keyfile",
                     str(certs / "server.key"), "--http3", "--threads", "1", "--access-log", "--metrics",
                     env=env_io(io))
    try:
        dom = load_page(s.port, certs / "server.crt", tmp_path / "profile", f"/many?n={RESOURCES}&mode={mode}")
        m = re.search(r'<pre id="out">([^<]*)</pre>', dom)
        assert m is not None, dom[-2000:]
        assert m.group(1).startswith("done "), m.group(1)
        got = json.loads(m.group(1)[len("done "):])
        assert got == {"ok": RESOURCES, "h3": RESOURCES, "page": "h3", "failed": []}
        counters = tls_counters(s)  # over HTTPS/1.1, once Chromium is gone
        assert counters["quic_connections_accepted"] == 1, counters
        assert counters["h3_connection_errors"] == 0, counters
    finally:
        assert s.stop() == 0, s.output()
    access = [line for line in s.output().splitlines() if "ACCESS:" in line]
    paths = [re.search(r'"(\S+) (\S+) (HTTP/[\d.]+)"', line) for line in access]
    assert all(p is not None for p in paths), access
    h3 = sorted((p.group(1), p.group(2)) for p in paths if p and p.group(3) == "HTTP/3")
    want = sorted([("GET", f"/many?n={RESOURCES}&mode={mode}")] + [("GET", f"/res/{i}") for i in range(RESOURCES)])
    assert h3 == want, h3
    assert [p.group(2) for p in paths if p and p.group(3) != "HTTP/3"] == ["/metrics"], access
