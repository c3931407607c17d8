"""``fastapi.websockets``: ringbolt's WebSocket channel under FastAPI's names, and
FastAPI's typed WebSocket endpoints: ``@app.websocket(path)`` on a handler whose
parameters are read as a route's are (path, query, header and cookie parameters,
``Depends``), planned once when it is registered; the ``WebSocket`` is given by its
annotation. A handshake whose parameters are refused is closed with 1008, as FastAPI
does; ``WebSocketException`` ends it with its code."""

from __future__ import annotations

import enum
import inspect
from typing import Any, Callable, Iterable

from ..typed.plan import plan_route
from ..routing import RouteDef
from ..websocket import WebSocket, WebSocketDisconnect, WebSocketException


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


def add_websocket(group: Any, path: str, endpoint: Callable[..., Any], name: str | None = None,
                  dependencies: Iterable[Any] | None = None) -> None:
    """Register ``endpoint`` for WebSocket handshakes on ``path`` of ``group`` (an app or
    a router), FastAPI's ``add_api_websocket_route``."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"a WebSocket endpoint must be an async def, not {endpoint!r}")
    full = group._full_path(path)
    deps = [*group._route_dependencies, *(dependencies or ())]

    def replan(with_deps: list[Any]) -> Any:
        return plan_route(full, endpoint, response_model=None, dependencies=with_deps or None, name=name)

    plan = replan(deps)  # None: ``async def h(websocket)``, given the WebSocket as it is
    group._add([RouteDef(full, ["GET"], endpoint, websocket=True, plan=plan, options={"name": name},
                         dependencies=tuple(deps), replan=replan)])


def websocket_decorator(group: Any, path: str, name: str | None = None,
                        dependencies: Iterable[Any] | None = None) -> Callable[[Any], Any]:
    def decorator(fn: Any) -> Any:
        add_websocket(group, path, fn, name, dependencies)
        return fn
    return decorator


__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketException", "WebSocketState"]
