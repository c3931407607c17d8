"""HTTP/2 transfers that are slow but moving are never cut; one the client stops taking is
(issue 40, finding 7). The client is python-h2 with its default 65,535-byte windows,
acknowledging every DATA frame as it reads it, the way a slow network or a slow reader
makes a real client behave: with many streams on one connection one of them always waits
for window, and the server once counted that as a stall from the first wait and ended
the connection with GOAWAY ENHANCE_YOUR_CALM after --body-timeout, mid-transfer."""

from __future__ import annotations

import socket
import sys
import time

import h2.events
import pytest

from conftest import APPS
from h2_tls_helpers import Client, h2_counters, running, status

sys.path.insert(0, str(APPS))  # the bodies the app's routes make (apps/transfer_routes.py)
from transfer_routes import big  # noqa: E402

MiB = 1 << 20
STREAMS = 24
BODY = 3 * MiB


def body_of(i: int) -> bytes:
    """Upload i: 3 MiB that differ per stream (a crossed answer shows)."""
    block = bytes((j * 7 + i * 13) % 256 for j in range(4096))
    return block * (BODY // len(block))


def upload_all(c: Client, sids: dict[int, int]) -> None:
    """Send every upload's body, frame by frame as the server's windows allow, round robin."""
    left = {sid: memoryview(body_of(i)) for sid, i in sids.items()}
    while left:
        sent = False
        for sid in list(left):
            window = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size)
            if window <= 0:
                continue
            piece, left[sid] = left[sid][:window], left[sid][window:]
            c.conn.send_data(sid, bytes(piece), end_stream=len(left[sid]) == 0)
            if len(left[sid]) == 0:
                del left[sid]
            sent = True
        c.flush()
        if not sent:
            assert c.pump(timeout=10), "the server closed the connection during the uploads"


def read_slowly(c: Client, pace: float,
                stop_granting_after: int | None = None) -> tuple[float, int | None, float | None]:
    """Read the answers 64 KiB at a time with `pace` seconds between reads, acknowledging
    each DATA frame (python-h2 grants the window back as it is acknowledged). With
    `stop_granting_after`: once that many bytes came, acknowledge nothing more (the windows
    stay shut) and keep reading until the server ends the connection. Returns when the
    connection ended (or every answer did), the GOAWAY code seen, if any, and when the
    client sent its last grant (the server's last progress comes after that grant reaches
    it; the moment the client decides to stop can be tens of milliseconds later than the
    server's last progress, by the bytes then in flight)."""
    got = 0
    granting = True
    stopped_at = None
    last_grant = None
    goaway = None
    c.sock.settimeout(30)
    while not all(r["ended"] for r in c.responses.values()):
        time.sleep(pace)
        try:
            data = c.sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            data = b""
        if not data:
            break
        for ev in c.take(data, grant=granting):
            if isinstance(ev, h2.events.DataReceived):
                got += len(ev.data)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                goaway = ev.error_code
        stopping = stop_granting_after is not None and got >= stop_granting_after and granting
        out = c.conn.data_to_send()
        if out:
            c.sock.sendall(out)
            if granting:
                last_grant = time.monotonic()
        if stopping:
            granting = False
            stopped_at = last_grant
    return time.monotonic(), goaway, stopped_at


def open_echoes(c: Client) -> dict[int, int]:
    sids = {}
    for i in range(STREAMS):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/echo"), (":scheme", "http"),
                                  (":authority", "localhost"), ("content-length", str(BODY))])
        c.responses[sid] = {"headers": None, "body": b"", "ended": False, "reset": None}
        sids[sid] = i
    c.flush()
    return sids


# The transfer takes over a minute by design (the reader's pace); the suite's 120 s per
# test left too little on top under ASan on a loaded machine (CI saw 120 s pass mid-read).
@pytest.mark.timeout(300)
def test_a_slow_transfer_that_moves_is_never_cut() -> None:
    """24 uploads of 3 MiB on one connection, each echoed back and read slowly enough that
    the transfer takes over a minute, with --body-timeout 5 and --write-timeout 5: every
    answer arrives whole, no GOAWAY, no stall counted."""
    with running("h2_app:app", "--metrics", "--body-timeout", "5", "--write-timeout", "5") as s:
        c = Client(s)
        start = time.monotonic()
        sids = open_echoes(c)
        upload_all(c, sids)
        end, goaway, _ = read_slowly(c, pace=0.055)
        took = end - start
        assert goaway is None, f"GOAWAY {goaway} after {took:.0f} s"
        for sid, i in sids.items():
            r = c.responses[sid]
            assert r["reset"] is None and r["ended"], (sid, r["reset"], len(r["body"]))
            assert status(r) == 200 and r["body"] == body_of(i), (sid, len(r["body"]))
        assert took > 60, took
        c.close()
        counters = h2_counters(s)
        assert counters["h2_window_stalls"] == 0 and counters["timeouts"] == 0, counters


def test_a_client_that_stops_granting_window_is_cut_after_the_write_timeout() -> None:
    """The same transfer, but the client stops granting window after 4 MiB: nothing of the
    answers moves any more, and --write-timeout (3 s) later the server ends the connection
    with GOAWAY ENHANCE_YOUR_CALM, counted as a window stall."""
    with running("h2_app:app", "--metrics", "--body-timeout", "30", "--write-timeout", "3") as s:
        c = Client(s)
        upload_all(c, open_echoes(c))
        end, goaway, stopped_at = read_slowly(c, pace=0.01, stop_granting_after=4 * MiB)
        assert goaway == 0xB, goaway  # ENHANCE_YOUR_CALM
        assert stopped_at is not None and 3 <= end - stopped_at < 7, end - (stopped_at or 0)
        assert not all(r["ended"] for r in c.responses.values())
        c.close()
        counters = h2_counters(s)
        assert counters["h2_window_stalls"] == 1, counters


def test_a_stream_queued_behind_a_moving_one_is_not_cut() -> None:
    """Chromium makes each new stream depend exclusively on the one before (RFC 7540
    priorities), so a low-priority answer waits, with its own window open, while the
    connection's window goes to the stream ahead of it. When the client reads that stream
    slowly for longer than --write-timeout, the connection moves all along: the stream
    behind waits for the connection, not for the client, and is not cut (it was: the
    connection ended with ENHANCE_YOUR_CALM --write-timeout after the second stream began
    to wait, mid-transfer)."""
    with running("h2_app:app", "--metrics", "--write-timeout", "2") as s:
        c = Client(s)
        ahead = c.request("/big/6000000")
        behind = c.conn.get_next_available_stream_id()
        c.conn.send_headers(behind, [(":method", "GET"), (":path", "/big/300000"), (":scheme", "http"),
                                     (":authority", "localhost")], end_stream=True,
                            priority_depends_on=ahead, priority_exclusive=True, priority_weight=16)
        c.responses[behind] = {"headers": None, "body": b"", "ended": False, "reset": None}
        c.flush()
        start = time.monotonic()
        end, goaway, _ = read_slowly(c, pace=0.03)
        took = end - start
        assert goaway is None, f"GOAWAY {goaway} after {took:.1f} s"
        assert status(c.responses[ahead]) == 200 and c.responses[ahead]["body"] == big(6000000)
        assert status(c.responses[behind]) == 200 and c.responses[behind]["body"] == big(300000)
        assert took > 4, took  # twice --write-timeout: the stream behind waited that long
        c.close()
        counters = h2_counters(s)
        assert counters["h2_window_stalls"] == 0 and counters["timeouts"] == 0, counters
