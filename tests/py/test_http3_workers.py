"""HTTP/3 with worker processes (--workers 2 --http3), over real UDP on 127.0.0.1 with
aioquic's client: the supervisor binds every worker's UDP socket and steers each datagram
to the socket its QUIC connection ID names (quic/steering.hpp), so a worker that starts,
dies or restarts never moves another worker's connections. Each test places its
connections on a chosen socket by the first byte of the client's Initial DCID
(h3_client.connect_at) and checks where they landed by the connection ID the server
issued (its first byte is the socket's position) and by the pid that answered."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import h3_client
from conftest import APPS, REPO, LoggedServer
from h2_tls_helpers import BACKENDS, certs, env_io, tls_args  # noqa: F401  (certs is a fixture)


async def pid_of(c: h3_client.H3Client, timeout: float = 10.0) -> int:
    """The pid of the worker that answers GET /pid on connection `c`."""
    r = await asyncio.wait_for(c.request("GET", "/pid"), timeout)
    assert r.status == 200, r
    return int(json.loads(r.body)["pid"])


async def wait_log(s: LoggedServer, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    """The first match of `pattern` in the server's output, waiting for it without holding
    up the connections' timers (they run on this loop)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        m = re.search(pattern, s.output())
        if m is not None:
            return m
        assert asyncio.get_running_loop().time() < deadline, f"{pattern!r} never logged:\n{s.output()}"
        await asyncio.sleep(0.05)


def run(coro: object, timeout: float = 120.0) -> object:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


