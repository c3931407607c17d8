"""A turn hands its requests to the application in slices, and each slice's answers are
sent before the next slice runs (docs/architecture.md, "The application's slices"): a
client whose request came in the same turn as a slow one gets its answer without waiting
for it. On both kernel backends, from a plain reactor turn and from a hosted one (the
event loop on the reactor's thread)."""

from __future__ import annotations

import socket

import pytest

from conftest import Reader, ServerProcess


@pytest.mark.parametrize("io", ["io_uring", "epoll"])
@pytest.mark.parametrize("hosted", [False, True], ids=["plain-turn", "hosted-turn"])
def test_8_pipelined_requests_answered_while_a_9th_is_held_in_the_application(tmp_path, io, hosted):
    release = tmp_path / "release"
    env = {"RINGBOLT_IO": io, "RINGBOLT_TEST_RELEASE": str(release),
           "RINGBOLT_TEST_ASYNC": "1" if hosted else "0"}
    srv = ServerProcess("slice_app:app", "--threads", "1", env=env)
    try:
        with srv.connect(timeout=5) as s:
            # One write: the nine requests arrive in one read and one turn's batch.
            s.sendall(b"".join(f"GET /fast/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(8))
                      + b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
            reader = Reader(s)
            s.settimeout(3)  # /hold keeps the reactor's thread for up to 10 s
            try:
                fast = [reader.read() for _ in range(8)]
            except socket.timeout:
                pytest.fail("the answers of the 8 requests before the held one did not leave while it was held")
            assert [(r.status, r.body) for r in fast] == [(200, f"fast {i}".encode()) for i in range(8)]
            assert reader.buf == b""  # nothing of the held answer yet
            release.touch()
            s.settimeout(5)
            held = reader.read()
            assert (held.status, held.body) == (200, b"released")
            # The connection serves on after it.
            s.sendall(b"GET /fast/9 HTTP/1.1\r\nHost: t\r\n\r\n")
            assert reader.read().body == b"fast 9"
    finally:
        release.touch()
        code = srv.stop()
    assert code == 0, srv.output()
    assert ("event loop on the reactor thread" in srv.output()) == hosted, srv.output()
