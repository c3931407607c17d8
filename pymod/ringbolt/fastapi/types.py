"""``fastapi.types``."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

DecoratedCallable = TypeVar("DecoratedCallable", bound=Callable[..., Any])
IncEx = Any
Scope = dict[str, Any]
Receive = Callable[..., Any]
Send = Callable[..., Any]
ASGIApp = Callable[..., Any]

__all__ = ["DecoratedCallable", "IncEx", "Scope", "Receive", "Send", "ASGIApp"]
