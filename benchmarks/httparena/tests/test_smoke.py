"""The wiring, end to end (not the speed): `run bench` runs the baseline and async-db
profiles for 2 s against ringbolt's entry, with a real PostgreSQL loaded with HttpArena's
seed; HttpArena's validate.sh passes for both, the JSON has the figures, and everything
the runner started (servers, PostgreSQL) is gone when it returns. And baseline-h3 for
2 s: validated over h2 and HTTP/3, loaded over QUIC by ringbolt-h3-load (standing for
h2load-h3), its figures parsed.

Needs the HttpArena checkout (ARENA_DIR; `make arena-smoke` makes one), gcannon and
ringbolt-h3-load (`run deps` builds them), aioquic and PostgreSQL: when one is missing the test fails naming it,
it never skips.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(600)  # PostgreSQL, validation and two loads: ~30 s, more on a busy CI

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpus() -> tuple[str, str]:
    cpus = sorted(os.sched_getaffinity(0))
    return (str(cpus[0]), str(cpus[1])) if len(cpus) > 1 else (str(cpus[0]), str(cpus[0]))


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_baseline_and_async_db_wiring(tmp_path) -> None:  # type: ignore[no-untyped-def]
    arena = os.environ.get("ARENA_DIR")
    if not arena or not os.path.isfile(os.path.join(arena, "scripts", "validate.sh")):
        pytest.fail("ARENA_DIR must name an HttpArena checkout (`make arena-smoke` clones one, or "
                    "`benchmarks/httparena/run deps --arena-dir DIR`)")
    if not (shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb")):
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql")
    server_cpu, load_cpu = _cpus()
    out = tmp_path / "smoke.json"
    cmd = [sys.executable, os.path.join(HERE, "run"), "bench", "--arena-dir", arena,
           "--ringbolt-python", os.environ.get("RINGBOLT_PYTHON", sys.executable), "--systems", "ringbolt",
           "--profiles", "baseline,async-db", "--rounds", "1", "--duration", "2", "--warmup", "1",
           "--db-warmup", "2", "--connections", "16", "--server-cpus", server_cpu, "--load-cpus", load_cpu,
           "--out", str(out)]
    if os.environ.get("ARENA_CACHE"):
        cmd += ["--cache", os.environ["ARENA_CACHE"]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"the runner failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    data = json.loads(out.read_text())
    for key in ("date", "command", "machine", "load_average", "arena", "settings", "versions", "validation",
                "runs", "summary", "notes"):
        assert key in data, key
    assert len(data["arena"]["commit"]) == 40
    for profile, checks in (("baseline", 10), ("async-db", 3)):  # validate.sh's own checks ran and passed
        v = data["validation"]["ringbolt"][profile]
        assert v["ok"] and v["failed"] == 0 and v["passed"] >= checks, v
    rows = {r["profile"]: r for r in data["runs"]}
    assert set(rows) == {"baseline", "async-db"}
    for profile, row in rows.items():
        assert row["error"] is None, row
        assert row["ok"] > 0 and row["rps"] > 0 and row["non_2xx"] == 0, row
        assert row["p99_ms"] is not None and row["p99_ms"] > 0, row
        assert row["cpu_us_per_req"] > 0 and 0 < row["cpu_busy"] <= 1.5, row
        assert row["cpu_user_us_per_req"] + row["cpu_sys_us_per_req"] == pytest.approx(row["cpu_us_per_req"]), row
        assert 0 < row["load_busy"] <= 1.5 and row["load_sleeps_per_1k"] >= 0, row  # gcannon's own use
        assert row["tool"] == "gcannon" and "--raw" in row["command"], row
        assert all(_refused(p) for p in row["ports"].values()), f"{profile}: a server port still answers"
    # the database warm-up ran until a warm-up during which PostgreSQL received no connection
    warm = rows["async-db"]["warmup"]
    assert warm and warm[-1]["connects"] == 0 and warm[-1]["rps"] > 0, warm
    assert "/async-db?" in open(os.path.join(arena, "requests", "async-db-5.raw")).read()
    assert any("PostgreSQL" in n and "100000 rows" in n for n in data["notes"]), data["notes"]
    pg = data["services"]["postgres"]
    assert not os.path.exists(pg["dir"]) and _refused(pg["port"]), "PostgreSQL was left behind"
    assert [r["system"] for r in data["summary"]] == ["ringbolt", "ringbolt"]


def test_baseline_h3_wiring(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """baseline-h3 for 2 s: validated by validate.sh's baseline-h2 checks and the same
    checks over HTTP/3, loaded by ringbolt-h3-load (standing for h2load-h3) over QUIC,
    its JSON parsed into the figures."""
    arena = os.environ.get("ARENA_DIR")
    if not arena or not os.path.isfile(os.path.join(arena, "scripts", "validate.sh")):
        pytest.fail("ARENA_DIR must name an HttpArena checkout (`make arena-smoke` clones one)")
    server_cpu, load_cpu = _cpus()
    out = tmp_path / "h3.json"
    cmd = [sys.executable, os.path.join(HERE, "run"), "bench", "--arena-dir", arena,
           "--ringbolt-python", os.environ.get("RINGBOLT_PYTHON", sys.executable), "--systems", "ringbolt",
           "--profiles", "baseline-h3", "--rounds", "1", "--duration", "2", "--warmup", "1", "--connections", "8",
           "--server-cpus", server_cpu, "--load-cpus", load_cpu, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"the runner failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    data = json.loads(out.read_text())
    v = data["validation"]["ringbolt"]["baseline-h3"]
    # validate.sh's baseline-h2 block (4 checks) and h3check.py's 4 over HTTP/3
    assert v["ok"] and v["failed"] == 0 and v["passed"] >= 8, v
    (row,) = data["runs"]
    assert row["error"] is None, row
    assert row["tool"] == "ringbolt-h3-load" and "ringbolt-h3-load --json" in row["command"], row
    assert " -p 64 " in row["command"] and " -c 8 " in row["command"], row["command"]
    assert row["ok"] > 0 and row["rps"] > 0 and row["non_2xx"] == 0 and row["errors"] == 0, row
    assert row["p99_ms"] is not None and row["p99_ms"] > 0, row
    assert row["cpu_us_per_req"] > 0 and 0 < row["cpu_busy"] <= 1.5, row
    assert "ringbolt-h3-load" in data["versions"]["h2load-h3"]
    assert all(_refused(p) for p in row["ports"].values()), "a server port still answers"
    log = open(glob.glob(os.path.join(str(out)[:-5] + "-run", "logs", "baseline-h3-*.h2load-h3.txt"))[0]).read()
    assert '"status":{"200":' in log  # the responses came over HTTP/3, counted by the tool itself
