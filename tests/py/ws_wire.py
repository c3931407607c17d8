"""WebSocket frames as a test client writes and reads them (RFC 6455 §5): the client's
masked, the server's parsed from a stream's bytes. The tests of WebSocket over HTTP/2
(RFC 8441) and over HTTP/3 (RFC 9220) carry these bytes in their streams' DATA."""

from __future__ import annotations

import os
import struct

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(op: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    """A masked client frame (RFC 6455 §5.2, §5.3); `rsv1`: compressed (RFC 7692 §6)."""
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | op])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack(">H", code) + reason.encode()


def parse_server_frame(buf: bytearray) -> tuple[int, bool, bytes] | None:
    """The first whole server frame of `buf` (removed from it): opcode (with RSV1, 0x40,
    when compressed), fin, payload; None while incomplete. Server frames are never masked
    (§5.1)."""
    if len(buf) < 2:
        return None
    fin, op = bool(buf[0] & 0x80), buf[0] & 0x4F
    assert buf[1] & 0x80 == 0, "a server frame is masked"
    n, at = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack(">H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack(">Q", buf[2:10])[0], 10
    if len(buf) < at + n:
        return None
    payload = bytes(buf[at:at + n])
    del buf[:at + n]
    return op, fin, payload


class FrameWait:
    """A `done()` test for a client's read loop: true once `buf` (a stream's bytes) holds a
    whole server frame, which is then `frame`. The server's keep-alive pings
    (--ws-ping-interval) are skipped unless `pings`."""

    def __init__(self, buf: bytearray, pings: bool = False) -> None:
        self.buf = buf
        self.pings = pings
        self.frame: tuple[int, bool, bytes] | None = None

    def __call__(self) -> bool:
        while self.frame is None:
            f = parse_server_frame(self.buf)
            if f is None:
                return False
            if f[0] != PING or self.pings:
                self.frame = f
        return True
