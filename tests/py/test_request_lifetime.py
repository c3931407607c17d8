"""A request view a handler keeps stays valid after the handler returns; one nobody
keeps is released with the handler (the server copies a request only when it is kept).
Real sockets, both io backends (RINGBOLT_IO=epoll runs the same file)."""

from __future__ import annotations

import time

import pytest

from conftest import Reader, ServerProcess, get, request, served


@pytest.fixture(scope="module")
def server():
    yield from served("kept_requests:app", "--threads", "1")


def post(server, path: str, body: bytes, tag: str):
    s = server.connect(timeout=30)
    try:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: kept.test\r\nX-Tag: {tag}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        return Reader(s).read()
    finally:
        s.close()


def varied_request(i: int, path: str, *, every_field: bool = False) -> tuple[bytes, dict]:
    """Request number ``i`` to /PATH/n{i}/{i} (bodies of 0 to 70,000 bytes, heads padded up
    to 2,800 bytes, up to 24 extra fields: sizes that change from one request to the next)
    and the facts its handler must see (request_facts.facts; ``every_field``: with the
    x-extra-0 header and the header count, as kept_async_requests answers)."""
    size = [0, 3, 5000, 1, 300, 70000][i % 6]
    body = bytes(97 + (i + k) % 26 for k in range(size))
    pad = "p" * (i % 5) * 700
    extra = i % 7 * 4
    head = (f"POST /{path}/n{i}/{i}?q={i}&pad={pad} HTTP/1.1\r\nHost: kept.test\r\nX-Tag: t{i}\r\n"
            + "".join(f"X-Extra-{k}: {k}\r\n" for k in range(extra))
            + f"Content-Length: {size}\r\n\r\n")
    facts = {"method": "POST", "path": f"/{path}/n{i}/{i}", "target": f"/{path}/n{i}/{i}?q={i}&pad={pad}",
             "query": {"q": str(i), "pad": pad}, "params": {"name": f"n{i}", "n": i},
             "headers": {"x-tag": f"t{i}", "host": "kept.test"}, "body": body.decode(),
             "client_host": "127.0.0.1", "http_version": "1.1"}
    if every_field:
        facts["headers"]["x-extra-0"] = "0" if extra else None
        facts["header_count"] = 3 + extra
    return head.encode() + body, facts


def pipelined_rounds(server, make) -> None:
    """Four rounds on three connections: eight requests ``make(i, k)`` (k: the place in the
    write) pipelined in one write on each, then every answer read and compared with the
    facts ``make`` gave."""
    conns = [server.connect(timeout=30) for _ in range(3)]
    try:
        for rnd in range(4):
            sent = []
            for c, s in enumerate(conns):
                reqs = [make(rnd * 100 + c * 10 + k, k) for k in range(8)]
                s.sendall(b"".join(raw for raw, _ in reqs))
                sent.append([want for _, want in reqs])
            for s, wants in zip(conns, sent):
                rd = Reader(s)
                for want in wants:
                    r = rd.read()
                    assert r.status == 200 and r.json() == want
    finally:
        for s in conns:
            s.close()


def test_kept_request_reads_every_attribute_later(server):
    r = post(server, "/keep/a/7?q=1&z=2", b"first body", "tag-a")
    assert r.status == 200 and r.json() == {"kept": "a"}
    # Other requests reuse the reactor's batch entries in between.
    for i in range(20):
        assert post(server, f"/keep/other/{i}", b"x" * i, f"t{i}").status == 200
    d = get(server, "/kept/a").json()
    assert d == {
        "method": "POST",
        "path": "/keep/a/7",
        "target": "/keep/a/7?q=1&z=2",
        "query": {"q": "1", "z": "2"},
        "params": {"name": "a", "n": 7},
        "headers": {"x-tag": "tag-a", "host": "kept.test"},
        "body": "first body",
        "client_host": "127.0.0.1",
        "http_version": "1.1",
    }
    assert get(server, "/kept/other").json()["body"] == "x" * 19


def test_kept_in_pipelined_batch(server):
    # Three requests in one write: one reactor turn, one batch. The first is kept, the
    # second and third run in the same batch; the view is read after the batch is gone.
    s = server.connect(timeout=30)
    try:
        reqs = b"".join(
            f"POST /keep/p{i}/{i} HTTP/1.1\r\nHost: kept.test\r\nX-Tag: pipe{i}\r\nContent-Length: 3\r\n\r\nb{i}!".encode()
            for i in range(3)
        )
        s.sendall(reqs)
        rd = Reader(s)
        for i in range(3):
            assert rd.read().json() == {"kept": f"p{i}"}
    finally:
        s.close()
    for i in range(3):
        d = get(server, f"/kept/p{i}").json()
        assert d["headers"]["x-tag"] == f"pipe{i}" and d["body"] == f"b{i}!" and d["params"] == {"name": f"p{i}", "n": i}


