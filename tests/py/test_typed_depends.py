"""Dependencies of typed routes (docs/typed.md, "Dependencies"): called once per request
(or per use with use_cache=False), in order, with their own typed parameters; route-level
dependencies; generator clean-up after the client has the response, also when the
handler raised (the exception thrown in at the yield); Security scopes; app-scoped
values; dependency_overrides; and what is refused when a route is registered."""

import contextlib
import copy
import json
import time
from typing import Annotated, Any, Iterator

import pytest

from ringbolt import (App, Depends, Header, HTTPException, Query, Request, RequestValidationError, Response, Security,
                      SecurityScopes)
from ringbolt.typed.plan import DependencyScopeError, PlanError
from ringbolt.testing import TestClient
from typed_helpers import InProcess, Transport, transport_fixture

served = transport_fixture("testclient", "http1")


def log(t: Transport) -> list[str]:
    return list(t.get("/log").json()["log"])


def clear(t: Transport) -> None:
    assert t.call("POST", "/log/clear").status == 200


def test_cached_once_per_request_and_in_order(served: Transport) -> None:
    clear(served)
    r = served.get("/deps/cache").json()
    # counter (shared by pair's two parameters and the handler's), pair, then fresh's two
    # use_cache=False calls
    assert r == {"same": True, "c": 1, "differ": True, "log": ["counter", "pair", "counter", "counter"]}
    clear(served)
    assert served.get("/deps/cache").json()["log"] == ["counter", "pair", "counter", "counter"]


DEP_PARAMS = [
    ("/deps/params", [], 200, {"page": {"limit": 5, "key": "none"}, "q": None, "skip": 0}),
    ("/deps/params?limit=7&q=z&skip=2", [("x-key", "k")], 200, {"page": {"limit": 7, "key": "k"}, "q": "z", "skip": 2}),
    ("/deps/params?limit=70&skip=x", [], 422, [("int_parsing", ("query", "skip")),
                                               ("less_than_equal", ("query", "limit"))]),
]


@pytest.mark.parametrize("path,headers,status,expected", DEP_PARAMS)
def test_dependency_parameters(served: Transport, path: str, headers: list[tuple[str, str]], status: int,
                               expected: Any) -> None:
    r = served.get(path, headers)
    assert r.status == status, r.body
    if status == 422:
        assert sorted(r.detail()) == sorted(expected)
    else:
        assert r.json() == expected


def test_route_level_dependency(served: Transport) -> None:
    clear(served)
    assert served.get("/deps/route-level").json() == {"log": ["audit"]}


