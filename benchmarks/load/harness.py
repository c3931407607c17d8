#!/usr/bin/env python3
"""The load comparison harness, run from a source checkout: a shim over the copy that
ships in the package (pymod/ringbolt/bench/harness.py, what `ringbolt bench` runs).
Loaded by path, not imported as ``ringbolt.bench``: the interpreter that runs it (e.g.
benchmarks/load/.venv-peers/bin/python) need not have ringbolt installed. In a checkout
the harness uses this directory's apps/, .venv-peers, .bin and results/, as before.
Usage: see README.md beside this file, or `python harness.py --help`."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PACKAGED = Path(__file__).resolve().parents[2] / "pymod" / "ringbolt" / "bench" / "harness.py"
_spec = importlib.util.spec_from_file_location("ringbolt_bench_harness", _PACKAGED)
assert _spec is not None and _spec.loader is not None
harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = harness  # dataclasses look their module up by name
_spec.loader.exec_module(harness)
harness.PROG = Path(__file__)

if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:]))
