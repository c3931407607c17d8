"""TechEmpower's fortunes apps of fortunes_bench.py (ringbolt, FastAPI and Litestar, under
the servers the benchmark runs them with) against one PostgreSQL cluster the test starts:
each answers the same page, byte for byte, the expected escaped, sorted table
(fortunes_expected.py). PEERS_PYTHON (default: benchmarks/load/.venv-peers/bin/python,
made by setup_peers.sh) runs the peers; RINGBOLT_PYTHON (default: this interpreter)
ringbolt."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
from fastapi_bench import command  # noqa: E402
from fortunes_bench import APPS, SYSTEMS  # noqa: E402
from fortunes_db import fortunes_db  # noqa: E402
from fortunes_expected import EXPECTED, check_table  # noqa: E402
from proc_util import free_port, stop, wait_for_200  # noqa: E402

PEERS = os.environ.get("PEERS_PYTHON", os.path.join(HERE, ".venv-peers", "bin", "python"))
RINGBOLT = os.environ.get("RINGBOLT_PYTHON", sys.executable)


@pytest.fixture(scope="module")
def db_url() -> Iterator[str]:
    with fortunes_db(free_port()) as url:
        yield url


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_every_system_answers_the_expected_table(system: str, db_url: str) -> None:
    assert os.path.exists(PEERS), f"{PEERS} is missing: run benchmarks/load/setup_peers.sh or set PEERS_PYTHON"
    server, module = SYSTEMS[system]
    port = free_port()
    env = dict(os.environ, PYTHONPATH=APPS, DATABASE_URL=db_url, DB_POOL="2")
    srv = subprocess.Popen(command(server, module, port, RINGBOLT, PEERS), cwd=APPS, env=env,
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/fortunes"
        wait_for_200(url, system, 400)
        for _ in range(2):
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read().decode("utf-8")
                check_table(body, r.headers["content-type"])
                assert body == EXPECTED
    finally:
        stop(srv, 15, group=True)
