"""Callable objects as dependencies (docs/typed.md, "Dependencies"): a class with
``__call__``, annotated under ``from __future__ import annotations``, is planned from
its ``__call__``'s parameters (the class's own field annotations are not parameters)."""

from __future__ import annotations

from typing import Annotated, Any, Iterator

import pytest

from ringbolt import App, Depends, Request
from ringbolt.testing import TestClient


class Threshold:
    """A callable object dependency: its ``__call__``'s parameters are planned."""

    limit: int

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, request: Request, n: int = 0) -> dict[str, Any]:
        return {"over": n >= self.limit, "path": request.path}


threshold = Threshold(3)


def make_app() -> App:
    app = App()

    @app.get("/threshold")
    def r_threshold(t: Annotated[dict[str, Any], Depends(threshold)]) -> dict[str, Any]:
        return t

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


CASES: list[tuple[str, int, Any]] = [
    ("/threshold?n=5", 200, {"over": True, "path": "/threshold"}),
    ("/threshold", 200, {"over": False, "path": "/threshold"}),
    ("/threshold?n=x", 422, [["query", "n"]]),
]


@pytest.mark.parametrize("path,status,expected", CASES)
def test_callable_object_dependency(client: TestClient, path: str, status: int, expected: Any) -> None:
    r = client.get(path)
    assert r.status_code == status, r.text
    assert (r.json() if status == 200 else [e["loc"] for e in r.json()["detail"]]) == expected
