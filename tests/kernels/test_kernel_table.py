"""What this kernel gets, against the table in docs/deployment.md ("The kernels it runs
on"): `ringbolt doctor`'s backend and kTLS lines, and a server's log saying its backend
(and, where io_uring falls short, why) once, then serving. `make kernels` runs this file
in a VM on each Debian kernel (tools/kernel-vm), with the end-to-end subset beside it; on
the development host it checks the host's row."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "py"))
from conftest import LoggedServer  # noqa: E402


def table() -> dict[str, dict[str, str]]:
    """The rows: kernel (major.minor) -> its `will use` and kTLS cells."""
    text = (REPO / "docs" / "deployment.md").read_text()
    section = text.split("## The kernels it runs on", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"\d+\.\d+", cells[0]):
            rows[cells[0]] = {"will_use": cells[2].strip("`"), "ktls": cells[3]}
    assert rows, "no kernel rows in docs/deployment.md"
    return rows


def this_kernel() -> str:
    return ".".join(os.uname().release.split(".")[:2])


def row() -> dict[str, str]:
    rows = table()
    if this_kernel() not in rows:
        pytest.fail(f"kernel {os.uname().release} has no row in docs/deployment.md's table ({sorted(rows)})")
    return rows[this_kernel()]


def doctor() -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "ringbolt", "doctor"], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "RINGBOLT_IO"})
    assert out.returncode == 0, out.stderr
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.stdout.splitlines()) if v}


def features(tier: str) -> set[str]:
    inside = tier.partition("(")[2].rstrip(")")
    return {f.strip() for f in inside.split(",")} - {"single-issuer", "defer-taskrun", "coop-taskrun"}


def test_doctor_says_what_the_table_says() -> None:
    want, got = row(), doctor()
    assert got["will use"] == want["will_use"], (got, want)
    assert got["kTLS"].split(" ")[0] == want["ktls"].split(" ")[0], (got, want)
    if want["ktls"].startswith("used"):  # the table's words for key updates and receiving, against the probe's
        assert ("key updates: yes" in got["kTLS"]) == ("with key updates" in want["ktls"]), (got, want)
        assert ("receiving: TLS 1.2 and 1.3" in got["kTLS"]) == ("sending and receiving" in want["ktls"]), (got, want)
        assert "receiving: TLS 1.2" in got["kTLS"] and "receiving" in want["ktls"], (got, want)


def test_the_server_says_its_backend_once_and_serves(tmp_path: Path) -> None:
    want = row()["will_use"]
    srv = LoggedServer("basic:app", tmp_path / "server.log", "--threads", "1",
                       env={"RINGBOLT_IO": ""})
    try:
        r = httpx.get(f"http://127.0.0.1:{srv.port}/", timeout=60)
        assert r.status_code == 200, r
        out = srv.output()
    finally:
        assert srv.stop() == 0, srv.output()
    io = re.search(r"\(io: (.*?), event loop|\(io: (.*?), threads", out)
    assert io, out
    said = io.group(1) or io.group(2)
    assert said.split(" ")[0] == want.split(" ")[0], (said, want)
    if want.startswith("io_uring"):
        # the ring's features; how its task work runs depends on the app (a hosted event
        # loop shares the ring between threads: no single issuer)
        assert features(said) == features(want), (said, want)
    if want.startswith("epoll (fallback: "):
        why = want[len("epoll (fallback: "):-1]
        assert out.count(f"{why}; falling back to epoll") == 1, out  # a warning, once; then it serves
        assert f"(io: epoll (fallback: {why})" in out, out
