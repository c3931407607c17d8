"""``fastapi.websockets``: ringbolt's WebSocket channel under FastAPI's names."""

from __future__ import annotations

import enum

from ..websocket import WebSocket, WebSocketDisconnect


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState"]
