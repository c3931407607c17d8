"""The database profiles' warm-up: it lasts until PostgreSQL receives no connection during
a warm-up (the pools have opened theirs), doubling each warm-up after one that opened
connections, within DB_WARMUP_MAX seconds; a steady req/s alone does not end it. The
load generator and PostgreSQL are stand-ins here (the smoke test runs the real ones)."""

from __future__ import annotations

from typing import Any

import pytest

from arena import bench, loadgen
from arena.checkout import Profile


class FakePostgres:
    """connects() as the log would count them: each warm-up adds the next number."""

    def __init__(self, per_warmup: list[int]) -> None:
        self.per_warmup = list(per_warmup)
        self.total = 0

    def connects(self) -> int:
        return self.total


def _run(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, rps: list[float], connects: list[int],
         db_warmup: int = 5) -> tuple[list[dict[str, float]], list[int]]:
    pg = FakePostgres(connects)
    durations: list[int] = []

    def fake_run(argv: list[str], tool: str, **kw: Any) -> loadgen.Result:
        durations.append(int(argv[argv.index("-d") + 1].rstrip("s")))
        i = len(durations) - 1
        pg.total += pg.per_warmup[i]
        return loadgen.Result("gcannon", int(rps[i] * durations[-1]), float(durations[-1]), 1.0)

    monkeypatch.setattr(loadgen, "run", fake_run)
    settings = bench.Settings(profiles=["async-db"], systems=["ringbolt"], connections=["64"], rounds=1, duration=5,
                              warmup=1, db_warmup=db_warmup, server_cpus="0", load_cpus="1", db_cpus="1",
                              pg_driver="asyncpg", measure_invalid=False, results=str(tmp_path / "r.json"),
                              plot=False, command="run bench")
    run = bench.Run(ctx=None, settings=settings, run_dir=str(tmp_path))  # type: ignore[arg-type]
    run.pg = pg  # type: ignore[assignment]
    profile = Profile("async-db", 1, 0, "0-31,64-95", (1024,), "async-db")
    seen = run.warm_pools(["gcannon", "http://127.0.0.1:1", "-c", "64", "-t", "1", "-d", "10s"], profile, "t", 60)
    return seen, durations


@pytest.mark.parametrize("rps, connects, durations", [
    # the pools open during the first warm-up, the second (twice as long) opens nothing
    ([900, 1000], [64, 0], [5, 10]),
    # a steady low rate while connects go on (every connection held at its first query):
    # the warm-ups double until one opens nothing
    ([300, 300, 310, 1300], [38, 41, 30, 0], [5, 10, 20, 25]),
    # nothing answered at all: the next warm-up is longer even without a connect counted
    ([0, 0, 800], [0, 0, 0], [5, 10, 20]),
    # never settles: stops at DB_WARMUP_MAX seconds in all
    ([100] * 5, [5] * 5, [5, 10, 20, 25]),
])
def test_warm_pools(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, rps: list[float], connects: list[int],
                    durations: list[int]) -> None:
    seen, ran = _run(monkeypatch, tmp_path, rps, connects)
    assert ran == durations
    assert sum(ran) <= bench.DB_WARMUP_MAX
    assert [s["connects"] for s in seen] == connects[:len(ran)]
    assert [s["seconds"] for s in seen] == durations
