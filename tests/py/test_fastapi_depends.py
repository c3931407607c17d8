"""Dependencies under FastAPI's conventions (``ringbolt.fastapi``), as FastAPI 0.165 solves
them (the rows below are FastAPI's own answers to the same requests, and the order its
dependencies ran in): each dependency is called as soon as the parameters under it are
valid, while the other errors are gathered, so a refusal of a dependency wins over a 422
(docs/from-fastapi.md); the 422 lists the errors dependency by dependency; a cached
dependency met again is checked again. A yield dependency's code after the ``yield`` sees
the handler's exception before the answer is made and decides it: an ``HTTPException``
raised there is the answer, the same exception raised again a 500, the exception caught
and not raised again a ``FastAPIError`` (raised in the test by the TestClient, as
Starlette's does). ringbolt's own App keeps its documented order (tests/py/test_typed_depends.py)."""

import time
from typing import Annotated, Any, Iterator

import pytest

from ringbolt.fastapi import Depends, FastAPI, Header, HTTPException, Query
from ringbolt.fastapi.exceptions import FastAPIError
from ringbolt.fastapi.testclient import TestClient
from pydantic import BaseModel

LOG: list[str] = []


class OwnerError(Exception):
    pass


class Item(BaseModel):
    name: str


def verify_token(x_token: Annotated[str, Header()]) -> None:
    LOG.append("token")
    if x_token != "t":
        raise HTTPException(400, "X-Token header invalid")


def verify_key(x_key: Annotated[str, Header()]) -> str:
    LOG.append("key")
    if x_key != "k":
        raise HTTPException(400, "X-Key header invalid")
    return x_key


def needs_q(q: Annotated[int, Query()]) -> int:
    LOG.append("needs_q")
    return q


def refuses() -> None:
    LOG.append("refuses")
    raise HTTPException(401, "no")


def parent(a: Annotated[int, Depends(needs_q)], h: Annotated[str, Header()]) -> int:
    LOG.append("parent")
    return a


def cached_q(q: Annotated[int, Query()]) -> int:
    LOG.append("cached")
    return q


def uses_cached(c: Annotated[int, Depends(cached_q)]) -> int:
    LOG.append("uses")
    return c


def other_uses_cached(c: Annotated[int, Depends(cached_q)], h: Annotated[str | None, Header()] = None) -> int:
    LOG.append("other")
    return c


def gen_convert() -> Iterator[str]:
    try:
        yield "Rick"
    except OwnerError as e:
        LOG.append("convert")
        raise HTTPException(400, f"Owner error: {e}") from e


async def agen_convert() -> Any:
    try:
        yield "Rick"
    except OwnerError as e:
        LOG.append("aconvert")
        raise HTTPException(400, f"Owner error: {e}") from e


def gen_swallow() -> Iterator[str]:
    try:
        yield "Rick"
    except OwnerError:
        LOG.append("swallow")


def gen_reraise() -> Iterator[str]:
    try:
        yield "Rick"
    except OwnerError:
        LOG.append("reraise")
        raise


def gen_sees() -> Iterator[str]:
    try:
        yield "x"
    except Exception as e:
        LOG.append(f"sees {type(e).__name__}")
        raise
    else:
        LOG.append("sees nothing")


def gen_outer() -> Iterator[str]:
    try:
        yield "o"
    except Exception as e:
        LOG.append(f"outer sees {type(e).__name__}")
        raise


def gen_inner(o: Annotated[str, Depends(gen_outer)]) -> Iterator[str]:
    try:
        yield o + "i"
    except OwnerError as e:
        LOG.append("inner converts")
        raise HTTPException(409, "converted") from e


