"""The event loop on the reactor's thread (docs/architecture.md, "The event loop on the
reactor's thread"): with one reactor per worker, async handlers run on the reactor's own
thread, beside the sync ones, with no hand-off between threads; sync handlers still see no
running loop. RINGBOLT_HOST_LOOP=0, or several reactors, keep the loop on a thread of its
own; `--loop asyncio` and `--loop uvloop` both move. A loop that blocks is covered by test_loop_stall.py and test_reactor_sched.py; hooks
on the moved loop by test_hooks_loop.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import APPS, REPO, ServerProcess, get


def reactor_tids(pid: int) -> set[int]:
    return {int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()
            if (t / "comm").read_text().strip().startswith("rb-reactor-")}


@pytest.mark.parametrize("args, env, hosted", [
    (["--threads", "1", "--loop", "uvloop"], {}, True),
    (["--threads", "1", "--loop", "asyncio"], {}, True),
    (["--threads", "1"], {"RINGBOLT_HOST_LOOP": "0"}, False),
    (["--threads", "2"], {}, False),
], ids=["one-reactor-uvloop", "one-reactor-asyncio", "one-reactor-host-loop-0", "two-reactors"])
def test_where_async_handlers_run(args: list[str], env: dict[str, str], hosted: bool):
    srv = ServerProcess("hosted_app:app", *args, env=env)
    try:
        sync = [get(srv, "/sync").json() for _ in range(4)]
        on_loop = [get(srv, "/async").json() for _ in range(4)]
        reactors = reactor_tids(srv.proc.pid)
    finally:
        assert srv.stop() == 0, srv.output()
    assert all(r["tid"] in reactors and r["loop"] is False for r in sync), (sync, reactors)
    assert all(r["loop"] is True for r in on_loop)
    if "--loop" in args:
        assert {r["loop_module"] for r in on_loop} == {args[args.index("--loop") + 1]}
    loop_tids = {r["tid"] for r in on_loop}
    assert len(loop_tids) == 1  # one loop per worker, on one thread
    if hosted:
        assert loop_tids == reactors and len(reactors) == 1
        assert "event loop on the reactor thread" in srv.output()
    else:
        assert not loop_tids & reactors
        assert "event loop on the reactor thread" not in srv.output()


def test_a_sync_handler_beside_a_hosted_loop_can_run_asyncio():
    srv = ServerProcess("hosted_app:app", "--threads", "1")
    try:
        r = get(srv, "/sync-runs-asyncio")
        assert r.status == 200 and r.json() == {"sum": 45}, (r, srv.output())
        assert get(srv, "/async").status == 200
    finally:
        assert srv.stop() == 0, srv.output()


def read_answers(sock, n: int) -> list[tuple[int, bytes]]:
    """n answers with a Content-Length each, read in order from one connection."""
    data, out = b"", []
    while len(out) < n:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1")
            length = int(next(v for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:])
                              if k.strip().lower() == "content-length"))
            if len(data) >= head_end + 4 + length:
                out.append((int(head.split(" ", 2)[1]), data[head_end + 4:head_end + 4 + length]))
                data = data[head_end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, (out, data)
        data += chunk
    return out


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_sync_handlers_in_one_batch_see_no_loop_and_the_loop_runs_after(loop: str):
    # One write, so one turn's batch: sync handlers (one of them runs asyncio.run, which
    # sets a loop of its own on the thread and clears it) between async ones. Each sync
    # one sees no running loop, however it asks; each async one, after the batch, sees the
    # hosted loop running again. Twice over, so a second batch finds it as the first did.
    import json

    srv = ServerProcess("hosted_app:app", "--threads", "1", "--loop", loop)
    paths = ["/sync-loop-state", "/async", "/sync-runs-asyncio", "/sync-loop-state", "/sync", "/async",
             "/sync-loop-state"]
    try:
        with srv.connect(timeout=10) as s:
            for _ in range(2):
                s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for p in paths))
                answers = read_answers(s, len(paths))
                assert [st for st, _ in answers] == [200] * len(paths), (answers, srv.output())
                got = [json.loads(body) for _, body in answers]
                for p, g in zip(paths, got):
                    if p == "/sync-loop-state":
                        assert g == {"loop": False, "private": True, "events": True}, got
                    elif p == "/async":
                        assert g["loop"] is True and g["loop_module"] == loop, got
                    elif p == "/sync":
                        assert g["loop"] is False, got
                    else:
                        assert g == {"sum": 45}, got
        assert get(srv, "/async").json()["loop"] is True
    finally:
        assert srv.stop() == 0, srv.output()


def test_many_concurrent_async_and_sync_requests_on_a_hosted_loop():
    srv = ServerProcess("hosted_app:app", "--threads", "1")
    failures: list[object] = []

    def client(k: int) -> None:
        try:
            with srv.connect(timeout=10) as s:
                path = "/async" if k % 2 else "/sync"
                req = f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
                s.sendall(req * 50)  # pipelined: answers in order
                data = b""
                while data.count(b"HTTP/1.1 200 OK") < 50:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if data.count(b"HTTP/1.1 200 OK") != 50:
                    failures.append((k, data[-200:]))
        except OSError as exc:
            failures.append((k, exc))

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert failures == []
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_sigterm_drains_an_async_request_in_flight_on_a_hosted_loop(loop: str):
    srv = ServerProcess("hosted_app:app", "--threads", "1", "--loop", loop)
    result: dict[str, object] = {}
    t = threading.Thread(target=lambda: result.setdefault("r", get(srv, "/slow?s=1")))
    t.start()
    time.sleep(0.3)  # in flight: awaiting on the loop
    srv.proc.send_signal(signal.SIGTERM)
    t.join(15)
    assert srv.proc.wait(15) == 0, srv.output()
    r = result["r"]
    assert r.status == 200 and r.body == b"slow done", r  # type: ignore[attr-defined]
    assert "stopped" in srv.output()


@pytest.mark.parametrize("hosted", [True, False], ids=["loop-on-the-reactor", "loop-thread"])
def test_a_websocket_message_wakes_a_hosted_loop_without_an_eventfd(hosted: bool):
    # A message that arrives for a handler waiting in receive() makes it ready on the
    # reactor: a loop on the reactor's thread takes that right after the turn
    # (loop_wakes.after_turn), a loop on its own thread is woken through the eventfd.
    import asyncio

    import websockets

    srv = ServerProcess("hosted_app:app", "--threads", "1", env={} if hosted else {"RINGBOLT_HOST_LOOP": "0"})
    try:
        before = get(srv, "/loop-wakes").json()

        async def exchange() -> list[str]:
            async with websockets.connect(f"ws://127.0.0.1:{srv.port}/echo") as ws:
                answers = []
                for k in range(20):
                    await ws.send(f"m{k}")
                    answers.append(await ws.recv())
                return answers

        assert asyncio.run(exchange()) == [f"m{k}" for k in range(20)]
        after = get(srv, "/loop-wakes").json()
    finally:
        assert srv.stop() == 0, srv.output()
    after_turn = after["after_turn"] - before["after_turn"]
    eventfd = after["eventfd"] - before["eventfd"]
    if hosted:
        assert after_turn >= 20 and eventfd == 0, (before, after)
    else:
        assert after_turn == 0 and eventfd >= 20, (before, after)


def test_loop_uvloop_without_uvloop_fails_at_start_up_naming_it(tmp_path: Path):
    # A uvloop that cannot be imported (as where it is not installed): --loop uvloop
    # refuses to start with one line that says so; auto falls back to asyncio's loop.
    (tmp_path / "uvloop.py").write_text('raise ImportError("no uvloop here")\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "hosted_app:app", "--app-dir", str(APPS),
                        "--port", "0", "--threads", "1", "--loop", "uvloop"],
                       cwd=str(REPO), env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "--loop uvloop: uvloop is not installed (pip install uvloop)" in r.stderr, r.stderr
    srv = ServerProcess("hosted_app:app", "--threads", "1", env={"PYTHONPATH": str(tmp_path)})
    try:
        assert get(srv, "/async").json()["loop_module"] == "asyncio"
    finally:
        assert srv.stop() == 0, srv.output()


def test_a_quic_timer_brings_the_next_turn_before_the_tick():
    """With --http3 a hosted turn says when QUIC's next timer (loss recovery, an ACK owed)
    falls due, as `8 | ms << 4`: the loop turns again by then, though its fd stays quiet
    and its tick is 0.25 s away."""
    from ringbolt.serving.aio import AsyncRunner

    runner = AsyncRunner()
    quiet, other_end = os.pipe()
    calls: list[float] = []

    def turn() -> int:
        calls.append(time.monotonic())
        return 1 | 8 | (20 << 4) if len(calls) == 1 else 0  # a timer in 20 ms; then drained

    try:
        runner.host(turn, quiet)
    finally:
        runner.stop()
        os.close(quiet)
        os.close(other_end)
    assert len(calls) == 2, calls
    assert 0.019 <= calls[1] - calls[0] < 0.2, calls[1] - calls[0]


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_callbacks_a_sync_handler_schedules_on_the_hosted_loop_run(loop: str):
    # A sync handler runs inside the loop's turn for the reactor: what it gives the loop
    # (call_soon, call_later) runs once the turn is over, the timer on time, with no
    # other request coming to turn the loop again.
    srv = ServerProcess("hosted_app:app", "--threads", "1", "--loop", loop)
    try:
        assert get(srv, "/sync-schedules").json()["tid"] in reactor_tids(srv.proc.pid)
        deadline = time.monotonic() + 3
        marks: dict[str, float] = {}
        while time.monotonic() < deadline and len(marks) < 2:
            time.sleep(0.1)
            marks = get(srv, "/marks").json()
    finally:
        assert srv.stop() == 0, srv.output()
    assert set(marks) == {"soon", "later"}, marks
    assert marks["soon"] < 0.05, marks
    assert 0.045 <= marks["later"] < 0.2, marks


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_timers_fire_on_time_while_the_hosted_loop_serves_a_load(loop: str):
    srv = ServerProcess("hosted_app:app", "--threads", "1", "--loop", loop)
    stop = threading.Event()
    served = [0]

    def hammer() -> None:  # keeps the reactor's turns coming, back to back
        with srv.connect(timeout=10) as s:
            req = b"GET /sync HTTP/1.1\r\nHost: t\r\n\r\n" * 8
            while not stop.is_set():
                s.sendall(req)
                data = b""
                while data.count(b"HTTP/1.1 200 OK") < 8:
                    chunk = s.recv(65536)
                    assert chunk
                    data += chunk
                served[0] += 8

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.2)
        slept = [get(srv, "/sleep-timed?s=0.05").json()["slept"] for _ in range(10)]
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        assert srv.stop() == 0, srv.output()
    assert served[0] > 100
    assert all(0.045 <= s < 0.2 for s in slept), slept  # (uvloop rounds timers to ms)
    assert sorted(slept)[5] < 0.1, slept


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_call_soon_threadsafe_from_a_thread_wakes_the_hosted_loop(loop: str):
    # Nothing else comes: the loop's own wake-up (its self-pipe or uvloop's async handle)
    # must bring the answer, not the reactor's 0.25 s tick.
    srv = ServerProcess("hosted_app:app", "--threads", "1", "--loop", loop)
    try:
        waited = [get(srv, "/thread-wakes").json()["waited"] for _ in range(6)]
    finally:
        assert srv.stop() == 0, srv.output()
    # Without the wake-up every answer would wait for a tick (0.25 s or more), so one slow
    # sample of six is not that: a CI rehearsal (five suites and two compilers on 2 cores)
    # saw [0.50, 0.054, 0.052, 0.051, 0.051, 0.051] on epoll, the first answer of a fresh
    # server. What delayed it is not established (0.5 s is the stand-in's take-over delay,
    # docs/architecture.md; it did not happen again in 40 runs under load).
    assert all(w >= 0.045 for w in waited), waited
    assert sorted(waited)[4] < 0.2 and sorted(waited)[3] < 0.1, waited


def test_a_hosted_turn_runs_its_batch_under_the_loops_gil_hold():
    # The loop's callback holds the GIL when it calls the turn; the turn keeps it for its
    # batch (app_bridge::set_turn_holds_gil), so the batch never waits for the GIL, even
    # while another thread wants it all the time (gil_wait_ns counts the waits).
    from conftest import metric_totals

    srv = ServerProcess("hosted_app:app", "--threads", "1", env={"RINGBOLT_METRICS": "/metrics"})
    try:
        assert get(srv, "/busy-thread").status == 200
        before = metric_totals(get(srv, "/metrics").body.decode())
        answers = [get(srv, "/sync").status for _ in range(20)]
        after = metric_totals(get(srv, "/metrics").body.decode())
    finally:
        assert srv.stop() == 0, srv.output()
    assert answers == [200] * 20
    assert after["python_requests"] - before["python_requests"] >= 20, (before, after)
    assert after.get("gil_wait_ns", 0) - before.get("gil_wait_ns", 0) == 0, (before, after)
