"""kTLS on each kernel of `make kernels` (tools/kernel-vm). Where docs/deployment.md's
table says the kernel takes TLS records (its kTLS cell begins "used"), a connection's
sending goes to the kernel, and its TLS 1.2 receiving; where the cell says "sending and
receiving" its TLS 1.3 receiving too: the counters `tls_ktls_tx` and `tls_ktls_rx` count
each such connection.
The bytes that arrive are checked whole, from clients no one here wrote (httpx, curl,
openssl s_client, Chromium): TLS 1.3 and 1.2, AES-GCM and ChaCha20-Poly1305, HTTP/1.1 and
HTTP/2 by ALPN, a memory body and a static file (sendfile() on a kTLS socket), uploads,
session tickets (records of OpenSSL's own, sent with their type), a close_notify, a TLS
1.2 renegotiation (refused: the connection ends, in user space too), a
client's KeyUpdate of its own keys and one that asks for the server's (which the kernel
follows where the cell says "with key updates", and which otherwise ends the connection;
with --no-ssl-ktls the same client is served). Where the cell says "unavailable", the
counters stay 0 and the same requests are served in user space."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "py"))
sys.path.insert(0, str(Path(__file__).parent))
from conftest import LoggedServer, metric_totals, stop_process  # noqa: E402
from h2_tls_helpers import (  # noqa: E402,F401  (certs: a fixture)
    CLIENT_ENV, certs, client_ctx, corrupt_record_after_an_answer)
from test_http3_browser import chromium, spki_sha256  # noqa: E402
from test_kernel_table import row  # noqa: E402

import ssl  # noqa: E402

WAIT = 60  # seconds: an emulated CPU


def kernel_sends() -> bool:
    """The table's word for this kernel: "used" or "unavailable" (nothing else passes)."""
    cell = row()["ktls"]
    assert cell.startswith(("used", "unavailable")), cell
    return cell.startswith("used")


def kernel_takes_new_keys() -> bool:
    """The table says the kernel takes a TLS 1.3 KeyUpdate's new sending keys."""
    return kernel_sends() and "with key updates" in row()["ktls"]


def kernel_receives(tls12: bool = False) -> bool:
    """The table says the kernel decrypts what TLS 1.3 connections receive (`tls12`: TLS
    1.2's, which every kernel that sends does: no key updates to follow)."""
    return kernel_sends() and ("receiving" if tls12 else "sending and receiving") in row()["ktls"]


@pytest.fixture(scope="module")
def static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("static")
    (d / "big.bin").write_bytes(os.urandom(1 << 20))
    return d


def serve(certs: Path, static: Path, log: Path, *extra: str, io: str = "") -> LoggedServer:  # noqa: F811
    """kernel_app over TLS, one reactor thread; `io`: the backend asked for ("": the kernel's)."""
    return LoggedServer("kernel_app:app", log, "--app-dir", str(Path(__file__).parent / "apps"), "--threads", "1",
                        "--metrics", "--ssl-certfile", str(certs / "server.crt"), "--ssl-keyfile",
                        str(certs / "server.key"), *extra,
                        env={"RINGBOLT_IO": io, "KERNEL_STATIC_DIR": str(static)})


