"""FastAPI and Starlette apps for tests/py/test_fastapi_adopt.py that `ringbolt serve`
plans in part or not at all, each for one reason: middleware that sees every request,
debug pages, a custom route class, a mount, a WebSocket route, path convertors and
parameters inside a segment, a route behind a mount; and the middleware ringbolt runs
itself (CORS, GZip, TrustedHost), FastAPI's own form limits, and a Starlette app."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

middleware_app = FastAPI()


@middleware_app.middleware("http")
async def add_header(request: Request, call_next: Any) -> Any:
    response = await call_next(request)
    response.headers["X-Middleware"] = "yes"
    return response


@middleware_app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}


debug_app = FastAPI(debug=True)


@debug_app.get("/hello")
def debug_hello() -> dict[str, str]:
    return {"hello": "world"}


class TimedRoute(APIRoute):
    def get_route_handler(self) -> Callable[..., Any]:
        handler = super().get_route_handler()

        async def timed(request: Request) -> Any:
            response = await handler(request)
            response.headers["X-Timed"] = "yes"
            return response
        return timed


route_class_app = FastAPI()
timed = APIRouter(route_class=TimedRoute)


@timed.get("/timed")
def timed_route() -> dict[str, bool]:
    return {"timed": True}


route_class_app.include_router(timed)


@route_class_app.get("/plain")
def plain_route() -> dict[str, bool]:
    return {"plain": True}


mixed_app = FastAPI()
sub = FastAPI()


@sub.get("/inner")
def inner() -> dict[str, str]:
    return {"inner": "yes"}


@mixed_app.get("/before")
def before() -> dict[str, str]:
    return {"before": "yes"}


mixed_app.mount("/sub", sub)


@mixed_app.get("/sub/shadowed")  # FastAPI's router gives /sub/... to the mount first
def shadowed() -> dict[str, str]:
    return {"shadowed": "never"}


@mixed_app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


@mixed_app.get("/numbers/{n:int}")
def numbers(n: int) -> dict[str, int]:
    return {"n": n}


@mixed_app.get("/codes/{code:int}")  # "/codes/-5" is the next route's in FastAPI's router
def code_number(code: int) -> dict[str, int]:
    return {"code": code}


@mixed_app.get("/codes/{name}")
def code_name(name: str) -> dict[str, str]:
    return {"name": name}


@mixed_app.get("/reports/{name}.csv")
def report(name: str) -> dict[str, str]:
    return {"report": name}


@mixed_app.get("/after")
def after() -> dict[str, str]:
    return {"after": "yes"}


native_middleware_app = FastAPI()
native_middleware_app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["*"],
                                     allow_headers=["*"])
native_middleware_app.add_middleware(GZipMiddleware, minimum_size=100)
native_middleware_app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])


@native_middleware_app.get("/big")
def big() -> dict[str, str]:
    return {"big": "y" * 500}


@native_middleware_app.get("/small")
def small() -> dict[str, str]:
    return {"small": "y"}


regex_cors_app = FastAPI()
regex_cors_app.add_middleware(CORSMiddleware, allow_origin_regex="https://.*\\.example")


@regex_cors_app.get("/hello")
def regex_hello() -> dict[str, str]:
    return {"hello": "world"}


async def homepage(request: Any) -> JSONResponse:
    return JSONResponse({"hello": request.path_params.get("name", "world"), "method": request.method})


def sync_page(request: Any) -> PlainTextResponse:
    return PlainTextResponse("sync", headers={"X-Sync": "1"})


def refused_page(request: Any) -> PlainTextResponse:
    raise HTTPException(403, "not you", headers={"X-Why": "test"})  # Starlette's answer: the detail as text


starlette_app = Starlette(routes=[Route("/", homepage), Route("/hello/{name}", homepage, methods=["GET", "POST"]),
                                  Route("/sync", sync_page), Route("/refused", refused_page)])


if "form_limits" in inspect.signature(FastAPI).parameters:  # FastAPI's own limits on forms (recent releases)
    form_limits_app = FastAPI(form_limits={"max_fields": 5})
else:  # an older FastAPI (which takes any keyword): not planned either, for another reason
    form_limits_app = FastAPI(debug=True)


@form_limits_app.get("/hello")
def form_limits_hello() -> dict[str, str]:
    return {"hello": "world"}


from fastapi.responses import ORJSONResponse  # noqa: E402
from pydantic import BaseModel  # noqa: E402


class Thing(BaseModel):
    name: str
    size: float = 1.0


default_class_app = FastAPI(default_response_class=ORJSONResponse)
texts = APIRouter(prefix="/text", default_response_class=PlainTextResponse)


@default_class_app.get("/thing", response_model=Thing)
def thing() -> Any:
    return {"name": "t", "size": 2.5, "extra": "dropped"}


@default_class_app.get("/plain-dict")
def plain_dict() -> dict[str, Any]:
    return {"a": [1, 2.0, None]}


@texts.get("/hello")
def text_hello() -> str:
    return "hello"


default_class_app.include_router(texts)


class CountingFastAPI(FastAPI):
    """A FastAPI whose own __call__ sees every request."""

    calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        CountingFastAPI.calls += 1
        await super().__call__(scope, receive, send)


subclass_app = CountingFastAPI()


@subclass_app.get("/hello")
def subclass_hello() -> dict[str, str]:
    return {"hello": "world"}
