#!/usr/bin/env python3
"""The Python CPU a route's pipeline adds per request, in process: the registered callable
of /json (no middleware: the handler itself), /mw/json (one pass-through middleware) and
/mwh/json (one middleware adding a header) of benchmarks/load/apps/ringbolt_middleware.py,
called with a stand-in request. Thread CPU time (time.thread_time), best of 7, so a loaded
machine slows it down less than wall time would. The native side (result conversion,
framing) is not included: profile_server.py measures the whole request.

    PYTHONPATH=. build/venv311/bin/python benchmarks/load/middleware_inproc.py
"""
from __future__ import annotations

import time
import timeit

from benchmarks.load.apps.ringbolt_middleware import app

N = 200_000


def main() -> None:
    routes = {path: fn for path, _, fn, *_ in app._resolved_routes()}
    req = object()
    base = 0.0
    for path in ("/json", "/mw/json", "/mwh/json"):
        fn = routes[path]
        best = min(timeit.repeat(lambda: fn(req), number=N, repeat=7, timer=time.thread_time)) / N
        base = base or best
        print(f"{path:10s} {best * 1e6:6.3f} µs CPU per call  (+{(best - base) * 1e6:.3f} µs)")


if __name__ == "__main__":
    main()
