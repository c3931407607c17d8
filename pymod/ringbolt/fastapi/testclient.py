"""FastAPI's ``TestClient`` (Starlette's, an ``httpx.Client``) for ringbolt apps: the same
calls and defaults (``base_url="http://testserver"``, redirects followed, the
``user-agent: testclient`` header, the app seeing the client as ``("testclient", 50000)``,
``root_path``), but every request goes over a real socket to the app served by
ringbolt's own server on a loopback port, in a thread of the test's process.

As Starlette's: ``with TestClient(app)`` runs the app's startup (and lifespan) once on
entering and its shutdown once on leaving; requests outside a ``with`` block run none of
them. An exception the app did not handle answers its 500 and is then raised in the test
(``raise_server_exceptions=True``), WebSocket sessions included (when the session ends).
Each request's connection opens with a PROXY protocol header (the server is started with
``proxy_protocol="v2"``): it tells the server the request came over TLS when the URL is
``https``, and names the connection's own port, by which the server hands what that
request raised to the client that sent it, never to another."""

from __future__ import annotations

import atexit
import http.client
import json as _json
import socket
import struct
import threading
import weakref
from typing import Any, Callable, Literal

import httpx

from ..app import App
from ..errors import HTTPError
from ..testing._http import Headers as _RawHeaders
from ..testing._http import TestResponse
from ..testing._server import ServerThread
from ..testing._websocket import WebSocketProtocolError, accept_key, read_response_head
from ..testing._websocket import WebSocketTestSession as _RawSession
from ..websocket import WebSocketDisconnect, WebSocketException

_lock = threading.RLock()
_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
#: how long leaving a WebSocket session waits for the app's handler to end
_HANDLER_WAIT = 10.0


def _proxy_header(local: tuple[str, int], remote: tuple[str, int], tls: bool) -> bytes:
    """A PROXY protocol v2 header naming the connection as it is (its own addresses), with
    a PP2_TYPE_SSL TLV (client came over TLS, verified) for an ``https``/``wss`` URL."""
    body = socket.inet_aton(local[0]) + socket.inet_aton(remote[0]) + struct.pack(">HH", local[1], remote[1])
    if tls:
        ssl = b"\x01" + b"\x00\x00\x00\x00"  # PP2_CLIENT_SSL, verify 0
        body += b"\x20" + struct.pack(">H", len(ssl)) + ssl
    return _V2_SIGNATURE + b"\x21\x11" + struct.pack(">H", len(body)) + body


