"""FastAPI's exceptions."""

from __future__ import annotations

from .._problem import RequestValidationError, ResponseValidationError
from ..errors import HTTPException
from ..websocket import WebSocketDisconnect, WebSocketException


class FastAPIError(RuntimeError):
    """A problem with how ringbolt.fastapi is used."""


__all__ = ["HTTPException", "RequestValidationError", "ResponseValidationError", "WebSocketException",
           "WebSocketDisconnect", "FastAPIError"]


class FastAPIDeprecationWarning(UserWarning):
    """A FastAPI feature that is deprecated (kept so that warning filters naming it work)."""


class DependencyScopeError(FastAPIError):
    pass


class ValidationException(Exception):
    pass


class WebSocketRequestValidationError(ValidationException):
    pass
