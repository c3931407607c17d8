"""The systems of apiperf_bench.py (ringbolt's typed API, and the Litestar and FastAPI apps
of Litestar's framework benchmark under uvicorn and Granian) answer each of its cases, in
both modes (``async def`` and ``def`` handlers), with the same status and JSON: the
repository's own data files, parsed (1K.json, 1M.json, persons_N.json for N dataclasses
or pydantic models), and an empty 204 for the parameters and the JSON body. PEERS_PYTHON
(default: benchmarks/load/.venv-peers/bin/python, made by setup_peers.sh) runs the peers;
RINGBOLT_PYTHON (default: this interpreter) ringbolt; APIPERF_DATA (default:
benchmarks/load/.apiperf-data/test_data, also made by setup_peers.sh) holds the data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
from apiperf_bench import APPS, CASES, DATA, SYSTEMS, scenarios  # noqa: E402
from proc_util import free_port, stop, wait_for_200  # noqa: E402
from typed_bench import start  # noqa: E402

PEERS = os.environ.get("PEERS_PYTHON", os.path.join(HERE, ".venv-peers", "bin", "python"))
RINGBOLT = os.environ.get("RINGBOLT_PYTHON", sys.executable)


def _file(name: str) -> Any:
    with open(os.path.join(DATA, name), "rb") as f:
        return json.load(f)


def expected(case: str) -> tuple[int, Any]:
    """What ``case`` answers: its status and parsed JSON (None: an empty body)."""
    status = CASES[case][3]
    if status == 204:
        return 204, None
    if case.startswith(("dataclasses-", "pydantic-")):
        return 200, _file(f"persons_{case.rsplit('-', 1)[1]}.json")
    return 200, _file({"json-1k": "1K.json", "json-1m": "1M.json"}[case])


def fetch(port: int, method: str, path: str, body: bytes | None) -> tuple[int, str | None, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers["content-type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["content-type"], e.read()


@pytest.mark.parametrize("system", [s for s in SYSTEMS if s != "c-uring"])
def test_every_system_answers_every_case_alike(system: str) -> None:
    assert os.path.exists(PEERS), f"{PEERS} is missing: run benchmarks/load/setup_peers.sh or set PEERS_PYTHON"
    assert os.path.exists(os.path.join(DATA, "1M.json")), f"{DATA} is missing: run benchmarks/load/setup_peers.sh"
    port = free_port()
    srv = start(system, port, RINGBOLT, PEERS, SYSTEMS, APPS, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_200(f"http://127.0.0.1:{port}/async-json-1K", system, 600)
        for mode in ("async", "sync"):
            for case, (method, path, body, _) in scenarios(mode).items():
                status, ctype, raw = fetch(port, method, path, body if isinstance(body, bytes) else None)
                want_status, want = expected(case)
                assert status == want_status, (system, mode, case, raw[:300])
                if want is None:
                    assert raw == b"", (system, mode, case)
                else:
                    assert ctype is not None and ctype.startswith("application/json"), (system, mode, case, ctype)
                    assert json.loads(raw) == want, (system, mode, case)
    finally:
        stop(srv, 15, group=True)
