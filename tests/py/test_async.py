"""async def handlers on the asyncio runner: real suspension, concurrency, errors,
ordering among pipelined sync/async/native requests, in both handler modes."""

from __future__ import annotations


import pytest

from conftest import LoggedServer, Reader, ServerProcess, get, request
from gate import WAIT, Gate, drain_while_held


@pytest.fixture(scope="module", params=[[], ["--handler-threads", "4"]], ids=["inline", "handler-threads"])
def aserver(request):
    s = ServerProcess("asyncapp:app", "--threads", "2", *request.param)
    yield s
    assert s.stop() == 0, s.output()


def test_handler_that_suspends(aserver):
    r = get(aserver, "/sleep?s=0.05")
    assert r.status == 200 and r.json() == {"slept": True, "path": "/sleep"}


@pytest.mark.parametrize("mode", [[], ["--handler-threads", "4"]], ids=["inline", "handler-threads"])
def test_many_suspended_handlers_overlap(mode):
    """Ten async handlers suspended at once: all ten are inside the app together (each
    awaits the gate) before any is answered. Handlers run one at a time, or a suspension
    that blocks the loop, would never get ten in: the wait fails."""
    srv = ServerProcess("gate_app:app", "--threads", "2", *mode)
    try:
        with Gate() as gate:
            socks = [srv.connect(timeout=WAIT) for _ in range(10)]
            for i, s in enumerate(socks):
                s.sendall(f"GET {gate.path('/ahold', f'a{i}')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            entered = gate.wait_entered(10)
            assert len(entered) == 10, f"async handlers did not run concurrently: {entered}"
            gate.release()
            for i, s in enumerate(socks):
                r = Reader(s).read()
                assert r.status == 200 and r.json() == {"released": f"a{i}"}, r
                s.close()
    finally:
        assert srv.stop() == 0, srv.output()


def test_asyncio_timeout_and_gather_work(aserver):
    assert get(aserver, "/timeout").json() == {"timed_out": True}  # needs a current task
    assert get(aserver, "/gather").json() == {"results": [0, 1, 2, 3, 4]}


def test_errors_after_an_await(aserver):
    r = get(aserver, "/error")
    assert r.status == 418 and r.json()["detail"] == "after an await"
    assert r.header("content-type") == "application/problem+json"
    assert get(aserver, "/boom").status == 500
    assert get(aserver, "/sleep?s=0").status == 200


def test_pipelined_sync_async_native_stay_in_order(aserver):
    with aserver.connect() as s:
        s.sendall(
            b"GET /sleep?s=0.1 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /sync/1 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /const HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /echo?n=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"
        )
        rd = Reader(s)
        assert rd.read().json() == {"slept": True, "path": "/sleep"}
        assert rd.read().json() == {"sync": 1}
        assert rd.read().body == b"const"
        assert rd.read().json() == {"body": "hi", "n": "2"}


def test_head_and_close_on_async(aserver):
    r = request(aserver, b"HEAD /sleep?s=0 HTTP/1.1\r\nHost: t\r\n\r\n", head_request=True)
    assert r.status == 200 and r.body == b"" and int(r.header("content-length")) > 0
    with aserver.connect() as s:
        s.sendall(b"GET /sleep?s=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        rd = Reader(s)
        assert rd.read().header("connection") == "close"
        assert rd.closed()


def test_drain_waits_for_suspended_handler():
    """SIGTERM while an async handler is suspended (held on the gate): the drain begins
    (the listener closes), the process does not exit while the handler is held, and it
    answers it in full once released, then exits 0."""
    drain_while_held("/ahold", "suspended", listener_closes=True)


@pytest.mark.parametrize("mode", [[], ["--handler-threads", "4"]], ids=["inline", "handler-threads"])
def test_system_exit_or_keyboard_interrupt_is_that_requests_500(tmp_path, mode):
    """SystemExit or KeyboardInterrupt raised before the handler's first await (its task's
    eager first step) or after one (a later step, run by the loop): each request gets a
    500, the log names the request and the exception, and the loop goes on serving async
    requests; SIGTERM still stops the server."""
    srv = LoggedServer("asyncapp:app", tmp_path / "log", "--threads", "2", *mode)
    try:
        for kind, name in [("exit", "SystemExit"), ("interrupt", "KeyboardInterrupt")]:
            for when in ["first", "later"]:
                for _ in range(2):
                    r = get(srv, f"/exit?kind={kind}&when={when}")
                    assert r.status == 500 and r.header("content-type") == "application/problem+json", r
                srv.wait_log(f"async handler for GET /exit?kind={kind}&when={when} raised {name}: answered 500")
                assert get(srv, "/sleep?s=0.01").json() == {"slept": True, "path": "/sleep"}
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("when", ["first", "later"])
def test_a_handler_that_cancels_itself_is_answered_and_the_loop_goes_on(aserver, when):
    r = get(aserver, f"/cancel-self?when={when}")
    assert r.status == 500 and r.header("content-type") == "application/problem+json", r
    assert get(aserver, "/sleep?s=0.01").status == 200


@pytest.mark.parametrize("when", ["first", "later"])
def test_a_cancellation_caught_by_the_handler_keeps_its_answer(aserver, when):
    assert get(aserver, f"/cancel-caught?when={when}").json() == {"caught": True, "when": when}


@pytest.mark.parametrize("when", ["first", "later"])
def test_an_answer_that_fails_after_the_handler_returned_is_a_500(aserver, when):
    """req._finish raises (the returned pair has no valid status) once the handler has
    returned: the exception is the request's answer, a 500, and the loop goes on."""
    r = get(aserver, f"/finish-fails?when={when}")
    assert r.status == 500 and r.header("content-type") == "application/problem+json", r
    assert r.header("set-cookie") is None
    assert get(aserver, "/sleep?s=0.01").status == 200
