"""HTTP/3 end to end (--http3): aioquic's HTTP/3 client (tests/py/h3_client.py) over real
UDP on 127.0.0.1 against a ringbolt server, on both io backends: requests and bodies both
ways, many streams on one connection, the version as each interface reports it, Alt-Svc
on the TCP answers, garbage datagrams, the drain; and Debian's gtlsclient (ngtcp2's own
client) for interop."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import h3_client
from conftest import APPS, REPO, LoggedServer, ServerProcess
from h2_tls_helpers import (  # noqa: F401  (certs is a fixture)
    BACKENDS,
    CLIENT_ENV,
    certs,
    client_ctx,
    env_io,
    running,
    tls_args,
    tls_counters,
    tls_get,
)
from h2_tls_helpers import Client as H2Client

sys.path.insert(0, str(APPS))  # the bodies the app's routes make (apps/transfer_routes.py)
from transfer_routes import big, stream_piece  # noqa: E402

MIB = 1 << 20


def pattern(n: int, seed: int) -> bytes:
    """n bytes that differ per seed and per position (a misplaced piece shows)."""
    block = bytes((i * 7 + seed * 13) % 256 for i in range(4096))
    return (block * (n // len(block) + 1))[:n]


SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # (Linux's number; Python names it on some builds)


def h3_args(certs: Path, *extra: str) -> list[str]:  # noqa: F811
    return [*tls_args(certs), "--http3", "--threads", "1", *extra]


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, certs: Path) -> Any:  # noqa: F811
    s = ServerProcess("h2_app:app", *h3_args(certs, "--metrics"), env=env_io(request.param))
    yield s
    assert s.stop() == 0, s.output()


def test_get(srv: ServerProcess) -> None:
    r = h3_client.get(srv.port, "/")
    assert r.reset is None
    assert r.status == 200
    assert json.loads(r.body) == {"message": "Hello, World!"}
    assert r.header("content-type") == "application/json"


def test_native_request_sees_http_version_3(srv: ServerProcess) -> None:
    r = h3_client.get(srv.port, "/inspect?x=1", headers=[("x-test", "yes")])
    assert r.status == 200
    info = json.loads(r.body)
    assert info["http_version"] == "3"
    assert info["scheme"] == "https"
    assert info["query"] == {"x": "1"}
    assert dict(info["headers"])["x-test"] == "yes"


def test_reused_request_streams_carry_nothing_over(srv: ServerProcess) -> None:
    # 40 requests one after another on one connection, every other one with a body, a cookie
    # and extra fields: each sees only its own (a guard for any reuse of a closed stream's state).
    async def session(c: h3_client.H3Client) -> list[h3_client.H3Response]:
        out = []
        for i in range(40):
            if i % 2 == 0:
                out.append(await c.request("POST", f"/inspect?n={i}", body=b"x" * (100 + i),
                                           headers=[("cookie", f"a={i}"), ("cookie", "b=2"), (f"x-only-{i}", "1")]))
            else:
                out.append(await c.request("GET", f"/inspect?n={i}"))
        return out

    for i, r in enumerate(h3_client.run(srv.port, session)):
        assert r.status == 200, (i, r.status)
        info = json.loads(r.body)
        headers = dict(info["headers"])
        assert info["query"] == {"n": str(i)}
        if i % 2 == 0:
            assert (info["method"], info["body_len"]) == ("POST", 100 + i)
            assert headers["cookie"] == f"a={i}; b=2"
            assert headers[f"x-only-{i}"] == "1"
        else:
            assert (info["method"], info["body_len"]) == ("GET", 0)
            assert "cookie" not in headers and not any(k.startswith("x-only") for k in headers), headers


def test_post_3mib_echoed(srv: ServerProcess) -> None:
    body = pattern(3 * MIB, 1)
    r = h3_client.run(srv.port, lambda c: c.request("POST", "/echo", body=body,
                                                    headers=[("content-type", "application/octet-stream")]))
    assert r.status == 200
    assert len(r.body) == len(body)
    assert bytes(r.body) == body


def test_streamed_20mib_response(srv: ServerProcess) -> None:
    n = 20 * MIB // 6000 + 1  # pieces of 6000 bytes
    r = h3_client.run(srv.port, lambda c: c.request("GET", f"/stream/{n}"), timeout=120)
    assert r.status == 200
    assert len(r.body) == n * 6000
    assert bytes(r.body[:6000]) == stream_piece(0)
    assert bytes(r.body[-6000:]) == stream_piece(n - 1)
    assert bytes(r.body) == b"".join(stream_piece(i) for i in range(n))


def test_64_concurrent_streams_on_one_connection(srv: ServerProcess) -> None:
    async def session(c: h3_client.H3Client) -> list[h3_client.H3Response]:
        return await asyncio.gather(*(c.request("GET", f"/big/{1000 + i}") for i in range(64)))

    answers = h3_client.run(srv.port, session)
    assert [r.status for r in answers] == [200] * 64
    for i, r in enumerate(answers):
        assert bytes(r.body) == big(1000 + i)


def test_8_concurrent_3mib_uploads_on_one_connection(srv: ServerProcess) -> None:
    """The h2 upload deadlock's twin: bodies of streams the app has not read yet must not
    take the connection's flow-control window from the others."""
    bodies = [pattern(3 * MIB, i) for i in range(8)]

    async def session(c: h3_client.H3Client) -> list[h3_client.H3Response]:
        uploads = [c.request("POST", "/upload", body=b) for b in bodies[:4]]
        echoes = [c.request("POST", "/echo", body=b) for b in bodies[4:]]
        return await asyncio.gather(*uploads, *echoes)

    answers = h3_client.run(srv.port, session, timeout=120)
    assert [r.status for r in answers] == [200] * 8
    for r in answers[:4]:
        assert json.loads(r.body) == {"received": 3 * MIB}
    for r, b in zip(answers[4:], bodies[4:]):
        assert bytes(r.body) == b


