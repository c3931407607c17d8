"""Raw-socket client for the native response feature tests: one request, the head, and
the body whole (Content-Length) or chunk by chunk (chunked), undecoded, so the tests
see exactly what went on the wire."""

from __future__ import annotations

import gzip
import socket
import time
import zlib

from conftest import Reader, Response, ServerProcess

WAIT_S = 20.0  # bound for anything that should take well under a second: only catches hangs


def _fill(reader: Reader, deadline: float) -> None:
    reader.sock.settimeout(max(0.05, deadline - time.monotonic()))
    data = reader.sock.recv(262144)
    if not data:
        raise ConnectionError("connection closed inside a response")
    reader.buf += data


def read_chunk(reader: Reader, timeout: float = WAIT_S) -> bytes | None:
    """The next chunk's data (None after the last chunk and the trailers)."""
    deadline = time.monotonic() + timeout
    while b"\r\n" not in reader.buf:
        _fill(reader, deadline)
    line, reader.buf = reader.buf.split(b"\r\n", 1)
    size = int(line.split(b";")[0], 16)
    if size == 0:
        while b"\r\n\r\n" not in b"\r\n" + reader.buf:
            _fill(reader, deadline)
        _, reader.buf = (b"\r\n" + reader.buf).split(b"\r\n\r\n", 1)
        return None
    while len(reader.buf) < size + 2:
        _fill(reader, deadline)
    data, reader.buf = reader.buf[:size], reader.buf[size + 2 :]
    return data


def exchange(srv: ServerProcess, method: str, path: str, headers: dict[str, str] | None = None,
             body: bytes = b"") -> Response:
    """One request on a new connection; the response with its whole (undecoded) body."""
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with srv.connect(timeout=WAIT_S) as s:
        s.sendall(raw)
        reader = Reader(s)
        resp = reader.read(head_request=True)
        if method == "HEAD" or resp.status in (204, 304):
            return resp
        if resp.header("content-length") is not None:
            n = int(resp.header("content-length") or 0)
            deadline = time.monotonic() + WAIT_S
            while len(reader.buf) < n:
                _fill(reader, deadline)
            resp.body = reader.buf[:n]
        elif (resp.header("transfer-encoding") or "").lower() == "chunked":
            parts = []
            while (chunk := read_chunk(reader)) is not None:
                parts.append(chunk)
            resp.body = b"".join(parts)
        return resp


def decoder(coding: str):
    """An incremental decoder: feed(bytes) -> bytes decoded so far from them."""
    if coding == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress
    if coding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress
    if coding == "br":
        import brotli

        return brotli.Decompressor().process
    raise ValueError(coding)


def decode(coding: str | None, data: bytes) -> bytes:
    if coding is None:
        return data
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return decoder(coding)(data)
