#!/usr/bin/env python3
"""The CPU an ASGI application itself costs per request, with no server at all: the
floor under any server's CPU per request for that app.

The app is called in-process, on one event loop (uvloop when installed, as the servers
in the load runs use), with the scope a server builds for a wrk request (`GET PATH
HTTP/1.1`, `Host`), a `receive` that returns the empty body at once and a `send` that
only keeps the messages. Two ways:

  direct   one coroutine awaits `app(scope, receive, send)` N times: the app's own
           Python and nothing else (no Task, no loop turn, no socket)
  task     one asyncio Task per request, as a server makes one (create, schedule, step,
           done), batched 64 at a time like 64 keep-alive connections

CPU is `time.process_time()` over the measured calls (after a warm-up), so a busy
machine inflates it less than wall time. The app's answers are checked (status 200 and
a non-empty body) before measuring.

    benchmarks/load/.venv-peers/bin/python benchmarks/load/asgi_app_floor.py \
        --app benchmarks.load.apps.fastapi_app:app --path /plaintext --n 20000 --rounds 5

Read against a server's CPU per request for the same app (harness.py "CPU µs/req"): a
server's figure minus this floor is what the server itself costs for the request; and a
target like "FastAPI at 1.5x uvicorn's req/s" needs, for a server whose own cost is at
least the C io_uring floor (c-uring, about 6.5 µs per request on this VM),
floor + 6.5 <= uvicorn_fastapi / 1.5.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import sys
import time
from typing import Any

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def make_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "state": {},
    }


REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> dict[str, Any]:
    return REQUEST


class Sink:
    __slots__ = ("messages",)

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


async def one(app: Any, path: str) -> Sink:
    sink = Sink()
    await app(make_scope(path), receive, sink.send)
    return sink


async def run_direct(app: Any, path: str, n: int) -> float:
    t0 = time.process_time()
    for _ in range(n):
        await app(make_scope(path), receive, Sink().send)
    return (time.process_time() - t0) / n * 1e6


async def run_tasks(app: Any, path: str, n: int, batch: int = 64) -> float:
    loop = asyncio.get_running_loop()
    t0 = time.process_time()
    done = 0
    while done < n:
        k = min(batch, n - done)
        await asyncio.gather(*[loop.create_task(app(make_scope(path), receive, Sink().send)) for _ in range(k)])
        done += k
    return (time.process_time() - t0) / n * 1e6


async def main_async(args: argparse.Namespace) -> None:
    sys.path.insert(0, ROOT)
    mod, _, attr = args.app.partition(":")
    app = getattr(importlib.import_module(mod), attr)
    sink = await one(app, args.path)
    start = next((m for m in sink.messages if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sink.messages if m["type"] == "http.response.body")
    if start is None or start["status"] != 200 or not body:
        raise SystemExit(f"unexpected answer from {args.app} {args.path}: {sink.messages!r:.300}")
    await run_direct(app, args.path, args.n // 4)  # warm-up
    direct, task = [], []
    for _ in range(args.rounds):
        direct.append(await run_direct(app, args.path, args.n))
        task.append(await run_tasks(app, args.path, args.n))
    print(f"app {args.app} path {args.path}: answer {start['status']} {body[:40]!r}")
    print(f"python {sys.version.split()[0]}, loop {type(asyncio.get_running_loop()).__module__}")
    print(f"direct (the app alone): median {statistics.median(direct):.2f} µs/request, rounds "
          + ", ".join(f"{x:.2f}" for x in direct))
    print(f"task per request:       median {statistics.median(task):.2f} µs/request, rounds "
          + ", ".join(f"{x:.2f}" for x in task))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True, help="module:attr of an ASGI 3 app")
    ap.add_argument("--path", default="/plaintext")
    ap.add_argument("--n", type=int, default=20000, help="requests per round and way")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    loop = new_loop()
    try:
        loop.run_until_complete(main_async(args))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
