"""Shared by test_forms/test_multipart/test_cookies/test_sse/test_background: one server
of apps/reqresp_app.py per test module, and raw-socket helpers."""

from __future__ import annotations

import socket
import time
from typing import Callable

from conftest import Reader, Response, ServerProcess

APP = "reqresp_app:app"
WAIT_S = 15.0  # bound for what should take well under a second: catches hangs only


def post(srv: ServerProcess, path: str, body: bytes, content_type: str, extra: str = "") -> Response:
    head = (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode()
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(head)
        # Large bodies in pieces, as a client sends them.
        for i in range(0, len(body), 256 * 1024):
            try:
                s.sendall(body[i:i + 256 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                break  # answered early (a limit refused the body as it arrived): read the answer
        return Reader(s).read()


def multipart(parts: list[tuple[str, str | None, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    out = b""
    for name, filename, ctype, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def wait_for(check: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def read_until(sock: socket.socket, marker: bytes, timeout: float = WAIT_S) -> bytes:
    sock.settimeout(timeout)
    buf = b""
    while marker not in buf:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    return buf
