"""FastAPI's public names on ringbolt's App: move a FastAPI service by changing
``fastapi`` to ``ringbolt.fastapi`` in its imports (docs/from-fastapi.md)."""

from __future__ import annotations

from . import _missing, status
from ..params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security
from .applications import FastAPI
from .background import BackgroundTasks
from .datastructures import UploadFile
from .exceptions import HTTPException, WebSocketException
from .requests import Request
from .responses import Response
from .routing import APIRouter
from .websockets import WebSocket, WebSocketDisconnect

__version__ = "0.165.0"

_missing.install()  # FastAPI's modules with no sense here say why, and what to use

__all__ = ["FastAPI", "APIRouter", "BackgroundTasks", "UploadFile", "Body", "Cookie", "Depends", "File", "Form",
           "Header", "Path", "Query", "Security", "Request", "Response", "HTTPException", "WebSocketException",
           "WebSocket", "WebSocketDisconnect", "status"]
