"""apps/fastapi_typed.py moved to ringbolt.fastapi by its imports alone (issue 65): its
source, with ``from fastapi import`` read as ``from ringbolt.fastapi import``, so the two
cannot drift apart. Served by ringbolt:

    ringbolt serve ringbolt_fastapi_typed:app --app-dir benchmarks/load/apps
"""

from __future__ import annotations

from pathlib import Path

_SOURCE = (Path(__file__).with_name("fastapi_typed.py").read_text()
           .replace("from fastapi import", "from ringbolt.fastapi import"))
exec(compile(_SOURCE, str(Path(__file__).with_name("fastapi_typed.py")), "exec"))  # noqa: S102 - our own app
