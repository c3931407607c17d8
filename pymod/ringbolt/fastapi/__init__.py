"""FastAPI's public names on ringbolt's App: move a FastAPI service by changing
``fastapi`` to ``ringbolt.fastapi`` in its imports (docs/from-fastapi.md)."""

from __future__ import annotations

from . import status
from ..background import BackgroundTasks
from ..forms import UploadFile
from ..params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security
from .._native import Request
from ..response import Response
from ..websocket import WebSocket, WebSocketDisconnect
from .applications import FastAPI
from .exceptions import HTTPException, WebSocketException
from .routing import APIRouter

__version__ = "0.165.0"

__all__ = ["FastAPI", "APIRouter", "BackgroundTasks", "UploadFile", "Body", "Cookie", "Depends", "File", "Form",
           "Header", "Path", "Query", "Security", "Request", "Response", "HTTPException", "WebSocketException",
           "WebSocket", "WebSocketDisconnect", "status"]
