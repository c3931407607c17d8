#!/usr/bin/env python3
"""The least CPU an async Python WebSocket handler can cost per message: one task step
woken by one future, with no server, no socket and no message at all.

`--tasks` tasks (the connections) each loop on `fut = loop.create_future(); await fut`,
as `await ws.receive()` must; a driver resolves every waiting future once per loop
iteration (`call_soon`), as a server hands over the messages of one reactor turn. CPU
is `time.process_time()` over `--n` resolved awaits after a warm-up; the figure per
await is the floor under any async echo handler's user-space CPU per message (the
echo's send adds its own).

    benchmarks/load/.venv-peers/bin/python benchmarks/load/ws/await_floor.py --loop uvloop
    benchmarks/load/.venv-peers/bin/python benchmarks/load/ws/await_floor.py --loop asyncio
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time


def measure(n: int, tasks: int) -> float:
    loop = asyncio.get_event_loop()
    waiting: list[asyncio.Future] = []
    done = 0
    finished = loop.create_future()

    async def handler() -> None:
        nonlocal done
        while not finished.done():
            fut = loop.create_future()
            waiting.append(fut)
            await fut
            done += 1

    def driver() -> None:
        batch = waiting[:]
        waiting.clear()
        for fut in batch:
            fut.set_result(None)
        if done >= n:
            if not finished.done():
                finished.set_result(None)
            for fut in waiting:
                fut.set_result(None)
            return
        loop.call_soon(driver)

    async def run() -> float:
        workers = [asyncio.ensure_future(handler()) for _ in range(tasks)]
        await asyncio.sleep(0)
        start = time.process_time()
        loop.call_soon(driver)
        await finished
        spent = time.process_time() - start
        count = done
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        return spent / count

    return loop.run_until_complete(run())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop")
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--n", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.loop == "uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())
    measure(args.n // 10, args.tasks)  # warm-up
    per = [measure(args.n, args.tasks) * 1e6 for _ in range(args.rounds)]
    print(f"{args.loop}, {args.tasks} tasks: {statistics.median(per):.3f} µs per resolved await "
          f"(rounds: {', '.join(f'{p:.3f}' for p in per)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
