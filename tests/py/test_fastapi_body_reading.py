"""How ringbolt.fastapi reads a JSON body where FastAPI's rules differ from ringbolt's:
bytes that are not JSON are FastAPI's 422 ``json_invalid`` at the position Python's
``json`` stops (ringbolt's App answers 400), and ``strict_content_type=False`` (app or
router) reads a body sent without a Content-Type as JSON. Each request goes
over a real socket to the app made with ringbolt.fastapi's imports, and in-process to
the same app made with FastAPI's (the reference: it must be installed). FastAPI 0.16x's
body limits, which ringbolt.fastapi does not take, are refused naming the server's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

pytest.importorskip("fastapi", reason="FastAPI itself is the reference these answers are compared with")


class Item(BaseModel):
    name: str
    price: float


def make(fastapi: Any) -> Any:
    app = fastapi.FastAPI(strict_content_type=False)
    strict = fastapi.APIRouter(prefix="/strict", strict_content_type=True)
    lax = fastapi.APIRouter(prefix="/lax")

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @strict.post("/items")
    def create_in_strict(item: Item) -> Item:
        return item

    @lax.post("/items")
    def create_in_lax(item: Item, tag: str = fastapi.Body(default="none")) -> dict[str, Any]:
        return {"item": item.model_dump(), "tag": tag}

    app.include_router(strict)
    app.include_router(lax)
    return app


ITEM = b'{"name": "Foo", "price": 50.5}'
CASES = [
    # path, body, Content-Type (None: none sent)
    ("/items", ITEM, None),  # the app's strict_content_type=False: JSON
    ("/items", ITEM, "text/plain"),  # still refused: 422
    ("/items", ITEM, "application/json"),
    ("/items", b"{", "application/json"),  # not JSON: 422 json_invalid at its position
    ("/items", b'{"name": "Foo", "price": }', "application/json"),
    ("/items", b"\x00", "application/json"),
    ("/items", b"{", None),
    ("/items", b'[1, 2', "application/vnd.api+json"),
    ("/strict/items", ITEM, None),  # its router's
    ("/lax/items", b'{"item": {"name": "Foo", "price": 1}, "tag": "x"}', None),  # the app's, through include
    ("/lax/items", b'{"item": ', "application/json"),
]


@pytest.fixture(scope="module")
def clients() -> Any:
    import fastapi
    from fastapi.testclient import TestClient as ReferenceClient

    import ringbolt.fastapi
    from ringbolt.fastapi.testclient import TestClient

    with TestClient(make(ringbolt.fastapi)) as ours:
        yield ours, ReferenceClient(make(fastapi))


@pytest.mark.parametrize("path,body,content_type", CASES)
def test_body_is_read_as_fastapi_reads_it(clients: Any, path: str, body: bytes, content_type: str | None) -> None:
    ours, reference = clients
    headers = {} if content_type is None else {"content-type": content_type}
    want, got = reference.post(path, content=body, headers=headers), ours.post(path, content=body, headers=headers)
    assert (got.status_code, got.json()) == (want.status_code, want.json())


def test_ringbolt_app_keeps_its_400_for_bytes_that_are_not_json() -> None:
    from ringbolt import App
    from ringbolt.fastapi.testclient import TestClient

    app = App()

    @app.post("/items")
    def create(item: Item) -> dict[str, str]:
        return {"name": item.name}

    with TestClient(app) as client:
        answer = client.post("/items", content=b"{", headers={"content-type": "application/json"})
        assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("make_it", [
    lambda f: f.FastAPI(max_body_size=1024),
    lambda f: f.FastAPI(form_limits={"max_fields": 5}),
    lambda f: f.APIRouter(max_body_size=1024),
    lambda f: f.FastAPI().post("/x", max_body_size=10),
    lambda f: f.FastAPI().post("/x", form_limits={"max_part_size": 10}),
    lambda f: f.FastAPI().include_router(f.APIRouter(), max_body_size=10),
])
def test_body_limits_are_refused_naming_the_servers(make_it: Any) -> None:
    import ringbolt.fastapi

    with pytest.raises(TypeError, match="ringbolt.fastapi takes no (max_body_size|form_limits).*--max-body-size"):
        make_it(ringbolt.fastapi)
