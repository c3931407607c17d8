#!/usr/bin/env python3
"""Checks a WebSocket echo server with the `websockets` client (not ours), as the C floors
c_ws_echo.c and c_ws_uring_echo.c are checked: binary 32 B, 16 KiB and 75 KiB, text,
a fragmented message, 64 messages sent before any echo is read, ping/pong and the
closing handshake. Exits 0 when every check passes.

    python3 benchmarks/load/ws/check_echo.py ws://127.0.0.1:8000/
"""
from __future__ import annotations

import os
import sys

from websockets.sync.client import connect


def main(url: str) -> int:
    failures = 0

    def check(name: str, ok: bool, detail: str = "") -> None:
        nonlocal failures
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
        failures += not ok

    with connect(url, max_size=None, compression=None) as ws:
        for size in (32, 16384, 75 * 1024):
            data = os.urandom(size)
            ws.send(data)
            got = ws.recv()
            check(f"binary {size} B", got == data, f"{len(got)} bytes back")
        text = "héllo wörld " * 50
        ws.send(text)
        got = ws.recv()
        check("text", isinstance(got, str) and got == text, repr(got)[:60])
        parts = [os.urandom(1000), os.urandom(70000), os.urandom(3)]
        ws.send(iter(parts))  # a fragmented message: three frames
        got = ws.recv()
        check("fragmented message", got == b"".join(parts), f"{len(got)} bytes back")
        sent = [os.urandom(1 + i * 37) for i in range(64)]
        for m in sent:
            ws.send(m)
        got = [ws.recv() for _ in sent]
        check("64 messages in flight", got == sent)
        pong = ws.ping(b"are you there")
        check("ping answered by a pong", pong.wait(2))
        ws.close(code=1000, reason="bye")
        check("close answered with the same code", ws.close_code == 1000, str(ws.close_code))
        check("close reason echoed", ws.close_reason == "bye", repr(ws.close_reason))
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8000/"))
