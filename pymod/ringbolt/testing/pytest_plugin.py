"""ringbolt's pytest plugin (registered through the ``pytest11`` entry point): the
``ringbolt_client`` fixture, a running TestClient for the App your ``ringbolt_app``
fixture returns::

    @pytest.fixture
    def ringbolt_app():
        from myservice import app
        return app

    def test_health(ringbolt_client):
        assert ringbolt_client.get("/health").json() == {"ok": True}

It also stops, as each test module ends, the servers that ``ringbolt.fastapi``'s
TestClient started for requests made outside a ``with`` block (a module-level ``client =
TestClient(app)``, as FastAPI's documentation writes tests): a client's next request starts
its server again, so a suite of many modules keeps one such server running, not one a
module.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from . import TestClient


@pytest.fixture
def ringbolt_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A TestClient serving the ``ringbolt_app`` fixture's App (startup and shutdown
    hooks run around the test)."""
    try:
        app = request.getfixturevalue("ringbolt_app")
    except pytest.FixtureLookupError:
        raise pytest.UsageError("the ringbolt_client fixture needs a fixture named ringbolt_app that returns "
                                "your ringbolt.App") from None
    with TestClient(app) as client:
        yield client


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """As a test module ends, stop the servers its clients' requests started outside
    ``with`` blocks (a client's next request starts its server again)."""
    if nextitem is None or getattr(nextitem, "module", None) is not getattr(item, "module", None):
        from ._server import stop_request_started

        try:
            stop_request_started()
        except RuntimeError as exc:  # a server slow to stop is left running, as before: said, not failed
            import warnings

            warnings.warn(f"ringbolt: a test server was left running: {exc}", stacklevel=1)