def gen_function() -> Iterator[str]:
    try:
        yield "f"
    except OwnerError as e:
        LOG.append("fconvert")
        raise HTTPException(418, "function scope") from e


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/order", dependencies=[Depends(verify_token), Depends(verify_key)])
    def order(q: int = 0) -> Any:
        return {"q": q}

    @app.get("/refuse-first")
    def refuse_first(a: Annotated[int, Depends(needs_q)], b: Annotated[None, Depends(refuses)], limit: int) -> Any:
        return {"a": a}

    @app.get("/nested")
    def nested(p: Annotated[int, Depends(parent)], k: Annotated[str, Depends(verify_key)], z: int) -> Any:
        return {"p": p, "k": k, "z": z}

    @app.post("/body")
    def body(item: Item, _: Annotated[None, Depends(refuses)]) -> Any:
        return item

    @app.post("/body-ok")
    def body_ok(item: Item, k: Annotated[str, Depends(verify_key)]) -> Any:
        return item

    @app.get("/cached")
    def cached(a: Annotated[int, Depends(uses_cached)], b: Annotated[int, Depends(other_uses_cached)]) -> Any:
        return {"a": a, "b": b}

    def owner(fail: int, u: str) -> str:
        if fail:
            raise OwnerError(u)
        return u

    @app.get("/gen/convert/{fail}")
    def r_convert(fail: int, u: Annotated[str, Depends(gen_convert)]) -> Any:
        return owner(fail, u)

    @app.get("/agen/convert/{fail}")
    async def r_aconvert(fail: int, u: Annotated[str, Depends(agen_convert)]) -> Any:
        return owner(fail, u)

    @app.get("/async/convert/{fail}")  # an async route, a sync generator
    async def r_async_sync_gen(fail: int, u: Annotated[str, Depends(gen_convert)]) -> Any:
        return owner(fail, u)

    @app.get("/gen/swallow/{fail}")
    def r_swallow(fail: int, u: Annotated[str, Depends(gen_swallow)]) -> Any:
        return owner(fail, u)

    @app.get("/agen/swallow/{fail}")
    async def r_aswallow(fail: int, u: Annotated[str, Depends(gen_swallow)]) -> Any:
        return owner(fail, u)

    @app.get("/gen/reraise/{fail}")
    def r_reraise(fail: int, u: Annotated[str, Depends(gen_reraise)]) -> Any:
        return owner(fail, u)

    @app.get("/gen/http/{fail}")
    def r_http(fail: int, u: Annotated[str, Depends(gen_sees)]) -> Any:
        if fail:
            raise HTTPException(404, "nope")
        return u

    @app.get("/gen/nested/{fail}")
    def r_nested(fail: int, u: Annotated[str, Depends(gen_inner)]) -> Any:
        return owner(fail, u)

    @app.get("/gen/function/{fail}")
    def r_function(fail: int, u: Annotated[str, Depends(gen_function, scope="function")],
                   s: Annotated[str, Depends(gen_sees)]) -> Any:
        return owner(fail, u)

    @app.get("/gen/depfails")
    def r_depfails(s: Annotated[str, Depends(gen_sees)], _: Annotated[None, Depends(refuses)]) -> Any:
        return s

    @app.get("/gen/invalid")
    def r_invalid(s: Annotated[str, Depends(gen_sees)], n: int) -> Any:
        return s

    return app


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return make_app()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def missing(*loc: str) -> dict[str, Any]:
    return {"type": "missing", "loc": list(loc), "msg": "Field required", "input": None}


def not_int(where: str, name: str, value: str) -> dict[str, Any]:
    return {"type": "int_parsing", "loc": [where, name],
            "msg": "Input should be a valid integer, unable to parse string as an integer", "input": value}


