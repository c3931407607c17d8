"""APIRouter."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..routing import Router

_FASTAPI_ONLY = ("response_model_include", "response_model_exclude", "response_model_by_alias",
                 "response_model_exclude_unset", "response_model_exclude_defaults", "response_model_exclude_none",
                 "response_description", "response_class", "openapi_extra", "callbacks", "generate_unique_id_function")


def _strip(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in _FASTAPI_ONLY}


class _FastAPIRoutes:
    def get(self, path: str, **options: Any) -> Any:
        return self.route(path, ["GET"], **_strip(options))  # type: ignore[attr-defined]

    def post(self, path: str, **options: Any) -> Any:
        return self.route(path, ["POST"], **_strip(options))  # type: ignore[attr-defined]

    def put(self, path: str, **options: Any) -> Any:
        return self.route(path, ["PUT"], **_strip(options))  # type: ignore[attr-defined]

    def delete(self, path: str, **options: Any) -> Any:
        return self.route(path, ["DELETE"], **_strip(options))  # type: ignore[attr-defined]

    def patch(self, path: str, **options: Any) -> Any:
        return self.route(path, ["PATCH"], **_strip(options))  # type: ignore[attr-defined]

    def api_route(self, path: str, methods: Iterable[str] = ("GET",), **options: Any) -> Any:
        return self.route(path, list(methods), **_strip(options))  # type: ignore[attr-defined]

    def include_router(self, router: Any, *, prefix: str = "", tags: Any = None, dependencies: Any = None,
                       responses: Any = None, **_: Any) -> None:
        self.include(router, prefix=prefix)  # type: ignore[attr-defined]


class APIRouter(_FastAPIRoutes, Router):
    def __init__(self, *, prefix: str = "", tags: list[Any] | None = None, dependencies: Any = None,
                 responses: Any = None, **_: Any) -> None:
        super().__init__(prefix, dependencies=dependencies)
        self.tags = list(tags or [])
