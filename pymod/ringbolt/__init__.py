"""ringbolt: a Linux web runtime for Python on io_uring.

    from ringbolt import App
    app = App()

    @app.get("/")
    def index(req):
        return {"message": "Hello, World!"}

    app.run()
"""

from . import _native
from . import _reqresp
from ._native import RawJSON, Request, TLSInfo
from .app import App, _log_exception
from .datastructures import Headers, QueryParams, ResponseHeaders
from .errors import BadRequest, ClientDisconnect, HTTPError, HTTPException, ValidationError
from .typed.problem import RequestValidationError, ResponseValidationError
from .params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security, SecurityScopes
from ._request_body import request_read as _request_read
from ._request_body import request_stream as _request_stream
from ._stream import start_stream as _start_stream
from ._version import __version__ as __version__
from .response import FileResponse, Response, StreamingResponse
from .background import BackgroundTasks
from .forms import FormData, UploadFile
from .sse import SSEEvent
from .routing import Router
from .rate_limit import RateLimit

__all__ = [
    "App",
    "Request",
    "TLSInfo",
    "Response",
    "RawJSON",
    "StreamingResponse",
    "FileResponse",
    "HTTPError",
    "HTTPException",
    "RequestValidationError",
    "ResponseValidationError",
    "Query",
    "Path",
    "Header",
    "Cookie",
    "Body",
    "Form",
    "File",
    "Depends",
    "Security",
    "SecurityScopes",
    "BadRequest",
    "ClientDisconnect",
    "ValidationError",
    "Router",
    "Headers",
    "QueryParams",
    "ResponseHeaders",
    "BackgroundTasks",
    "FormData",
    "UploadFile",
    "SSEEvent",
    "RateLimit",
]

_native._set_types(
    Response,
    HTTPError,
    BadRequest,
    Headers,
    QueryParams,
    _log_exception,
    StreamingResponse,
    FileResponse,
    _start_stream,
    ClientDisconnect,
    _request_stream,
    _request_read,
)
_native._set_request_methods(
    _reqresp.request_form,
    _reqresp.request_set_cookie,
    _reqresp.request_delete_cookie,
    _reqresp.request_background,
    _reqresp.finish_result,
)
