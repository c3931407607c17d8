"""An unchanged FastAPI app for tests/py/test_fastapi_adopt.py, served by `ringbolt serve`
(its routes planned) and by uvicorn: parameters and their 422s, bodies, forms and files,
dependencies (with yield, classes, security schemes, Security scopes), response models and
classes, Starlette responses returned, HTTPException and the app's exception handlers,
the temporal response, background tasks, lifespan state, url_for, an included router, a
Starlette route, and a route FastAPI's order puts behind an earlier one."""


import contextlib
import os
from typing import Annotated, Any, AsyncIterator

from fastapi import (APIRouter, BackgroundTasks, Body, Cookie, Depends, FastAPI, File, Form, Header, HTTPException, Path,
                     Query, Request, Response, Security, UploadFile)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (FileResponse, HTMLResponse, JSONResponse, ORJSONResponse, PlainTextResponse,
                               RedirectResponse, StreamingResponse)
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer, SecurityScopes
from pydantic import BaseModel, Field

EVENTS: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    app.state.version = "1.2.3"
    yield {"db": "the-db"}


app = FastAPI(lifespan=lifespan)


class Teapot(Exception):
    pass


@app.exception_handler(Teapot)
async def teapot(request: Request, exc: Teapot) -> JSONResponse:
    return JSONResponse({"teapot": request.url.path}, status_code=418, headers={"X-Handler": "teapot"})


@app.exception_handler(409)
async def conflict(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"conflict": exc.detail}, status_code=409)


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


class User(BaseModel):
    name: str
    password: str = "secret"
    nickname: str | None = None


class PublicUser(BaseModel):
    name: str
    nickname: str | None = None


oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "read me"})
basic = HTTPBasic()
api_key = APIKeyHeader(name="X-Key")


def current_user(scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]) -> User:
    if token != "good":
        raise HTTPException(401, "bad token", headers={"WWW-Authenticate": f'Bearer scope="{scopes.scope_str}"'})
    return User(name="alice")


class Paging:
    def __init__(self, skip: int = 0, limit: Annotated[int, Query(le=100)] = 10) -> None:
        self.skip = skip
        self.limit = limit


def session() -> Any:
    EVENTS.append("open")
    try:
        yield "session"
    finally:
        EVENTS.append("close")


@app.get("/users/me", response_model=PublicUser)
def me(user: Annotated[User, Security(current_user, scopes=["me"])]) -> User:
    return user


@app.get("/users/{user_id}")
def user(user_id: int, paging: Annotated[Paging, Depends()], q: str | None = None) -> dict[str, Any]:
    return {"user_id": user_id, "skip": paging.skip, "limit": paging.limit, "q": q}


@app.get("/files/{file_path:path}")
def file_path(file_path: str) -> dict[str, str]:
    return {"path": file_path}


@app.get("/query")
def query(v: Annotated[int, Query(ge=1, le=5)] = 2, tags: Annotated[list[str], Query()] = [],
          alias_: Annotated[str | None, Query(alias="item-query", pattern="^[a-z]+$")] = None) -> dict[str, Any]:
    return {"v": v, "tags": tags, "alias": alias_}


