"""instr_per_request's client side, the part that decides when an answer is whole: HTTP
answers framed by Content-Length or chunked (whole only at their last byte, fed one byte
more at a time), and the WebSocket echo client against a real WebSocket echo on
127.0.0.1 (the handshake, the three payload-length forms, an echo that differs)."""

from __future__ import annotations

import os
import socket
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from instr_per_request import WebSocketEcho, _answer_end  # noqa: E402

CHUNKED = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n1a\r\n" + b"z" * 26 + b"\r\n0\r\n\r\n")
LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
TRAILER = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\nx-sum: 9\r\n\r\n"


@pytest.mark.parametrize("answer", [CHUNKED, LENGTH, TRAILER], ids=["chunked", "content-length", "trailer"])
def test_an_answer_is_whole_only_at_its_last_byte(answer: bytes) -> None:
    for cut in range(len(answer)):
        assert _answer_end(answer[:cut]) == 0, cut
    assert _answer_end(answer) == len(answer)
    assert _answer_end(answer + LENGTH) == len(answer)  # the next answer is not taken


def test_an_answer_that_is_not_200_stops_the_count() -> None:
    with pytest.raises(RuntimeError):
        _answer_end(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


def _echo_server(listener: socket.socket, flip: bool) -> None:
    """Accepts one connection, answers the upgrade and echoes each message unmasked
    (with its first byte flipped when `flip`)."""
    conn, _ = listener.accept()
    with conn:
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += conn.recv(4096)
        buf = buf.split(b"\r\n\r\n", 1)[1]
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        while True:
            while len(buf) < 14:
                d = conn.recv(65536)
                if not d:
                    return
                buf += d
            n, at = buf[1] & 0x7F, 2
            if n == 126:
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, at = int.from_bytes(buf[2:10], "big"), 10
            while len(buf) < at + 4 + n:
                buf += conn.recv(65536)
            mask = buf[at:at + 4]
            data = bytearray(b ^ mask[i % 4] for i, b in enumerate(buf[at + 4:at + 4 + n]))
            buf = buf[at + 4 + n:]
            if flip:
                data[0] ^= 0xFF
            head = bytes([0x82, n]) if n < 126 else (bytes([0x82, 126]) + n.to_bytes(2, "big") if n < 65536
                                                     else bytes([0x82, 127]) + n.to_bytes(8, "big"))
            conn.sendall(head + bytes(data))


def _serve(flip: bool = False) -> tuple[int, threading.Thread, socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    t = threading.Thread(target=_echo_server, args=(listener, flip), daemon=True)
    t.start()
    return listener.getsockname()[1], t, listener


@pytest.mark.parametrize("size", [32, 200, 70000])
def test_the_websocket_client_counts_whole_echoes(size: int) -> None:
    port, t, listener = _serve()
    ws = WebSocketEcho(port, "/", size)
    ws.echo(5)  # each checked against the payload sent
    assert ws.buf == b""  # nothing left over: each echo was read exactly
    ws.close()
    t.join(10)
    listener.close()
    assert not t.is_alive()


def test_the_websocket_client_refuses_an_echo_that_differs() -> None:
    port, t, listener = _serve(flip=True)
    ws = WebSocketEcho(port, "/", 64)
    with pytest.raises(RuntimeError, match="differs"):
        ws.echo(1)
    ws.close()
    t.join(10)
    listener.close()