@pytest.mark.parametrize("io", BACKENDS)
def test_uploads_no_app_reads_yet_do_not_block_the_one_it_reads(certs: Path, io: str) -> None:  # noqa: F811
    """A WSGI app on one thread reads one body at a time: the 7 bodies waiting for it must
    not hold the connection's flow-control window the body it reads needs (the HTTP/2
    upload deadlock of issue 25's first item, on HTTP/3)."""
    bodies = [pattern(3 * MIB, 10 + i) for i in range(8)]

    async def session(c: h3_client.H3Client) -> list[h3_client.H3Response]:
        return await asyncio.gather(*(c.request("POST", "/echo", body=b) for b in bodies))

    with running("wsgi_app:app", "--interface", "wsgi", "--wsgi-threads", "1", *h3_args(certs), io=io) as s:
        answers = h3_client.run(s.port, session, timeout=60)
    assert [r.status for r in answers] == [200] * 8
    for r, b in zip(answers, bodies):
        assert bytes(r.body) == b


def test_alt_svc_on_tcp_answers(srv: ServerProcess) -> None:
    want = f'h3=":{srv.port}"; ma=86400'
    status, headers, _ = tls_get(srv, "/")  # HTTPS/1.1
    assert status == 200
    assert headers.get("alt-svc") == want, headers
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock = client_ctx(alpn=["h2"]).wrap_socket(raw, server_hostname="localhost")
    assert sock.selected_alpn_protocol() == "h2"
    with H2Client(srv, sock=sock) as c:
        r = c.get("/")
        assert r["headers"][":status"] == "200"
        assert r["headers"]["alt-svc"] == want


