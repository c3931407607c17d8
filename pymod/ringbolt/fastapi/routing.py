"""APIRouter."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..routing import Router
from ._route_class import APIRoute, APIWebSocketRoute, Mount, Route, RouteClassMixin  # noqa: F401 - FastAPI's names

_FASTAPI_ONLY = ("response_model_include", "response_model_exclude", "response_model_by_alias",
                 "response_model_exclude_unset", "response_model_exclude_defaults", "response_model_exclude_none",
                 "response_description", "response_class", "openapi_extra", "callbacks", "generate_unique_id_function")
#: FastAPI's options the OpenAPI document reads (ringbolt.openapi): kept in the route's options
_DOCUMENT = ("response_description", "response_class", "openapi_extra", "callbacks", "generate_unique_id_function",
             "response_model")


def _strip(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in _FASTAPI_ONLY}


class _FastAPIRoutes:
    def _fastapi_route(self, path: str, methods: list[str], options: dict[str, Any]) -> Any:
        decorator = self.route(path, methods, **_strip(options))  # type: ignore[attr-defined]
        kept = {k: options[k] for k in _DOCUMENT if k in options}
        default_class = getattr(self, "default_response_class", None)  # FastAPI's and APIRouter's options
        if default_class is not None:
            kept["default_response_class"] = default_class
        make_id = getattr(self, "generate_unique_id_function", None)
        if callable(make_id):
            kept.setdefault("generate_unique_id_function", make_id)
        if not kept:
            return decorator

        def register(fn: Any) -> Any:
            out = decorator(fn)
            self._defs[-1].options.update(kept)  # type: ignore[attr-defined]
            return out
        return register

    def get(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["GET"], options)

    def post(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["POST"], options)

    def put(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["PUT"], options)

    def delete(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["DELETE"], options)

    def patch(self, path: str, **options: Any) -> Any:
        return self._fastapi_route(path, ["PATCH"], options)

    def api_route(self, path: str, methods: Iterable[str] = ("GET",), **options: Any) -> Any:
        return self._fastapi_route(path, list(methods), options)

    def websocket(self, path: str, name: str | None = None, *, dependencies: Any = None) -> Any:
        from .websockets import websocket_decorator
        return websocket_decorator(self, path, name, dependencies)

    def include_router(self, router: Any, *, prefix: str = "", **options: Any) -> None:
        from ._route_class import include_router
        include_router(self, router, prefix, **options)


class APIRouter(RouteClassMixin, _FastAPIRoutes, Router):
    _plain_handlers = False  # as FastAPI's: every handler is planned

    def __init__(self, *, prefix: str = "", tags: list[Any] | None = None, dependencies: Any = None,
                 responses: Any = None, route_class: type[APIRoute] = APIRoute, **_: Any) -> None:
        super().__init__(prefix, dependencies=dependencies)
        self.tags = list(tags or [])
        self.route_class = route_class
