"""The servers ``ringbolt bench --compare`` measures an app against (uvicorn, Granian,
fastpysgi), installed on first use into a virtualenv of their own (``cache_dir()``,
~/.cache/ringbolt/bench-peers), so that they never touch the interpreter ringbolt runs in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, TextIO

# peer name -> (the executable the harness starts from the venv's bin/, pip requirements)
PEERS: dict[str, tuple[str, list[str]]] = {
    "uvicorn": ("uvicorn", ["uvicorn[standard]"]),  # with uvloop and httptools, as the harness runs it
    "granian": ("granian", ["granian"]),
    "fastpysgi": ("fastpysgi", ["fastpysgi"]),
}


def cache_dir() -> Path:
    """$RINGBOLT_BENCH_PEERS, else $XDG_CACHE_HOME/ringbolt/bench-peers (~/.cache/...)."""
    env = os.environ.get("RINGBOLT_BENCH_PEERS")
    if env:
        return Path(env).absolute()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ringbolt" / "bench-peers"


class PeerError(Exception):
    """A peer cannot be made available; the message says why and what to do."""


def _has_module(venv: Path, module: str) -> bool:
    python = venv / "bin" / "python"
    return python.exists() and subprocess.run([str(python), "-c", f"import {module}"],
                                              capture_output=True).returncode == 0


def missing_requirements(names: Iterable[str], venv: Path, charts: bool = False) -> list[str]:
    """What pip must install into ``venv`` for these peers (and matplotlib for charts)."""
    reqs: list[str] = []
    for name in names:
        if name not in PEERS:
            raise PeerError(f"--compare: unknown peer {name!r} (known: {', '.join(PEERS)})")
        exe, packages = PEERS[name]
        if not (venv / "bin" / exe).exists():
            reqs += [p for p in packages if p not in reqs]
    if charts and not _has_module(venv, "matplotlib"):
        reqs.append("matplotlib")
    return reqs


def ensure(names: Iterable[str], venv: Path, *, charts: bool = False, python: str = sys.executable,
           log: TextIO = sys.stderr) -> None:
    """Install what is missing for ``names`` into ``venv``, creating it from ``python``;
    says so on ``log`` first, since it downloads from the package index."""
    reqs = missing_requirements(names, venv, charts)
    if not reqs:
        return
    if not (venv / "bin" / "python").exists():
        print(f"ringbolt bench: creating the peers' virtualenv {venv} (first use; "
              f"RINGBOLT_BENCH_PEERS=/path picks another)", file=log, flush=True)
        res: subprocess.CompletedProcess[Any] = subprocess.run([python, "-m", "venv", str(venv)], capture_output=True,
                                                              text=True)
        if res.returncode != 0:
            last = (res.stderr.strip() or res.stdout.strip() or f"exit {res.returncode}").splitlines()[-1]
            raise PeerError(f"cannot create the virtualenv {venv} with {python}: {last} "
                            f"(Debian's python3 needs: apt-get install python3-venv)")
    print(f"ringbolt bench: installing {' '.join(reqs)} into {venv} (once; later runs reuse it)",
          file=log, flush=True)
    res = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", *reqs])
    if res.returncode != 0:
        raise PeerError(f"pip could not install {' '.join(reqs)} into {venv} (exit {res.returncode}, "
                        f"its output is above); remove {venv} to start over")
