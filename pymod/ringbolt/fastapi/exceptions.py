"""FastAPI's exceptions."""

from __future__ import annotations

from ..typed.plan import DependencyScopeError as _DependencyScopeError
from ..typed.problem import RequestValidationError, ResponseValidationError
from ..errors import HTTPException
from ..websocket import WebSocketDisconnect, WebSocketException


class FastAPIError(RuntimeError):
    """A problem with how ringbolt.fastapi is used."""


__all__ = ["HTTPException", "RequestValidationError", "ResponseValidationError", "WebSocketException",
           "WebSocketDisconnect", "FastAPIError"]


class FastAPIDeprecationWarning(UserWarning):
    """A FastAPI feature that is deprecated (kept so that warning filters naming it work)."""


# A generator dependency that takes one of a shorter scope, refused when the route is
# planned: ringbolt's (a PlanError), under FastAPI's name (not a FastAPIError here).
DependencyScopeError = _DependencyScopeError


class ValidationException(Exception):
    pass


class WebSocketRequestValidationError(ValidationException):
    pass