ORDER: list[tuple[str, str, dict[str, str], Any, int, Any, list[str]]] = [
    # method, path, headers, JSON body, status, answer, the dependencies' log (FastAPI 0.165's)
    ("GET", "/order", {"X-Token": "bad"}, None, 400, {"detail": "X-Token header invalid"}, ["token"]),
    ("GET", "/order", {"X-Key": "bad"}, None, 400, {"detail": "X-Key header invalid"}, ["key"]),
    ("GET", "/order", {"X-Token": "t"}, None, 422, {"detail": [missing("header", "x-key")]}, ["token"]),
    ("GET", "/order?q=x", {"X-Token": "t", "X-Key": "k"}, None, 422, {"detail": [not_int("query", "q", "x")]},
     ["token", "key"]),
    ("GET", "/order?q=x", {"X-Token": "bad", "X-Key": "k"}, None, 400, {"detail": "X-Token header invalid"},
     ["token"]),
    ("GET", "/order?q=3", {"X-Token": "t", "X-Key": "k"}, None, 200, {"q": 3}, ["token", "key"]),
    ("GET", "/refuse-first", {}, None, 401, {"detail": "no"}, ["refuses"]),
    ("GET", "/refuse-first?q=1", {}, None, 401, {"detail": "no"}, ["needs_q", "refuses"]),
    ("GET", "/nested", {}, None, 422, {"detail": [missing("query", "q"), missing("header", "h"),
                                                  missing("header", "x-key"), missing("query", "z")]}, []),
    ("GET", "/nested", {"X-Key": "bad"}, None, 400, {"detail": "X-Key header invalid"}, ["key"]),
    ("GET", "/nested?q=1", {"X-Key": "k"}, None, 422, {"detail": [missing("header", "h"), missing("query", "z")]},
     ["needs_q", "key"]),
    ("GET", "/nested?q=1&z=2", {"X-Key": "k", "h": "v"}, None, 200, {"p": 1, "k": "k", "z": 2},
     ["needs_q", "parent", "key"]),
    ("GET", "/nested?q=x&z=y", {"X-Key": "k", "h": "v"}, None, 422,
     {"detail": [not_int("query", "q", "x"), not_int("query", "z", "y")]}, ["key"]),
    ("POST", "/body", {}, {"nope": 1}, 401, {"detail": "no"}, ["refuses"]),
    ("POST", "/body", {}, None, 401, {"detail": "no"}, ["refuses"]),
    ("POST", "/body-ok", {"X-Key": "bad"}, {"nope": 1}, 400, {"detail": "X-Key header invalid"}, ["key"]),
    ("POST", "/body-ok", {}, {"nope": 1}, 422, {"detail": [missing("header", "x-key"), {
        "type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {"nope": 1}}]}, []),
    ("POST", "/body-ok", {"X-Key": "k"}, {"name": "n"}, 200, {"name": "n"}, ["key"]),
    # a cached dependency met twice: its refusal listed twice, its call once
    ("GET", "/cached", {}, None, 422, {"detail": [missing("query", "q"), missing("query", "q")]}, []),
    ("GET", "/cached?q=4", {}, None, 200, {"a": 4, "b": 4}, ["cached", "uses", "other"]),
]


def _answer(r: Any) -> Any:
    return r.json() if r.headers.get("content-type") == "application/json" else r.text


@pytest.mark.parametrize("method,path,headers,body,status,answer,log", ORDER)
def test_dependencies_are_solved_in_fastapis_order(client: TestClient, method: str, path: str,
                                                   headers: dict[str, str], body: Any, status: int, answer: Any,
                                                   log: list[str]) -> None:
    LOG.clear()
    r = client.request(method, path, headers=headers, json=body)
    assert (r.status_code, _answer(r)) == (status, answer)
    assert LOG == log


YIELDS: list[tuple[str, int, Any, list[str]]] = [
    # path, status, answer, the log when the answer is out (then, after it, `later`)
    ("/gen/convert/0", 200, "Rick", []),
    ("/gen/convert/1", 400, {"detail": "Owner error: Rick"}, ["convert"]),
    ("/agen/convert/1", 400, {"detail": "Owner error: Rick"}, ["aconvert"]),
    ("/async/convert/1", 400, {"detail": "Owner error: Rick"}, ["convert"]),
    ("/gen/swallow/0", 200, "Rick", []),
    ("/gen/swallow/1", 500, "Internal Server Error", ["swallow"]),
    ("/agen/swallow/1", 500, "Internal Server Error", ["swallow"]),
    ("/gen/reraise/1", 500, "Internal Server Error", ["reraise"]),
    ("/gen/http/1", 404, {"detail": "nope"}, ["sees HTTPException"]),
    ("/gen/nested/0", 200, "oi", []),
    ("/gen/nested/1", 409, {"detail": "converted"}, ["inner converts", "outer sees HTTPException"]),
    ("/gen/function/1", 418, {"detail": "function scope"}, ["fconvert", "sees HTTPException"]),
    ("/gen/depfails", 401, {"detail": "no"}, ["refuses", "sees HTTPException"]),
    ("/gen/invalid", 422, {"detail": [missing("query", "n")]}, ["sees RequestValidationError"]),
]


@pytest.mark.parametrize("path,status,answer,log", YIELDS)
def test_a_yield_dependency_sees_the_failure_before_the_answer(client: TestClient, path: str, status: int,
                                                               answer: Any, log: list[str]) -> None:
    LOG.clear()
    r = client.get(path)
    assert (r.status_code, _answer(r)) == (status, answer)
    assert LOG == log  # all of it before the answer was made


@pytest.mark.parametrize("path,later", [("/gen/http/0", ["sees nothing"]), ("/gen/function/0", ["sees nothing"])])
def test_a_request_scope_cleanup_of_a_success_runs_after_the_answer(client: TestClient, path: str,
                                                                    later: list[str]) -> None:
    LOG.clear()
    r = client.get(path)
    assert r.status_code == 200
    deadline = time.monotonic() + 5
    while LOG != later and time.monotonic() < deadline:
        time.sleep(0.01)
    assert LOG == later


@pytest.mark.parametrize("path,raised,message", [
    ("/gen/swallow/1", FastAPIError, "raising an exception and a dependency with yield"),
    ("/agen/swallow/1", FastAPIError, "raising an exception and a dependency with yield"),
    ("/gen/reraise/1", OwnerError, "Rick"),
])
def test_the_client_raises_what_the_request_ended_with(app: FastAPI, path: str, raised: type, message: str) -> None:
    with TestClient(app) as c:
        with pytest.raises(raised) as info:
            c.get(path)
        assert message in str(info.value)
        assert c.get("/gen/convert/1").status_code == 400  # an answered exception is not raised


def test_dependency_overrides_set_to_none_is_none(app: FastAPI) -> None:
    with TestClient(app) as c:
        app.dependency_overrides[needs_q] = lambda: 7
        assert c.get("/refuse-first?limit=1").json() == {"detail": "no"}
        app.dependency_overrides = None  # type: ignore[assignment]  # as FastAPI's tests do
        assert app.dependency_overrides == {}
        LOG.clear()
        assert c.get("/nested?q=2&z=3", headers={"X-Key": "k", "h": "v"}).json() == {"p": 2, "k": "k", "z": 3}
        assert LOG == ["needs_q", "parent", "key"]


def _logged(name: str, header: str | None = None) -> Any:
    if header is None:
        def dep() -> None:
            LOG.append(name)
        return dep

    def checked(x: Annotated[str, Header(alias=header)]) -> None:
        LOG.append(name)
        if x != "ok":
            raise HTTPException(400, f"{name} refused")
    return checked


@pytest.mark.parametrize("headers,status,answer,log", [
    ({"x-app": "ok", "x-inc": "ok"}, 200, None, ["app", "include", "router", "route"]),
    ({"x-inc": "bad"}, 400, {"detail": "include refused"}, ["include"]),
    ({"x-app": "bad", "x-inc": "ok"}, 400, {"detail": "app refused"}, ["app"]),
    ({}, 422, {"detail": [missing("header", "x-app"), missing("header", "x-inc")]}, ["router", "route"]),
])
def test_include_router_dependencies_run_between_the_apps_and_the_routers(
        headers: dict[str, str], status: int, answer: Any, log: list[str]) -> None:
    # FastAPI 0.165's answers: the app's, include_router's, the router's, the route's
    from ringbolt.fastapi import APIRouter
    app = FastAPI(dependencies=[Depends(_logged("app", "x-app"))])
    router = APIRouter(dependencies=[Depends(_logged("router"))])

    @router.get("/r", dependencies=[Depends(_logged("route"))])
    def r() -> Any:
        return None

    app.include_router(router, prefix="/inc", dependencies=[Depends(_logged("include", "x-inc"))])
    with TestClient(app) as c:
        LOG.clear()
        r = c.get("/inc/r", headers=headers)
    assert (r.status_code, r.json()) == (status, answer)
    assert LOG == log
