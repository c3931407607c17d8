"""gcannon as `run deps` builds it (deps.GCANNON_FIXES applied to the pinned source) keeps
every connection of HttpArena's json mix busy: 64 connections, `-r 25`, against ringbolt's
entry, for 3 s. By Little's law the connections with a request outstanding are req/s x
mean latency; the pinned commit without the fixes gives buffers still being parsed back to
the kernel, a connection's parser then reads another connection's bytes and waits for
ever, and that count fell to 7-55 of 64 over 5 s (benchmarks/journal/2026-11-26.md,
"The json profile: the load generator's stalls").

Needs the HttpArena checkout (ARENA_DIR) and the runner's cache (ARENA_CACHE, default
~/.cache/ringbolt-arena) with liburing and gcannon's git checkout (`run deps` makes both);
when one is missing the test fails naming it, it never skips. RINGBOLT_PYTHON serves the
entry (default: this Python).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from arena import deps

pytestmark = pytest.mark.timeout(300)

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRY = os.path.join(HERE, "ringbolt")
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "load"))
from proc_util import free_port, wait_listening  # noqa: E402
COUNTS = (1, 5, 10, 15, 25, 40, 50)  # HttpArena's json-<n>.raw requests


def _cache() -> str:
    return os.environ.get("ARENA_CACHE", os.path.expanduser("~/.cache/ringbolt-arena"))


def _pinned_source(dest: str) -> str:
    """gcannon's tree at the pinned commit, exported from the cache's checkout (whatever
    was done to that checkout's files since)."""
    repo = os.path.join(_cache(), "src", "gcannon")
    if not os.path.isdir(os.path.join(repo, ".git")):
        pytest.fail(f"no gcannon checkout at {repo}: `benchmarks/httparena/run deps` clones it (or set ARENA_CACHE)")
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", repo, "archive", deps.GCANNON_COMMIT], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)
    return dest


def test_fixes_apply_to_the_pinned_source_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = _pinned_source(str(tmp_path / "gcannon"))
    worker = os.path.join(src, "src", "worker.c")
    before = open(worker).read()
    deps.patch_gcannon(src)
    after = open(worker).read()
    for name, rel, old, new in deps.GCANNON_FIXES:
        text = open(os.path.join(src, rel)).read()
        assert old not in text and text.count(new) == 1, name
    assert "w->buf_index++);" not in after.split("static inline void return_buffer", 1)[1].split("}", 1)[0]
    assert after != before
    deps.patch_gcannon(src)  # again: nothing changes
    assert open(worker).read() == after
    with open(worker, "w") as f:
        f.write(before.replace("io_uring_buf_ring_advance(w->buf_ring, 1);", "/* moved */"))
    with pytest.raises(SystemExit, match="buffer-ring-offset"):
        deps.patch_gcannon(src)  # another commit's text: refused, not built half-fixed


def _serve(arena: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATASET_PATH": os.path.join(arena, "data", "dataset.json"),
           "STATIC_DIR": os.path.join(arena, "data", "static")}
    python = os.environ.get("RINGBOLT_PYTHON", sys.executable)
    return subprocess.Popen([python, "-m", "ringbolt", "serve", "app:app", "--port", str(port), "--threads", "1",
                             "--workers", "1", "--log-level", "warning"], cwd=ENTRY, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_every_connection_of_the_json_mix_stays_busy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    arena = os.environ.get("ARENA_DIR")
    if not arena or not os.path.isdir(os.path.join(arena, "requests")):
        pytest.fail("ARENA_DIR must name an HttpArena checkout (`make arena-smoke` clones one)")
    prefix = os.path.join(_cache(), "liburing")
    if not os.path.isdir(os.path.join(prefix, "include")):
        pytest.fail(f"no liburing at {prefix}: `benchmarks/httparena/run deps` builds it (or set ARENA_CACHE)")
    src = _pinned_source(str(tmp_path / "gcannon"))
    deps.patch_gcannon(src)
    gcannon = deps.make_gcannon(src, prefix)

    port = free_port()
    srv = _serve(arena, port)
    try:
        try:
            wait_listening("127.0.0.1", port, 30, srv)
        except RuntimeError as e:
            pytest.fail(f"the entry did not start: {e}")
        raws = ",".join(os.path.join(arena, "requests", f"json-{n}.raw") for n in COUNTS)
        cpus = sorted(os.sched_getaffinity(0))
        pin = ["taskset", "-c", str(cpus[-1])] if len(cpus) > 1 and shutil.which("taskset") else []
        run = subprocess.run([*pin, gcannon, f"http://127.0.0.1:{port}", "--raw", raws, "-c", "64", "-t", "1",
                              "-p", "1", "-r", "25", "-d", "3s", "--json"], capture_output=True, text=True, timeout=60)
    finally:
        srv.terminate()
        srv.wait(10)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout[run.stdout.index("{"):])
    assert res["status"]["2xx"] == res["responses"] > 1000, res
    busy = res["responses"] / res["elapsed_sec"] * res["latency_us"]["avg"] / 1e6
    # Connecting (every 25 requests) is the only time a connection has no request out.
    assert busy >= 0.9 * 64, (f"only {busy:.1f} of 64 connections had a request outstanding on average: "
                              f"{res['responses']} responses in {res['elapsed_sec']} s at {res['latency_us']['avg']} µs")
