"""What building a response's headers costs in Python, per call: a Response with no
headers, a list of pairs and a dict; a bare return value made a Response for
middleware (routing._as_response) with one header added list-style (append of a pair)
and by name (``resp.headers["x-mw"] = "1"``, where the headers allow it). Thread CPU
time (time.thread_time), best of 7. The native conversion of the headers is not
included (it walks the same list either way).

    build/venv311/bin/python benchmarks/micro/response_headers_bench.py
"""
from __future__ import annotations

import time
import timeit

from ringbolt import Response
from ringbolt.routing import _as_response

N = 200_000
PAIRS = [("Cache-Control", "no-store"), ("X-Request-Kind", "bench")]
MAPPING = dict(PAIRS)


def by_name() -> object:
    resp = _as_response({"message": "Hello, World!"})
    resp.headers["x-mw"] = "1"
    return resp


def append_pair() -> object:
    resp = _as_response({"message": "Hello, World!"})
    resp.headers.append(("x-mw", "1"))
    return resp


CASES = {
    "Response(body)": lambda: Response(b"x"),
    "Response(body, headers=list)": lambda: Response(b"x", headers=PAIRS),
    "Response(body, headers=dict)": lambda: Response(b"x", headers=MAPPING),
    "middleware: append((name, value))": append_pair,
    "middleware: headers[name] = value": by_name,
}


def main() -> None:
    for name, fn in CASES.items():
        try:
            fn()
        except TypeError as exc:
            print(f"{name:36s} TypeError: {exc}")
            continue
        best = min(timeit.repeat(fn, number=N, repeat=7, timer=time.thread_time)) / N
        print(f"{name:36s} {best * 1e9:7.0f} ns CPU per call")


if __name__ == "__main__":
    main()
