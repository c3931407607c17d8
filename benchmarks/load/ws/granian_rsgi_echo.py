"""Granian RSGI WebSocket echo for benchmarks/load/ws_bench.py: every message back as it
came (text as text, bytes as bytes) until the client closes. HTTP: 200 "ok".

    granian --interface rsgi --workers 1 --runtime-threads 1 --runtime-mode st --ws \
        benchmarks.load.ws.granian_rsgi_echo:app
"""
from __future__ import annotations

from typing import Any

from granian.rsgi import ProtocolClosed, WebsocketMessageType


async def app(scope: Any, proto: Any) -> None:
    if scope.proto != "ws":
        proto.response_str(200, [("content-type", "text/plain")], "ok")
        return
    transport = await proto.accept()
    try:
        while True:
            msg = await transport.receive()
            if msg.kind == WebsocketMessageType.bytes:
                await transport.send_bytes(msg.data)
            elif msg.kind == WebsocketMessageType.string:
                await transport.send_str(msg.data)
            else:  # close
                break
    except ProtocolClosed:
        pass
    proto.close()