def test_garbage_and_truncated_datagrams_then_normal_service(srv: ServerProcess) -> None:
    # Seeded noise, so a failure names the same datagrams every run.
    rng = __import__("random").Random(27)

    def noise(n: int) -> bytes:
        return bytes(rng.randrange(256) for _ in range(n))

    before = tls_counters(srv)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for size in (0, 1, 5, 20, 21, 50, 64, 100, 1199, 1200, 1350, 1500):
            u.sendto(noise(size), ("127.0.0.1", srv.port))
        # Long headers of QUIC v1 cut short, and an Initial-looking datagram of random bytes.
        for cut in (1, 5, 6, 7, 10, 30, 200):
            head = bytes([0xC3, 0, 0, 0, 1, 8]) + noise(1400)
            u.sendto(head[:cut], ("127.0.0.1", srv.port))
        u.sendto(bytes([0xC3, 0, 0, 0, 1, 8]) + noise(1300), ("127.0.0.1", srv.port))
        # A short header naming no connection (stateless reset territory) and an unknown version.
        u.sendto(bytes([0x43]) + noise(60), ("127.0.0.1", srv.port))
        u.sendto(bytes([0xC0, 0x1A, 0x2A, 0x3A, 0x4A, 8]) + noise(1300), ("127.0.0.1", srv.port))
    r = h3_client.get(srv.port, "/")
    assert r.status == 200
    assert json.loads(r.body) == {"message": "Hello, World!"}
    assert srv.proc.poll() is None
    after = tls_counters(srv)
    # Each of the 22 datagrams, none a QUIC packet of a known connection, was dropped
    # and counted (or answered statelessly), and the GET made one more connection.
    assert after["udp_received"] - before["udp_received"] >= 22
    dropped = after["quic_dropped"] - before["quic_dropped"]
    answered = sum(after[k] - before[k] for k in ("quic_stateless_resets", "quic_version_negotiations",
                                                  "quic_replies_limited"))
    assert dropped >= 15 and dropped + answered >= 22, (before, after)
    assert after["quic_connections_accepted"] - before["quic_connections_accepted"] == 1


@pytest.mark.parametrize("io", BACKENDS)
def test_asgi_scope_http_version_3(certs: Path, io: str) -> None:  # noqa: F811
    with running("h2_asgi_app:app", "--interface", "asgi", *h3_args(certs), io=io) as s:
        body = pattern(100_000, 3)
        r = h3_client.run(s.port, lambda c: c.request("POST", "/scope", body=body))
        assert r.status == 200
        head, _, rest = bytes(r.body).partition(b"\n")
        assert json.loads(head) == {"http_version": "3", "path": "/scope", "body_len": len(body)}
        assert rest == body


@pytest.mark.parametrize("io", BACKENDS)
def test_wsgi_server_protocol_http3(certs: Path, io: str) -> None:  # noqa: F811
    with running("wsgi_app:app", "--interface", "wsgi", *h3_args(certs), io=io) as s:
        r = h3_client.get(s.port, "/environ")
        assert r.status == 200
        env = json.loads(r.body)
        assert env["SERVER_PROTOCOL"] == "HTTP/3"
        assert env["wsgi.url_scheme"] == "https"


@pytest.mark.parametrize("io", BACKENDS)
def test_drain_completes_a_stream_in_flight(certs: Path, io: str) -> None:  # noqa: F811
    s = ServerProcess("h2_app:app", *h3_args(certs), env=env_io(io))
    try:
        async def session(c: h3_client.H3Client) -> h3_client.H3Response:
            pending = asyncio.ensure_future(c.request("GET", "/slow?s=1.5"))
            await asyncio.sleep(0.5)  # the request reached the handler, which sleeps
            s.proc.send_signal(signal.SIGTERM)
            answer = await pending
            # The server closes the drained connection itself and exits, without waiting
            # for the client to close (nor out its closing period).
            deadline = time.monotonic() + 5
            while s.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return answer

        r = h3_client.run(s.port, session)
        assert r.status == 200
        assert json.loads(r.body) == {"slept": True}
        assert s.proc.poll() == 0, s.output()
    finally:
        s.stop()


def test_a_long_drain_says_what_it_waits_for(certs: Path) -> None:  # noqa: F811
    """Every few seconds a draining reactor logs what it still waits for: its connections,
    and each QUIC connection still open with its open request streams (how a shutdown that
    takes long is read from the log)."""
    s = ServerProcess("h2_app:app", *h3_args(certs))
    try:
        async def session(c: h3_client.H3Client) -> h3_client.H3Response:
            pending = asyncio.ensure_future(c.request("GET", "/aslow?s=6.5"))
            await asyncio.sleep(0.5)  # the request reached the handler, which sleeps
            s.proc.send_signal(signal.SIGTERM)
            return await pending

        r = h3_client.run(s.port, session)
        assert r.status == 200
        s.proc.wait(10)
        out = s.output()
        assert "draining, 0 connection(s) open" in out, out
        assert "draining: QUIC connection open, 1 request stream(s) open" in out, out
        assert s.proc.returncode == 0, out
    finally:
        s.stop()


