"""The one name of FastAPI's internal Pydantic layer that code outside FastAPI reads
(FastAPI's own tests choose their expected messages by it): the installed Pydantic's
``(major, minor)``. The rest of that layer has no sense on ringbolt, which plans each
route's models once (ringbolt.typed.models)."""

from __future__ import annotations

from pydantic.version import VERSION as PYDANTIC_VERSION

PYDANTIC_VERSION_MINOR_TUPLE = tuple(int(x) for x in PYDANTIC_VERSION.split(".")[:2])

__all__ = ["PYDANTIC_VERSION", "PYDANTIC_VERSION_MINOR_TUPLE"]