class _Slot:
    """What one connection of a test client is to the server: the client address the app
    is to see, the root path, and what the app raised (or, for a WebSocket, how its
    handler ended)."""

    __slots__ = ("client", "root_path", "path_prefix", "error", "websocket", "done", "tasks", "_pending", "_lock")

    def __init__(self, client: tuple[str, int], root_path: str) -> None:
        self.client = client
        self.root_path = root_path
        self.path_prefix = ""  # the root path taken off the path sent
        self.error: BaseException | None = None
        self.websocket: Any = None
        self.done = threading.Event()
        self.tasks = False  # the request has after-work: `done` is set once all of it ran
        self._pending = 0
        self._lock = threading.Lock()

    def begin(self) -> Callable[[], None]:
        """One more piece of the request's after-work (its background tasks, its yield
        dependencies' clean-up): the client waits for it; call what is returned when it
        ran."""
        with self._lock:
            self._pending += 1
            self.tasks = True
        return self._end

    def _end(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending == 0:
                self.done.set()


class _ErrorKept:
    """``with`` it around a request's handler: what escapes it, other than an ``HTTPError``
    the server answers itself, is kept in the request's slot for the client (and raised on)."""

    __slots__ = ("slot",)

    def __init__(self, slot: _Slot | None) -> None:
        self.slot = slot

    def __enter__(self) -> None:
        pass

    def __exit__(self, cls: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and self.slot is not None and not isinstance(exc, HTTPError):
            self.slot.error = exc


class _Wrapper:
    """Wraps each route of an app served for tests (``App._route_wrapper``): a request
    from a registered connection (by its port, as the PROXY header named it) is given
    that client's address and root path, and what it raises, other than an ``HTTPError``
    the server answers itself, is kept for the client, then raised on as before."""

    def __init__(self) -> None:
        self.slots: dict[int, _Slot] = {}

    def http(self, fn: Any, is_async: bool) -> Any:
        slots = self.slots

        def slot_of(req: Any) -> _Slot | None:
            client = req.client
            slot = slots.get(client[1]) if client is not None else None
            if slot is not None:
                own = req.__dict__
                own["_rb_client"] = slot.client
                if slot.root_path:
                    own["_rb_root_path"] = slot.root_path
                if slot.path_prefix:
                    own["_rb_path_prefix"] = slot.path_prefix
                own["_rb_cleanup_notify"] = slot.begin  # (ringbolt.typed.depends.exit_later)
            return slot

        if is_async:
            async def served_async(req: Any) -> Any:
                slot = slot_of(req)
                with _ErrorKept(slot):
                    return _after_tasks(req, await fn(req), slot)
            return served_async

        def served(req: Any) -> Any:
            slot = slot_of(req)
            with _ErrorKept(slot):
                return _after_tasks(req, fn(req), slot)
        return served

    def websocket(self, fn: Any) -> Any:
        slots = self.slots

        async def served(ws: Any) -> Any:
            client = ws._req.client
            slot = slots.get(client[1]) if client is not None else None
            if slot is None:
                return await fn(ws)
            ws._req.__dict__["_rb_client"] = slot.client
            slot.websocket = ws
            try:
                return await fn(ws)
            except WebSocketException:
                raise  # (the server closes with its code)
            except BaseException as exc:
                slot.error = exc
                raise
            finally:
                slot.done.set()
        return served


def _original(exc: BaseException) -> BaseException:
    """What a hook raised, out of the test server's RuntimeError and the supervisor's
    StartupHookError around it."""
    from ..serving.supervisor import StartupHookError
    inner = exc.__cause__
    if isinstance(inner, StartupHookError) and inner.__cause__ is not None:
        inner = inner.__cause__
    return inner if inner is not None else exc


def _after_tasks(req: Any, result: Any, slot: _Slot | None) -> Any:
    """A request with background tasks: one more, last, tells its client they ran (the
    server runs a request's own tasks, then its response's, in order), so that the
    client returns once they did, as Starlette's does."""
    if slot is None:
        return result
    response_tasks = getattr(result, "background", None) if getattr(result, "_after", None) is not None else None
    tasks = response_tasks if response_tasks is not None else req.__dict__.get("_rb_background")
    if tasks is not None and len(tasks):
        tasks.add(slot.begin())
    return result


class _Served:
    """An app served for every TestClient of it: one server at a time, started by the
    first request (without the app's hooks) or by a ``with`` block (with them), and
    started again when the app got routes, middleware or handlers after it started."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.wrapper = _Wrapper()
        self.server: ServerThread | None = None
        self.hooks = False  # whether the running server ran the startup hooks
        self.entered = 0  # `with` blocks open
        self.shape: tuple[Any, ...] = ()
        #: the root path the running server serves under (a client's ``root_path``, as a
        #: server's ``--root-path``): the OpenAPI document lists it among its servers
        self.root_path = ""

    def _shape(self) -> tuple[Any, ...]:
        app = self.app
        return (len(app._defs), len(app._middleware), len(app._statics), id(app._asgi), id(app._wsgi),
                tuple(map(id, app._exception_handlers.values())))

    def port(self, root_path: str = "") -> int:
        with _lock:
            server = self.server
            moved = root_path != self.root_path and self.entered == 0  # a client of another root path
            if server is not None and (not server.running or self.shape != self._shape() or moved):
                self._stop()  # stopped, or the app changed since it started: serve it as it is now
                server = None
            if server is None:
                self.root_path = root_path
                server = self._start(self.entered > 0)
            return server.port

    def _start(self, hooks: bool) -> ServerThread:
        app = self.app
        server = ServerThread(app, threads=1, options={"proxy_protocol": "v2", "_hooks": hooks})
        previous, app._route_wrapper = app._route_wrapper, self.wrapper
        app.__dict__["_rb_server_root_path"] = self.root_path  # what the document is made with
        try:
            self.shape = self._shape()
            server.start(30.0)  # (the routes are wrapped when it starts)
        except RuntimeError as exc:
            raise _original(exc) from None  # what the startup raised, as Starlette's
        finally:
            app._route_wrapper = previous
        self.server, self.hooks = server, hooks
        server.started_by_request = not hooks
        return server

    def _stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            try:
                server.stop(30.0)
            except RuntimeError as exc:
                raise _original(exc) from None  # what the shutdown raised

    def enter(self, root_path: str = "") -> None:
        with _lock:
            if self.entered == 0:
                self._stop()  # a server started by a request ran no startup: start one that does
                self.root_path = root_path
                self._start(True)
            self.entered += 1

    def exit(self) -> None:
        with _lock:
            self.entered -= 1
            if self.entered == 0:
                self._stop()

    def stop(self) -> None:
        with _lock:
            self.entered = 0
            self._stop()


_served: "weakref.WeakKeyDictionary[App, _Served]" = weakref.WeakKeyDictionary()


def _served_for(app: App) -> _Served:
    with _lock:
        served = _served.get(app)
        if served is None:
            served = _served[app] = _Served(app)
        return served


@atexit.register
def _stop_all() -> None:
    """Stop every app still served when the process exits (a client never closed, as
    Starlette's clients often are not): its reactor threads end before the interpreter."""
    for served in list(_served.values()):
        try:
            served.stop()
        except Exception:  # noqa: BLE001 - the process is exiting: nobody to tell
            pass


class _Connection:
    """One registered connection to the served app (a request's, or a WebSocket's)."""

    def __init__(self, client: "TestClient", tls: bool, timeout: float | None) -> None:
        self.served = client._served
        port = self.served.port(client._root_path)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout or 60.0)
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            local = self.sock.getsockname()
            self.port: int = local[1]
            self.slot = _Slot(client._client, client._root_path)
            self.served.wrapper.slots[self.port] = self.slot
            self.sock.sendall(_proxy_header(local, self.sock.getpeername(), tls))
        except BaseException:
            self.sock.close()
            raise

    def target(self, raw_path: bytes) -> str:
        """The request target to send: a path under the root path (the client's, else the
        app's) goes without it, as Starlette routes what follows the root path; the
        Request gives it back (``url``, ``scope["path"]``)."""
        target = raw_path.decode("ascii")
        root = self.slot.root_path or getattr(self.served.app, "root_path", "") or ""
        path, sep, query = target.partition("?")
        if root and (path == root or path.startswith(root + "/")):
            self.slot.path_prefix = root
            target = (path[len(root):] or "/") + sep + query
        return target

    def close(self) -> None:
        self.served.wrapper.slots.pop(self.port, None)
        try:
            self.sock.close()
        except OSError:
            pass


class _HTTPConnection(http.client.HTTPConnection):
    """http.client over a socket already open (the PROXY header sent)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__("127.0.0.1")
        self.sock = sock

    def connect(self) -> None:  # the socket is given
        pass


class _Transport(httpx.BaseTransport):
    """Each request on a connection of its own, closed once the answer is read: a client
    a test never closes leaves no socket behind (FastAPI's tests turn ResourceWarning into
    an error)."""

    def __init__(self, client: "TestClient") -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        timeout = request.extensions.get("timeout", {}).get("read")
        conn = _Connection(self.client, request.url.scheme == "https", timeout)
        try:
            http_conn = _HTTPConnection(conn.sock)
            target = conn.target(request.url.raw_path)
            http_conn.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
            streamed = False
            for name, value in request.headers.raw:
                if name.lower() == b"transfer-encoding":  # (the body was read whole: sent with a length)
                    streamed = True
                    continue
                http_conn.putheader(name.decode("latin-1"), value.decode("latin-1"))
            if streamed:
                http_conn.putheader("Content-Length", str(len(body)))
            http_conn.endheaders(body or None)
            raw = http_conn.getresponse()
            content = raw.read()
            status, reason, headers = raw.status, raw.reason, raw.getheaders()
        finally:
            conn.close()
        if conn.slot.tasks:
            conn.slot.done.wait(_HANDLER_WAIT)  # the request's background tasks ran
        error = conn.slot.error
        if error is not None and self.client.raise_server_exceptions:
            raise error
        return httpx.Response(status, headers=headers, content=content, request=request,
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason.encode("latin-1")})


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """The app answered the WebSocket handshake with an HTTP response (Starlette's name)."""


class WebSocketTestSession(_RawSession):
    """An open WebSocket to the app (``client.websocket_connect(url)``), with Starlette's
    calls: ``send_text/send_bytes/send_json``, ``receive_text/receive_bytes/receive_json``
    (``WebSocketDisconnect`` when the app closed), ``receive()`` giving the ASGI message,
    ``close(code)``. Leaving its ``with`` block closes it, waits for the app's handler to
    end and raises what the handler raised (a ``WebSocketDisconnect`` it did not catch
    too), as Starlette's session does."""

    def __init__(self, conn: _Connection, buffered: bytes, response: TestResponse, raise_errors: bool) -> None:
        super().__init__(conn.sock, buffered, response)
        self._conn = conn
        self._raise_errors = raise_errors
        self.accepted_subprotocol = self.subprotocol
        self.extra_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.raw
                              if k.lower() not in ("upgrade", "connection", "sec-websocket-accept",
                                                   "sec-websocket-protocol")]

    def _disconnected(self, exc: WebSocketDisconnect) -> BaseException:
        """The app closed: its own exception when it failed (close 1011), else ``exc``."""
        slot = self._conn.slot
        if exc.code == 1011 and self._raise_errors and slot.done.wait(_HANDLER_WAIT) and slot.error is not None:
            return slot.error
        return exc

    def receive(self) -> dict[str, Any]:  # type: ignore[override]
        """The next ASGI message the app sent: ``websocket.send`` or ``websocket.close``."""
        try:
            data = _RawSession.receive(self)
        except WebSocketDisconnect as exc:
            return {"type": "websocket.close", "code": exc.code, "reason": exc.reason}
        if isinstance(data, str):
            return {"type": "websocket.send", "text": data}
        return {"type": "websocket.send", "bytes": data}

    def _data(self) -> str | bytes:
        try:
            return _RawSession.receive(self)
        except WebSocketDisconnect as exc:
            raise self._disconnected(exc) from None

    def receive_text(self) -> str:
        data = self._data()
        if not isinstance(data, str):
            raise KeyError("text")  # Starlette reads message["text"] of a binary message
        return data

    def receive_bytes(self) -> bytes:
        data = self._data()
        if not isinstance(data, bytes):
            raise KeyError("bytes")
        return data

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        data = self._data()
        if mode == "text":
            if not isinstance(data, str):
                raise KeyError("text")
            return _json.loads(data)
        if not isinstance(data, bytes):
            raise KeyError("bytes")
        return _json.loads(data.decode("utf-8"))

    def send(self, message: Any) -> None:
        """An ASGI message (``websocket.receive`` with text or bytes, ``websocket.disconnect``),
        as Starlette's ``send``; or a str or bytes."""
        if not isinstance(message, dict):
            _RawSession.send(self, message)
        elif message.get("type") == "websocket.disconnect":
            self.close(message.get("code", 1000), message.get("reason") or "")
        elif message.get("text") is not None:
            self.send_text(message["text"])
        else:
            self.send_bytes(message.get("bytes") or b"")

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        text = _json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            self.send_text(text)
        else:
            self.send_bytes(text.encode("utf-8"))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        _RawSession.close(self, code, reason or "")

    def __enter__(self) -> "WebSocketTestSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.close(1000)
            slot = self._conn.slot
            slot.done.wait(_HANDLER_WAIT)
        finally:
            self._conn.close()
        if slot.error is not None and self._raise_errors:
            raise slot.error


class TestClient(httpx.Client):
    """Starlette's ``TestClient`` over ringbolt's server (see the module's docstring)."""

    __test__ = False

    def __init__(self, app: Any, base_url: str = "http://testserver", raise_server_exceptions: bool = True,
                 root_path: str = "", backend: str = "asyncio", backend_options: Any = None,
                 cookies: Any = None, headers: dict[str, str] | None = None, follow_redirects: bool = True,
                 client: tuple[str, int] = ("testclient", 50000)) -> None:
        if not isinstance(app, App):
            raise TypeError(f"ringbolt.fastapi's TestClient serves a ringbolt app (ringbolt.fastapi.FastAPI or "
                            f"ringbolt.App), not {type(app).__name__}: mount an ASGI app on one with "
                            "app.mount_asgi(...), or test it with Starlette's own TestClient")
        self.app = app
        self._served = _served_for(app)
        self.raise_server_exceptions = raise_server_exceptions
        self._root_path = root_path
        self._client = client
        self._entered = False
        all_headers = {"user-agent": "testclient", **(headers or {})}
        super().__init__(base_url=base_url, headers=all_headers, transport=_Transport(self),
                         follow_redirects=follow_redirects, cookies=cookies)

    def __enter__(self) -> "TestClient":
        self._served.enter(self._root_path)
        self._entered = True
        return self

    def __exit__(self, *args: Any) -> None:
        if self._entered:
            self._entered = False
            self._served.exit()
        self.close()

    def websocket_connect(self, url: str, subprotocols: list[str] | None = None,
                          **kwargs: Any) -> WebSocketTestSession:
        """Open a WebSocket to ``url`` (relative to ``base_url``; ``ws://``/``wss://`` too).
        The app refusing it raises ``WebSocketDisconnect`` with the code it closed with
        (1000 when it closed none), or what it raised."""
        target = self._merge_url(url)
        tls = target.scheme in ("https", "wss")
        headers = httpx.Headers(self.headers)
        headers.update(httpx.Headers(kwargs.get("headers")))
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        pairs = [(k, v) for k, v in headers.multi_items()
                 if k.lower() not in ("connection", "host", "upgrade") and not k.lower().startswith("sec-websocket-")]
        cookie = httpx.Request("GET", target.copy_with(scheme="https" if tls else "http"))
        self.cookies.set_cookie_header(cookie)
        if "cookie" in cookie.headers:
            pairs.append(("cookie", cookie.headers["cookie"]))
        host = target.netloc.decode("ascii")
        head = [f"GET {target.raw_path.decode('ascii')} HTTP/1.1", f"host: {host}", "upgrade: websocket",
                "connection: upgrade", f"sec-websocket-key: {key}", "sec-websocket-version: 13"]
        if subprotocols:
            head.append(f"sec-websocket-protocol: {', '.join(subprotocols)}")
        head += [f"{k}: {v}" for k, v in pairs]
        conn = _Connection(self, tls, 30.0)
        try:
            head[0] = f"GET {conn.target(target.raw_path)} HTTP/1.1"
            conn.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            status, reason, version, raw_headers, rest = read_response_head(conn.sock)
            response = TestResponse("GET", target.raw_path.decode("ascii"), status, reason, version,
                                    _RawHeaders(raw_headers), b"")
            if status != 101:
                raise self._refused(conn)
            if response.headers.get("sec-websocket-accept") != accept_key(key):
                raise WebSocketProtocolError("the 101 answer's Sec-WebSocket-Accept does not match the key")
        except BaseException:
            conn.close()
            raise
        return WebSocketTestSession(conn, rest, response, self.raise_server_exceptions)

    def _refused(self, conn: _Connection) -> BaseException:
        """What refusing the handshake is in Starlette's client: the handler's exception,
        or the code it closed with before accepting (1000 when none, or when no handler
        ran: no such route). Each is recorded before the server answers the handshake."""
        slot = conn.slot
        ws = slot.websocket
        if ws is None:
            return WebSocketDisconnect(1000)
        if slot.error is not None and self.raise_server_exceptions:
            return slot.error
        return WebSocketDisconnect(getattr(ws, "close_code", None) or 1000, getattr(ws, "close_reason", "") or "")


__all__ = ["TestClient", "WebSocketTestSession", "WebSocketDenialResponse"]
