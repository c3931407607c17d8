"""One of FastAPI's tutorial apps (``docs_src``, from the source distribution that
tests/fastapi_tutorial/run.py unpacks) with its ``fastapi`` and ``starlette`` imports made
ringbolt.fastapi's, as a moved service has them (tests/fastapi_tutorial/fastapi_swap.py).

    RINGBOLT_TUTORIAL_ROOT=<sdist> RINGBOLT_TUTORIAL_MODULE=docs_src.body.tutorial001 \\
        ringbolt serve fastapi_tutorial_app:app"""

import importlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fastapi_tutorial"))
import fastapi_swap  # noqa: E402,F401 - the swap is installed as it is imported

sys.path.insert(0, os.environ["RINGBOLT_TUTORIAL_ROOT"])
app = importlib.import_module(os.environ["RINGBOLT_TUTORIAL_MODULE"]).app
