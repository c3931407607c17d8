"""HTTP and WebSocket status codes by name, as ``fastapi.status`` (Starlette's) offers
them: ``HTTP_<code>_<REASON>`` for each status of the standard library's ``HTTPStatus``
(and the older names some reasons had), ``WS_<code>_<REASON>`` for WebSocket close codes."""

from __future__ import annotations

from http import HTTPStatus

_OLDER_NAMES = {413: ["REQUEST_ENTITY_TOO_LARGE", "CONTENT_TOO_LARGE"], 414: ["REQUEST_URI_TOO_LONG", "URI_TOO_LONG"],
                416: ["REQUESTED_RANGE_NOT_SATISFIABLE", "RANGE_NOT_SATISFIABLE"],
                422: ["UNPROCESSABLE_ENTITY", "UNPROCESSABLE_CONTENT"], 418: ["IM_A_TEAPOT"],
                421: ["MISDIRECTED_REQUEST"], 425: ["TOO_EARLY"]}
_WEBSOCKET = {1000: "NORMAL_CLOSURE", 1001: "GOING_AWAY", 1002: "PROTOCOL_ERROR", 1003: "UNSUPPORTED_DATA",
              1005: "NO_STATUS_RCVD", 1006: "ABNORMAL_CLOSURE", 1007: "INVALID_FRAME_PAYLOAD_DATA",
              1008: "POLICY_VIOLATION", 1009: "MESSAGE_TOO_BIG", 1010: "MANDATORY_EXT", 1011: "INTERNAL_ERROR",
              1012: "SERVICE_RESTART", 1013: "TRY_AGAIN_LATER", 1014: "BAD_GATEWAY", 1015: "TLS_HANDSHAKE"}


def _names() -> dict[str, int]:
    out: dict[str, int] = {}
    for s in HTTPStatus:
        out[f"HTTP_{s.value}_{s.name}"] = s.value
        for older in _OLDER_NAMES.get(s.value, ()):
            out[f"HTTP_{s.value}_{older}"] = s.value
    out["HTTP_306_RESERVED"] = 306  # (unused since RFC 7231; kept by name)
    out.update({f"WS_{code}_{name}": code for code, name in _WEBSOCKET.items()})
    return out


globals().update(_names())
__all__ = sorted(_names())
