"""One stream policy, one matrix (issue 40): every abuse or fault against every protocol,
over TLS where it applies, expecting the same class of outcome. The rules are written once
(http/stream_policy.hpp) and HTTP/1.1, HTTP/2 and HTTP/3 apply them; this table is how a
protocol added later joins them: a column of its own (a driver in
stream_policy_drivers.py), never a copy of the rules.

Rows: a head that stops, a body that stops, a body that trickles (200 bytes/s under the
1024 floor), a slow reader that keeps reading (past the write timeout), a reader that
stops, a window never granted, rapid reset, more streams than the cap at once, the same two
with WebSockets (extended CONNECT, RFC 8441 and RFC 9220: reset at once, or held open past
the cap), a protocol error, and a request sent while a sync handler holds the reactor
(longer than the keep-alive timeout). Columns: HTTP/1.1 plain and TLS, HTTP/2 h2c and TLS, HTTP/3.

The servers run with 2 s clocks (--header-timeout, --body-timeout, --write-timeout) so a
row takes seconds; each cell opens its own connections, and after each the server must
still answer another client."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Reader, ServerProcess
from h2_tls_helpers import certs, tls_args  # noqa: F401  (certs is a fixture)
from stream_policy_drivers import BODY_TIMEOUT, CAP, HEADER_TIMEOUT, WRITE_TIMEOUT, drivers

PROTOCOLS = ["h1", "h1-tls", "h2c", "h2-tls", "h3"]

# The class of outcome each row expects, the same on every protocol it applies to.
EXPECTED = {
    "slow head": "timeout",
    "stalled body": "timeout",
    "trickled body": "timeout",
    "slow reader that reads": "answered",
    "reader that stops": "cut",
    "window never granted": "cut",
    "rapid reset": "abuse",
    "too many streams": "bounded",
    "WebSocket rapid reset": "abuse",
    "WebSockets past the cap": "bounded",
    "protocol error": "error",
    "request during a blocked reactor": "answered",
}

# Cells that do not exist, and why.
NOT_APPLICABLE = {
    ("rapid reset", "h1"): "one request at a time: a reset ends the connection, nothing else runs on it",
    ("rapid reset", "h1-tls"): "one request at a time: a reset ends the connection, nothing else runs on it",
    **{(row, p): "one WebSocket per connection: its end is the connection's, and the cap is per connection"
       for row in ("WebSocket rapid reset", "WebSockets past the cap") for p in ("h1", "h1-tls")},
}

# Each row's method on every driver.
METHOD = {
    "slow head": "slow_head",
    "stalled body": "stalled_body",
    "trickled body": "trickled_body",
    "slow reader that reads": "slow_reader",
    "reader that stops": "reader_stops",
    "window never granted": "window_never_granted",
    "rapid reset": "rapid_reset",
    "too many streams": "too_many_streams",
    "WebSocket rapid reset": "ws_rapid_reset",
    "WebSockets past the cap": "ws_past_the_cap",
    "protocol error": "protocol_error",
    "request during a blocked reactor": "request_during_block",
}

CLOCKS = ["--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT), "--write-timeout",
          str(WRITE_TIMEOUT), "--min-body-rate", "1024", "--http3-max-streams", str(CAP)]


def serve(certs: Path | None, *extra: str) -> ServerProcess:  # noqa: F811
    tls = [*tls_args(certs), "--http3"] if certs is not None else []
    s = ServerProcess("trust_apps:native", "--threads", "1", "--metrics", *CLOCKS, *tls, *extra)
    s.tls = certs is not None  # type: ignore[attr-defined]
    return s


@pytest.fixture(scope="module")
def servers(certs: Path) -> Iterator[dict[str, Any]]:  # noqa: F811
    """Two servers for the rows, two for the blocked-reactor row (its handler holds the one
    reactor, longer than their 2 s keep-alive timeout)."""
    started = [serve(None, "--timeout-keep-alive", "30"), serve(certs, "--timeout-keep-alive", "30"),
               serve(None, "--timeout-keep-alive", "2"), serve(certs, "--timeout-keep-alive", "2")]
    try:
        yield {"rows": drivers(started[0], started[1]), "blocked": drivers(started[2], started[3]),
               "plain": started[0]}
    finally:
        codes = [s.stop() for s in started]
        assert codes == [0, 0, 0, 0], [s.output()[-3000:] for s in started]


def serves(srv: ServerProcess) -> bool:
    with srv.connect(timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        return Reader(s).read().status == 200


CELLS = [(case, proto) for case in EXPECTED for proto in PROTOCOLS if (case, proto) not in NOT_APPLICABLE]


@pytest.mark.parametrize("case, proto", CELLS, ids=[f"{c.replace(' ', '-')}-{p}" for c, p in CELLS])
def test_the_same_class_of_outcome_on_every_protocol(servers: dict[str, Any], case: str, proto: str) -> None:
    group = "blocked" if case == "request during a blocked reactor" else "rows"
    driver = servers[group][proto]
    got = getattr(driver, METHOD[case])()
    assert got == EXPECTED[case], f"{case} on {proto}: {got}, expected {EXPECTED[case]}"
    assert serves(servers["plain"]), "the server stopped serving others"


def test_every_row_has_a_column_for_every_protocol_or_says_why_not() -> None:
    for case in EXPECTED:
        for proto in PROTOCOLS:
            assert (case, proto) in CELLS or NOT_APPLICABLE.get((case, proto)), (case, proto)
    for driver_kind in ("H1", "H2", "H3"):
        import stream_policy_drivers
        cls = getattr(stream_policy_drivers, driver_kind)
        for case, method in METHOD.items():
            assert hasattr(cls, method) or any((case, p) in NOT_APPLICABLE for p in PROTOCOLS), (driver_kind, method)
