"""WSGI server mode (PEP 3333): any WSGI application (Flask, Django's WSGI handler, a raw
callable) served by ringbolt's reactors.

Every request no ringbolt route takes goes to ``WSGIHandler.entry`` on the native handler
pool (blocking apps never run on a reactor thread): ``_native.WSGICall``, which answers
the common case (a body in memory, a list or tuple of bytes) in one native call and
hands everything else to ``WSGIHandler._run``/``_finish``/``_failed`` here. The environ is a base dict built
once plus the request's CGI variables, built natively (``Request._wsgi_environ``); the
body is read through ``wsgi.input``: a ``_native.WSGIInput`` (io.BytesIO's reading
methods, read-only) for bodies up to 1 MiB, a
``BodyInput`` reading from the connection as the app asks for bytes above that (and for
chunked bodies), with flow control (the socket is not read while 256 KiB wait). A list or
tuple of bytes is answered as one response; any other iterable is pulled until its first
non-empty chunk (so ``start_response`` may still be called with ``exc_info`` until then)
and the rest streams from a streaming thread. ``wsgi.file_wrapper`` around a real file
at offset 0 is sent natively (``sendfile``), like a ``FileResponse``.
"""

from __future__ import annotations

import contextvars
import io
import logging
import os
import stat
import sys
from typing import Any, Callable, Iterable, Iterator, cast

from .. import _native
from .._error_log import log_failure
from .asgi_server import _error_500, _raw_response
from ..errors import HTTPError
from ..response import FileResponse, StreamingResponse
from .._version import __version__

logger = logging.getLogger("ringbolt")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_BLOCK = 64 * 1024


# wsgi.input over a body in memory is a native file, read-only, with io.BytesIO's reading
# methods; it passes as one of io's buffered readers for code that checks.
io.BufferedIOBase.register(_native.WSGIInput)


def default_threads() -> int:
    """The WSGI thread pool's size per worker when not given: twice the CPUs available,
    at least 4 and at most 32 (WSGI apps mostly wait on I/O, but every thread holds an
    app's per-request state and contends for the GIL)."""
    try:
        cpus = len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return min(32, max(4, 2 * cpus))


class WSGIStatusError(ValueError):
    """``start_response`` got a status that is not ``"<3 digits> <reason>"``."""


def _parse_status(status: Any) -> int:
    # PEP 3333: a str like "200 OK": three digits, a space, a reason phrase.
    if type(status) is str and len(status) >= 4 and status[3] == " " and status[:3].isdigit() and status.isascii():
        code = int(status[:3])
        if code >= 100:
            return code
    raise WSGIStatusError(f"invalid WSGI status {status!r}: expected a str like '200 OK' "
                          f"(three digits, a space, a reason phrase)")


def _check_headers(headers: Any) -> list[Any] | tuple[Any, ...]:
    # Names and values must be str (PEP 3333 "native strings"); CR/LF/NUL and bad names
    # are refused natively when the response is built. Latin-1 beyond ASCII goes to the
    # wire as latin-1 bytes, not as UTF-8.
    if type(headers) is not list:
        if not isinstance(headers, (list, tuple)):
            raise TypeError(f"WSGI response headers must be a list of (name, value) tuples, "
                            f"not {type(headers).__name__}")
    out = headers
    for i, pair in enumerate(headers):
        if type(pair) is not tuple or len(pair) != 2:
            raise TypeError(f"WSGI response header {pair!r:.100} is not a (name, value) tuple")
        name, value = pair
        if type(name) is not str or type(value) is not str:
            raise TypeError(f"WSGI response header names and values must be str, got {name!r:.100}: {value!r:.100}")
        if not (name.isascii() and value.isascii()):
            if out is headers:
                out = list(headers)
            try:
                out[i] = (name.encode("latin-1"), value.encode("latin-1"))
            except UnicodeEncodeError:
                raise ValueError(f"WSGI response header {name!r:.100}: {value!r:.100} is not latin-1") from None
    return cast("list[Any] | tuple[Any, ...]", out)  # the list or tuple given, or a re-encoded copy


def _as_bytes(chunk: Any) -> bytes:
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"a WSGI application must yield bytes, not {type(chunk).__name__}")


def _close(iterable: Any) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


class FileWrapper:
    """``wsgi.file_wrapper``: ``environ["wsgi.file_wrapper"](filelike, block_size)``.

    Returned by the app as its iterable, it is sent natively (like ``FileResponse``) when
    ``filelike`` is a regular file opened from the path in its ``name``, at offset 0, and
    the response is a 200 whose Content-Length (if any) is the file's size; otherwise it
    is read in blocks of ``block_size``. ``close()`` closes ``filelike``."""

    __slots__ = ("filelike", "blksize")

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize if blksize and blksize > 0 else 8192

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while True:
            block = read(self.blksize)
            if not block:
                return
            yield block

    def close(self) -> None:
        _close(self.filelike)

    def native_path(self) -> tuple[str, int] | None:
        """(path, size) when the file can be sent natively from its path, else None."""
        f = self.filelike
        name = getattr(f, "name", None)
        fileno = getattr(f, "fileno", None)
        tell = getattr(f, "tell", None)
        if not isinstance(name, str) or fileno is None or tell is None:
            return None
        try:
            st = os.fstat(fileno())
            if tell() != 0:
                return None
            by_path = os.stat(name)
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (by_path.st_dev, by_path.st_ino):
            return None  # not a regular file, or the name is not the file that is open
        return name, st.st_size


