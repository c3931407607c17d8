"""Background tasks: run after the response is out, never delaying or changing it;
sync or async; in order; a failing task is logged and the next one still runs."""

from __future__ import annotations

import pytest

from conftest import Reader, ServerProcess, get
from reqresp_helpers import APP, WAIT_S, wait_for


@pytest.fixture(scope="module", params=["inline", "handler-threads"])
def srv(request):
    extra = ["--handler-threads", "2"] if request.param == "handler-threads" else []
    s = ServerProcess(APP, "--threads", "2", *extra)
    yield s
    assert s.stop() == 0, s.output()


def state(srv, key: str) -> str | None:
    return get(srv, f"/bg-state/{key}").json()["state"]


@pytest.mark.parametrize("route", ["bg", "abg"])
def test_task_runs_after_the_client_has_the_full_response(srv, route):
    key = f"{route}-{id(srv)}"
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(f"GET /{route}/{key} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        r = Reader(s).read()  # the whole response arrives while the task is blocked
        assert r.status == 200 and r.json() == {"queued": key}
        # The task started after the answer and is still waiting: it did not hold it up.
        assert wait_for(lambda: state(srv, key) == "started")
        # The same keep-alive connection still works while the task runs.
        s.sendall(b"GET /plain HTTP/1.1\r\nHost: t\r\n\r\n")
        assert Reader(s).read().json() == {"ok": True}
    get(srv, f"/bg-release/{key}")
    assert wait_for(lambda: state(srv, key) == "done")


def test_async_callable_background(srv):
    key = f"async-{id(srv)}"
    r = get(srv, f"/bg-async/{key}")
    assert r.status == 200 and r.body == b"ok"
    assert wait_for(lambda: state(srv, key) == "async ran")


def test_failing_task_does_not_change_the_response_and_the_next_runs(srv):
    key = f"order-{id(srv)}"
    r = get(srv, f"/bg-order/{key}")
    assert r.status == 200 and r.body == b"fine"
    assert wait_for(lambda: state(srv, key + "-2") == "after the failure")
    assert state(srv, key + "-1") == "raised"


def test_streaming_response_background_runs_after_the_stream(srv):
    key = f"stream-{id(srv)}"
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(f"GET /bg-stream/{key} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        buf = b""
        while not buf.endswith(b"\r\n0\r\n\r\n"):
            data = s.recv(65536)
            assert data
            buf += data
    assert buf.count(b"a") >= 1000 and buf.count(b"b") >= 1000
    assert wait_for(lambda: state(srv, key) == "after stream")


def test_failure_is_logged():
    s = ServerProcess(APP, "--threads", "1")
    try:
        assert get(s, "/bg-order/logged").status == 200
        assert wait_for(lambda: state(s, "logged-2") == "after the failure")
    finally:
        assert s.stop() == 0
    out = s.output()
    assert "background task failing_task failed" in out
    assert "RuntimeError: background boom logged-1" in out


def test_background_tasks_api():
    from ringbolt import BackgroundTasks, Response

    with pytest.raises(TypeError, match="must be callable"):
        BackgroundTasks().add(42)
    with pytest.raises(TypeError, match="callable or BackgroundTasks"):
        Response("x", background=42)
    tasks = BackgroundTasks()
    tasks.add_task(print, "x")
    assert len(tasks) == 1
