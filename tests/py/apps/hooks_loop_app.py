"""Startup and shutdown hooks run on the loop the async handlers run on (tests/py/
test_hooks_loop.py). The async startup hook makes a queue, a lock and a task that serves
the handlers through them: on any other loop the task would never run (or be cancelled
with it) and the handlers would wait in vain. The shutdown hook stops that task and
writes what it saw to $HOOKS_LOG."""

import asyncio
import json
import os
from typing import Any

from ringbolt import App, Request

app = App()
state: dict[str, Any] = {}


async def doubler(queue: "asyncio.Queue[tuple[int, asyncio.Future[int]]]") -> None:
    while True:
        n, answer = await queue.get()
        answer.set_result(2 * n)
        state["served"] = state.get("served", 0) + 1


@app.on_startup
def sync_start() -> None:
    state["order"] = ["sync startup"]


@app.on_startup
async def start() -> None:
    loop = asyncio.get_running_loop()
    state["order"].append("async startup")
    state["loop"] = loop
    state["queue"] = asyncio.Queue()
    state["lock"] = asyncio.Lock()
    state["task"] = loop.create_task(doubler(state["queue"]))


@app.get("/double/{n:int}")
async def double(req: Request) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[int] = loop.create_future()
    async with state["lock"]:
        await state["queue"].put((req.params["n"], answer))
    return {"doubled": await asyncio.wait_for(answer, 10), "same_loop": loop is state["loop"],
            "order": state["order"], "served": state["served"]}


@app.on_shutdown
async def stop() -> None:
    task = state["task"]
    same = asyncio.get_running_loop() is state["loop"]
    alive = not task.done()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    with open(os.environ["HOOKS_LOG"], "w") as f:
        json.dump({"same_loop": same, "task_alive_at_shutdown": alive, "served": state.get("served", 0)}, f)
