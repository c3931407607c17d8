"""How ringbolt.fastapi reads a JSON body where FastAPI's rules differ from ringbolt's:
bytes that are not JSON are FastAPI's 422 ``json_invalid`` at the position Python's
``json`` stops (ringbolt's App answers 400), a refused body's errors are those of its
value validated (FastAPI's Python-mode messages: "a valid list"), and ``strict_content_type=False`` (app or
router) reads a body sent without a Content-Type as JSON. Each request goes
over a real socket to the app made with ringbolt.fastapi's imports, and in-process to
the same app made with FastAPI's (the reference: it must be installed). FastAPI 0.16x's
``max_body_size`` and ``form_limits`` (app, router, include_router, route) answer as
FastAPI's."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import AfterValidator, BaseModel
from pydantic import field_validator as pydantic_field_validator

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

    @app.post("/numbers")
    def numbers(values: list[int] = fastapi.Body()) -> list[int]:
        return values

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
    # refusals as validating the value gives them (Python mode), not JSON mode's
    ("/items", b"[1, 2]", "application/json"),
    ("/items", b'"text"', "application/json"),
    ("/items", b'{"name": ["x"], "price": {}}', "application/json"),
    ("/numbers", b'{"numbers": [1, 2, 3]}', "application/json"),
    ("/numbers", b'[1, "x", 3]', "application/json"),
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


def make_limited(fastapi: Any) -> Any:
    app = fastapi.FastAPI(max_body_size=100)
    uploads = fastapi.APIRouter(prefix="/uploads", max_body_size=1000)
    plain = fastapi.APIRouter(prefix="/plain")
    inner = fastapi.APIRouter(prefix="/inner")

    @app.post("/items")
    def create(item: Item) -> Item:
        return item

    @app.post("/stream")
    async def stream(item: Item) -> Item:
        return item

    @app.post("/nobody")
    def nobody() -> dict[str, str]:
        return {"ok": "yes"}

    @uploads.post("/")
    def upload(item: Item) -> Item:
        return item

    @uploads.post("/small", max_body_size=500)
    async def small(item: Item) -> Item:
        return item

    @plain.post("/")
    def in_plain(item: Item) -> Item:
        return item

    @inner.post("/")
    def in_inner(item: Item) -> Item:
        return item

    app.include_router(uploads)
    app.include_router(plain)  # the app's limit
    app.include_router(inner, max_body_size=300)  # include_router's, over the app's
    return app


def item_of(size: int) -> bytes:
    """A JSON item of exactly ``size`` bytes."""
    head = b'{"name": "'
    tail = b'", "price": 1.5}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


LIMITS = [
    # path, body size: each limit, at it and one byte past it
    ("/items", 100), ("/items", 101), ("/stream", 100), ("/stream", 101), ("/nobody", 101), ("/nobody", 100),
    ("/uploads/", 1000), ("/uploads/", 1001), ("/uploads/small", 500), ("/uploads/small", 501),
    ("/plain/", 100), ("/plain/", 101), ("/inner/", 300), ("/inner/", 301),
]


@pytest.fixture(scope="module")
def limited() -> Any:
    import fastapi
    from fastapi.testclient import TestClient as ReferenceClient

    import ringbolt.fastapi
    from ringbolt.fastapi.testclient import TestClient

    with TestClient(make_limited(ringbolt.fastapi)) as ours:
        yield ours, ReferenceClient(make_limited(fastapi))


@pytest.mark.parametrize("path,size", LIMITS)
def test_max_body_size_is_fastapis(limited: Any, path: str, size: int) -> None:
    ours, reference = limited
    body = item_of(size)
    want = reference.post(path, content=body, headers={"content-type": "application/json"})
    got = ours.post(path, content=body, headers={"content-type": "application/json"})
    assert (got.status_code, got.text, got.headers["content-type"]) == (
        want.status_code, want.text, want.headers["content-type"])


@pytest.fixture(scope="module")
def limits_server() -> Any:
    from conftest import ServerProcess

    srv = ServerProcess("fastapi_limits_app:app", "--log-level", "warning")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("size,status", [(300_000, 200), (300_001, 413), (1_000_000, 413)])
def test_a_streamed_body_without_a_length_is_counted_as_it_comes(limits_server: Any, size: int,
                                                                 status: int) -> None:
    """Chunked, no Content-Length, sent in pieces after the head: the async route gets it
    as it arrives and counts what it reads; past the limit it stops reading and answers
    413 (the server then drops the rest)."""
    import socket
    import time

    name = b"x" * (size - 12)
    body = b'{"name": "' + name + b'"}'
    sock = limits_server.connect()
    try:
        sock.sendall(b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        time.sleep(0.05)  # the head alone first: the route starts before its body is there
        try:
            for i in range(0, len(body), 65536):
                piece = body[i:i + 65536]
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                time.sleep(0.005)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # answered and closed before the rest was sent
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith((b"}", b"Large")):
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            answer += chunk
    finally:
        sock.close()
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:300]
    if status == 413:
        assert b"content-type: text/plain; charset=utf-8" in head.lower() and text == b"Content Too Large"
    else:
        assert text == b'{"n":%d}' % len(name)


@pytest.mark.parametrize("value", [-1, True, 1.5, "10"])
def test_max_body_size_must_be_a_byte_count(value: Any) -> None:
    import ringbolt.fastapi as f

    for make in (lambda: f.FastAPI(max_body_size=value), lambda: f.APIRouter(max_body_size=value),
                 lambda: f.FastAPI().post("/x", max_body_size=value),
                 lambda: f.FastAPI().include_router(f.APIRouter(), max_body_size=value)):
        with pytest.raises(ValueError, match="max_body_size must be a non-negative integer or None"):
            make()


def make_forms(fastapi: Any) -> Any:
    app = fastapi.FastAPI(form_limits={"max_fields": 3})
    router = fastapi.APIRouter(prefix="/r", form_limits={"max_files": 1})
    included = fastapi.APIRouter(prefix="/i")

    @app.post("/notes")
    def notes(text: str = fastapi.Form()) -> dict[str, int]:
        return {"size": len(text)}

    @app.post("/small", form_limits={"max_part_size": 10})
    async def small(text: str = fastapi.Form()) -> dict[str, int]:
        return {"size": len(text)}

    def upload(files: Any = fastapi.File(), text: str = fastapi.Form("")) -> dict[str, int]:
        return {"files": len(files)}
    upload.__annotations__["files"] = list[fastapi.UploadFile]  # (this module's annotations are text)
    router.post("/upload")(upload)

    @included.post("/notes")
    def included_notes(text: str = fastapi.Form()) -> dict[str, int]:
        return {"size": len(text)}

    app.include_router(router)
    app.include_router(included, form_limits={"max_fields": 1})  # over the app's
    return app


FORMS = [
    # path, fields, files (multipart when there are files or "multipart")
    ("/notes", {"text": "ok"}, None),
    ("/notes", {"text": "ok", "a": "1", "b": "2"}, None),  # 3 fields: at the app's limit
    ("/notes", {"text": "ok", "a": "1", "b": "2", "c": "3"}, None),  # 4: past it
    ("/notes", {"text": "x" * (1024 * 1024 + 1)}, None),  # FastAPI's default part size
    ("/notes", {"text": "x" * (1024 * 1024 + 1)}, "multipart"),
    ("/notes", {"text": "é" * 600_000}, None),  # urlencoded: counted as sent (percent-encoded)
    ("/small", {"text": "0123456789"}, None),
    ("/small", {"text": "0123456789a"}, None),
    ("/small", {"text": "0123456789a"}, "multipart"),
    ("/small", {"text": "a b c d e f"}, None),  # 11 bytes as sent ("+" for a space)
    ("/r/upload", {}, [("files", ("a.txt", b"a"))]),
    ("/r/upload", {}, [("files", ("a.txt", b"a")), ("files", ("b.txt", b"b"))]),  # the router's max_files
    ("/r/upload", {"text": "x", "a": "1", "b": "2", "c": "3"}, [("files", ("a.txt", b"a"))]),  # the app's fields
    ("/i/notes", {"text": "ok"}, None),
    ("/i/notes", {"text": "ok", "a": "1"}, None),  # include_router's max_fields
]


@pytest.fixture(scope="module")
def form_clients() -> Any:
    import fastapi
    from fastapi.testclient import TestClient as ReferenceClient

    import ringbolt.fastapi
    from ringbolt.fastapi.testclient import TestClient

    with TestClient(make_forms(ringbolt.fastapi)) as ours:
        yield ours, ReferenceClient(make_forms(fastapi))


@pytest.mark.parametrize("path,fields,files", FORMS)
def test_form_limits_are_fastapis(form_clients: Any, path: str, fields: dict[str, str], files: Any) -> None:
    ours, reference = form_clients

    def send(client: Any) -> Any:
        if files == "multipart":
            return client.post(path, files={k: (None, v) for k, v in fields.items()})
        if files:
            return client.post(path, data=fields, files=files)
        return client.post(path, data=fields)
    want, got = send(reference), send(ours)
    assert (got.status_code, got.json()) == (want.status_code, want.json())


@pytest.mark.parametrize("value", [{"max_fieldz": 1}, {"max_fields": -1}, {"max_files": True}, {"max_part_size": 1.5},
                                   [("max_fields", 1)]])
def test_form_limits_must_be_fastapis_keys_and_counts(value: Any) -> None:
    import ringbolt.fastapi as f

    for make in (lambda: f.FastAPI(form_limits=value), lambda: f.APIRouter(form_limits=value),
                 lambda: f.FastAPI().post("/x", form_limits=value),
                 lambda: f.FastAPI().include_router(f.APIRouter(), form_limits=value)):
        with pytest.raises(ValueError, match="form_limits must be a dict of max_fields, max_files, max_part_size"):
            make()


def test_a_route_limit_above_the_servers_is_the_servers(limits_server: Any) -> None:
    """A route's max_body_size above the server's max_body_size (16 MiB unless
    --max-body-size): the server answers its own 413 (a problem) before the app sees the
    request (docs/from-fastapi.md, what is left)."""
    sock = limits_server.connect()
    try:
        sock.sendall(b"POST /huge HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (17 * 1024 * 1024))
        answer = sock.recv(65536)
    finally:
        sock.close()
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"content-type: application/problem+json" in head.lower() and b"max_body_size" in text


def must_start_with_isbn(value: str) -> str:
    if not value.startswith("isbn-"):
        raise ValueError('Invalid ID format, it must start with "isbn-"')
    return value


class Priced(BaseModel):
    price: float

    @pydantic_field_validator("price")
    @classmethod
    def positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("no free lunch")
        return value


IsbnId = Annotated[str, AfterValidator(must_start_with_isbn)]


def make_validators(fastapi: Any, handled: bool) -> Any:
    app = fastapi.FastAPI()
    if handled:
        @app.exception_handler(fastapi.exceptions.RequestValidationError)
        async def handler(request: Any, exc: Any) -> Any:
            errors = exc.errors()
            kinds = [type((e.get("ctx") or {}).get("error")).__name__ for e in errors]
            return fastapi.responses.JSONResponse({"kinds": kinds, "errors": fastapi.encoders.jsonable_encoder(errors)},
                                                  status_code=422)

    @app.get("/items")
    def items(id: IsbnId) -> dict[str, str]:
        return {"id": id}

    @app.post("/priced")
    def priced(item: Priced) -> Priced:
        return item
    return app


VALIDATED = [("get", "/items?id=isbn-1", None), ("get", "/items?id=wtf", None),
             ("post", "/priced", {"price": 1}), ("post", "/priced", {"price": -1})]


@pytest.mark.parametrize("handled", [False, True])
@pytest.mark.parametrize("method,url,body", VALIDATED)
def test_a_validators_exception_is_fastapis_in_the_422_and_the_handler(handled: bool, method: str, url: str,
                                                                        body: Any) -> None:
    """FastAPI writes a validator's exception in ``ctx.error`` as ``{}`` (jsonable_encoder's
    reading of an exception) and gives the exception itself to the app's handler; ringbolt's
    App writes its text (test_ringbolt_app_keeps_the_validators_text)."""
    import fastapi
    import fastapi.encoders
    import fastapi.exceptions
    import fastapi.responses
    from fastapi.testclient import TestClient as ReferenceClient

    import ringbolt.fastapi
    import ringbolt.fastapi.encoders
    import ringbolt.fastapi.exceptions
    import ringbolt.fastapi.responses
    from ringbolt.fastapi.testclient import TestClient

    want = getattr(ReferenceClient(make_validators(fastapi, handled)), method)(url, **({"json": body} if body else {}))
    with TestClient(make_validators(ringbolt.fastapi, handled)) as client:
        got = getattr(client, method)(url, **({"json": body} if body else {}))
    assert (got.status_code, got.json()) == (want.status_code, want.json())


def test_ringbolt_app_keeps_the_validators_text() -> None:
    from ringbolt import App
    from ringbolt.fastapi.testclient import TestClient

    app = App()

    @app.post("/priced")
    def priced(item: Priced) -> dict[str, float]:
        return {"price": item.price}

    with TestClient(app) as client:
        answer = client.post("/priced", json={"price": -1})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["ctx"] == {"error": "no free lunch"}