@pytest.mark.parametrize("io", BACKENDS)
def test_sighup_reloads_the_quic_certificate(certs: Path, tmp_path: Path, io: str) -> None:  # noqa: F811
    """One process, no supervisor: SIGHUP gives new QUIC connections the renewed
    certificate (as it does TCP's), an open QUIC connection goes on with its own, and a
    bad key file changes nothing, on either transport."""
    crt, key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copy(certs / "server.crt", crt)
    shutil.copy(certs / "server.key", key)
    s = LoggedServer("h2_app:app", tmp_path / "server.log", "--ssl-certfile", str(crt), "--ssl-keyfile", str(key),
                     "--http3", "--threads", "1", env=env_io(io))

    async def session() -> None:
        old = await h3_client.open_client(s.port)
        assert h3_client.peer_cn(old) == "localhost"
        shutil.copy(certs / "renewed.crt", crt)
        shutil.copy(certs / "renewed.key", key)
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while True:
            new = await h3_client.open_client(s.port)
            cn = h3_client.peer_cn(new)
            await h3_client.close_client(new)
            if cn == "renewed.localhost":
                break
            assert time.monotonic() < deadline, cn
            await asyncio.sleep(0.1)
        r = await old.request("GET", "/")  # the open connection goes on
        assert r.status == 200 and json.loads(r.body) == {"message": "Hello, World!"}
        await h3_client.close_client(old)
        key.write_text("broken\n")  # a bad reload keeps the renewed certificate
        s.proc.send_signal(signal.SIGHUP)
        s.wait_log("TLS reload failed")
        after = await h3_client.open_client(s.port)
        assert h3_client.peer_cn(after) == "renewed.localhost"
        assert (await after.request("GET", "/")).status == 200
        await h3_client.close_client(after)

    try:
        asyncio.run(asyncio.wait_for(session(), 60))
    finally:
        assert s.stop() == 0, s.output()


def test_access_log_says_http3(certs: Path, tmp_path: Path) -> None:  # noqa: F811
    log = tmp_path / "server.log"
    s = LoggedServer("h2_app:app", log, *h3_args(certs, "--access-log"))
    try:
        assert h3_client.get(s.port, "/inspect?q=1").status == 200  # the app's answer
        assert h3_client.get(s.port, "/const").status == 200  # a native one
        out = s.wait_log('"GET /const HTTP/3" 200')
        assert f"serving on https://127.0.0.1:{s.port} (io: " in out, out
        assert f"threads: 1, HTTP/3 on UDP port {s.port}, congestion control cubic)" in out, out
        assert '"GET /inspect?q=1 HTTP/3" 200' in out, out
        assert "127.0.0.1" in out
    finally:
        assert s.stop() == 0, s.output()


@pytest.mark.parametrize("cc", ["bbr", "reno"])
def test_the_congestion_controller_is_the_one_asked_for(certs: Path, tmp_path: Path, cc: str) -> None:  # noqa: F811
    """--http3-cc reaches the server (its start-up line reads it back from the native
    config) and a 4 MB answer, paced by that controller, arrives whole."""
    log = tmp_path / "server.log"
    s = LoggedServer("h2_app:app", log, *h3_args(certs, "--http3-cc", cc))
    try:
        r = h3_client.get(s.port, "/big/4000000")
        assert r.status == 200 and r.body == big(4000000)
        out = s.wait_log("serving on")
        assert f"HTTP/3 on UDP port {s.port}, congestion control {cc})" in out, out
    finally:
        assert s.stop() == 0, s.output()


