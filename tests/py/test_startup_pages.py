"""Once the app is loaded, a served process gives back the pages of the extension and of
the libraries it brings that start-up touched (``_native._release_startup_pages``,
core/code_pages.hpp): the dynamic linker read every symbol and relocation table, module
set-up ran code spread over the whole extension. Read from outside, in /proc/PID/smaps:
the first (header) segment of libstdc++ and of the extension, fully resident at start-up,
is mostly not resident while the process serves, and the process answers as before.
``RINGBOLT_RELEASE_STARTUP_PAGES=0`` leaves them, and each case is held against that;
``RINGBOLT_GC_FREEZE=0`` (the freeze the release runs beside) does not."""

from __future__ import annotations

import os
import re
import time

import httpx
import pytest

from conftest import ServerProcess

HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \S+\s*(.*)$")


def header_segments(pid: int) -> dict[str, tuple[int, int]]:
    """libstdc++'s and the extension's first mapping (offset 0): (size, resident) in kB."""
    out: dict[str, tuple[int, int]] = {}
    name, size = None, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                start, end, _perms, offset, path = m.groups()
                name = None
                if int(offset, 16) == 0:
                    base = os.path.basename(path)
                    key = "libstdc++" if base.startswith("libstdc++.so") else "_native" if base.startswith(
                        "_native.") else None
                    if key is not None and key not in out:
                        name, size = key, (int(end, 16) - int(start, 16)) // 1024
            elif name is not None and line.startswith("Rss:"):
                out[name] = (size, int(line.split()[1]))
                name = None
    return out


def worker_pid(srv: ServerProcess, workers: bool) -> int:
    if not workers:
        return srv.proc.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
        if kids:
            return kids[0]
        time.sleep(0.05)
    raise AssertionError("no worker")


def serve_and_read(app: str, workers: bool, release: str | None = None,
                   env: dict[str, str] | None = None) -> dict[str, tuple[int, int]]:
    env = {**(env or {}), **({} if release is None else {"RINGBOLT_RELEASE_STARTUP_PAGES": release})}
    args = ("--workers", "2") if workers else ("--threads", "1")
    srv = ServerProcess(app, *args, env=env)
    try:
        with httpx.Client(base_url=f"http://{srv.host}:{srv.port}", timeout=10) as c:
            for _ in range(200):  # many requests on one connection, after the release
                r = c.get("/")
                assert r.status_code == 200, (r.status_code, r.text, srv.output())
        return header_segments(worker_pid(srv, workers))
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.fixture(scope="module")
def kept() -> dict[str, tuple[int, int]]:
    """The same segments with the release turned off (RINGBOLT_RELEASE_STARTUP_PAGES=0)."""
    return serve_and_read("basic:app", False, release="0")


CASES = [("basic:app", False, {}), ("basic:app", True, {}), ("gc_freeze_apps:asgi", False, {}),
         ("basic:app", False, {"RINGBOLT_GC_FREEZE": "0"})]


@pytest.mark.parametrize("app,workers,env", CASES, ids=["app", "app-workers", "asgi", "gc-freeze-off"])
def test_the_header_segments_are_given_back_and_serving_goes_on(app: str, workers: bool, env: dict[str, str],
                                                                 kept: dict[str, tuple[int, int]]) -> None:
    got = serve_and_read(app, workers, env=env)
    assert set(got) == {"libstdc++", "_native"}, got
    for name, (size, resident) in got.items():
        assert size >= 64, got
        # What serving touched since is mapped again (the symbols a lazy binding looks up:
        # a few pages, more under ASan); at least a quarter of the segment stays out.
        assert resident <= kept[name][1] - size // 4, (name, got, kept)


def test_release_startup_pages_0_leaves_them(kept: dict[str, tuple[int, int]]) -> None:
    assert set(kept) == {"libstdc++", "_native"}, kept
    for name, (size, resident) in kept.items():
        assert resident >= size * 9 // 10, (name, kept)
