"""The QUIC interop matrix (cases.py) as tests: every case against ringbolt on io_uring and on
epoll, through the shaping relay, must pass. Cases whose server side does not exist yet
are expected to fail, strictly: the day they pass, the mark must go. A case whose plan
draws at random (loss, corruption, jitter) runs under three seeds, three different paths
in a row; the others' paths do not depend on the seed and run once.

    python -m pytest -q tests/interop     (make interop-test, part of make test and CI's
                                           e2e-b lane; about 3 minutes in all)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import Case, Result, cases, run_case  # noqa: E402
from servers import Certs, make_certs  # noqa: E402

SEEDS = (1, 2, 3)
BACKENDS = ["io_uring", "epoll"]

# Expected failures, each with what is missing on the server's side.
EXPECTED_FAILURES = {
    # ngtcp2 0.12 knows QUIC v2's draft (0x709a50c4), not RFC 9369's version (0x6b3343cf):
    # the server answers a v2 Initial with Version Negotiation offering v1 only, and
    # ignores v2 in a v1 client's version_information. Upstream's change: ngtcp2/ngtcp2#652
    # ("Add final QUIC version 2 support"), in later releases.
    "v2": "no QUIC v2 (RFC 9369) in ngtcp2 0.12: Version Negotiation offers v1 only",
}

CASES = {c.name: c for c in cases()}


def drawn_at_random(case: Case) -> bool:
    """The relay's plan for the case makes random draws (which datagrams are lost, corrupted,
    delayed by how much): each seed is another path."""
    p = case.plan
    return p.drop > 0 and p.drop_scope != "first" or p.corrupt > 0 and p.corrupt_scope != "first" or p.jitter_ms > 0


def _params() -> list[object]:
    out: list[object] = []
    for io in BACKENDS:
        for name, case in CASES.items():
            marks = []
            if name in EXPECTED_FAILURES:
                marks.append(pytest.mark.xfail(reason=EXPECTED_FAILURES[name], strict=True))
            for seed in SEEDS if drawn_at_random(case) else SEEDS[:1]:
                suffix = f"-seed{seed}" if drawn_at_random(case) else ""
                out.append(pytest.param(io, name, seed, id=f"{io}-{name}{suffix}", marks=marks))
    return out


@pytest.fixture(scope="session")
def interop_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("interop-certs"))


def report(r: Result) -> str:
    lines = [f"{r.case} ({r.client}): {r.reason}", f"relay: {r.relay_summary()}", f"facts: {r.facts}",
             f"server counters: {r.server_counters}"]
    if r.server_log:
        lines.append("server log:\n" + r.server_log)
    return "\n".join(lines)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("io, name, seed", _params())
def test_interop_case(io: str, name: str, seed: int, interop_certs: Certs, tmp_path: Path) -> None:
    case: Case = CASES[name]
    r = run_case(case, "ringbolt", interop_certs, tmp_path, io=io, seed=seed)
    assert r.ok, report(r)