@pytest.mark.parametrize("io", BACKENDS)
def test_async_handlers_run_on_the_reactor_thread_with_http3(certs: Path, io: str, tmp_path: Path) -> None:  # noqa: F811
    """One reactor hosts the app's event loop with --http3 as without it: an async handler
    answers over HTTP/3 from the reactor's own thread, and so does a sync one."""
    s = LoggedServer("hosted_app:app", tmp_path / "server.log", *h3_args(certs), env=env_io(io))
    try:
        on_loop = [json.loads(h3_client.get(s.port, "/async").body) for _ in range(3)]
        sync = json.loads(h3_client.get(s.port, "/sync").body)
        reactors = {int(t.name) for t in Path(f"/proc/{s.proc.pid}/task").iterdir()
                    if (t / "comm").read_text().strip().startswith("rb-reactor-")}
        assert "event loop on the reactor thread" in s.output(), s.output()
    finally:
        assert s.stop() == 0, s.output()
    assert len(reactors) == 1
    assert {r["tid"] for r in on_loop} == reactors and all(r["loop"] for r in on_loop), (on_loop, reactors)
    assert sync["tid"] in reactors and sync["loop"] is False


@pytest.mark.parametrize("io", BACKENDS)
def test_two_workers_share_the_udp_port(certs: Path, io: str, tmp_path: Path) -> None:  # noqa: F811
    """With --workers the supervisor binds each worker's UDP socket on the port and steers
    datagrams by connection ID: every client is served, whichever worker it meets, from
    the moment the port answers (no wait for every worker: a client of a worker that is
    still starting waits in its socket's queue; test_http3_workers.py has the details)."""
    s = LoggedServer("h2_app:app", tmp_path / "server.log", *tls_args(certs), "--http3", "--workers", "2",
                     "--threads", "1", env=env_io(io))
    try:
        for _ in range(6):
            r = h3_client.get(s.port, "/inspect")
            assert r.status == 200
            assert json.loads(r.body)["http_version"] == "3"
    finally:
        assert s.stop() == 0, s.output()


@pytest.mark.parametrize("io", BACKENDS)
def test_two_reactors_each_serve_their_clients(certs: Path, io: str) -> None:  # noqa: F811
    """--threads 2: one UDP socket per reactor on the port; each connection lives on the
    reactor whose socket the kernel chose for its address, and is served there whole."""
    with running("h2_app:app", *tls_args(certs), "--http3", "--threads", "2", "--metrics", io=io) as s:
        for i in range(10):
            r = h3_client.get(s.port, f"/big/{5000 + i}")
            assert r.status == 200
            assert bytes(r.body) == big(5000 + i)
        assert tls_counters(s)["quic_connections_accepted"] == 10


@pytest.mark.parametrize("io", BACKENDS)
def test_threads_steer_each_connection_to_the_reactor_its_id_names(certs: Path, io: str) -> None:  # noqa: F811
    """--threads 2 in one process: the server binds both UDP sockets in order with the
    steering program, so a client Initial whose DCID starts with byte p reaches reactor p
    (the hash alone would place each new client port at random), and that reactor's
    connection IDs start with p."""

    async def session(port: int) -> None:
        for _ in range(3):
            for pos in (0, 1, 2, 3):  # bytes past the group wrap around
                c = await h3_client.connect_at(port, pos)
                assert h3_client.server_cid(c)[0] == pos % 2
                r = await c.request("GET", "/inspect")
                assert r.status == 200 and json.loads(r.body)["http_version"] == "3"
                await h3_client.close_client(c)

    with running("h2_app:app", *tls_args(certs), "--http3", "--threads", "2", io=io) as s:
        asyncio.run(asyncio.wait_for(session(s.port), 60))


def test_http3_without_a_certificate_is_refused() -> None:
    out = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "h2_app:app", "--app-dir", str(APPS),
                          "--port", "0", "--http3"], capture_output=True, cwd=str(REPO), timeout=60)
    assert out.returncode != 0
    err = (out.stdout + out.stderr).decode()
    assert "http3" in err and "ssl_certfile" in err, err


