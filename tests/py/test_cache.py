"""Response caching (cache=, etag=; docs/caching.md) over real sockets with httpx: hits
and misses (the handler's run counter and log prove a hit did not run it), Age, TTL
expiry, keys by query and header, Vary, what is never stored (no-store, private,
cookies, other statuses, requests with credentials), tag invalidation, a stampede run
once, ETag and 304 over HTTP/1.1 and h2, and a Redis store shared by two workers."""

from __future__ import annotations

import concurrent.futures
import re
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from conftest import REPO, ServerProcess, free_port
from redis_server import redis_server
from ringbolt import App
from ringbolt.caching import Cache, Entry, MemoryStore


def runs(log: Path, name: str) -> int:
    """How many times handler ``name`` ran (all workers)."""
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if line.split()[0] == name)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache") / "runs.log"


@pytest.fixture(scope="module")
def srv(log: Path) -> Iterator[ServerProcess]:
    s = ServerProcess("cache_app:app", "--threads", "2", env={"RINGBOLT_TEST_CACHE_LOG": str(log)})
    yield s
    assert s.stop() == 0, s.output()


def test_second_request_is_a_hit(client: httpx.Client, log: Path) -> None:
    first = client.get("/cached", params={"q": "a"})
    second = client.get("/cached", params={"q": "a"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {"run": first.json()["run"], "q": "a"}
    assert runs(log, "cached") == 1
    assert "age" not in first.headers
    assert second.headers["age"] == "0"
    assert second.headers["content-type"] == "application/json"
    assert first.headers["etag"] == second.headers["etag"]


def test_async_route_hit(client: httpx.Client, log: Path) -> None:
    bodies = [client.get("/async-cached").json() for _ in range(3)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert runs(log, "async-cached") == 1


def test_text_body_kept_with_its_type(client: httpx.Client, log: Path) -> None:
    a, b = client.get("/text"), client.get("/text")
    assert a.text == b.text and a.text.endswith(" <b>")
    assert b.headers["content-type"] == "text/plain; charset=utf-8"
    assert runs(log, "text") == 1


def test_head_served_from_the_cache(client: httpx.Client, log: Path) -> None:
    get = client.get("/cached", params={"q": "head"})
    head = client.head("/cached", params={"q": "head"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"] and "age" in head.headers
    assert runs(log, "cached") == 2  # this test's one miss, after the first test's


def test_ttl_expiry(client: httpx.Client, log: Path) -> None:
    a, b = client.get("/short").json(), client.get("/short").json()
    assert a == b
    time.sleep(0.4)  # the ttl is 0.3 s: time is what it waits for
    c = client.get("/short").json()
    assert c != a
    assert runs(log, "short") == 2


def test_key_by_chosen_query_parameters(client: httpx.Client, log: Path) -> None:
    one = client.get("/query", params={"q": "1"}).json()
    assert client.get("/query", params={"q": "1", "other": "x"}).json() == one  # not in key_query
    two = client.get("/query", params={"q": "2"}).json()
    assert two["q"] == "2" and two["run"] != one["run"]
    assert runs(log, "query") == 2


def test_key_by_every_query_parameter_by_default(client: httpx.Client, log: Path) -> None:
    a = client.get("/cached?x=1&y=2").json()
    assert client.get("/cached?y=2&x=1").json() == a  # the order does not matter
    assert client.get("/cached?x=1&y=3").json() != a
    assert runs(log, "cached") == 4


def test_key_by_header(client: httpx.Client, log: Path) -> None:
    en = client.get("/lang", headers={"accept-language": "en"}).json()
    fr = client.get("/lang", headers={"accept-language": "fr"}).json()
    assert en["lang"] == "en" and fr["lang"] == "fr" and en["run"] != fr["run"]
    assert client.get("/lang", headers={"accept-language": "en"}).json() == en
    assert runs(log, "lang") == 2


def test_vary_of_the_response_is_part_of_the_key(client: httpx.Client, log: Path) -> None:
    a = client.get("/vary", headers={"accept": "text/a"})
    b = client.get("/vary", headers={"accept": "text/b"})
    assert a.json()["accept"] == "text/a" and b.json()["accept"] == "text/b"
    assert client.get("/vary", headers={"accept": "text/a"}).json() == a.json()
    again = client.get("/vary", headers={"accept": "text/b"})
    assert again.json() == b.json() and again.headers["vary"] == "Accept"
    assert runs(log, "vary") == 2


@pytest.mark.parametrize("path", ["/vary-star", "/no-store", "/private", "/cookie", "/cookie-header", "/req-cookie",
                                  "/not-found"])
def test_never_stored(client: httpx.Client, log: Path, path: str) -> None:
    a, b = client.get(path), client.get(path)
    assert a.json()["run"] != b.json()["run"]
    assert "age" not in b.headers
    assert runs(log, path.lstrip("/")) == 2


def test_request_with_credentials_bypasses_the_cache(client: httpx.Client, log: Path) -> None:
    cold = client.get("/cached", params={"q": "auth"}).json()
    creds = {"authorization": "Bearer someone"}
    a = client.get("/cached", params={"q": "auth"}, headers=creds).json()
    b = client.get("/cached", params={"q": "auth"}, headers=creds).json()
    assert len({cold["run"], a["run"], b["run"]}) == 3  # neither served from nor stored in it


def test_tag_invalidation(client: httpx.Client, log: Path) -> None:
    one, two = client.get("/items/1").json(), client.get("/items/2").json()
    assert client.get("/items/1").json() == one and client.get("/items/2").json() == two
    assert client.post("/invalidate/item:1").json() == {"dropped": 1}
    fresh = client.get("/items/1").json()
    assert fresh["run"] != one["run"]
    assert client.get("/items/2").json() == two  # its other tag was not named
    assert client.post("/ainvalidate/items").json() == {"dropped": 2}
    assert client.get("/items/2").json()["run"] != two["run"]
    assert runs(log, "item") == 4


def test_typed_route(client: httpx.Client, log: Path) -> None:
    a = client.get("/typed", params={"n": "5"}).json()
    assert client.get("/typed", params={"n": "5"}).json() == a and a["n"] == 5
    assert client.get("/typed", params={"n": "x"}).status_code == 422  # not stored, not a crash
    assert runs(log, "typed") == 1


def stampede(srv: ServerProcess, path: str) -> None:
    """8 clients at once on a cold key, each on its own connection."""
    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as c:
            return c.get(path)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    assert [r.status_code for r in answers] == [200] * 8
    assert all(r.json() == {"slow": True} for r in answers)


def test_stampede_runs_the_handler_once(srv: ServerProcess, log: Path) -> None:
    stampede(srv, "/slow")  # async def: the followers await the first one's answer
    assert runs(log, "slow") == 1


def test_stampede_on_handler_threads_runs_the_handler_once(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"  # sync handlers on 4 threads of their own: they do run at once
    s = ServerProcess("cache_app:app", "--handler-threads", "4", env={"RINGBOLT_TEST_CACHE_LOG": str(log)})
    try:
        stampede(s, "/slow-sync")
    finally:
        assert s.stop() == 0, s.output()
    assert runs(log, "slow-sync") == 1


def test_etag_and_304_on_a_dynamic_route(client: httpx.Client) -> None:
    r = client.get("/dynamic")
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    nm = client.get("/dynamic", headers={"if-none-match": etag})
    assert nm.status_code == 304 and nm.content == b""
    assert nm.headers["etag"] == etag and "content-type" not in nm.headers
    assert client.get("/dynamic", headers={"if-none-match": f'"other", W/{etag}'}).status_code == 304
    assert client.get("/dynamic", headers={"if-none-match": "*"}).status_code == 304
    changed = client.get("/dynamic", params={"v": "new"}, headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert client.get("/dynamic-async").headers["etag"] == client.get("/dynamic-async").headers["etag"]
    assert client.get("/own-etag").headers["etag"] == '"v1"'
    assert client.get("/own-etag", headers={"if-none-match": '"v1"'}).status_code == 304


def test_304_from_the_cache_does_not_run_the_handler(client: httpx.Client, log: Path) -> None:
    r = client.get("/cached", params={"q": "etag"})
    before = runs(log, "cached")
    nm = client.get("/cached", params={"q": "etag"}, headers={"if-none-match": r.headers["etag"]})
    assert nm.status_code == 304 and nm.content == b"" and "age" not in nm.headers
    assert runs(log, "cached") == before


def test_etag_and_304_over_h2(srv: ServerProcess) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", http1=False, http2=True, timeout=10) as c:
        for path in ("/dynamic", "/cached?q=h2"):
            r = c.get(path)
            assert r.http_version == "HTTP/2" and r.status_code == 200
            nm = c.get(path, headers={"if-none-match": r.headers["etag"]})
            assert nm.status_code == 304 and nm.content == b"" and nm.headers["etag"] == r.headers["etag"]


# ---- registration and the stores, without a server ----

def test_refusals_at_registration() -> None:
    app = App()
    with pytest.raises(ValueError, match="GET and HEAD routes, not POST"):
        app.post("/p", cache=60)(lambda req: None)
    with pytest.raises(ValueError, match="const route"):
        app.get("/c", const=True, cache=60)(lambda req: "x")
    with pytest.raises(TypeError, match="cache= takes"):
        app.get("/s", cache="60")(lambda req: None)
    with pytest.raises(ValueError, match="above 0"):
        Cache(ttl=0)
    with pytest.raises(TypeError, match="not one str"):
        Cache(key_query="q")
    with pytest.raises(ValueError, match="final status"):
        Cache(statuses=[304])


def test_routes_without_cache_are_registered_as_they_are() -> None:
    app = App()

    def plain(req: Any) -> str:
        return "x"

    def cached(req: Any) -> str:
        return "x"

    app.get("/plain")(plain)
    app.get("/cached", cache=60)(cached)
    handlers = {path: fn for path, _, fn, *_ in app._resolved_routes()}
    assert handlers["/plain"] is plain
    assert handlers["/cached"] is not cached


def test_memory_store_is_a_bounded_lru() -> None:
    store = MemoryStore(max_entries=2)
    e = Entry(200, [], None, b"x", time.time())
    store.set("a", e, 60, ["t"])
    store.set("b", e, 60)
    assert store.get("a") is e  # a is now the most recently used
    store.set("c", e, 60)
    assert store.get("b") is None and store.get("a") is e and len(store) == 2
    assert store.invalidate(["t"]) == 1 and store.get("a") is None
    small = MemoryStore(max_bytes=1000)
    small.set("big", Entry(200, [], None, b"x" * 1000, time.time()), 60)
    small.set("k1", Entry(200, [], None, b"x" * 480, time.time()), 60)
    small.set("k2", Entry(200, [], None, b"x" * 480, time.time()), 60)
    assert small.get("big") is None and small.get("k2") is not None
    assert small.get("k1") is None  # evicted: the two do not fit in 1000 bytes with their overhead
    assert Entry.decode(b"not an entry\nbody") is None


# ---- Redis, shared by two workers ----

@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def test_redis_store_shared_by_two_workers(redis_url: str, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    s = ServerProcess("cache_app:app", "--workers", "2", env={
        "RINGBOLT_TEST_CACHE_LOG": str(log), "RINGBOLT_TEST_REDIS": redis_url, "RINGBOLT_TEST_PREFIX": "t1:"})
    try:
        base = f"http://127.0.0.1:{s.port}"
        pids: set[str] = set()
        bodies = []
        for _ in range(24):  # a new connection each: the kernel spreads them over the workers
            with httpx.Client(base_url=base, timeout=10) as c:
                for path in ("/cached", "/async-cached"):
                    r = c.get(path)
                    pids.add(r.headers["x-worker"])
                    bodies.append((path, r.json()["run"], r.headers["etag"]))
        assert len(pids) == 2, "the kernel sent every connection to one worker"
        assert len({b for b in bodies if b[0] == "/cached"}) == 1
        assert runs(log, "cached") == 1 and runs(log, "async-cached") == 1
        with httpx.Client(base_url=base, timeout=10) as c:
            item = c.get("/items/7").json()
            assert c.get("/items/7").json() == item
            assert c.post("/invalidate/item:7").json() == {"dropped": 1}
            assert c.get("/items/7").json() != item
            short = c.get("/short").json()
            assert c.get("/short").json() == short
            time.sleep(0.4)  # past the 0.3 s ttl: Redis expired the key
            assert c.get("/short").json() != short
            etag = c.get("/cached").headers["etag"]
            assert c.get("/cached", headers={"if-none-match": etag}).status_code == 304
        assert runs(log, "cached") == 1
    finally:
        assert s.stop() == 0, s.output()


def test_a_redis_store_that_does_not_answer_is_a_miss_and_invalidation_a_503(tmp_path: Path) -> None:
    """Nothing listens at the store's port: cached routes run their handlers (nothing is
    stored), logged once; an invalidation, which must not be lost, is a 503. A Redis that
    hangs instead: tests/py/test_redis_outage.py."""
    s = ServerProcess("cache_app:app", "--threads", "1", env={
        "RINGBOLT_TEST_CACHE_LOG": str(tmp_path / "runs.log"), "RINGBOLT_TEST_REDIS": f"redis://127.0.0.1:{free_port()}/0",
        "RINGBOLT_TEST_PREFIX": "t2:"})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{s.port}", timeout=10) as c:
            for path in ("/cached", "/async-cached"):
                first, second = c.get(path), c.get(path)
                assert first.status_code == second.status_code == 200
                assert first.json()["run"] != second.json()["run"]  # each a miss, nothing stored
            for path in ("/invalidate/t", "/ainvalidate/t"):
                r = c.post(path)
                assert r.status_code == 503 and 1 <= int(r.headers["retry-after"]) <= 2, r.text
                assert "Redis is not answering" in r.json()["detail"]
            assert c.get("/dynamic").status_code == 200  # routes without the store go on
    finally:
        assert s.stop() == 0
    assert runs(tmp_path / "runs.log", "cached") == 2
    assert s.output().count("the response cache: Redis at") == 1, s.output()


def test_the_docs_example(tmp_path: Path) -> None:
    """docs/caching.md's first block, served as it is."""
    block = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "caching.md").read_text(), re.S)[0]
    (tmp_path / "caching_doc.py").write_text(block)
    s = ServerProcess("caching_doc:app", "--app-dir", str(tmp_path), "--threads", "1")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{s.port}", timeout=10) as c:
            assert c.get("/cached").json() == c.get("/cached").json()
            lamp = c.get("/products/1")
            assert lamp.json()["name"] == "lamp" and c.get("/products/1").headers["age"] == "0"
            listing = c.get("/products", params={"page": "1", "utm": "x"}).json()
            assert c.get("/products", params={"page": "1"}).json() == listing
            assert c.put("/products/1", json={"name": "desk lamp", "price": 35}).status_code == 200
            assert c.get("/products/1").json()["name"] == "desk lamp"
            assert c.get("/products/9").status_code == 404
            clock = c.get("/clock")
            again = c.get("/clock", headers={"if-none-match": clock.headers["etag"]})
            assert again.status_code == 304 or again.headers["etag"] != clock.headers["etag"]  # (a new minute)
    finally:
        assert s.stop() == 0, s.output()
