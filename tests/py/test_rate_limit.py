"""Native rate limits (docs/rate-limits.md) over real sockets: a limit hit, then 429 with
Retry-After and the RateLimit-* headers; refills on the server's test clock
(RINGBOLT_TEST_RATE_CLOCK_FILE: no sleeps); keys from trusted forwarding, PROXY headers and
an API key header, and a client rotating X-Forwarded-For from an untrusted address still
limited; one limit across --workers 2; HTTP/1.1, HTTP/2 and HTTP/3; an ASGI app mounted
under an app-wide limit; bad configurations refused."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import h3_client
from conftest import LoggedServer, Reader, Response, ServerProcess, assert_problem, free_port
from h2_tls_helpers import Client, certs, status, tls_args  # noqa: F401  (certs is a fixture)
from ringbolt import App, RateLimit

_clients = (f"198.51.100.{i}" for i in itertools.count(1))


def new_client() -> str:
    """A client address of its own for a test (sent as X-Forwarded-For by a trusted peer)."""
    return next(_clients)


class Clock:
    """The server's rate-limit clock: seconds added to its monotonic clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0.0
        path.write_text("0")

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.path.write_text(repr(self.offset))


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> Clock:
    return Clock(tmp_path_factory.mktemp("rate") / "clock")


@pytest.fixture(scope="module")
def srv(clock: Clock) -> Iterator[LoggedServer]:
    s = LoggedServer("rate_limit_app:app", clock.path.with_name("server.log"), "--proxy-headers",
                     "--forwarded-allow-ips", "127.0.0.1", "--threads", "2",
                     env={"RINGBOLT_TEST_RATE_CLOCK_FILE": str(clock.path)})
    yield s
    assert s.stop() == 0, s.output()