@pytest.mark.parametrize("flag, value, message", [
    ("--http3-max-streams", "0", "must be at least 1, not 0"),
    ("--http3-stream-window", "-5", "must be at least 1, not -5"),
    ("--http3-connection-window", "x", "expected an integer, not 'x'"),
    ("--http3-idle-timeout", "0", "must be at least 1 second"),
    ("--http3-retry-above", "-1", "must not be negative, not -1"),
    ("--http3-max-half-open", "-2", "must not be negative, not -2"),
    ("--http3-cc", "vegas", "invalid choice: 'vegas' (choose from 'cubic', 'bbr', 'reno')"),
])
def test_bad_http3_limits_are_refused_naming_the_option(certs: Path, flag: str, value: str,  # noqa: F811
                                                        message: str) -> None:
    out = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "h2_app:app", "--app-dir", str(APPS),
                          "--port", "0", *tls_args(certs), "--http3", flag, value],
                         capture_output=True, cwd=str(REPO), timeout=60)
    assert out.returncode == 2
    err = out.stderr.decode()
    assert f"argument {flag}: {message}" in err, err


def test_http3_on_a_unix_socket_is_refused(certs: Path, tmp_path: Path) -> None:  # noqa: F811
    out = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "h2_app:app", "--app-dir", str(APPS),
                          "--uds", str(tmp_path / "s.sock"), *tls_args(certs), "--http3"],
                         capture_output=True, cwd=str(REPO), timeout=60)
    assert out.returncode != 0
    err = (out.stdout + out.stderr).decode()
    assert "HTTP/3 needs a TCP listener" in err, err


def test_gtlsclient_fetches_a_page(certs: Path, tmp_path: Path) -> None:  # noqa: F811
    if shutil.which("gtlsclient") is None:
        pytest.fail("gtlsclient is needed (apt-get install ngtcp2-client)")
    with running("h2_app:app", *h3_args(certs)) as s:
        out = subprocess.run(["gtlsclient", "--quiet", "--exit-on-all-streams-close", "--download", str(tmp_path),
                              "--timeout=10s", "127.0.0.1", str(s.port),
                              f"https://127.0.0.1:{s.port}/big/100000"],
                             capture_output=True, env=CLIENT_ENV, timeout=60)
        assert out.returncode == 0, out.stderr.decode() + out.stdout.decode()
        assert (tmp_path / "100000").read_bytes() == big(100000)


@pytest.mark.parametrize("io", BACKENDS)
def test_initial_flood_is_answered_with_retry_then_normal_service(certs: Path, io: str) -> None:  # noqa: F811
    """Real client Initials (500, aioquic's, from fresh connections) sent from a raw UDP socket far
    above --http3-retry-above: past the first N a second the server makes no state but
    answers a Retry (RFC 9000 §8.1.2), and real clients arriving during the flood still
    connect (aioquic follows the Retry with its token) and are served."""
    with running("h2_app:app", *h3_args(certs, "--metrics", "--http3-retry-above", "20"), io=io) as s:
        flood = h3_client.initial_datagrams(s.port, 500)
        assert len(flood) == 500 and all(len(d) >= 1200 and d[0] & 0xF0 == 0xC0 for d in flood)
        before = tls_counters(s)
        stop = threading.Event()
        seen = {"sent": 0, "retries": 0, "dropped": 0}

        def flooder() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.setblocking(False)
                # A starved thread (the client shares the GIL; CI's load) leaves replies in
                # its socket: room for them, and the kernel's count of those it dropped
                # anyway (SO_RXQ_OVFL), which reached this socket as much as the rest.
                u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                u.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
                i = 0
                while not stop.is_set():
                    for _ in range(20):  # about 2000 Initials a second
                        u.sendto(flood[i % len(flood)], ("127.0.0.1", s.port))
                        i += 1
                    seen["sent"] = i
                    try:
                        while True:
                            reply, ancillary, _, _ = u.recvmsg(2048, socket.CMSG_SPACE(4))
                            if reply[0] & 0xF0 == 0xF0:  # a long header of type Retry (QUIC v1)
                                seen["retries"] += 1
                            for level, kind, data in ancillary:
                                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(data) >= 4:
                                    seen["dropped"] = int.from_bytes(data[:4], "little")
                    except BlockingIOError:
                        pass
                    time.sleep(0.01)

        t = threading.Thread(target=flooder, daemon=True)
        t.start()
        try:
            time.sleep(0.5)
            clients = []

            async def session(c: h3_client.H3Client) -> tuple[h3_client.H3Response, bool]:
                return await c.request("GET", "/big/100000"), c.retried

            for _ in range(3):
                r, retried = h3_client.run(s.port, session, timeout=30)
                assert r.status == 200
                assert bytes(r.body) == big(100000)
                clients.append(retried)
            deadline = time.monotonic() + 10  # a flood of at least 1500, however slow the machine
            while seen["sent"] < 1500 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            t.join(10)
        after = tls_counters(s)
        assert s.proc.poll() is None
        retries = after["quic_retries"] - before["quic_retries"]
        accepted = after["quic_connections_accepted"] - before["quic_connections_accepted"]
        # Far more Initials than were let through; the Retries the server counts reached the flooder.
        assert seen["sent"] >= 1500, seen
        assert retries > seen["sent"] // 2, (seen, retries)
        assert seen["retries"] + seen["dropped"] > seen["sent"] // 2, (seen, retries)
        assert accepted <= seen["sent"] // 4, (seen, accepted)
        assert any(clients), clients  # at least one client came through a Retry (the flood never pauses long)
        # After the flood, a client is served at once (no Retry needed below the rate).
        time.sleep(1.1)
        r, retried = h3_client.run(s.port, session)
        assert r.status == 200 and not retried


