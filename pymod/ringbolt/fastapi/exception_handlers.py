"""``fastapi.exception_handlers``: FastAPI's default answers to its exceptions, for an
app's own handler to fall back on (``return await http_exception_handler(request, exc)``)."""

from __future__ import annotations

from typing import Any

from .encoders import jsonable_encoder
from .responses import JSONResponse, Response

_NO_BODY = (204, 304)


async def http_exception_handler(request: Any, exc: Any) -> Response:
    headers = getattr(exc, "headers", None)
    status = exc.status_code
    if status in _NO_BODY or status < 200:
        return Response(status_code=status, headers=headers)
    return JSONResponse({"detail": exc.detail}, status_code=status, headers=headers)


async def request_validation_exception_handler(request: Any, exc: Any) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(exc.errors())})


async def websocket_request_validation_exception_handler(websocket: Any, exc: Any) -> None:
    await websocket.close(code=1008, reason=str(jsonable_encoder(exc.errors())))


__all__ = ["http_exception_handler", "request_validation_exception_handler",
           "websocket_request_validation_exception_handler"]
