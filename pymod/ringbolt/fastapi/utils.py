"""The helper of FastAPI's ``fastapi.utils`` that code outside FastAPI uses:
``generate_unique_id(route)``, the default ``generate_unique_id_function`` (an app, a
router, a library such as strawberry's ``GraphQLRouter`` names it as the default). The
rest of that module is FastAPI's internals (ringbolt plans routes itself)."""

from __future__ import annotations

from typing import Any

from ..openapi import default_operation_id


def generate_unique_id(route: Any) -> str:
    """The route's name, path and first method, each non-word character an ``_``
    (``read_item_items__item_id__get``): the document's default operation id."""
    methods = list(getattr(route, "methods", None) or ())
    if not methods:
        raise ValueError(f"route {getattr(route, 'path', route)!r} has no methods: it has no operation id")
    return default_operation_id(route.name, route.path_format, methods[0])


__all__ = ["generate_unique_id"]
