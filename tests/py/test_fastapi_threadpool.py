"""FastAPI's plain ``def`` endpoints, which it runs on anyio's worker threads
(``run_in_threadpool``), served by ``ringbolt serve`` (apps/fastapi_threadpool_app.py):
each completion comes back to the event loop from a worker thread
(``loop.call_soon_threadsafe``), which must wake the loop at once (with one reactor the
loop runs on the reactor's thread, docs/architecture.md "The event loop on the reactor's
thread"), and the worker threads are reused from request to request, as under uvicorn:
the loop runs inside a root task (``ringbolt.serving.aio.AsyncRunner``), which anyio ties its
worker threads to. Without one, anyio tied each worker to the request's own task and
stopped it when that request ended: a thread started and stopped per request."""

from __future__ import annotations

import statistics
import threading
import time

import httpx
import pytest

from conftest import ServerProcess, slow_requests_took

pytest.importorskip("fastapi")

# (serve args, environment): the loop on the reactor's thread (one reactor) or on its
# own thread (two), on both io backends.
SETUPS = [
    (["--threads", "1"], {}),
    (["--threads", "1"], {"RINGBOLT_IO": "epoll"}),
    (["--threads", "2"], {}),
    (["--threads", "2"], {"RINGBOLT_IO": "epoll"}),
]
IDS = ["hosted-loop-uring", "hosted-loop-epoll", "loop-thread-uring", "loop-thread-epoll"]
ANYIO_DEFAULT_TOKENS = 40  # anyio's default thread limiter: at most this many workers


# One server per setup for the module (a FastAPI app takes seconds to start on a loaded
# machine); the last test leaves it serving, which it asserts.
@pytest.fixture(scope="module", params=SETUPS, ids=IDS)
def srv(request):
    args, env = request.param
    # --no-plan: the app's own path through ASGI (its routes planned run a def endpoint
    # inline, or on --handler-threads: tests/py/test_fastapi_adopt.py)
    s = ServerProcess("fastapi_threadpool_app:app", "--no-plan", *args, env=env)
    yield s
    assert s.stop() == 0, s.output()


def base(srv: ServerProcess) -> str:
    return f"http://{srv.host}:{srv.port}"


def test_concurrent_sync_endpoints_reuse_the_pool_and_answer_each_request(srv):
    clients, per_client = 16, 25
    answers: list[tuple[int, dict]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(k: int) -> None:
        try:
            with httpx.Client(base_url=base(srv), timeout=10) as c:  # keep-alive, one connection
                for i in range(per_client):
                    n = k * 1000 + i
                    r = c.get(f"/sync/{n}")
                    assert r.status_code == 200, (r.status_code, r.text)
                    with lock:
                        answers.append((n, r.json()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, (failures[:3], srv.output())
    assert len(answers) == clients * per_client  # none lost
    assert all(body["n"] == n for n, body in answers)  # each its own answer
    loop_tid = httpx.get(base(srv) + "/loop").json()["tid"]
    workers = {body["tid"] for _, body in answers}
    assert loop_tid not in workers  # the endpoints ran on the pool, not on the loop's thread
    assert {body["thread"] for _, body in answers} == {"AnyIO worker thread"}
    # Reused: a pool of at most anyio's limit served 400 requests (a thread per request
    # before the loop ran inside a root task).
    assert len(workers) <= min(clients, ANYIO_DEFAULT_TOKENS), len(workers)


def test_blocking_sync_endpoints_overlap_on_the_pool(srv):
    n, ms = 10, 300
    took = slow_requests_took(srv, n, ms)
    assert took < n * ms / 1000 * 0.8, took  # they overlapped (one after another: 3 s)


def test_a_completion_wakes_the_loop_at_once(srv):
    # One request at a time on an otherwise idle server: nothing but the worker's
    # call_soon_threadsafe wakes the loop for its answer. Were that wake-up lost, the
    # answer would wait for the hosted loop's tick (0.25 s) or longer.
    with httpx.Client(base_url=base(srv), timeout=10) as c:
        c.get("/sync/0")
        took = []
        for i in range(30):
            t0 = time.monotonic()
            assert c.get(f"/sync/{i}").json()["n"] == i
            took.append(time.monotonic() - t0)
    assert statistics.median(took) < 0.05, took
    assert sorted(took)[-3] < 0.2, took  # at most two slow outliers on a shared machine


def test_the_loop_runs_on_when_an_app_cancels_every_task(srv):
    with httpx.Client(base_url=base(srv), timeout=10) as c:
        assert c.get("/sync/1").json()["n"] == 1
        assert c.post("/cancel-every-other-task").json()["cancelled"] >= 1  # the root at least
        for i in range(20):  # served on, and still on a reused pool
            assert c.get(f"/sync/{i}").json()["n"] == i
        assert c.get("/loop").status_code == 200