@app.get("/headers")
def headers(user_agent: Annotated[str | None, Header()] = None, x_token: Annotated[list[str] | None, Header()] = None,
            session_id: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
    return {"ua": user_agent, "tokens": x_token, "session": session_id}


@app.post("/items", status_code=201)
async def create_item(item: Item, request: Request) -> dict[str, Any]:
    return {"item": item, "host": request.url.hostname}


@app.put("/items/{item_id}")
def update_item(item_id: Annotated[int, Path(gt=0)], item: Item, importance: Annotated[int, Body()],
                q: str | None = None) -> dict[str, Any]:
    return {"item_id": item_id, "item": item, "importance": importance, "q": q}


@app.post("/form")
def form(username: Annotated[str, Form()], count: Annotated[int, Form()] = 1) -> dict[str, Any]:
    return {"username": username, "count": count}


@app.post("/upload")
async def upload(file: UploadFile, note: Annotated[str, Form()] = "") -> dict[str, Any]:
    data = await file.read()
    return {"name": file.filename, "size": len(data), "note": note, "type": file.content_type}


@app.post("/upload-bytes")
def upload_bytes(files: Annotated[list[bytes], File()]) -> dict[str, Any]:
    return {"sizes": [len(f) for f in files]}


@app.get("/basic")
def basic_auth(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> dict[str, str]:
    return {"user": credentials.username}


@app.get("/key")
async def key(value: Annotated[str, Depends(api_key)]) -> dict[str, str]:
    return {"key": value}


@app.get("/teapot")
def raise_teapot() -> None:
    raise Teapot()


@app.get("/conflict")
def raise_conflict() -> None:
    raise HTTPException(409, "taken")


@app.get("/fail/{code}")
def fail(code: int) -> None:
    raise HTTPException(code, detail={"code": code}, headers={"X-Error": "yes"})


@app.get("/crash")
def crash() -> None:
    raise RuntimeError("boom")


@app.get("/session")
def with_session(s: Annotated[str, Depends(session)]) -> dict[str, str]:
    return {"session": s}


@app.get("/events")
def events() -> list[str]:
    return EVENTS


@app.get("/background")
def background(tasks: BackgroundTasks, name: str = "x") -> dict[str, bool]:
    tasks.add_task(EVENTS.append, f"task {name}")
    return {"queued": True}


@app.get("/state")
async def state(request: Request) -> dict[str, str]:
    return {"db": request.state.db, "version": request.app.state.version}


@app.get("/url-for")
def url_for(request: Request) -> dict[str, str]:
    return {"url": request.url_for("user", user_id="5").path}


@app.get("/temporal", status_code=200)
def temporal(response: Response) -> dict[str, int]:
    response.status_code = 202
    response.headers["X-Temporal"] = "yes"
    response.set_cookie("seen", "1")
    return {"temporal": 1}


@app.get("/json-response")
def json_response() -> JSONResponse:
    return JSONResponse({"a": 1}, status_code=203, headers={"X-A": "b"})


@app.get("/redirect")
def redirect() -> RedirectResponse:
    return RedirectResponse("/users/me", status_code=302)


@app.get("/stream")
def stream() -> StreamingResponse:
    def chunks() -> Any:
        yield b"a" * 10
        yield "b" * 10
    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/html", response_class=HTMLResponse)
def html() -> str:
    return "<b>hi</b>"


@app.get("/text", response_class=PlainTextResponse, status_code=201)
def text() -> str:
    return "plain"


@app.get("/orjson", response_class=ORJSONResponse)
def orjson_route() -> dict[str, Any]:
    return {"a": [1, 2.5], "b": None}


@app.get("/model", response_model=User, response_model_exclude_unset=True)
def model() -> User:
    return User(name="x")


@app.get("/none")
def none() -> None:
    return None


@app.delete("/gone", status_code=204)
def gone() -> None:
    return None


async def jsonl() -> AsyncIterator[dict[str, int]]:
    for i in range(3):
        yield {"i": i}


try:  # JSON lines from a generator endpoint: FastAPI 0.134 and later (before, no such route: both 404)
    app.get("/jsonl")(jsonl)
except Exception:  # noqa: BLE001 - FastAPIError: an older FastAPI
    pass


@app.get("/items/{item_id}")
def item(item_id: str) -> dict[str, str]:
    return {"item_id": item_id}


@app.get("/items/special")  # never reached for GET: FastAPI's router takes /items/{item_id} first
def special() -> dict[str, bool]:
    return {"special": True}


router = APIRouter(prefix="/r", tags=["r"], dependencies=[Depends(session)])


@router.get("/x")
def router_x() -> str:
    return "x"


app.include_router(router)


def plain(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"plain {request.method} {request.query_params.get('a')}")


app.add_route("/plain", plain)


validation_app = FastAPI()


@validation_app.exception_handler(RequestValidationError)
async def refused(request: Request, exc: RequestValidationError) -> PlainTextResponse:
    locs = ",".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
    return PlainTextResponse(f"refused {locs} {exc.body!r}", status_code=400)


@validation_app.post("/items")
def validated(item: Item) -> Item:
    return item


def flag() -> str:
    return "real"


@app.get("/flag")
def get_flag(value: Annotated[str, Depends(flag)]) -> dict[str, str]:
    return {"flag": value}


@app.post("/override")
def override() -> dict[str, bool]:  # app.dependency_overrides is read live, as FastAPI reads it
    app.dependency_overrides[flag] = lambda: "overridden"
    return {"overridden": True}


@app.delete("/override")
def clear_override() -> dict[str, bool]:
    app.dependency_overrides.clear()
    return {"overridden": False}


@app.get("/is-starlette")
def is_starlette(request: Request) -> dict[str, bool]:
    from starlette.requests import Request as StarletteRequest
    return {"request": isinstance(request, StarletteRequest)}


@app.get("/file")
def file_response() -> Any:
    from fastapi.responses import FileResponse
    return FileResponse(__file__, filename="app.py")


# FileResponse of a path that is no file: Starlette's RuntimeError when it is sent, so the
# app's 500 (Starlette's text), whichever way the route makes the response
@app.get("/file-missing")
def file_missing(kind: str = "missing") -> Any:
    return FileResponse("/nonexistent-ringbolt/file.txt" if kind == "missing" else os.path.dirname(__file__))


@app.get("/file-missing-class", response_class=FileResponse)
def file_missing_class() -> str:
    return "/nonexistent-ringbolt/file.txt"


@app.get("/raise-validation")
def raise_validation() -> None:
    raise RequestValidationError([{"type": "value_error", "loc": ("query", "x"), "msg": "no x", "input": None}])


try:  # Server-Sent Events: FastAPI 0.135 and later (before, no such routes: both 404)
    from fastapi.sse import EventSourceResponse, ServerSentEvent

    @app.get("/sse", response_class=EventSourceResponse)
    async def sse() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(data={"a": 1}, event="tick", id="1")
        yield ServerSentEvent(raw_data="raw line", comment="a comment")

    @app.get("/sse-items", response_class=EventSourceResponse)
    def sse_items() -> Any:
        yield {"n": 1}
        yield Item(name="x", price=2)
except ImportError:
    pass


from fastapi.security import OAuth2PasswordRequestForm  # noqa: E402

try:  # SQLModel's models as FastAPI services declare them (tools/fastapi-lowest's venv has pydantic's)
    from sqlmodel import Field as SQLField
    from sqlmodel import SQLModel
except ImportError:
    SQLField, SQLModel = Field, BaseModel  # type: ignore[assignment,misc]


class HeroBase(SQLModel):
    name: str = SQLField(index=True)
    age: int | None = SQLField(default=None, index=True)


class HeroPublic(HeroBase):
    id: int


async def async_session() -> AsyncIterator[str]:
    EVENTS.append("async open")
    try:
        yield "async-session"
    finally:
        EVENTS.append("async close")


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
    if form.password != "secret":
        raise HTTPException(400, "Incorrect username or password")
    return {"access_token": form.username, "token_type": "bearer", "scopes": " ".join(form.scopes)}


@app.get("/heroes", response_model=list[HeroPublic])
async def heroes(session: Annotated[str, Depends(async_session)],
                 offset: int = 0, limit: Annotated[int, Query(le=100)] = 100) -> Any:
    rows = [{"id": i, "name": f"hero{i}", "age": None if i % 2 else 30 + i, "secret": "x"} for i in range(5)]
    return rows[offset:offset + limit]


@app.post("/heroes", response_model=HeroPublic, status_code=201)
def create_hero(hero: HeroBase) -> Any:
    return HeroPublic(id=7, **hero.model_dump())