@pytest.mark.parametrize("io", BACKENDS)
def test_a_killed_worker_leaves_the_other_workers_connections_alone(certs: Path, io: str,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    # Every start but the first waits 3 s: the killed worker's successor too, which leaves
    # a window with one worker serving.
    env = {**env_io(io), "RINGBOLT_TEST_SLOW_AFTER_FIRST": f"{tmp_path / 'first'}:3"}
    s = LoggedServer("workers_app:app", tmp_path / "server.log", *tls_args(certs), "--http3", "--workers", "2",
                     "--threads", "1", env=env)

    async def session() -> None:
        await wait_log(s, r"all 2 workers ready")
        # Two connections on each worker's socket (positions 0 and 1); the server's IDs
        # carry the position, and each position answers from one pid.
        conns = {pos: [await h3_client.connect_at(s.port, pos) for _ in range(2)] for pos in (0, 1)}
        pids = {}
        for pos, cs in conns.items():
            for c in cs:
                assert h3_client.server_cid(c)[0] == pos
            found = {await pid_of(c) for c in cs}
            assert len(found) == 1, found
            pids[pos] = found.pop()
        assert pids[0] != pids[1]
        m = re.search(r"worker (\d) \(pid %d\) ready" % pids[1], s.output())
        assert m is not None, s.output()
        received: list[bytes] = []  # what reaches worker 1's clients from now on
        for c in conns[1]:
            c.datagram_received = lambda data, addr, c=c: (received.append(bytes(data)),  # type: ignore
                                                           h3_client.H3Client.datagram_received(c, data, addr))
        os.kill(pids[1], signal.SIGKILL)
        await wait_log(s, r"worker %s \(pid %d\) died" % (m.group(1), pids[1]))
        # Worker 0's open connections keep answering, on the same QUIC connections, while
        # worker 1 is down and after its successor has joined.
        for c in conns[0]:
            assert await pid_of(c) == pids[0]
        # Meanwhile a new client whose Initial names the dead worker's socket is sent to the
        # live one (once the supervisor has noticed: it steers as it reaps).
        await asyncio.sleep(0.3)
        assert not re.search(r"worker %s \(pid (?!%d\))\d+\) ready" % (m.group(1), pids[1]), s.output())
        c = await asyncio.wait_for(h3_client.connect_at(s.port, 1), 5)
        assert h3_client.server_cid(c)[0] == 0
        assert await pid_of(c) == pids[0]
        await h3_client.close_client(c)
        new = await wait_log(s, r"worker %s \(pid (?!%d\))(\d+)\) ready" % (m.group(1), pids[1]))
        successor = int(new.group(1))
        for _ in range(3):
            for c in conns[0]:
                assert await pid_of(c) == pids[0]
                assert c.closed is None
        # The dead worker's connections are gone: its successor answers their packets with
        # stateless resets that end with the token the dead worker gave for the connection
        # ID (RFC 9000 §10.3: the secret every worker shares), so a client can recognise
        # them (aioquic does not, and waits for its idle timeout).
        for c in conns[1]:
            with pytest.raises((ConnectionError, asyncio.TimeoutError)):
                await pid_of(c, timeout=3.0)
        tokens = {bytes(c._quic._peer_cid.stateless_reset_token) for c in conns[1]}
        assert all(len(t) == 16 for t in tokens)
        assert {d[-16:] for d in received if len(d) >= 21} & tokens, "no stateless reset a client would accept"
        # New connections succeed on both sockets, each on its worker.
        for pos, pid in ((0, pids[0]), (1, successor)):
            c = await h3_client.connect_at(s.port, pos)
            assert h3_client.server_cid(c)[0] == pos
            assert await pid_of(c) == pid
            await h3_client.close_client(c)
        for c in conns[0]:
            await h3_client.close_client(c)

    try:
        run(session())
    finally:
        assert s.stop() == 0, s.output()


@pytest.mark.parametrize("io", BACKENDS)
def test_connections_made_before_a_worker_joins_keep_working(certs: Path, io: str,  # noqa: F811
                                                             tmp_path: Path) -> None:
    """The start-up order: while only the first worker serves, connections to it are made
    (also one whose Initial names the other worker's socket: new clients go to the ready
    worker); once the second worker has joined, every one of them is served on the
    connection it began with, and clients naming the second worker's socket reach it."""
    env = {**env_io(io), "RINGBOLT_TEST_SLOW_AFTER_FIRST": f"{tmp_path / 'first'}:4"}
    s = LoggedServer("workers_app:app", tmp_path / "server.log", *tls_args(certs), "--http3", "--workers", "2",
                     "--threads", "1", env=env)

    async def session() -> None:
        first = await wait_log(s, r"worker (\d) \(pid (\d+)\) ready")
        fast, fast_pid = int(first.group(1)), int(first.group(2))
        slow = 1 - fast
        assert "all 2 workers ready" not in s.output()
        early = [await h3_client.connect_at(s.port, fast) for _ in range(3)]
        for c in early:
            assert h3_client.server_cid(c)[0] == fast
            assert await pid_of(c) == fast_pid
        # A new client whose Initial names the slow worker's socket: the supervisor steers
        # new clients to the ready worker's sockets only, so the fast worker takes it.
        other = await asyncio.wait_for(h3_client.connect_at(s.port, slow), 5)
        assert h3_client.server_cid(other)[0] == fast
        assert await pid_of(other) == fast_pid
        early.append(other)
        assert "all 2 workers ready" not in s.output()
        joined = await wait_log(s, r"worker %d \(pid (\d+)\) ready" % slow)
        slow_pid = int(joined.group(1))
        await wait_log(s, r"all 2 workers ready")
        await asyncio.sleep(0.3)  # (the supervisor steers as it reads the report)
        # Now the second worker's socket takes the clients that name it.
        late = await asyncio.wait_for(h3_client.connect_at(s.port, slow), 10)
        assert h3_client.server_cid(late)[0] == slow
        assert await pid_of(late) == slow_pid
        for _ in range(3):
            for c in early:
                assert await pid_of(c) == fast_pid
                assert c.closed is None
        for c in [*early, late]:
            await h3_client.close_client(c)

    try:
        run(session())
    finally:
        assert s.stop() == 0, s.output()


def test_workers_on_a_handed_listener_get_steered_udp_sockets_on_its_port(certs: Path,  # noqa: F811
                                                                         tmp_path: Path) -> None:
    """--fd (a listener bound by whoever started the server) with --workers 2 --http3: the
    supervisor binds the workers' UDP sockets on that listener's port and steers them, so
    each worker's socket serves the clients whose Initial names it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ringbolt", "serve", "workers_app:app", "--app-dir", str(APPS),
                                 "--fd", str(listener.fileno()), "--workers", "2", "--threads", "1", "--http3",
                                 *tls_args(certs)], stdout=out, stderr=subprocess.STDOUT, cwd=str(REPO),
                                pass_fds=(listener.fileno(),))
    listener.close()

    async def session() -> None:
        deadline = asyncio.get_running_loop().time() + 30
        while "all 2 workers ready" not in log.read_text(errors="replace"):
            assert proc.poll() is None and asyncio.get_running_loop().time() < deadline, log.read_text()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # (the supervisor steers as it reads the reports)
        pids = []
        for pos in (0, 1):
            c = await asyncio.wait_for(h3_client.connect_at(port, pos), 10)
            assert h3_client.server_cid(c)[0] == pos
            pids.append(await pid_of(c))
            await h3_client.close_client(c)
        assert pids[0] != pids[1]

    try:
        run(session())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        assert code == 0, log.read_text()


@pytest.mark.parametrize("io", BACKENDS)
def test_a_reload_does_not_reset_the_old_workers_connections(certs: Path, io: str,  # noqa: F811
                                                            tmp_path: Path) -> None:
    """SIGHUP: each slot's new worker starts while the old one drains. The old worker's
    clients keep sending (requests, acknowledgements) through the drain; none of their
    packets may reach the new worker, which would answer with a stateless reset (the
    token the old worker gave: every worker shares the secret)."""
    s = LoggedServer("workers_app:app", tmp_path / "server.log", *tls_args(certs), "--http3", "--workers", "2",
                     "--threads", "1", env=env_io(io))

    async def session() -> None:
        await wait_log(s, r"all 2 workers ready")
        conns = [await h3_client.connect_at(s.port, pos) for pos in (0, 0, 1, 1)]
        received: list[bytes] = []
        for c in conns:
            c.datagram_received = lambda data, addr, c=c: (received.append(bytes(data)),  # type: ignore
                                                           h3_client.H3Client.datagram_received(c, data, addr))
        old = {await pid_of(c) for c in conns}
        assert len(old) == 2
        tokens = {bytes(c._quic._peer_cid.stateless_reset_token) for c in conns}
        os.kill(s.proc.pid, signal.SIGHUP)
        deadline = asyncio.get_running_loop().time() + 40
        answered = 0
        while "reload complete" not in s.output():
            assert asyncio.get_running_loop().time() < deadline, s.output()
            for c in conns:
                if c.closed is None:
                    try:
                        if await pid_of(c, timeout=2.0) in old:
                            answered += 1
                    except (AssertionError, ConnectionError, asyncio.TimeoutError):
                        pass  # refused after GOAWAY, or closed by the drain: both fine
            await asyncio.sleep(0.01)
        assert answered > 0
        resets = [d for d in received if len(d) >= 21 and d[-16:] in tokens]
        assert not resets, f"{len(resets)} stateless resets reached the old worker's clients"
        # New clients are served by the new workers on every socket they name.
        new = set()
        for pos in (0, 1, 2, 3):
            c = await asyncio.wait_for(h3_client.connect_at(s.port, pos), 10)
            new.add(await pid_of(c))
            await h3_client.close_client(c)
        assert len(new) == 2 and not new & old

    try:
        run(session())
    finally:
        assert s.stop() == 0, s.output()