class _Body:
    """The rest of a streamed response: what ``write()`` left, the first chunk already
    pulled, then the app's iterator, all run in the request's context (the app ran in
    it on a pool thread; the rest runs on a streaming thread: Flask's
    ``stream_with_context`` and anything else using context variables sees its own
    values). ``close()`` closes the app's iterable (also when the body is never
    iterated: a HEAD request, a client gone)."""

    __slots__ = ("pending", "iterator", "iterable", "context", "closed")

    def __init__(self, pending: list[bytes], iterator: Iterator[Any], iterable: Any,
                 context: contextvars.Context) -> None:
        self.pending = pending
        self.iterator = iterator
        self.iterable = iterable
        self.context = context
        self.closed = False

    def __iter__(self) -> "_Body":
        return self

    def __next__(self) -> bytes:
        if self.pending:
            return self.pending.pop(0)
        chunk = _as_bytes(self.context.run(next, self.iterator))
        if self.pending:  # write() called from inside the iterable: keep the order
            self.pending.append(chunk)
            return self.pending.pop(0)
        return chunk

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.context.run(_close, self.iterable)


class BodyInput(io.RawIOBase):
    """``wsgi.input`` for a body that streams: ``read``/``readline``/iteration block the
    pool thread (GIL released) until the client's bytes arrive. The body limit, the body
    timeout and a client that leaves raise the HTTPError (413, 408, 400) or
    ClientDisconnect that an app may let through: it becomes the response's status."""

    WAIT = 1.0  # seconds per blocking wait; the server's body timeout bounds the total

    def __init__(self, handle: Any) -> None:
        super().__init__()
        self._handle = handle
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def _more(self) -> bool:
        """Append the next chunk to the buffer; False at the end of the body."""
        if self._eof:
            return False
        handle = self._handle
        while True:
            chunk = handle.take()  # raises HTTPError (413/408/400) or ClientDisconnect
            if chunk is None:
                handle.wait(self.WAIT)
                continue
            if not chunk:
                self._eof = True
                return False
            self._buf += chunk
            return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._more():
                pass
            out, self._buf = self._buf, b""
            return out
        while len(self._buf) < size and self._more():
            pass
        out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0 and (size is None or size < 0 or end < size):
                out, self._buf = self._buf[: end + 1], self._buf[end + 1:]
                return out
            if size is not None and 0 <= size <= len(self._buf):
                out, self._buf = self._buf[:size], self._buf[size:]
                return out
            if not self._more():
                out, self._buf = self._buf, b""
                return out

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class WSGIHandler:
    """The server side of one WSGI app. The server calls ``entry`` (a native
    ``WSGICall``) for each request, on a handler-pool thread: it runs the app in a fresh
    context (nothing set by one request, or by the pool thread, is seen by the next, and
    a streamed body goes on in the same one) and returns the answer for the native side;
    what it does not take natively comes back to ``_run``/``_finish``/``_failed``."""

    def __init__(self, app: WSGIApp, *, root_path: str = "", scheme: str = "http") -> None:
        self.app = app
        self.root_path = root_path
        # Every environ is a copy of this dict: made with room for a request's variables and
        # a browser's headers, so that no copy has to grow its table while it is filled.
        self.base: dict[str, Any] = _native.environ_base({
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            # CGI's server name/version (RFC 3875 §4.1.17), which apps key behaviour off
            # (httpbin reads chunked bodies only from servers it knows by this name).
            "SERVER_SOFTWARE": f"ringbolt/{__version__}",
            "SCRIPT_NAME": root_path,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,  # wsgi.input ends at the body's end (werkzeug, gunicorn)
            "wsgi.file_wrapper": FileWrapper,
        })
        # What the server calls per request: the common case (a body in memory, a list or
        # tuple of bytes answered) runs natively; the rest comes back to _run/_finish/_failed.
        self.entry = _native.WSGICall(self, app, self.base, root_path, _parse_status, _check_headers)

    def set_server(self, host: str, port: int) -> None:
        self.base["SERVER_NAME"] = host
        self.base["SERVER_PORT"] = str(port)

    def set_multiprocess(self, multiprocess: bool) -> None:
        self.base["wsgi.multiprocess"] = multiprocess

    def _run(self, req: Any, context: contextvars.Context) -> Any:
        """The whole request in Python, in ``context`` (entered already): ``entry`` hands
        over a request whose body streams (``wsgi.input`` is a ``BodyInput``)."""
        environ = req._wsgi_environ(self.base)
        stream = req._body_stream
        if stream is None:
            body = req.body
            environ["wsgi.input"] = _native.WSGIInput(body)
            if body and "CONTENT_LENGTH" not in environ:
                environ["CONTENT_LENGTH"] = str(len(body))  # a chunked body, buffered: its length is known
        else:
            environ["wsgi.input"] = BodyInput(stream)  # over 1 MiB, or chunked: read as it arrives
        root = self.root_path
        if root:
            path = environ["PATH_INFO"]
            if path == root or path.startswith(root + "/"):
                environ["PATH_INFO"] = path[len(root):]
        start = _native.StartResponse(_parse_status, _check_headers)
        try:
            result = self.app(environ, start)
        except BaseException as exc:  # noqa: BLE001 - the request's 500; the pool thread lives on
            return self._failed(environ, None, exc)
        return self._finish(environ, start, result, context)

    def _finish(self, environ: dict[str, Any], start: Any, result: Any, context: contextvars.Context) -> Any:
        """The app returned ``result``: the response for it (anything ``entry`` does not
        answer natively: an iterator, a FileWrapper, a list holding a non-bytes item, no
        start_response called...)."""
        try:
            return self._respond(environ, start, result, context)
        except BaseException as exc:  # noqa: BLE001 - the request's 500; the pool thread lives on
            return self._failed(environ, result, exc)

    def _failed(self, environ: dict[str, Any], result: Any, exc: BaseException) -> Any:
        """The app (or its iterable) raised ``exc``: close the iterable, log, answer 500;
        an HTTPError from wsgi.input (413, 408...) goes on to the server as it is."""
        if result is not None:
            try:
                _close(result)
            except Exception as close_exc:  # noqa: BLE001
                _log(environ, close_exc, "closing the iterable")
        if isinstance(exc, HTTPError):
            raise exc  # from wsgi.input: the body was over the limit (413), too slow (408)...
        _log(environ, exc, "")
        return _error_500(close=False)

    def _respond(self, environ: dict[str, Any], start: Any, result: Any, context: contextvars.Context) -> Any:
        rtype = type(result)
        if rtype is list or rtype is tuple:
            # A body already in memory (raw apps, wsgiref-style): one response.
            if start.headers is None:
                raise AssertionError("the WSGI application returned without calling start_response")
            body = _join(start.written, result)
            _close(result)
            return self._whole(environ, start, body)
        if rtype is FileWrapper and start.headers is not None and not start.written and start.status == 200:
            native = result.native_path()
            if native is not None and _declared_length(start.headers) in (None, native[1]):
                file = FileResponse._as_sent(native[0], 200, start.headers)
                result.close()  # the server opens the file itself, by its path
                start.sent = True
                return file
        # Any other iterable: find the first non-empty chunk before sending the head, so
        # start_response may be called late (a generator) or again with exc_info.
        iterator = iter(result)
        first = b""
        for chunk in iterator:
            first = _as_bytes(chunk)
            if first:
                break
        else:
            if start.headers is None:
                raise AssertionError("the WSGI application returned without calling start_response")
            _close(result)
            return self._whole(environ, start, _join(start.written, ()))
        if start.headers is None:
            raise AssertionError("the WSGI application yielded a body before calling start_response")
        start.written.append(first)
        if _buffered(start.headers, result):
            # The body exists already (a Flask/werkzeug or Django response iterated):
            # gather it here rather than stream it from another thread.
            body = _join(start.written, iterator)
            _close(result)
            return self._whole(environ, start, body)
        r = StreamingResponse.__new__(StreamingResponse)
        r.content = _Body(start.written, iterator, result, context)
        r.status = start.status
        r.headers = start.headers
        r.content_type = None
        start.sent = True
        return r

    @staticmethod
    def _whole(environ: dict[str, Any], start: Any, body: bytes) -> Any:
        start.sent = True
        return _raw_response(body, start.status, start.headers)


