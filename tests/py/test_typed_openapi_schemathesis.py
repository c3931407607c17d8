"""schemathesis against a service's own document (docs/openapi.md): ringbolt serves
tests/py/apps/typed_openapi_app.py on 127.0.0.1, schemathesis reads /openapi.json and
sends what it derives from it (examples, boundary values, random and invalid data, and
stateful sequences along the links it infers), and finds no server error, no status
code the document does not list, no response outside its schema and no undocumented
content type. A fixed seed and a bounded number of cases per operation keep it
reproducible and under a minute. One worker thread: hypothesis describes its strategies
with `ast.parse`, and CPython 3.11 keeps the AST builder's recursion depth in state the
threads share (CPython issue 106905), so two threads generating at once failed with
"SystemError: AST constructor recursion depth mismatch" (hypothesis 6.170)."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from conftest import ServerProcess

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
AUTH = ["-H", "Authorization: Bearer good", "-H", "x-api-key: key"]


@pytest.fixture(scope="module")
def shop() -> Iterator[ServerProcess]:
    srv = ServerProcess("typed_openapi_app:app", "--log-level", "warning")
    try:
        yield srv
    finally:
        srv.stop()


def _schemathesis_available() -> None:
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        pytest.fail("schemathesis is not installed: tools/install-deps.sh installs it (pip install schemathesis)")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("who,headers", [("authenticated", AUTH), ("anonymous", [])])
def test_schemathesis_finds_nothing(shop: ServerProcess, tmp_path: Path, who: str, headers: list[str]) -> None:
    _schemathesis_available()
    cmd = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
           "run", f"http://{shop.host}:{shop.port}/openapi.json", "--checks", CHECKS, "--max-examples", "15",
           "--seed", "20261127", "--workers", "1", "--no-shrink", "--generation-database", "none",
           "--request-timeout", "10", "--no-color", *headers]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=170)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "Operations:       13 selected / 13 total" in out, out[-3000:]
    counted = re.search(r"(\d+) generated, (\d+) passed", out)
    assert counted is not None and counted.group(1) == counted.group(2) and int(counted.group(1)) > 300, out[-3000:]
    assert shop.proc.poll() is None, "the server died"