@pytest.fixture(scope="module")
def srv(certs: Path, static: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:  # noqa: F811
    s = serve(certs, static, tmp_path_factory.mktemp("log") / "server.log")
    yield s
    assert s.stop() == 0, s.output()


def sent_by_kernel(srv: LoggedServer, counter: str = "tls_ktls_tx") -> int:
    """The server's count of connections whose sending went to the kernel, read over TLS
    1.2 with AES-CBC: a cipher kTLS does not take, so this connection stays in user space
    and is not counted (which the count staying put shows). `counter`: another of them."""
    ctx = client_ctx(version=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA256")
    with httpx.Client(verify=ctx, timeout=WAIT) as c:
        return metric_totals(c.get(f"https://127.0.0.1:{srv.port}/metrics").text).get(counter, 0)


def expect_counted(srv: LoggedServer, before: int, connections: int) -> None:
    after = sent_by_kernel(srv)
    want = before + connections if kernel_sends() else 0
    assert after == want, (before, after, connections, srv.output())


def expect_received(srv: LoggedServer, before: int, connections: int, tls12: bool = False) -> None:
    """`connections` more whose receiving went to the kernel, where it takes TLS 1.3's
    (`tls12`: TLS 1.2's)."""
    after = sent_by_kernel(srv, "tls_ktls_rx")
    assert after == before + (connections if kernel_receives(tls12) else 0), (before, after, srv.output())


@pytest.mark.parametrize("version,cipher", [(ssl.TLSVersion.TLSv1_3, None),
                                            (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"),
                                            (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305")],
                         ids=["tls1.3-aes-gcm", "tls1.2-aes-gcm", "tls1.2-chacha20"])
@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2"])
def test_bodies_and_files_the_kernel_encrypts(srv: LoggedServer, static: Path, version: ssl.TLSVersion,
                                              cipher: str | None, http2: bool) -> None:
    before, received = sent_by_kernel(srv), sent_by_kernel(srv, "tls_ktls_rx")
    ctx = client_ctx(version=version, alpn=["h2"] if http2 else ["http/1.1"])
    if cipher is not None:
        ctx.set_ciphers(cipher)
    file = (static / "big.bin").read_bytes()
    with httpx.Client(http1=not http2, http2=http2, verify=ctx, timeout=WAIT) as c:
        for _ in range(3):  # several requests on one connection
            r = c.get(f"https://127.0.0.1:{srv.port}/hello")
            assert r.status_code == 200 and r.json()["hello"] == ("2" if http2 else "1.1"), r.text
        body = os.urandom(300_000)
        r = c.post(f"https://127.0.0.1:{srv.port}/echo", content=body)
        assert r.status_code == 200 and r.content == body
        for _ in range(2):
            r = c.get(f"https://127.0.0.1:{srv.port}/static/big.bin")
            assert r.status_code == 200 and hashlib.sha256(r.content).digest() == hashlib.sha256(file).digest()
    expect_counted(srv, before, 1)
    expect_received(srv, received, 1, tls12=version == ssl.TLSVersion.TLSv1_2)


@pytest.mark.timeout(5 * WAIT)  # a browser started in the emulated CPU, on a machine CI keeps busy
def test_chromium_over_ktls(srv: LoggedServer, certs: Path, tmp_path: Path) -> None:  # noqa: F811
    # Headless Chromium (BoringSSL: TLS 1.3, HTTP/2 by ALPN) loads a page whose script
    # fetches, uploads a body and reports what it saw; the counters say the kernel took
    # each connection's sending, and its receiving where it decrypts (docs/deployment.md's
    # row). About 30 s of the emulated CPU to start the browser.
    sent, received, logged = sent_by_kernel(srv), sent_by_kernel(srv, "tls_ktls_rx"), len(srv.output())
    browser = subprocess.Popen(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}",
         f"--ignore-certificate-errors-spki-list={spki_sha256(certs / 'server.crt')}",
         f"https://127.0.0.1:{srv.port}/browser"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CLIENT_ENV)
    try:
        deadline = time.monotonic() + 4 * WAIT
        while "REPORT " not in srv.output()[logged:] and time.monotonic() < deadline and browser.poll() is None:
            time.sleep(0.5)
        m = re.search(r"REPORT (.*)", srv.output()[logged:])
        assert m is not None, (f"no report; the browser's exit status: {browser.poll()}", srv.output()[-2000:])
        assert json.loads(m.group(1)) == {"answers": ["2", "2", "2"], "echoed": True}, m.group(1)
    finally:
        stop_process(browser, timeout=20)  # the browser this test started
    after_sent, after_received = sent_by_kernel(srv), sent_by_kernel(srv, "tls_ktls_rx")
    assert (after_sent > sent) == kernel_sends(), (sent, after_sent)
    assert (after_received > received) == kernel_receives(), (received, after_received)


def test_curl_tls13_chacha20_static_file(srv: LoggedServer, static: Path, tmp_path: Path) -> None:
    before, received = sent_by_kernel(srv), sent_by_kernel(srv, "tls_ktls_rx")
    out = tmp_path / "got.bin"
    url = f"https://127.0.0.1:{srv.port}/static/big.bin"
    done = subprocess.run(["curl", "-sSk", "--http1.1", "--tlsv1.3", "--tls13-ciphers",
                           "TLS_CHACHA20_POLY1305_SHA256", "-o", str(out), "-w", "%{http_code} %{num_connects}",
                           url], capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0 and done.stdout == "200 1", (done.stdout, done.stderr)
    assert out.read_bytes() == (static / "big.bin").read_bytes()
    expect_counted(srv, before, 1)
    expect_received(srv, received, 1)


class SClient:
    """openssl s_client on one connection: lines in, what it prints out (read by a thread)."""

    def __init__(self, port: int, *extra: str) -> None:
        self.proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-crlf",
                                      "-alpn", "http/1.1", *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):
            self.out += chunk

    def wait_for(self, text: bytes, count: int = 1) -> bool:
        deadline = time.monotonic() + WAIT
        while self.out.count(text) < count:
            if time.monotonic() > deadline or not self._reader.is_alive():
                return self.out.count(text) >= count
            time.sleep(0.05)
        return True

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()

    def request(self) -> None:
        self.send("GET /hello HTTP/1.1\nHost: localhost\n\n")

    def command(self, letter: str, said: bytes) -> None:
        """After the answers so far, one of s_client's commands (a line of its own), and
        what s_client prints when it acts on it."""
        time.sleep(0.5)
        self.send(letter + "\n")
        assert self.wait_for(said), self.out

    def hello(self, answers: int = 1) -> None:
        """A request, and its answer: the connection's `answers`th."""
        self.request()
        assert self.wait_for(b'"hello":"1.1"', answers), self.out

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(WAIT)


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_session_tickets_resume(srv: LoggedServer, tmp_path: Path, version: str) -> None:
    # TLS 1.3's tickets come after the switch: records of OpenSSL's own, given their type.
    # TLS 1.2's resumption sends the server's Finished before it reads the client's: its
    # receiving keys come while the handshake still reads (the switch waits for its end).
    sess = tmp_path / "session.pem"
    flag = "-tls" + version.replace(".", "_")
    for extra, reused in ((("-sess_out", str(sess)), False), (("-sess_in", str(sess)), True)):
        before, received = sent_by_kernel(srv), sent_by_kernel(srv, "tls_ktls_rx")
        c = SClient(srv.port, flag, *extra)
        try:
            c.hello()
            c.hello(2)
            assert (f"Reused, TLSv{version}".encode() in c.out) == reused, c.out
        finally:
            c.close()
        expect_counted(srv, before, 1)
        expect_received(srv, received, 1, tls12=version == "1.2")


def test_a_key_update_of_the_clients_keys(srv: LoggedServer) -> None:
    followed = sent_by_kernel(srv, "tls_ktls_rx_key_updates")
    c = SClient(srv.port, "-tls1_3")
    try:
        c.hello()
        c.command("k", b"KEYUPDATE")  # KeyUpdate, update_not_requested: the client's sending keys change
        time.sleep(0.5)
        c.hello(2)  # read under the client's new keys
        c.send("k\n")  # the generation after
        time.sleep(0.5)
        c.hello(3)
    finally:
        c.close()
    # where the kernel decrypts, it took the client's new keys each time (from the server)
    assert sent_by_kernel(srv, "tls_ktls_rx_key_updates") == followed + (2 if kernel_receives() else 0)


def key_updates_then_ask(port: int, updates: int) -> bool:
    """OpenSSL's libssl through ctypes (Python's ssl sends no KeyUpdate, and s_client
    folds the ones asked for between two writes into one): a TLS 1.3 connection, a request
    answered, then `updates` KeyUpdates with no data between them (each SSL_do_handshake
    sends one), then a second request. Whether it was answered."""
    lib = ctypes.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
    vp = ctypes.c_void_p
    for name, res, args in (("TLS_client_method", vp, []), ("SSL_CTX_new", vp, [vp]), ("SSL_new", vp, [vp]),
                            ("SSL_CTX_ctrl", ctypes.c_long, [vp, ctypes.c_int, ctypes.c_long, vp]),
                            ("SSL_set_fd", ctypes.c_int, [vp, ctypes.c_int]), ("SSL_connect", ctypes.c_int, [vp]),
                            ("SSL_write", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_int]),
                            ("SSL_read", ctypes.c_int, [vp, vp, ctypes.c_int]),
                            ("SSL_key_update", ctypes.c_int, [vp, ctypes.c_int]),
                            ("SSL_do_handshake", ctypes.c_int, [vp]), ("SSL_free", None, [vp]),
                            ("SSL_CTX_free", None, [vp])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.settimeout(None)  # blocking, as libssl expects; bounded by SO_RCVTIMEO
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", WAIT, 0))
    ctx = lib.SSL_CTX_new(lib.TLS_client_method())
    lib.SSL_CTX_ctrl(ctx, 123, 0x0304, None)  # SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)
    conn = lib.SSL_new(ctx)
    request = b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
    buf = ctypes.create_string_buffer(65536)
    into = ctypes.cast(buf, vp)
    try:
        lib.SSL_set_fd(conn, sock.fileno())
        assert lib.SSL_connect(conn) == 1
        assert lib.SSL_write(conn, request, len(request)) == len(request)
        n = lib.SSL_read(conn, into, len(buf))
        assert n > 0 and b'"hello":"1.1"' in buf.raw[:n]
        for _ in range(updates):
            assert lib.SSL_key_update(conn, 0) == 1  # SSL_KEY_UPDATE_NOT_REQUESTED
            assert lib.SSL_do_handshake(conn) == 1
        if lib.SSL_write(conn, request, len(request)) != len(request):
            return False
        n = lib.SSL_read(conn, into, len(buf))
        return n > 0 and b'"hello":"1.1"' in buf.raw[:n]
    finally:
        lib.SSL_free(conn)
        lib.SSL_CTX_free(ctx)
        sock.close()


def test_key_updates_without_data_are_bounded(srv: LoggedServer) -> None:
    # Where the kernel decrypts, each of the client's KeyUpdates costs the server a key
    # derivation and a system call: 32 in a row without data are followed, the 33rd ends
    # the connection (said in the log). OpenSSL in user space sets no such bound.
    followed, logged = sent_by_kernel(srv, "tls_ktls_rx_key_updates"), len(srv.output())
    assert key_updates_then_ask(srv.port, 32)
    assert key_updates_then_ask(srv.port, 33) == (not kernel_receives())
    if kernel_receives():
        assert sent_by_kernel(srv, "tls_ktls_rx_key_updates") == followed + 64
        assert "TLS: kTLS: more than 32 key updates in a row without data" in srv.output()[logged:], srv.output()


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_a_close_notify_the_kernel_received(srv: LoggedServer, version: str) -> None:
    # s_client's Q sends close_notify (a record the kernel hands over with its type, where
    # it decrypts); the server counts it and ends the connection, with no TLS error
    notified, logged = sent_by_kernel(srv, "tls_close_notify"), len(srv.output())
    received = sent_by_kernel(srv, "tls_ktls_rx")
    c = SClient(srv.port, version)
    try:
        c.hello()
        time.sleep(0.5)
        c.send("Q\n")
        assert c.proc.wait(WAIT) == 0, c.out
    finally:
        c.close()
    deadline = time.monotonic() + WAIT
    while sent_by_kernel(srv, "tls_close_notify") < notified + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sent_by_kernel(srv, "tls_close_notify") == notified + 1, srv.output()
    assert "TLS:" not in srv.output()[logged:], srv.output()
    expect_received(srv, received, 1, tls12=version == "-tls1_2")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def test_a_corrupt_record_gets_an_alert(certs: Path, static: Path, tmp_path: Path,  # noqa: F811
                                       version: ssl.TLSVersion) -> None:
    # one bit flipped in a record after the switch: where the kernel decrypts, its receive
    # fails (EBADMSG) and the server sends bad_record_mac through the kernel, as OpenSSL
    # does in user space; counted, said in the log, closed; the next connection is served.
    # A server of its own: the log says one bad record each 10 s (the module's server has
    # said others).
    tls12 = version == ssl.TLSVersion.TLSv1_2
    s = serve(certs, static, tmp_path / "server.log")
    try:
        try:
            got = corrupt_record_after_an_answer("127.0.0.1", s.port, client_ctx(version=version), "/hello",
                                                 timeout=WAIT)
        except OSError as e:
            raise AssertionError(s.output()) from e
        assert "BAD_RECORD_MAC" in got.upper().replace(" ", "_"), (got, s.output())
        assert sent_by_kernel(s, "tls_record_errors") == 1, s.output()
        expect_received(s, 0, 1, tls12=tls12)
        said = "TLS: kTLS: a received record: it does not decrypt (bad_record_mac)"
        assert (said in s.output()) == kernel_receives(tls12), s.output()
    finally:
        assert s.stop() == 0, s.output()


def test_a_tls12_renegotiation_ends_the_connection(certs: Path, static: Path, tmp_path: Path) -> None:  # noqa: F811
    # s_client's R starts a renegotiation (a ClientHello under the connection's keys).
    # OpenSSL in user space refuses it (a no_renegotiation alert, which s_client answers
    # with a fatal alert); where the kernel decrypts, it hands the record over with its
    # type and the server ends the connection. Either way a record error, said in the
    # log, and the server serves the next connection. (A server of its own: the log says
    # one bad record each 10 s.)
    s = serve(certs, static, tmp_path / "server.log")
    try:
        c = SClient(s.port, "-tls1_2")
        try:
            c.hello()
            c.command("R", b"RENEGOTIATING")
            c.proc.wait(WAIT)  # the connection ended
            assert c.out.count(b'"hello":"1.1"') == 1, c.out
        finally:
            c.close()
        expect_received(s, 0, 1, tls12=True)
        assert sent_by_kernel(s, "tls_record_errors") == 1, s.output()
        said = "TLS: kTLS: the client sent an alert or a message no client sends here: record type 22"
        assert (said in s.output()) == kernel_receives(tls12=True), s.output()
        c = SClient(s.port, "-tls1_2")
        try:
            c.hello()
        finally:
            c.close()
    finally:
        assert s.stop() == 0, s.output()


def test_a_key_update_of_the_servers_keys(srv: LoggedServer, certs: Path, static: Path,  # noqa: F811
                                          tmp_path: Path) -> None:
    updated = sent_by_kernel(srv, "tls_ktls_key_updates")
    c = SClient(srv.port, "-tls1_3", "-msg")
    try:
        c.hello()
        c.command("K", b"KEYUPDATE")  # KeyUpdate, update_requested: the server must change its sending keys
        if kernel_sends() and not kernel_takes_new_keys():
            # the kernel's keys cannot change: the server ends the connection (s_client
            # reads its close_notify and exits), said in the log
            c.proc.wait(WAIT)
            assert c.out.count(b'"hello":"1.1"') == 1, c.out
            assert "TLS: key update: the client asked for new server keys" in srv.output(), srv.output()
        else:
            # the server's own KeyUpdate (-msg: "<<< ... KeyUpdate"; OpenSSL in user space
            # sends it with its next record, kTLS at once), then its answers under the new
            # keys, which s_client reads with once it has that message
            time.sleep(0.5)
            c.hello(2)
            between = c.out.split(b'"hello":"1.1"')[1]
            assert b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate" in between, (c.out[-3000:], srv.output())
            seen = c.out.count(b"KeyUpdate")
            c.send("K\n")  # and again: the generation after (the client's and the server's)
            time.sleep(0.5)
            c.hello(3)
            assert c.out.count(b"KeyUpdate") == seen + 2, c.out[-3000:]
    finally:
        c.close()
    assert sent_by_kernel(srv, "tls_ktls_key_updates") == updated + (2 if kernel_takes_new_keys() else 0)
    # without kTLS OpenSSL changes its keys and the same client is served
    plain = serve(certs, static, tmp_path / "server.log", "--no-ssl-ktls")
    try:
        c = SClient(plain.port, "-tls1_3")
        try:
            c.hello()
            c.command("K", b"KEYUPDATE")
            time.sleep(0.5)
            c.hello(2)
        finally:
            c.close()
        assert sent_by_kernel(plain) == 0
        assert "kTLS off (--no-ssl-ktls)" in plain.output() or not kernel_sends(), plain.output()
    finally:
        assert plain.stop() == 0, plain.output()


def test_the_epoll_backend_hands_over_too(certs: Path, static: Path, tmp_path: Path) -> None:  # noqa: F811
    s = serve(certs, static, tmp_path / "server.log", io="epoll")
    try:
        s.wait_log("(io: epoll", WAIT)
        file = (static / "big.bin").read_bytes()
        with httpx.Client(verify=client_ctx(alpn=["http/1.1"]), timeout=WAIT) as c:
            for _ in range(2):
                r = c.get(f"https://127.0.0.1:{s.port}/static/big.bin")
                assert r.status_code == 200 and r.content == file
            body = os.urandom(300_000)
            assert c.post(f"https://127.0.0.1:{s.port}/echo", content=body).content == body
        expect_counted(s, 0, 1)
        expect_received(s, 0, 1)
    finally:
        assert s.stop() == 0, s.output()