@pytest.mark.parametrize("flag, half_open_retries", [("--http3-retry-above", 0), ("--http3-max-half-open", 2)])
@pytest.mark.parametrize("io", BACKENDS)
def test_retry_always_with_zero(certs: Path, io: str, flag: str, half_open_retries: int) -> None:  # noqa: F811
    """--http3-retry-above 0 (no Initial a second without a Retry) or --http3-max-half-open 0
    (no connection in its handshake without one): every client first proves its address;
    one Retry per client, counted by its cause."""
    with running("h2_app:app", *h3_args(certs, "--metrics", flag, "0"), io=io) as s:
        async def session(c: h3_client.H3Client) -> tuple[h3_client.H3Response, bool]:
            return await c.request("GET", "/"), c.retried

        for _ in range(2):
            r, retried = h3_client.run(s.port, session)
            assert r.status == 200 and retried
        counters = tls_counters(s)
        assert counters["quic_retries"] == 2 and counters["quic_connections_accepted"] == 2, counters
        assert counters["quic_half_open_retries"] == half_open_retries, counters
        assert counters["quic_half_open"] == 0 and counters["quic_bad_tokens"] == 0, counters


@pytest.mark.parametrize("io", BACKENDS)
def test_peer_that_stops_acknowledging_is_freed_at_the_idle_timeout(certs: Path, io: str) -> None:  # noqa: F811
    """A client asks for a streamed 20 MB, takes 1 MiB of it, and goes silent: its socket closes with no
    CONNECTION_CLOSE, so nothing is acknowledged again. It gave 64 MiB of flow-control
    credit, so only the server's own caps (congestion window, max_unacked_bytes 4 MiB) hold
    its sending back: it sends a bounded amount more, frees the connection once
    --http3-idle-timeout (2 s) passed, and serves another client meanwhile."""
    with running("h2_app:app", *h3_args(certs, "--metrics", "--http3-idle-timeout", "2"), io=io) as s:
        before = tls_counters(s)
        pieces = 3400  # a streamed 20.4 MB answer (made as it is sent: no second of making it first)
        size = pieces * 6000
        got = asyncio.run(asyncio.wait_for(h3_client.vanish_during(s.port, f"/stream/{pieces}", 1 << 20), 30))
        gone = time.monotonic()
        assert got.status == 200 and (1 << 20) <= len(got.body) < size
        whole = len(got.body) // 6000
        assert bytes(got.body[:whole * 6000]) == b"".join(stream_piece(i) for i in range(whole))
        # Another client is served while the silent connection is still held.
        r = h3_client.get(s.port, "/big/100000")
        assert r.status == 200 and bytes(r.body) == big(100000)
        during = tls_counters(s)
        assert during["quic_idle_closed"] == before["quic_idle_closed"], during
        while True:
            now = tls_counters(s)
            if now["quic_idle_closed"] > before["quic_idle_closed"]:
                break
            assert time.monotonic() - gone < 8, now  # 2 s, and a margin for a loaded machine
            time.sleep(0.1)
        freed_after = time.monotonic() - gone
        assert freed_after > 1.0, freed_after  # not before the idle timeout could run out
        assert now["quic_idle_closed"] - before["quic_idle_closed"] == 1
        # Every connection of this test is closed: the silent one (idle) and the other client's.
        assert now["quic_connections_closed"] - before["quic_connections_closed"] == 2, (before, now)
        assert now["quic_connections_accepted"] - before["quic_connections_accepted"] == 2
        # Bounded: what the server sent in all (the 1 MiB taken, the other client's 100 kB,
        # handshakes) and at most about 4 MiB unacknowledged, in datagrams of 1200 bytes or
        # more; the 20.4 MB answer alone would take over 14,000 of 1452 bytes.
        sent = now["udp_sent"] - before["udp_sent"]
        assert sent < (int(1.2 * (1 << 20)) + (4 << 20) + (1 << 20)) // 1200, sent
        assert s.proc.poll() is None
        # And the server is still whole.
        assert h3_client.get(s.port, "/").status == 200


