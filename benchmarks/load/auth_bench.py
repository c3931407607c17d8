#!/usr/bin/env python3
"""Issue 52's route, in server CPU per request (BENCHMARKS.md, "A route with a JWT, a
session and a rate limit"): ringbolt's apps/ringbolt_auth.py and FastAPI's
apps/fastapi_auth.py (PyJWT in a dependency, Starlette's SessionMiddleware, slowapi) on
uvicorn, each on a plain route and on the same route behind a bearer JWT check, a signed
cookie session read and a rate limit that never refuses; the C io_uring floor in the same
run. typed_bench.py's runner: one worker pinned to --server-cpu, wrk -t1 to --load-cpu,
systems interleaved round after round, each run a fresh server.

    bash benchmarks/load/setup_peers.sh      # uvicorn, fastapi, pyjwt, itsdangerous, slowapi, the C floor
    python benchmarks/load/auth_bench.py --rounds 3 --ringbolt-python build/venv/bin/python

Scenarios: ``open`` (GET /open?limit=5), ``jwt`` (/jwt: the bearer token only),
``session`` (/session-only: the session cookie only), ``full`` (/full: the token, the
cookie and the rate limit). The token and the cookies are made for the run by the apps'
own ``__main__`` (the same each request: ringbolt keeps a verified token, FastAPI's
dependency verifies it each time, as PyJWT users write it).
"""
from __future__ import annotations

import subprocess
import sys

import typed_bench
from typed_bench import APPS, RINGBOLT, UVICORN, Scenarios, Systems

SYSTEMS: Systems = {
    "c-uring": typed_bench.SYSTEMS["c-uring"],
    "ringbolt": ("rb", [*RINGBOLT, "ringbolt_auth:app", "--port", "{port}"]),
    "fastapi-uvicorn": ("peers", [*UVICORN, "fastapi_auth:app", "--port", "{port}"]),
}


def scenarios(ringbolt_python: str, peers_python: str) -> Scenarios:
    def made(python: str, app: str, *args: str) -> str:
        return subprocess.run([python, f"{APPS}/{app}", *args], check=True, capture_output=True,
                              text=True).stdout.strip()
    token = made(ringbolt_python, "ringbolt_auth.py")
    cookie = (f"session={made(ringbolt_python, 'ringbolt_auth.py', 'session')}; "
              f"fa_session={made(peers_python, 'fastapi_auth.py', 'session')}")
    bearer = {"Authorization": f"Bearer {token}"}
    return {
        "open": ("GET", "/open?limit=5", None, 200, {}),
        "jwt": ("GET", "/jwt?limit=5", None, 200, bearer),
        "session": ("GET", "/session-only?limit=5", None, 200, {"Cookie": cookie}),
        "full": ("GET", "/full?limit=5", None, 200, {**bearer, "Cookie": cookie}),
    }


def main() -> None:
    ap = typed_bench.parser(__doc__, ",".join(SYSTEMS), "open,jwt,session,full")
    args = ap.parse_args()
    cases = scenarios(args.ringbolt_python, args.peers_python)
    typed_bench.run(args, SYSTEMS, cases, APPS, ready="/open")


if __name__ == "__main__":
    sys.exit(main())