# A body that declares at most this length is gathered, not streamed: frameworks set
# Content-Length on responses they hold whole; a stream rarely knows its size.
GATHER_LIMIT = 1024 * 1024


def _declared_length(headers: list[Any]) -> int | None:
    for name, value in headers:
        if (name if type(name) is str else name.decode("latin-1")).lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _buffered(headers: list[Any], result: Any) -> bool:
    if getattr(result, "streaming", None) is False:
        return True  # Django's HttpResponse (its StreamingHttpResponse says True)
    length = _declared_length(headers)
    return length is not None and length <= GATHER_LIMIT


def _join(written: list[bytes], chunks: Iterable[Any]) -> bytes:
    try:
        if not written and type(chunks) is list and len(chunks) == 1 and type(chunks[0]) is bytes:
            return chunks[0]
        return b"".join(written + list(chunks)) if written else b"".join(chunks)
    except TypeError as exc:
        if str(exc).startswith("sequence item"):  # join's own complaint, not the app's
            raise TypeError(f"a WSGI application must yield bytes ({exc})") from None
        raise


def _log(environ: dict[str, Any], exc: BaseException, when: str) -> None:
    target = environ.get("RAW_URI", environ.get("PATH_INFO", ""))
    log_failure(exc, "Exception in WSGI application%s for %s %s", f" ({when})" if when else "",
                environ.get("REQUEST_METHOD", "?"), target)
