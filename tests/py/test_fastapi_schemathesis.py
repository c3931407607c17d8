"""schemathesis against FastAPI's own tutorial apps moved to ringbolt (issue 65: "no
server error, no undocumented status"): each app of the table, a ``docs_src`` module of
FastAPI's source distribution imported with its ``fastapi``/``starlette`` imports made
ringbolt.fastapi's (tests/py/apps/fastapi_tutorial_app.py), is served by ``ringbolt
serve`` on 127.0.0.1; schemathesis reads its /openapi.json and sends what it derives
from it (examples, boundary values, random and invalid data), and finds no server error,
no status the document does not list (but FastAPI's own 400 for a body that is not
UTF-8: tests/py/schemathesis_fastapi_checks.py), no response outside its schema and no
undocumented content type. A fixed seed and 10 cases per operation and phase keep each
app to a few seconds. The table covers path, query, header and cookie parameters with
constraints, enums, lists, path converters, JSON bodies (one model, several, nested,
dataclasses, extra data types), forms, files, declared extra responses and dependencies. The apps left out of it raise or fail
on FastAPI itself for inputs their documents allow (a KeyError on an unknown id, an
HTTPException(404) the document does not list)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from conftest import REPO, ServerProcess

CHECKS = ("not_a_server_error,fastapi_status_code_conformance,response_schema_conformance,"
          "content_type_conformance")
HOOKS = Path(__file__).resolve().parent / "schemathesis_fastapi_checks.py"

APPS = [
    "docs_src.path_params.tutorial005",  # an Enum path parameter
    "docs_src.path_params_numeric_validations.tutorial006",  # ge/le/gt/lt, path and query
    "docs_src.query_params.tutorial006",  # required, defaulted and optional query values
    "docs_src.query_params_str_validations.tutorial004",  # a pattern, lengths
    "docs_src.query_params_str_validations.tutorial011",  # a repeated query value (list)
    "docs_src.header_params.tutorial002",  # a header, underscores kept
    "docs_src.cookie_params.tutorial001",
    "docs_src.body.tutorial001",  # a JSON body
    "docs_src.body_multiple_params.tutorial001",  # path, query and an optional body
    "docs_src.body_multiple_params.tutorial003",  # two models and a singular value, embedded
    "docs_src.body_nested_models.tutorial004",  # nested models, sets, HttpUrl
    "docs_src.body_fields.tutorial001",  # Field constraints
    "docs_src.extra_data_types.tutorial001",  # UUID, datetime, time, timedelta
    "docs_src.schema_extra_example.tutorial005",  # openapi_examples
    "docs_src.request_forms.tutorial001",  # a urlencoded form
    "docs_src.request_files.tutorial001",  # bytes and UploadFile parts
    "docs_src.additional_responses.tutorial001",  # a declared 404 with its model
    "docs_src.dependencies.tutorial001",  # a function dependency with query values
    "docs_src.response_status_code.tutorial001",  # 201
    "docs_src.path_params.tutorial004",  # a {file_path:path} parameter
    "docs_src.header_params.tutorial003",  # a repeated header (list)
    "docs_src.body_multiple_params.tutorial004",  # two models, a singular Body value and a query value
    "docs_src.dataclasses_.tutorial001",  # a dataclass body
    "docs_src.separate_openapi_schemas.tutorial001",  # input and output schemas of one model
    "docs_src.request_forms_and_files.tutorial001",  # files and form fields in one form
]


@pytest.fixture(scope="module")
def tutorial_root() -> Path:
    """FastAPI's source distribution (downloaded by run.py once, kept in build/)."""
    sys.path.insert(0, str(REPO / "tests" / "fastapi_tutorial"))
    try:
        from run import DEFAULT_VERSION, fetch
    finally:
        sys.path.pop(0)
    try:
        return fetch(DEFAULT_VERSION)
    except Exception as exc:  # noqa: BLE001 - said, never skipped
        pytest.fail(f"FastAPI's source distribution (its docs_src apps) could not be had: {exc!r}")


def _schemathesis_available() -> None:
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        pytest.fail("schemathesis is not installed: tools/install-deps.sh installs it (pip install schemathesis)")


@pytest.fixture
def served(request: pytest.FixtureRequest, tutorial_root: Path) -> Iterator[ServerProcess]:
    module = request.node.callspec.params["module"]
    if not (tutorial_root / (module.replace(".", "/") + ".py")).is_file():
        pytest.fail(f"{module} is not in FastAPI's source distribution at {tutorial_root}")
    srv = ServerProcess("fastapi_tutorial_app:app", "--log-level", "warning", "--threads", "1",
                        env={"RINGBOLT_TUTORIAL_ROOT": str(tutorial_root), "RINGBOLT_TUTORIAL_MODULE": module})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("module", APPS)
def test_schemathesis_finds_nothing(served: ServerProcess, tmp_path: Path, module: str) -> None:
    _schemathesis_available()
    cmd = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
           "run", f"http://{served.host}:{served.port}/openapi.json", "--checks", CHECKS, "--max-examples", "10",
           "--seed", "20261129", "--workers", "1", "--no-shrink", "--generation-database", "none",
           "--request-timeout", "10", "--no-color"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=110,
                          env={**__import__("os").environ, "SCHEMATHESIS_HOOKS": str(HOOKS)})
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    counted = re.search(r"(\d+) generated, (\d+) passed", out)
    assert counted is not None and counted.group(1) == counted.group(2) and int(counted.group(1)) >= 10, out[-3000:]
    assert served.proc.poll() is None, "the server died"
