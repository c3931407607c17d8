"""Owns: building a load generator for its tests — `make` runs when the binary is missing
or older than any of tools/load's C++ sources."""
from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def built(name: str) -> Path:
    """tools/load/<name>, up to date with its sources."""
    binary = HERE / name
    sources = list(HERE.glob("*.cpp")) + list(HERE.glob("*.hpp"))
    if not binary.exists() or binary.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        subprocess.run(["make", "-C", str(HERE), name], check=True, capture_output=True)
    return binary