def _wait_log(t: Transport, entry: str) -> list[str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        entries = log(t)
        if any(e.startswith(entry) for e in entries):
            return entries
        time.sleep(0.05)
    raise AssertionError(f"{entry!r} never logged: {log(t)}")


# (path, status, the log once the client has the answer, the log after the clean-up)
CLEANUPS = [
    ("/deps/held", 200, ["held-open", "handler"], ["held-open", "handler", "held-close:released=True"]),
    ("/deps/held-fail", 409, ["held-open", "handler"],
     ["held-open", "handler", "held-exc:HTTPException", "held-close:released=True"]),
    ("/deps/aheld", 200, ["aheld-open", "held-open", "handler"],
     ["aheld-open", "held-open", "handler", "held-close:released=True", "aheld-close:released=True"]),
    ("/deps/aheld-fail", 500, ["aheld-open", "handler"],
     ["aheld-open", "handler", "aheld-exc:ValueError", "aheld-close:released=True"]),
]


@pytest.mark.parametrize("path,status,before,after", CLEANUPS, ids=[c[0] for c in CLEANUPS])
def test_cleanup_runs_after_the_client_has_the_response(served: Transport, path: str, status: int,
                                                        before: list[str], after: list[str]) -> None:
    """Each clean-up waits (up to 10 s) for /release, which the test sends only once it
    has the answer: a clean-up that ran before the answer went out would hold it back
    10 s and log released=False."""
    clear(served)
    start = time.monotonic()
    r = served.get(path)
    assert r.status == status, r.body
    assert time.monotonic() - start < 5
    # (the exception is thrown in as the clean-up starts, which may be already)
    assert [e for e in log(served) if "close" not in e and "exc" not in e] == before
    assert not any("close" in e for e in log(served))  # not cleaned up yet: it waits for /release
    assert served.call("POST", "/release").status == 200
    entries = _wait_log(served, "aheld-close" if "aheld" in path else "held-close")
    assert entries == after


def test_bearer_dependency(served: Transport) -> None:
    r = served.get("/me")
    assert (r.status, r.headers["www-authenticate"], r.json()["detail"]) == (401, "Bearer", "Not authenticated")
    assert served.get("/me", [("authorization", "Bearer u1")]).json() == {"user": "u1"}


def test_security_scopes_accumulate_from_the_route_down(served: Transport) -> None:
    r = served.get("/sec/items")
    assert (r.status, r.headers["www-authenticate"]) == (401, 'Bearer scope="items me"')
    assert served.get("/sec/items", [("authorization", "Bearer good")]).json() == {"scopes": ["items", "me"]}


def test_app_scoped_dependency_made_once(served: Transport) -> None:
    first = served.get("/app-dep").json()
    second = served.get("/app-dep").json()
    assert first == second  # the same value, made once for both
    assert first["made"][-1] == "made" and first["p"] == {"pool": len(first["made"])}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_app_scoped_made_at_startup_and_closed_at_shutdown(kind: str) -> None:
    events: list[str] = []

    def pool() -> Any:
        events.append("made")
        yield "P"
        events.append("closed")

    async def apool() -> Any:
        events.append("made")
        yield "AP"
        events.append("closed")

    app = App()

    @app.get("/")
    def index(p: Annotated[str, Depends(pool if kind == "sync" else apool, scope="app")]) -> dict[str, Any]:
        return {"p": p}

    with TestClient(app) as client:
        assert events == ["made"]  # at start-up, before any request
        assert client.get("/").json() == client.get("/").json() == {"p": "P" if kind == "sync" else "AP"}
        assert events == ["made"]
    assert events == ["made", "closed"]


def test_app_scoped_dependency_cannot_take_request_values() -> None:
    def pool(limit: int = 3) -> int:
        return limit

    app = App()
    with pytest.raises(PlanError, match="app-scoped"):
        @app.get("/")
        def index(p: Annotated[int, Depends(pool, scope="app")]) -> int:
            return p


def test_dependency_overrides() -> None:
    import typed_app

    client = InProcess(typed_app.app)
    try:
        assert client.get("/me").status == 401
        typed_app.app.dependency_overrides[typed_app.get_user] = lambda: "test-user"
        assert client.get("/me").json() == {"user": "test-user"}

        def from_header(x_user: Annotated[str, Header()] = "anon") -> str:  # its own typed parameters
            return f"h:{x_user}"

        typed_app.app.dependency_overrides = {typed_app.get_user: from_header}
        assert client.get("/me").json() == {"user": "h:anon"}
        assert client.get("/me", [("x-user", "bob")]).json() == {"user": "h:bob"}
        typed_app.app.dependency_overrides.clear()
        assert client.get("/me").status == 401
        assert client.get("/me", [("authorization", "Bearer z")]).json() == {"user": "z"}
    finally:
        typed_app.app.dependency_overrides.clear()
        client.close()


def test_async_handler_with_async_dependency(served: Transport) -> None:
    assert served.get("/async/q?a=1&tags=x&tags=y&limit=4").json() == {"a": 1, "d": 8, "tags": ["x", "y"]}
    assert served.get("/async/q?a=z").detail() == [("int_parsing", ("query", "a"))]
    r = served.post_json("/async/items", {"name": "a", "price": 1, "note": "dropped"})
    assert (r.status, r.json()) == (200, {"name": "a", "price": 1.0})


def test_validation_error_handler_sees_the_errors() -> None:
    app = App()

    @app.exception_handler(RequestValidationError)
    def on_invalid(req: Request, exc: RequestValidationError) -> Response:
        return Response.json({"errors": exc.errors(), "count": len(exc.errors)}, status=400)

    @app.get("/")
    def index(n: Annotated[int, Query(ge=1)]) -> dict[str, int]:
        return {"n": n}

    with TestClient(app) as client:
        r = client.get("/?n=0")
        assert r.status_code == 400
        assert r.json()["count"] == 1
        assert r.json()["errors"][0]["loc"] == ["query", "n"]
        assert client.get("/?n=2").json() == {"n": 2}


@pytest.mark.parametrize("lib", ["pydantic", "msgspec"])
def test_a_handler_that_changes_the_errors_changes_no_later_refusal(lib: str) -> None:
    """A decoder keeps msgspec's errors for its next refusal of the same kind: the
    errors an exception handler gets are its own copies, so what the handler changes
    reaches neither its answer's copy nor the next refusal's errors."""
    if lib == "msgspec":
        import msgspec

        class Item(msgspec.Struct):
            name: Annotated[str, msgspec.Meta(min_length=1)]
            size: dict[str, int] = {}
    else:
        import pydantic

        class Item(pydantic.BaseModel):  # type: ignore[no-redef]
            name: str = pydantic.Field(min_length=1)
            size: dict[str, int] = {}

    handled = App()

    @handled.exception_handler(RequestValidationError)
    def on_invalid(req: Request, exc: RequestValidationError) -> Response:
        seen = copy.deepcopy(exc.errors())
        for e in exc.errors:  # everything an app might change in place
            e["msg"] = "changed"
            if isinstance(e["loc"], list):
                e["loc"].append("changed")
            if e.get("ctx") is not None:
                e["ctx"]["min_length"] = 99
        return Response.json({"errors": seen}, status=400)

    @handled.post("/items")
    def create(item: Item) -> dict[str, str]:
        return {"name": item.name}

    with TestClient(handled) as client:
        first = client.post("/items", json={"name": ""}).json()["errors"]
        again = client.post("/items", json={"name": ""}).json()["errors"]
        assert first == again
        assert [(e["type"], e["loc"], e["ctx"]) for e in first] == [("string_too_short", ["body", "name"],
                                                                     {"min_length": 1})]
        assert client.post("/items", json={"name": "a"}).json() == {"name": "a"}


def test_a_msgspec_decoder_keeps_no_message_that_quotes_the_client_at_length() -> None:
    """msgspec's message can quote the body (an enum's value, an unknown field's name):
    such a message is answered but not kept, so refusals cannot fill the decoder's keep;
    short ones are kept up to KEEP_MESSAGES."""
    import enum

    import msgspec

    from ringbolt.typed import models as _models

    class Colour(enum.Enum):
        red = "red"

    class Paint(msgspec.Struct):
        colour: Colour

    decode = _models.body_decoder(Paint)
    kept = next(c.cell_contents for c in decode.__closure__ or () if isinstance(c.cell_contents, dict))
    long_value = "x" * (_models.KEEP_MESSAGE_CHARS + 1)
    for i in range(3):
        refused = decode(json.dumps({"colour": f"{long_value}{i}"}).encode())
        assert type(refused) is _models.BodyInvalid and refused[0]["loc"] == ["body", "colour"]
        assert long_value in refused[0]["msg"]
    assert kept == {}
    for i in range(_models.KEEP_MESSAGES + 5):
        assert type(decode(json.dumps({"colour": f"c{i}"}).encode())) is _models.BodyInvalid
    assert len(kept) == _models.KEEP_MESSAGES
    assert decode(b'{"colour": "c0"}') is kept[next(iter(kept))]  # the kept answer, again


def test_plain_handler_is_registered_as_it_is() -> None:
    app = App()

    def plain(req):  # type: ignore[no-untyped-def]
        return {}

    def annotated(request: Request) -> dict[str, Any]:
        return {}

    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:  # a decorator's, without functools.wraps
        return {}

    def untyped_any(req: Any) -> dict[str, Any]:
        return {}

    app.get("/a")(plain)
    app.get("/b")(annotated)
    app.get("/c")(wrapper)
    app.get("/d")(untyped_any)
    routes = app._resolved_routes()
    assert [fn for _, _, fn, _, _, _ in routes] == [plain, annotated, wrapper, untyped_any]
    assert app.route_plans() == []


def test_registration_refuses_what_cannot_be_planned() -> None:
    app = App()
    with pytest.raises(PlanError, match="has no {uid}"):
        @app.get("/items")
        def path_missing(uid: Annotated[int, __import__("ringbolt").Path()]) -> None: ...
    with pytest.raises(PlanError, match="cannot be a list"):
        @app.get("/c")
        def cookie_list(c: Annotated[list[str], __import__("ringbolt").Cookie()]) -> None: ...
    with pytest.raises(PlanError, match="cannot be of type"):
        @app.get("/q")
        def dict_query(q: dict[str, int]) -> None: ...
    with pytest.raises(PlanError, match="needs a class annotation"):
        @app.get("/d")
        def no_callable(d=Depends()) -> None: ...  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="status_code"):
        @app.get("/s", status_code=1000)
        def bad_status() -> None: ...
    assert app.route_plans() == []


