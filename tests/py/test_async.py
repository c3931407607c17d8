"""async def handlers on the asyncio runner: real suspension, concurrency, errors,
ordering among pipelined sync/async/native requests, in both handler modes."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import Reader, ServerProcess, get, request


@pytest.fixture(scope="module", params=[[], ["--handler-threads", "4"]], ids=["inline", "handler-threads"])
def aserver(request):
    s = ServerProcess("asyncapp:app", "--threads", "2", *request.param)
    yield s
    assert s.stop() == 0, s.output()


def test_handler_that_suspends(aserver):
    r = get(aserver, "/sleep?s=0.05")
    assert r.status == 200 and r.json() == {"slept": True, "path": "/sleep"}


def test_many_suspended_handlers_overlap(aserver):
    results = []

    def one():
        results.append(get(aserver, "/sleep?s=0.3").status)

    t0 = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [200] * 10
    assert time.monotonic() - t0 < 1.5, "async handlers did not run concurrently"


def test_asyncio_timeout_and_gather_work(aserver):
    assert get(aserver, "/timeout").json() == {"timed_out": True}  # needs a current task
    assert get(aserver, "/gather").json() == {"results": [0, 1, 2, 3, 4]}


def test_errors_after_an_await(aserver):
    r = get(aserver, "/error")
    assert r.status == 418 and r.json() == {"detail": "after an await"}
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
    s = ServerProcess("asyncapp:app", "--threads", "1")
    got = {}

    def client():
        with s.connect(timeout=10) as c:
            c.sendall(b"GET /sleep?s=0.8 HTTP/1.1\r\nHost: t\r\n\r\n")
            got["r"] = Reader(c).read()

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.3)
    assert s.stop() == 0
    t.join(5)
    assert got["r"].status == 200
