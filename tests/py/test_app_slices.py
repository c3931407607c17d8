"""A turn can hand its requests to the application in slices (RINGBOLT_APP_SLICE), each
slice's answers sent before the next slice runs (docs/architecture.md, "The application's
slices"): a client whose request came in the same turn as a slow one then gets its answer
without waiting for it. On both kernel backends, from a plain reactor turn and from a
hosted one (the event loop on the reactor's thread); and the default, the whole batch in
one call, where the answers wait for the slow handler."""

from __future__ import annotations

import socket

import pytest

from conftest import Reader, ServerProcess

NINE = (b"".join(f"GET /fast/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(8))
        + b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")


def serve(tmp_path, io: str, hosted: bool, slice_env: dict[str, str]) -> tuple[ServerProcess, object]:
    release = tmp_path / "release"
    env = {"RINGBOLT_IO": io, "RINGBOLT_TEST_RELEASE": str(release),
           "RINGBOLT_TEST_ASYNC": "1" if hosted else "0", **slice_env}
    return ServerProcess("slice_app:app", "--threads", "1", env=env), release


@pytest.mark.parametrize("io", ["io_uring", "epoll"])
@pytest.mark.parametrize("hosted", [False, True], ids=["plain-turn", "hosted-turn"])
def test_8_pipelined_requests_answered_while_a_9th_is_held_in_the_application(tmp_path, io, hosted):
    srv, release = serve(tmp_path, io, hosted, {"RINGBOLT_APP_SLICE": "8"})
    try:
        with srv.connect(timeout=5) as s:
            s.sendall(NINE)  # one write: the nine requests arrive in one read and one turn's batch
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


@pytest.mark.parametrize("hosted", [False, True], ids=["plain-turn", "hosted-turn"])
def test_by_default_a_turns_answers_wait_for_its_last_handler(tmp_path, hosted):
    srv, release = serve(tmp_path, "io_uring", hosted, {})
    try:
        with srv.connect(timeout=5) as s:
            s.sendall(NINE)
            s.settimeout(1.5)
            with pytest.raises(socket.timeout):
                s.recv(65536)  # the whole batch is one call: nothing leaves while /hold runs
            release.touch()
            s.settimeout(5)
            reader = Reader(s)
            answers = [reader.read() for _ in range(9)]
            assert [r.body for r in answers] == [f"fast {i}".encode() for i in range(8)] + [b"released"]
    finally:
        release.touch()
        code = srv.stop()
    assert code == 0, srv.output()
