"""Typed routes inside the rest of the App (docs/typed.md): middleware around them,
routers included under a prefix, exception handlers, HEAD, a streamed body to an async
typed route, response options on a plain ``def h(req)`` handler, and the plan data
that OpenAPI generation reads."""

from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from ringbolt import App, Body, Depends, HTTPException, Query, Request, Response, Router
from ringbolt.routing import CallNext
from ringbolt.testing import TestClient


class Note(BaseModel):
    text: str
    n: int = 0


def make_app() -> App:
    app = App()
    notes = Router(prefix="/notes")

    @app.middleware
    async def stamp(req: Request, call_next: CallNext) -> Response:
        resp: Response = await call_next(req)
        resp.headers.append(("x-mw", "1"))
        return resp

    @app.exception_handler(KeyError)
    def on_key(req: Request, exc: KeyError) -> Response:
        return Response.json({"missing": str(exc.args[0])}, status=404)

    @notes.get("/{nid}", tags=["notes"], summary="One note")
    def read(nid: int, full: bool = False) -> dict[str, Any]:
        if nid == 0:
            raise KeyError("note 0")
        return {"nid": nid, "full": full}

    @notes.post("", status_code=201, response_model=Note)
    async def create(note: Note, tag: Annotated[str, Query(max_length=5)] = "") -> Any:
        return {"text": note.text, "n": len(note.text), "tag": tag}

    @app.get("/legacy", status_code=203)
    def legacy(req):  # type: ignore[no-untyped-def]
        return {"query": dict(req.query)}

    def deny() -> None:
        raise HTTPException(403, detail="denied")

    @app.get("/denied", dependencies=[Depends(deny)])
    def denied() -> dict[str, Any]:
        return {"never": True}

    @app.post("/sizes")
    async def sizes(blob: Annotated[str, Body(embed=True)]) -> dict[str, int]:
        return {"len": len(blob)}

    app.include(notes, prefix="/v1")
    return app


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(make_app()) as c:
        yield c


CASES = [
    ("GET", "/v1/notes/3?full=yes", None, 200, {"nid": 3, "full": True}),
    ("GET", "/v1/notes/0", None, 404, {"missing": "note 0"}),  # the app's exception handler
    ("GET", "/v1/notes/x", None, 422, None),
    ("POST", "/v1/notes?tag=ab", {"text": "hello"}, 201, {"text": "hello", "n": 5}),
    ("POST", "/v1/notes?tag=toolong", {"text": "hello"}, 422, None),
    ("GET", "/legacy?a=1", None, 203, {"query": {"a": "1"}}),  # status_code= on a plain handler
    ("GET", "/denied", None, 403, None),
]


@pytest.mark.parametrize("method,path,body,status,expected", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_inside_the_app(client: Any, method: str, path: str, body: Any, status: int, expected: Any) -> None:
    r = client.request(method, path, json=body) if body is not None else client.request(method, path)
    assert r.status_code == status, r.text
    assert r.headers["x-mw"] == "1"  # the middleware ran around every answer, 422 included
    if expected is not None:
        assert r.json() == expected


def test_head_of_a_typed_get(client: Any) -> None:
    r = client.head("/v1/notes/3")
    assert (r.status_code, r.content) == (200, b"")


def test_streamed_body_to_an_async_typed_route(client: Any) -> None:
    blob = "x" * (3 << 20)  # over 1 MiB: an async handler gets it streamed
    r = client.post("/sizes", json={"blob": blob})
    assert (r.status_code, r.json()) == (200, {"len": 3 << 20})


def test_plans_for_openapi() -> None:
    app = make_app()
    plans = {(path, tuple(methods)): plan for path, methods, plan in app.route_plans()}
    read = plans[("/v1/notes/{nid}", ("GET",))]
    assert read.options["tags"] == ["notes"] and read.options["summary"] == "One note"
    assert [(p.name, p.source, p.required) for p in read.params()] == [("nid", "path", True), ("full", "query", False)]
    create = plans[("/v1/notes", ("POST",))]
    assert create.is_async and create.response.model is Note and create.response.status_code == 201
    assert create.body is not None and [p.name for p in create.body.params] == ["note"]
    denied = plans[("/denied", ("GET",))]
    assert [d.call.__name__ for d in denied.dependencies] == ["deny"]