def test_reused_request_buffers_carry_nothing_over(server):
    # The reactor keeps the buffers of answered requests for the next ones: requests of
    # every size, pipelined on a few connections (so batches hold several), each read
    # back whole. A long head or body followed by a short one would show stale bytes,
    # a request past the kept size takes a buffer of its own.
    pipelined_rounds(server, lambda i, k: varied_request(i, "facts"))


def test_request_in_a_reference_cycle_is_freed_by_gc(server):
    for _ in range(50):
        assert get(server, "/cycle").json() == {"cycle": True}
    assert get(server, "/collect").json() == {"collected": True, "path": "/collect"}
    assert get(server, "/plain/5?q=after").json() == {"n": 5, "tag": None, "q": "after"}


def test_request_read_by_a_thread_after_the_response(server):
    s = server.connect(timeout=30)
    try:
        s.sendall(b"GET /thread/t1?q=x HTTP/1.1\r\nHost: kept.test\r\nX-Tag: threaded\r\n\r\n")
        assert Reader(s).read().json() == {"started": "t1"}
    finally:
        s.close()
    # Keep the reactor busy meanwhile so the batch entry is reused.
    for i in range(10):
        assert get(server, f"/plain/{i}").json()["n"] == i
    deadline = time.monotonic() + 30
    while True:
        d = get(server, "/seen/t1").json()
        if "missing" not in d or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert d["path"] == "/thread/t1" and d["query"] == {"q": "x"} and d["headers"]["x-tag"] == "threaded"


def test_requests_nobody_keeps_on_one_connection(server):
    s = server.connect(timeout=30)
    try:
        rd = Reader(s)
        for i in range(300):
            s.sendall(f"GET /plain/{i}?q=v{i} HTTP/1.1\r\nHost: kept.test\r\nX-Tag: n{i}\r\n\r\n".encode())
            assert rd.read().json() == {"n": i, "tag": f"n{i}", "q": f"v{i}"}
    finally:
        s.close()


def test_a_request_object_used_again_carries_nothing_over(server):
    # Request objects of finished requests serve later ones (request_object.cpp's free
    # list): attributes set by a handler, cached query, headers and params, pipelined and
    # one by one, with objects the GC freed from a cycle among them.
    s = server.connect(timeout=30)
    try:
        rd = Reader(s)
        for rnd in range(3):
            reqs = []
            for k in range(12):
                i = rnd * 100 + k
                tag = f"X-Tag: m{i}\r\n" if k % 3 else ""
                query = f"?q=v{i}&r={k}" if k % 2 else ""
                reqs.append((i, tag, query))
            s.sendall(b"".join(f"GET /mark/{i}{query} HTTP/1.1\r\nHost: kept.test\r\n{tag}\r\n".encode()
                               for i, tag, query in reqs))
            for i, tag, query in reqs:
                want = {"had_mark": False, "n": i, "q": {"q": f"v{i}", "r": str(i % 100)} if query else {},
                        "tag": f"m{i}" if tag else None, "path": f"/mark/{i}"}
                assert rd.read().json() == want
            for _ in range(3):
                s.sendall(b"GET /cycle HTTP/1.1\r\nHost: kept.test\r\n\r\n")
                assert rd.read().json() == {"cycle": True}
            s.sendall(b"GET /collect HTTP/1.1\r\nHost: kept.test\r\n\r\n")
            assert rd.read().json() == {"collected": True, "path": "/collect"}
    finally:
        s.close()


@pytest.fixture(scope="module")
def async_server():
    yield from served("kept_async_requests:app", "--threads", "1")


def test_async_requests_kept_and_reused_carry_nothing_over(async_server):
    # Async requests leave their batch for storage of their own, which serves later async
    # requests once their views die. Requests of every size and header count, pipelined on
    # a few connections, half of them kept by the handler and read back after all the
    # others: each view, kept or answered at once, shows exactly its own request.
    kept = {}

    def one(i: int, k: int) -> tuple[bytes, dict]:
        raw, facts = varied_request(i, "akeep" if k % 2 else "afacts", every_field=True)
        if k % 2:
            kept[f"n{i}"] = facts
            facts = {"kept": f"n{i}"}
        return raw, facts

    pipelined_rounds(async_server, one)
    assert len(kept) == 48
    for name, want in kept.items():
        assert get(async_server, f"/akept/{name}").json() == want
    # Every kept view is gone now: their storage serves these, which show only their own.
    for i in range(12):
        raw, want = varied_request(1000 + i, "afacts", every_field=True)
        assert request(async_server, raw).json() == want
