"""ringbolt's pytest plugin (registered through the ``pytest11`` entry point): the
``ringbolt_client`` fixture, a running TestClient for the App your ``ringbolt_app``
fixture returns::

    @pytest.fixture
    def ringbolt_app():
        from myservice import app
        return app

    def test_health(ringbolt_client):
        assert ringbolt_client.get("/health").json() == {"ok": True}
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