def test_loop_less_app_runs_sync_generator_cleanup() -> None:
    """A sync-only app (no event loop of its own) still cleans up after the answer."""
    done: list[str] = []

    def session() -> Any:
        yield "s"
        done.append("closed")

    app = App()

    @app.get("/")
    def index(s: Annotated[str, Depends(session)]) -> dict[str, str]:
        return {"s": s}

    with TestClient(app) as client:
        assert client.get("/").json() == {"s": "s"}
        deadline = time.monotonic() + 10
        while not done and time.monotonic() < deadline:
            time.sleep(0.02)
        assert done == ["closed"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_function_scope_cleanup_runs_before_the_response_is_written(kind: str) -> None:
    """Depends(scope="function"): the code after the yield runs when the handler returns,
    before the answer is written (the clean-up below changes the dict the handler
    returned, and the client sees the change); an exception of the handler is thrown in
    at the yield and still answers; a clean-up that raises makes the answer a 500; the
    request-scoped generator beside it is still finished after the answer."""
    events: list[str] = []

    @contextlib.contextmanager
    def recorded() -> Iterator[dict[str, Any]]:
        state: dict[str, Any] = {"closed": False}
        try:
            yield state
        except Exception as exc:
            events.append(f"thrown:{type(exc).__name__}")
            raise
        state["closed"] = True
        events.append("function-closed")

    def sync_held() -> Any:
        with recorded() as state:
            yield state

    async def async_held() -> Any:
        with recorded() as state:
            yield state

    def broken() -> Any:
        yield None
        raise RuntimeError("the clean-up failed")

    def per_request() -> Any:
        yield None
        events.append("request-closed")

    held = sync_held if kind == "sync" else async_held
    Held = Annotated[dict[str, Any], Depends(held, scope="function")]
    app = App()

    if kind == "sync":
        @app.get("/ok")
        def ok(state: Held, _: Annotated[None, Depends(per_request)]) -> dict[str, Any]:
            return state

        @app.get("/raises")
        def raises(state: Held) -> dict[str, Any]:
            raise HTTPException(409, "conflict")
    else:
        @app.get("/ok")
        async def ok(state: Held, _: Annotated[None, Depends(per_request)]) -> dict[str, Any]:
            return state

        @app.get("/raises")
        async def raises(state: Held) -> dict[str, Any]:
            raise HTTPException(409, "conflict")

    @app.get("/broken")
    def broken_route(_: Annotated[None, Depends(broken, scope="function")]) -> dict[str, str]:
        return {"never": "sent"}

    with TestClient(app) as client:
        assert client.get("/ok").json() == {"closed": True}  # closed before it was written
        assert events[0] == "function-closed"
        deadline = time.monotonic() + 10
        while "request-closed" not in events and time.monotonic() < deadline:
            time.sleep(0.02)
        assert events == ["function-closed", "request-closed"]
        events.clear()
        r = client.get("/raises")
        assert r.status_code == 409 and events == ["thrown:HTTPException"], (r.status_code, events)
        assert client.get("/broken").status_code == 500


def test_depends_scope_is_checked() -> None:
    with pytest.raises(ValueError, match="'request', 'function' or 'app'"):
        Depends(lambda: None, scope="route")


def test_callable_object_dependencies_are_called_as_their_class_says() -> None:
    # The plan calls an object's Python __call__ bound once (ringbolt.typed.runner.call_of), with
    # its own typed parameters; a callable class is constructed; an override still wins.
    class Counter:
        def __init__(self) -> None:
            self.calls = 0

        def __call__(self, req: Request, n: Annotated[int, Query()] = 1,
                     x_tag: Annotated[str, Header()] = "none") -> str:
            self.calls += 1
            return f"{n * 10}:{x_tag}:{req.method}"

    class Made:
        def __init__(self, req: Request) -> None:
            self.path = req.path

    counter = Counter()
    app = App()

    @app.get("/objects")
    def objects(c: Annotated[str, Depends(counter)], m: Annotated[Made, Depends(Made)]) -> dict[str, Any]:
        return {"c": c, "m": m.path}

    with TestClient(app) as client:
        assert client.get("/objects?n=4", headers={"x-tag": "t"}).json() == {"c": "40:t:GET", "m": "/objects"}
        assert client.get("/objects").json() == {"c": "10:none:GET", "m": "/objects"}
        assert client.get("/objects?n=x").status_code == 422
        assert counter.calls == 2
        app.dependency_overrides[counter] = lambda: "over"
        assert client.get("/objects").json()["c"] == "over"
        assert counter.calls == 2


@pytest.mark.parametrize("conventions", ["ringbolt", "fastapi"])
def test_scopes_and_caching_follow_fastapi(conventions: str) -> None:
    # As FastAPI 0.165 (checked with its TestClient on the same routes): a SecurityScopes
    # lists each scope once, its parents' first; a dependency that uses no scopes is one
    # call per request whatever scopes are above it; the same generator with scope
    # "function" and "request" is two values; a use_cache=False value is reused by a
    # later use_cache=True use.
    log: list[str] = []

    def granted(security_scopes: SecurityScopes) -> list[str]:
        log.append("granted " + security_scopes.scope_str)
        return list(security_scopes.scopes)

    def plain() -> str:
        log.append("plain")
        return "p"

    def user(security_scopes: SecurityScopes, g: Annotated[list[str], Security(granted, scopes=["a"])],
             p: Annotated[str, Depends(plain)]) -> dict[str, Any]:
        log.append("user " + security_scopes.scope_str)
        return {"scopes": security_scopes.scopes, "g": g}

    def counter() -> int:
        log.append("counter")
        return len(log)

    def both() -> Iterator[int]:
        log.append("in")
        yield len(log)
        log.append("out")

    app = App(conventions=conventions)

    @app.get("/scopes")
    def scopes(u: Annotated[dict[str, Any], Security(user, scopes=["a", "b"])],
               u2: Annotated[dict[str, Any], Security(user, scopes=["c"])], p: Annotated[str, Depends(plain)],
               g: Annotated[list[str], Depends(granted)]) -> dict[str, Any]:
        return {"u": u, "u2": u2, "g": g}

    @app.get("/dup")
    def dup(u: Annotated[dict[str, Any], Security(user, scopes=["a", "a", "x"])]) -> dict[str, Any]:
        return u

    @app.get("/cache")
    def cache(a: Annotated[int, Depends(counter, use_cache=False)], b: Annotated[int, Depends(counter)],
              c: Annotated[int, Depends(counter)], d: Annotated[int, Depends(counter, use_cache=False)]) -> list[int]:
        return [a, b, c, d]

    @app.get("/gen")
    def gen(a: Annotated[int, Depends(both)], b: Annotated[int, Depends(both, scope="function")]) -> list[int]:
        return [a, b]

    with TestClient(app) as client:
        assert client.get("/scopes").json() == {"u": {"scopes": ["a", "b"], "g": ["a", "b"]},
                                                "u2": {"scopes": ["c"], "g": ["c", "a"]}, "g": []}
        assert log == ["granted a b", "plain", "user a b", "granted c a", "user c", "granted "]
        log.clear()
        assert client.get("/dup").json() == {"scopes": ["a", "x"], "g": ["a", "a", "x"]}
        assert log == ["granted a a x", "plain", "user a x"]
        log.clear()
        assert client.get("/cache").json() == [1, 1, 1, 2]
        log.clear()
        assert client.get("/gen").json() == [1, 2]
        deadline = time.monotonic() + 5
        while len(log) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log == ["in", "in", "out", "out"]


def test_a_request_scope_generator_cannot_take_a_function_scope_one() -> None:
    # its clean-up would run after the value it holds was cleaned up (FastAPI refuses it too)
    def inner() -> Iterator[int]:
        yield 1

    def outer(x: Annotated[int, Depends(inner, scope="function")]) -> Iterator[int]:
        yield x

    def plain(x: Annotated[int, Depends(inner, scope="function")]) -> int:
        return x

    app = App()

    @app.get("/fine")  # a plain function (or a function-scope generator) may
    def fine(v: Annotated[int, Depends(plain)], w: Annotated[int, Depends(outer, scope="function")]) -> int:
        return v + w

    with pytest.raises(DependencyScopeError, match='outer" has the scope "request": it cannot depend on ".*inner", whose '
                                        'scope is "function"'):
        @app.get("/bad")
        def bad(v: Annotated[int, Depends(outer)]) -> int:
            return v
