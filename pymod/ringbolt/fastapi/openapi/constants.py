"""FastAPI's ``fastapi.openapi.constants``."""

from __future__ import annotations

from ...openapi import METHODS_WITH_BODY as _WITH_BODY
from ...openapi.schemas import REF_PREFIX, REF_TEMPLATE

#: the methods whose operations list a request body
METHODS_WITH_BODY = set(_WITH_BODY)

__all__ = ["METHODS_WITH_BODY", "REF_PREFIX", "REF_TEMPLATE"]