def hit(srv: ServerProcess, path: str, client: str | None = None, headers: str = "",
        source: str | None = None) -> Response:
    """One GET on a connection of its own, from `source` (a loopback address; default
    127.0.0.1, a trusted proxy) saying X-Forwarded-For: `client` when given."""
    if client is not None:
        headers += f"X-Forwarded-For: {client}\r\n"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        if source is not None:
            s.bind((source, 0))
        s.connect((srv.host, srv.port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}\r\n".encode())
        return Reader(s).read()


def assert_allowed(r: Response, limit: int, remaining: int, window: int) -> None:
    assert r.status == 200, r
    assert (r.header("ratelimit-limit"), r.header("ratelimit-remaining")) == (str(limit), str(remaining)), r
    assert r.header("ratelimit-policy") == f"{limit};w={window}", r
    reset = r.header("ratelimit-reset")
    assert reset is not None and 0 < int(reset) <= 2 * window, r
    assert r.header("retry-after") is None, r


def assert_refused(r: Response, limit: int, window: int) -> int:
    """A 429 problem with the RateLimit-* fields; its Retry-After in seconds."""
    assert_problem(r, 429, "rate limit")
    assert (r.header("ratelimit-limit"), r.header("ratelimit-remaining")) == (str(limit), "0"), r
    assert r.header("ratelimit-policy") == f"{limit};w={window}", r
    retry = int(r.header("retry-after") or "0")
    assert 1 <= retry <= 2 * window, r
    return retry


def test_five_a_minute_then_429_with_retry_after(srv: ServerProcess) -> None:
    client = new_client()
    for left in range(4, -1, -1):
        r = hit(srv, "/limited", client)
        assert_allowed(r, 5, left, 60)
        assert r.json()["client"] == client  # the key is the client the app sees
    for _ in range(3):  # refusals do not count: each says the same wait
        assert_refused(hit(srv, "/limited", client), 5, 60)


def test_sliding_window_refills_when_retry_after_says(srv: ServerProcess, clock: Clock) -> None:
    client = new_client()
    for left in (2, 1, 0):
        assert_allowed(hit(srv, "/short", client), 3, left, 2)
    retry = assert_refused(hit(srv, "/short", client), 3, 2)
    clock.advance(retry)
    assert hit(srv, "/short", client).status == 200
    clock.advance(4)  # two windows: nothing counts any more
    for left in (2, 1, 0):
        assert_allowed(hit(srv, "/short", client), 3, left, 2)


def test_token_bucket_refills_a_token_at_a_time(srv: ServerProcess, clock: Clock) -> None:
    client = new_client()
    assert_allowed(hit(srv, "/bucket", client), 2, 1, 10)
    assert_allowed(hit(srv, "/bucket", client), 2, 0, 10)
    assert assert_refused(hit(srv, "/bucket", client), 2, 10) == 5  # one token every 5 s
    clock.advance(5)
    assert_allowed(hit(srv, "/bucket", client), 2, 0, 10)
    assert hit(srv, "/bucket", client).status == 429


def test_clients_behind_a_trusted_proxy_are_counted_apart(srv: ServerProcess) -> None:
    a, b = new_client(), new_client()
    for _ in range(5):
        assert hit(srv, "/limited", a).status == 200
    assert hit(srv, "/limited", a).status == 429
    assert_allowed(hit(srv, "/limited", b), 5, 4, 60)


def test_rotating_x_forwarded_for_from_an_untrusted_peer_is_one_key(srv: ServerProcess) -> None:
    for i in range(5):
        r = hit(srv, "/limited", new_client(), source="127.0.0.2")
        assert r.status == 200 and r.json()["client"] == "127.0.0.2", r
    assert_refused(hit(srv, "/limited", new_client(), source="127.0.0.2"), 5, 60)
    assert_refused(hit(srv, "/limited", source="127.0.0.2"), 5, 60)


def test_api_key_header_picks_the_key(srv: ServerProcess) -> None:
    client = new_client()
    for key in ("k1", "k2"):
        for _ in range(2):
            assert hit(srv, "/keyed", client, f"X-API-Key: {key}\r\n").status == 200
        assert hit(srv, "/keyed", client, f"X-API-Key: {key}\r\n").status == 429
    # Without the header: the client's address is the key.
    assert hit(srv, "/keyed", client).status == 200
    assert hit(srv, "/keyed", client).status == 200
    assert hit(srv, "/keyed", client).status == 429
    assert hit(srv, "/keyed", new_client()).status == 200


def test_app_wide_limit_counts_its_routes_together(srv: ServerProcess) -> None:
    client = new_client()
    for path, left in (("/api/a", 3), ("/api/b", 2), ("/api/a", 1), ("/api/b", 0)):
        assert_allowed(hit(srv, path, client), 4, left, 60)
    assert_refused(hit(srv, "/api/b", client), 4, 60)
    assert_refused(hit(srv, "/api/a", client), 4, 60)
    for path in ("/api/exempt", "/free"):  # rate_limit=False, and a route no limit covers
        for _ in range(6):
            r = hit(srv, path, client)
            assert r.status == 200 and r.header("ratelimit-limit") is None, r


@pytest.mark.parametrize("path", ["/const", "/users/me"])
def test_const_and_included_routes_keep_their_limit(srv: ServerProcess, path: str) -> None:
    client = new_client()
    assert_allowed(hit(srv, path, client), 1, 0, 60)
    assert_refused(hit(srv, path, client), 1, 60)


def test_headers_false_leaves_allowed_answers_alone(srv: ServerProcess) -> None:
    client = new_client()
    for _ in range(2):
        r = hit(srv, "/quiet", client)
        assert r.status == 200 and r.header("ratelimit-limit") is None, r
    assert_refused(hit(srv, "/quiet", client), 2, 60)


def test_a_full_table_evicts_the_oldest_and_says_so_once(srv: LoggedServer) -> None:
    clients = [new_client() for _ in range(12)]
    for c in clients:  # 12 keys in a table of 8: every first request is counted, none refused
        assert hit(srv, "/tiny", c).status == 200
    out = srv.wait_log("its table of 8 keys has a full bucket")
    assert hit(srv, "/tiny", clients[-1]).status == 429  # the newest keys are still counted
    assert hit(srv, "/tiny", clients[0]).status == 200  # the oldest was evicted: it starts afresh
    assert srv.output().count("has a full bucket") == 1, out


def test_http2_and_an_async_route(srv: ServerProcess) -> None:
    client = new_client()
    with Client(srv) as c:  # h2c by prior knowledge, every request on one connection
        fwd = [("x-forwarded-for", client)]
        for left in range(4, -1, -1):
            r = c.get("/limited", headers=fwd)
            assert status(r) == 200 and r["headers"]["ratelimit-remaining"] == str(left), r
        r = c.get("/limited", headers=fwd)
        assert status(r) == 429 and int(r["headers"]["retry-after"]) >= 1, r
        assert json.loads(r["body"])["status"] == 429
        for _ in range(2):
            assert status(c.get("/async", headers=fwd)) == 200
        assert status(c.get("/async", headers=fwd)) == 429


def test_one_limit_across_workers() -> None:
    srv = ServerProcess("rate_limit_app:app", "--workers", "2", "--threads", "1")
    try:
        ready: set[int] = set()  # both workers answer (until then new connections go to the first)
        deadline = time.monotonic() + 15
        while len(ready) < 2 and time.monotonic() < deadline:
            ready.add(hit(srv, "/free").json()["pid"])
        assert len(ready) == 2, ready
        pids = set()
        for left in range(39, -1, -1):  # a connection each: the kernel spreads them over both workers
            r = hit(srv, "/wide")
            assert r.status == 200 and r.header("ratelimit-remaining") == str(left), r
            pids.add(r.json()["pid"])
        assert len(pids) == 2, pids
        for _ in range(10):  # whichever worker takes it
            assert hit(srv, "/wide").status == 429
    finally:
        assert srv.stop() == 0, srv.output()


def test_http3(certs: Path) -> None:  # noqa: F811
    srv = ServerProcess("rate_limit_app:app", *tls_args(certs), "--http3", "--threads", "1")
    try:
        for left in range(4, -1, -1):
            r = h3_client.get(srv.port, "/limited")
            assert r.status == 200 and r.header("ratelimit-remaining") == str(left), r
        r = h3_client.get(srv.port, "/limited")
        assert r.status == 429 and r.header("ratelimit-policy") == "5;w=60", r
        assert int(r.header("retry-after") or "0") >= 1
    finally:
        assert srv.stop() == 0, srv.output()


def proxied_hit(srv: ServerProcess, src: str, path: str = "/limited") -> Response:
    with srv.connect() as s:
        s.sendall(f"PROXY TCP4 {src} 127.0.0.1 40000 443\r\n".encode()
                  + f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        return Reader(s).read()


def test_clients_named_by_proxy_headers_are_counted_apart() -> None:
    srv = ServerProcess("rate_limit_app:app", "--proxy-protocol", "v1", "--forwarded-allow-ips", "127.0.0.1")
    try:
        for _ in range(5):
            r = proxied_hit(srv, "192.0.2.1")
            assert r.status == 200 and r.json()["client"] == "192.0.2.1", r
        assert proxied_hit(srv, "192.0.2.1").status == 429
        assert_allowed(proxied_hit(srv, "192.0.2.2"), 5, 4, 60)
    finally:
        assert srv.stop() == 0, srv.output()


def test_an_asgi_app_under_an_app_wide_limit() -> None:
    srv = ServerProcess("rate_limit_app:asgi")
    try:
        for left, path in ((1, "/x"), (0, "/y")):
            r = hit(srv, path)
            assert r.status == 200 and r.body == b"asgi " + path.encode(), r
            assert r.header("ratelimit-remaining") == str(left), r
        assert_refused(hit(srv, "/z"), 2, 60)
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A redis-server of the test's own on a free port (nothing saved)."""
    import redis

    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("path", ["/global", "/global-async"])
def test_a_redis_limit_holds_across_two_servers(redis_url: str, path: str) -> None:
    """Two servers (two machines, as far as the limit knows) naming one Redis: 3 a minute
    for the client in all."""
    servers = [ServerProcess("rate_limit_app:redis_app", env={"RINGBOLT_TEST_REDIS_URL": redis_url})
               for _ in range(2)]
    try:
        for s in (servers[0], servers[1], servers[0]):
            assert hit(s, path).status == 200
        for s in servers:
            r = hit(s, path)
            assert_problem(r, 429, "rate limit")
            assert r.header("ratelimit-policy") == "3;w=60" and r.header("ratelimit-remaining") == "0", r
            assert 1 <= int(r.header("retry-after") or "0") <= 20, r  # a token every 20 s
    finally:
        for s in servers:
            assert s.stop() == 0, s.output()


def test_an_unreachable_redis_lets_requests_through_and_says_so_once(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    srv = LoggedServer("rate_limit_app:redis_app", tmp_path / "server.log",
                       env={"RINGBOLT_TEST_REDIS_URL": url})
    try:
        for _ in range(5):
            assert hit(srv, "/global").status == 200
        srv.wait_log("requests are let through until it answers")
        assert srv.output().count("requests are let through") == 1
    finally:
        assert srv.stop() == 0, srv.output()


def test_redis_limit_without_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    with pytest.raises(ImportError, match=r"ringbolt\[redis\]"):
        RateLimit("5/minute", algorithm="token_bucket", redis="redis://127.0.0.1:6379/0")


def test_redis_limits_refuse_what_they_cannot_cover() -> None:
    with pytest.raises(ValueError, match="token bucket"):
        RateLimit("5/minute", redis="redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="redis must be"):
        RateLimit("5/minute", algorithm="token_bucket", redis="127.0.0.1:6379")
    app = App()
    app.get("/c", const=True, rate_limit=RateLimit("5/minute", algorithm="token_bucket",
                                                   redis="redis://127.0.0.1:1/0"))(lambda req: {})
    with pytest.raises(ValueError, match="a const or WebSocket route never does"):
        app.run(port=0, log_level="warning")


@pytest.mark.parametrize("text, error", [
    ("5/fortnight", "cannot read the rate limit"),
    ("five/minute", "cannot read the rate limit"),
    ("0/minute", "1 to 65535"),
    ("70000/minute", "1 to 65535"),
    ("5/0s", "1 ms to 366 days"),
    ("5/400d", "1 ms to 366 days"),
])
def test_bad_limits_are_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        RateLimit(text)


@pytest.mark.parametrize("kw, exc, error", [
    ({"key": "user"}, ValueError, "per verified user: PrincipalLimit"),
    ({"key": "header:"}, ValueError, "header name"),
    ({"algorithm": "leaky"}, ValueError, "algorithm must be one of"),
    ({"table_size": 4}, ValueError, "table_size"),
    ({"headers": "yes"}, TypeError, "True or False"),
])
def test_bad_options_are_refused(kw: dict[str, Any], exc: type[Exception], error: str) -> None:
    with pytest.raises(exc, match=error):
        RateLimit("5/minute", **kw)


def test_rate_forms_and_misuse() -> None:
    assert (RateLimit("100 per hour").requests, RateLimit("100 per hour").window) == (100, 3600.0)
    assert RateLimit("3/2s").window == 2.0 and RateLimit("10/30 seconds").window == 30.0
    app = App()
    with pytest.raises(TypeError, match="rate_limit= takes"):
        app.get("/x", rate_limit=5)
    app.rate_limit("5/minute")
    with pytest.raises(ValueError, match="already configured"):
        app.rate_limit("6/minute")
    with pytest.raises(ValueError, match="must start with '/'"):
        App().rate_limit("5/minute", paths=["api"])


# ---- IPv6 clients: one key per /64 (ipv6_prefix), where the key is made in Python ----

@pytest.fixture(scope="module")
def redis_behind_proxy(redis_url: str) -> Iterator[ServerProcess]:
    """The Redis limits' app behind a trusted proxy (127.0.0.1), on every address ("::")."""
    srv = ServerProcess("rate_limit_app:redis_app", "--host", "::", "--proxy-headers", "--forwarded-allow-ips",
                        "127.0.0.1", env={"RINGBOLT_TEST_REDIS_URL": redis_url})
    yield srv
    assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("first, second, shared", [
    ("2001:db8:1:1::1", "2001:db8:1:1:ffff:ffff:ffff:fffe", True),  # one /64: one budget
    ("2001:db8:1:2::1", "2001:db8:1:3::1", False),                  # two /64s
    ("198.51.100.7", "198.51.100.8", False),                        # IPv4: each address
    ("::ffff:198.51.100.9", "198.51.100.9", True),                  # IPv4-mapped: the IPv4 address
])
@pytest.mark.parametrize("path", ["/global", "/global-async"])
def test_ipv6_clients_are_keyed_on_their_64(redis_behind_proxy: ServerProcess, path: str, first: str, second: str,
                                            shared: bool) -> None:
    tag = "a" if path == "/global-async" else ""  # (the sync and async routes count apart: own addresses)
    first, second = (a.replace("2001:db8:", f"2001:db8{tag}:") for a in (first, second))
    if tag and "." in first:
        first, second = (a.replace(".9", ".19").replace(".7", ".17").replace(".8", ".18") for a in (first, second))
    for _ in range(3):
        assert hit(redis_behind_proxy, path, first).status == 200
    r = hit(redis_behind_proxy, path, second)
    assert r.status == (429 if shared else 200), r


def test_a_client_on_ipv6_loopback(redis_behind_proxy: ServerProcess) -> None:
    def from_loopback6() -> Response:
        with socket.create_connection(("::1", redis_behind_proxy.port), timeout=10) as s:
            s.sendall(b"GET /global HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return Reader(s).read()

    assert [from_loopback6().status for _ in range(4)] == [200, 200, 200, 429]
    assert hit(redis_behind_proxy, "/global", "2001:db8:9::1").status == 200  # another client


@pytest.mark.parametrize("prefix", [15, 129, "64", True])
def test_bad_ipv6_prefixes_are_refused(prefix: Any) -> None:
    with pytest.raises(ValueError, match="ipv6_prefix must be an int from 16 to 128"):
        RateLimit("5/minute", ipv6_prefix=prefix)


# ---- IPv6 clients in the native limits: one key per prefix (ipv6_prefix) ----

@pytest.fixture(scope="module")
def native_v6() -> Iterator[ServerProcess]:
    """Native limits of 3 a minute keyed on /64, /48, /128 and /60, on every address ("::"),
    behind a trusted proxy (127.0.0.1, which reaches it as ::ffff:127.0.0.1)."""
    srv = ServerProcess("rate_limit_app:v6_app", "--host", "::", "--proxy-headers", "--forwarded-allow-ips",
                        "127.0.0.1")
    yield srv
    assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("bits, first, second, shared", [
    (64, "2001:db8:1:1::1", "2001:db8:1:1:ffff:ffff:ffff:fffe", True),  # one /64: one budget
    (64, "2001:db8:1:2::1", "2001:db8:1:3::1", False),                  # two /64s
    (64, "198.51.100.7", "198.51.100.8", False),                        # IPv4: each address
    (64, "::ffff:198.51.100.9", "198.51.100.9", True),                  # IPv4-mapped: the IPv4 address
    (64, "::ffff:198.51.100.10", "::ffff:198.51.100.11", False),        # ... not one /64 for all IPv4
    (48, "2001:db8:2:1::1", "2001:db8:2:ffff::1", True),                # one /48
    (48, "2001:db8:3::1", "2001:db8:4::1", False),
    (128, "2001:db8:5::1", "2001:db8:5::2", False),                     # each address
    (128, "2001:db8:5::3", "2001:db8:5:0:0:0:0:3", True),               # the same address, written apart
    (60, "2001:db8:6:10::1", "2001:db8:6:1f::1", True),                 # 60 bits: 12 of the fourth group
    (60, "2001:db8:6:20::1", "2001:db8:6:30::1", False),
])
def test_native_limits_key_ipv6_clients_on_their_prefix(native_v6: ServerProcess, bits: int, first: str,
                                                         second: str, shared: bool) -> None:
    for _ in range(3):
        assert hit(native_v6, f"/v6/{bits}", first).status == 200
    r = hit(native_v6, f"/v6/{bits}", second)
    assert r.status == (429 if shared else 200), r
    if shared:
        assert_refused(r, 3, 60)


def test_native_limits_on_ipv6_loopback_and_dual_stack_ipv4(native_v6: ServerProcess) -> None:
    def from_loopback6(path: str) -> Response:
        with socket.create_connection(("::1", native_v6.port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
            return Reader(s).read()

    assert [from_loopback6("/v6/64").status for _ in range(4)] == [200, 200, 200, 429]
    assert hit(native_v6, "/v6/64", "2001:db8:9::1").status == 200  # a forwarded client: another key
    assert hit(native_v6, "/v6/64", "::1").status == 429  # ::1 forwarded is ::1 connected
    # IPv4 clients of the dual-stack listener (::ffff:127.0.0.x) are each their own key,
    # not one ::ffff:0:0/64 (no forwarding header: the trusted proxy's own address).
    assert [hit(native_v6, "/v6/48", source="127.0.0.2").status for _ in range(4)] == [200, 200, 200, 429]
    assert hit(native_v6, "/v6/48", source="127.0.0.3").status == 200


# ---- per verified principal (PrincipalLimit) ----

def principal_app(redis: str | None) -> App:
    from ringbolt import Security
    from ringbolt.auth import APIKeyAuth
    from ringbolt.rate_limit import PrincipalLimit

    keys = APIKeyAuth("X-API-Key", keys={"ann-1": "ann", "ann-2": "ann", "bob-1": "bob"})
    per_user = PrincipalLimit(keys, RateLimit("3/minute", algorithm="token_bucket", redis=redis),
                              name=f"test-{time.monotonic_ns()}")
    app = App()

    @app.get("/items", dependencies=[Security(per_user)])
    def items(req: Any) -> dict[str, Any]:
        return {"ok": True}

    return app


@pytest.mark.parametrize("in_redis", [False, True])
def test_a_principal_limit_counts_the_verified_subject(in_redis: bool, request: pytest.FixtureRequest) -> None:
    """Two keys of one subject share its budget (key="header:X-API-Key" would give each its
    own), a made-up key is refused by the verifier before it is counted."""
    from ringbolt.testing import TestClient

    redis = request.getfixturevalue("redis_url") if in_redis else None
    with TestClient(principal_app(redis)) as c:
        def get(key: str | None) -> Any:
            return c.get("/items", headers={"x-api-key": key} if key else {})

        assert [get(k).status_code for k in ("ann-1", "ann-2", "ann-1")] == [200, 200, 200]
        refused = get("ann-2")
        assert refused.status_code == 429, refused.text
        assert refused.headers["ratelimit-policy"] == "3;w=60" and 1 <= int(refused.headers["retry-after"]) <= 20
        assert refused.json()["detail"].startswith("This client sent more requests")
        assert [get(k).status_code for k in ("made-up", "also-made-up", None)] == [401, 401, 401]
        assert get("bob-1").status_code == 200  # a subject of its own
        assert "429" in c.get("/openapi.json").json()["paths"]["/items"]["get"]["responses"]


def test_principal_limits_refuse_what_they_cannot_count() -> None:
    from ringbolt.auth import APIKeyAuth
    from ringbolt.rate_limit import PrincipalLimit

    keys = APIKeyAuth("X-API-Key", keys=["k"])
    with pytest.raises(ValueError, match="token bucket"):
        PrincipalLimit(keys, RateLimit("3/minute"))
    with pytest.raises(TypeError, match="takes a verifier"):
        PrincipalLimit(lambda req: None, "3/minute")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot read the rate limit"):
        PrincipalLimit(keys, "3 a minute")
