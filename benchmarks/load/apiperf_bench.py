#!/usr/bin/env python3
"""The cases of Litestar's framework benchmark (litestar-org/api-performance-tests at commit
1eadaf1: its asgi_bench/spec.py and test_data) in one run: ringbolt's typed API
(apps/apiperf/ringbolt_app.py), that repository's Litestar and FastAPI apps
(apps/apiperf/litestar_app.py, fastapi_app.py) on uvicorn (uvloop, httptools) and
Litestar on Granian, each server one worker (one thread) pinned to --server-cpu, wrk -t1
to --load-cpu, systems interleaved round after round, each run a fresh server (the
runner of typed_bench.py). Per request: server CPU µs (utime+stime of the server's
process tree, /proc) and req/s, medians.

    bash benchmarks/load/setup_peers.sh      # the peers, the C floor, the repository's test data
    python benchmarks/load/apiperf_bench.py --rounds 3

Cases (``--scenarios``; the handlers are ``async def`` at ``/async-...``, or ``def`` at
``/sync-...`` with ``--mode sync``, as in that repository):

    dataclasses-50, -500   GET serialize-dataclasses-N: N dataclass objects (14.6 kB, 146 kB of JSON)
    pydantic-50, -500      GET serialize-pydantic-N: N pydantic models, the same JSON
    path-int               GET path-params/42: a path parameter as int; 204
    query-int              GET query-param?first=42: a query parameter as int; 204
    json-1k, json-1m       GET json-1K, json-1M: a list of dicts (1.2 kB, 1.1 MB compact)
    post-json-1k           POST post-json with the repository's 1K.json (1.4 kB); 204

tests/test_apiperf.py checks that every system answers each case with the same status
and JSON.
"""
from __future__ import annotations

import os

import typed_bench
from typed_bench import GRANIAN, HERE, RINGBOLT, UVICORN, Scenarios, Systems

APPS = os.path.join(HERE, "apps", "apiperf")
DATA = os.environ.get("APIPERF_DATA") or os.path.join(HERE, ".apiperf-data", "test_data")

SYSTEMS: Systems = {
    "c-uring": typed_bench.SYSTEMS["c-uring"],
    "ringbolt": ("rb", [*RINGBOLT, "ringbolt_app:app", "--port", "{port}"]),
    "fastapi-uvicorn": ("peers", [*UVICORN, "fastapi_app:app", "--port", "{port}"]),
    "litestar-uvicorn": ("peers", [*UVICORN, "litestar_app:app", "--port", "{port}"]),
    "litestar-granian": ("peers", [*GRANIAN, "--port", "{port}", "litestar_app:app"]),
    # not in the default list: FastAPI's app served by ringbolt, its routes planned, and whole through ASGI
    "fastapi-ringbolt": ("rb", [*RINGBOLT, "fastapi_app:app", "--port", "{port}"]),
    "fastapi-ringbolt-noplan": ("rb", [*RINGBOLT, "fastapi_app:app", "--no-plan", "--port", "{port}"]),
    # an older build (OLD_PYTHON's), for an A/B beside the peers; not in the default list
    "ringbolt-old": ("rb-old", [*RINGBOLT, "ringbolt_app:app", "--port", "{port}"]),
    "fastapi-ringbolt-old": ("rb-old", [*RINGBOLT, "fastapi_app:app", "--port", "{port}"]),
}
DEFAULT_SYSTEMS = "c-uring,ringbolt,fastapi-uvicorn,litestar-uvicorn,litestar-granian"

# case -> (method, path after /{mode}-, body file of the test data or None, status)
CASES = {
    "dataclasses-50": ("GET", "serialize-dataclasses-50", None, 200),
    "dataclasses-500": ("GET", "serialize-dataclasses-500", None, 200),
    "pydantic-50": ("GET", "serialize-pydantic-50", None, 200),
    "pydantic-500": ("GET", "serialize-pydantic-500", None, 200),
    "path-int": ("GET", "path-params/42", None, 204),
    "query-int": ("GET", "query-param?first=42", None, 204),
    "json-1k": ("GET", "json-1K", None, 200),
    "json-1m": ("GET", "json-1M", None, 200),
    "post-json-1k": ("POST", "post-json", "1K.json", 204),
}


def scenarios(mode: str) -> Scenarios:
    """CASES as typed_bench scenarios: the ``mode`` ("async" or "sync") paths, the bodies read."""
    out: Scenarios = {}
    for name, (method, path, body, status) in CASES.items():
        data = None
        if body is not None:
            with open(os.path.join(DATA, body), "rb") as f:
                data = f.read()
        out[name] = (method, f"/{mode}-{path}", data, status)
    return out


def main() -> None:
    ap = typed_bench.parser(__doc__, DEFAULT_SYSTEMS, ",".join(CASES))
    ap.set_defaults(timeout=10, by_case=True)  # a 1 MB answer to each of 64 connections can take seconds
    ap.add_argument("--mode", choices=("async", "sync"), default="async",
                    help="the async def handlers (default) or the def ones")
    args = ap.parse_args()
    os.environ["APIPERF_DATA"] = DATA  # for the apps
    os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")  # its `def` handlers, as that repository's
    typed_bench.run(args, SYSTEMS, scenarios(args.mode), APPS, f"/{args.mode}-json-1K")


if __name__ == "__main__":
    main()
