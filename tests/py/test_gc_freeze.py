"""A served process freezes the heap its app was loaded and started with (``gc.freeze``
before the listeners open, ``ringbolt.serving.app_server._freeze_startup_heap``): full
collections, which under load came about once per thousand requests, no longer walk the
app's modules and state (for FastAPI some 55,000 objects each time), while what requests make is still
collected. ``RINGBOLT_GC_FREEZE=0`` keeps the default collector. Every server mode (App,
ASGI, WSGI), a supervised worker, both io backends."""

from __future__ import annotations

import httpx
import pytest

from conftest import ServerProcess

APPS = {"app": "gc_freeze_apps:app", "asgi": "gc_freeze_apps:asgi", "wsgi": "gc_freeze_apps:wsgi"}
CASES = [(kind, io, args) for kind in APPS for io in ("uring", "epoll") for args in ((), ("--workers", "2"))]


def served(kind: str, io: str, args: tuple[str, ...], freeze: str | None = None) -> dict:
    env = {"RINGBOLT_IO": "epoll"} if io == "epoll" else {}
    if freeze is not None:
        env["RINGBOLT_GC_FREEZE"] = freeze
    srv = ServerProcess(APPS[kind], "--threads", "1", *args, env=env)
    try:
        r = httpx.get(f"http://{srv.host}:{srv.port}/gc", timeout=10)
        assert r.status_code == 200, (r.status_code, r.text, srv.output())
        return r.json()
    finally:
        assert srv.stop() == 0, srv.output()


@pytest.mark.parametrize("kind,io,args", CASES, ids=[f"{k}-{io}{'-workers' if a else ''}" for k, io, a in CASES])
def test_the_loaded_app_is_frozen_and_requests_are_still_collected(kind, io, args):
    got = served(kind, io, args)
    assert got["frozen"] >= 5000, got  # at least the module's 5,000 lists
    assert not got["import_walked"], got
    assert not got["startup_walked"], got  # the startup hook ran before the freeze
    assert got["collected"] >= 1, got  # the request's reference cycle was found and freed


@pytest.mark.parametrize("io", ["uring", "epoll"])
def test_gc_freeze_0_keeps_the_default_collector(io):
    got = served("asgi", io, (), freeze="0")
    assert got["frozen"] == 0, got
    assert got["import_walked"] and got["startup_walked"], got
    assert got["collected"] >= 1, got
