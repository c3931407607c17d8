"""A small synchronous WebSocket client (RFC 6455) for the test client: the opening
handshake (key and accept checked), masked frames out, fragmented messages in, pings
answered, and the close handshake. No extensions are offered."""

from __future__ import annotations

import base64
import hashlib
import json as _json
import os
import socket
import struct
from typing import Any, Literal

from .. import _native
from ..websocket import WebSocketDisconnect
from ._http import Headers, TestResponse

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CONT, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WebSocketDenied(Exception):
    """The server refused the handshake: it answered ``response`` (a TestResponse: 403
    when the handler returned without accepting, 404 for no such route...) instead of 101."""

    def __init__(self, response: TestResponse) -> None:
        super().__init__(f"the WebSocket handshake was refused with {response.status_code} "
                         f"{response.reason_phrase}: {response.content[:200]!r}")
        self.response = response
        self.status_code = response.status_code


class WebSocketProtocolError(Exception):
    """The server broke RFC 6455 (a masked frame, a bad accept key, bad UTF-8...)."""


def _mask(key: bytes, data: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def encode_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame: always masked (RFC 6455 §5.3), with a fresh random key."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return head + key + _mask(key, payload)


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


class WebSocketTestSession:
    """An open WebSocket to the app under test (``client.websocket_connect(path)``).

    Messages: ``send_text/send_bytes/send_json``, ``receive_text/receive_bytes/
    receive_json`` (``receive()`` gives either). When the server closes, the next
    receive (or a send on a closed socket) raises ``WebSocketDisconnect`` with its code
    and reason. ``close(code, reason)`` does the close handshake. A context manager
    (closes on exit). Every wait is bounded by the client's ``timeout`` (TimeoutError).
    """

    __test__ = False

    def __init__(self, sock: socket.socket, buffered: bytes, response: TestResponse) -> None:
        self._sock = sock
        self._buf = bytearray(buffered)
        self.response = response
        self.headers: Headers = response.headers
        self.subprotocol: str | None = response.headers.get("sec-websocket-protocol")
        self.close_code: int | None = None
        self.close_reason = ""
        self._sent_close = False
        self._closed = False

    # ---- sending ----
    def _send_frame(self, opcode: int, payload: bytes) -> None:
        if self._closed or self._sent_close:
            raise WebSocketDisconnect(self.close_code or 1006, self.close_reason)
        try:
            self._sock.sendall(encode_frame(opcode, payload))
        except OSError:
            self._closed = True
            self.close_code = self.close_code or 1006
            raise WebSocketDisconnect(self.close_code, self.close_reason) from None

    def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self._send_frame(_TEXT, data.encode())
        elif isinstance(data, (bytes, bytearray, memoryview)):
            self._send_frame(_BINARY, bytes(data))
        else:
            raise TypeError(f"a WebSocket message is str (text) or bytes (binary), not {type(data).__name__}")

    def send_text(self, data: str) -> None:
        if not isinstance(data, str):
            raise TypeError(f"send_text takes str, not {type(data).__name__}")
        self._send_frame(_TEXT, data.encode())

    def send_bytes(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_bytes takes bytes, not {type(data).__name__}")
        self._send_frame(_BINARY, bytes(data))

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        encoded = _native.json_dumps(data)  # ringbolt's writer: datetime, UUID... as the server writes them
        self._send_frame(_TEXT if mode == "text" else _BINARY, encoded)

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        """One raw frame (fragments, pings, bad frames for a test of the server's checks)."""
        self._sock.sendall(encode_frame(opcode, payload, fin))

    # ---- receiving ----
    def _fill(self, n: int) -> None:
        while len(self._buf) < n:
            try:
                chunk = self._sock.recv(max(65536, n - len(self._buf)))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self._closed = True
                self.close_code = self.close_code or 1006
                raise WebSocketDisconnect(self.close_code, self.close_reason)
            self._buf += chunk

    def _take(self, n: int) -> bytes:
        self._fill(n)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _read_frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._take(2)
        if b1 & 0x80:
            raise WebSocketProtocolError("the server sent a masked frame (RFC 6455 §5.1)")
        if b0 & 0x70:
            raise WebSocketProtocolError("the server set reserved bits (no extension was negotiated)")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._take(n)

    def _on_close_frame(self, payload: bytes) -> None:
        code, reason = 1005, ""
        if len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            reason = payload[2:].decode("utf-8", errors="replace")
        self.close_code, self.close_reason = code, reason
        if not self._sent_close:
            self._sent_close = True
            try:
                self._sock.sendall(encode_frame(_CLOSE, payload[:2]))
            except OSError:
                pass
        self._finish()

    def _finish(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    def receive(self) -> str | bytes:
        """The next message (str for text, bytes for binary)."""
        if self._closed:
            raise WebSocketDisconnect(self.close_code or 1006, self.close_reason)
        kind: int | None = None
        parts: list[bytes] = []
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == _PING:
                if not self._sent_close:
                    self._sock.sendall(encode_frame(_PONG, payload))
                continue
            if opcode == _PONG:
                continue
            if opcode == _CLOSE:
                self._on_close_frame(payload)
                raise WebSocketDisconnect(self.close_code or 1005, self.close_reason)
            if opcode in (_TEXT, _BINARY):
                if kind is not None:
                    raise WebSocketProtocolError("a new message started inside a fragmented one")
                kind = opcode
            elif opcode == _CONT:
                if kind is None:
                    raise WebSocketProtocolError("a continuation frame with no message started")
            else:
                raise WebSocketProtocolError(f"unknown opcode {opcode:#x}")
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                if kind == _TEXT:
                    try:
                        return data.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise WebSocketProtocolError(f"a text message is not UTF-8: {exc}") from None
                return data

    def receive_text(self) -> str:
        data = self.receive()
        if not isinstance(data, str):
            raise TypeError(f"expected a text message, got a binary one: {data[:100]!r}")
        return data

    def receive_bytes(self) -> bytes:
        data = self.receive()
        if not isinstance(data, bytes):
            raise TypeError(f"expected a binary message, got a text one: {data[:100]!r}")
        return data

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        data = self.receive_text() if mode == "text" else self.receive_bytes()
        return _json.loads(data)

    # ---- closing ----
    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and wait (bounded by the timeout) for the server's answer;
        messages still arriving are dropped."""
        if self._closed:
            return
        if not self._sent_close:
            self._sent_close = True
            try:
                self._sock.sendall(encode_frame(_CLOSE, struct.pack("!H", code) + reason.encode()))
            except OSError:
                self._finish()
                return
        try:
            while True:
                _, opcode, payload = self._read_frame()
                if opcode == _CLOSE:
                    code_in = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self.close_code = code_in
                    self.close_reason = payload[2:].decode("utf-8", errors="replace")
                    break
        except (WebSocketDisconnect, OSError, WebSocketProtocolError):
            pass
        self._finish()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "WebSocketTestSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<WebSocketTestSession {state} subprotocol={self.subprotocol!r}>"


def read_response_head(sock: socket.socket) -> tuple[int, str, str, list[tuple[str, str]], bytes]:
    """(status, reason, version, headers, bytes after the head) of an HTTP/1.1 answer."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection before answering the handshake: {buf!r}")
        buf += chunk
        if len(buf) > 1 << 20:
            raise WebSocketProtocolError("the handshake answer's head is over 1 MiB")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    version, _, status_reason = lines[0].partition(" ")
    status_text, _, reason = status_reason.partition(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return int(status_text), reason, version, headers, rest