@pytest.mark.parametrize("io", BACKENDS)
def test_streams_beyond_the_limit_wait_for_max_streams(certs: Path, io: str) -> None:  # noqa: F811
    """--http3-max-streams 4 and 16 requests at once on one connection: QUIC lets the client
    open 4; each one that ends gives a stream back (MAX_STREAMS), so all 16 complete, never
    more than 4 in the app at once, in at least 4 rounds of the handler's sleep."""
    with running("h2_app:app", *h3_args(certs, "--http3-max-streams", "4"), io=io) as s:
        async def session(c: h3_client.H3Client) -> list[h3_client.H3Response]:
            return await asyncio.gather(*(c.request("GET", "/inflight?s=0.3") for _ in range(16)))

        t0 = time.monotonic()
        answers = h3_client.run(s.port, session, timeout=60)
        took = time.monotonic() - t0
        assert [r.status for r in answers] == [200] * 16
        assert [r.reset for r in answers] == [None] * 16
        peaks = [json.loads(r.body)["peak"] for r in answers]
        assert max(peaks) == 4, peaks  # the limit was reached, and never passed
        assert took >= 4 * 0.3 - 0.05, took


@pytest.mark.parametrize("io", BACKENDS)
def test_oversized_header_blocks_then_the_connection_keeps_serving(certs: Path, io: str) -> None:  # noqa: F811
    """A field section over the limit (16 KiB, SETTINGS_MAX_FIELD_SECTION_SIZE) gets a 431;
    one whose encoded block passes twice the limit is not decoded at all: its stream is reset
    with H3_EXCESSIVE_LOAD. The same connection serves the requests before and after."""
    with running("h2_app:app", *h3_args(certs, "--metrics"), io=io) as s:
        async def session(c: h3_client.H3Client) -> list[h3_client.H3Response]:
            out = [await c.request("GET", "/inspect?n=1")]
            out.append(await c.request("GET", "/inspect?n=2", headers=[("x-big", "a" * 20_000)]))
            out.append(await c.request("GET", "/inspect?n=3", headers=[(f"x-huge-{i}", "b" * 12_000) for i in range(6)]))
            out.append(await c.request("GET", "/inspect?n=4", headers=[("x-ok", "c" * 1000)]))
            out.append(await c.request("GET", "/big/200000"))
            return out

        first, big_431, huge, after, body = h3_client.run(s.port, session)
        assert first.status == 200 and json.loads(first.body)["query"] == {"n": "1"}
        assert big_431.status == 431 and big_431.reset is None
        assert huge.reset == 0x107, (huge.status, huge.reset)  # H3_EXCESSIVE_LOAD
        assert after.status == 200 and dict(json.loads(after.body)["headers"])["x-ok"] == "c" * 1000
        assert body.status == 200 and bytes(body.body) == big(200000)
        counters = tls_counters(s)
        assert counters["quic_connections_accepted"] == 1  # all on the one connection
        assert s.proc.poll() is None
