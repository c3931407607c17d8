#!/usr/bin/env python3
"""Owns: a WebSocket echo server for ringbolt-ws-load's tests, on the `websockets`
library (so the handshake and framing are someone else's, independent of ours), with
routes that misbehave on purpose. Not a general server.

Usage: python3 ws_testserver.py [PORT]   (0 or none: any free port; prints "PORT n")

Routes (the WebSocket request path):
  /echo              every message back as it came (text as text, bytes as bytes)
  /corrupt/K         echo, but every K-th message on a connection has one byte flipped
  /fragment          echo each message as a fragmented message (3 frames), with a ping
                     sent before every echo
  /close-after/K     echo K messages, then close the connection (1000)
  /swap              echo, but each pair of messages comes back in reverse order
  /bad-accept        the 101 answer carries a wrong Sec-WebSocket-Accept
  /reject            the handshake is answered 403
HTTP GET /__stats answers JSON {"messages": n, "connections": n, "pongs": n};
GET /__reset clears the counters.
"""
from __future__ import annotations

import asyncio
import http
import json
import sys

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

STATS = {"messages": 0, "connections": 0, "pongs": 0}


def process_request(connection, request):
    path = request.path
    if path in ("/__stats", "/__reset"):
        if path == "/__reset":
            for k in STATS:
                STATS[k] = 0
        body = json.dumps(STATS).encode()
        return Response(200, "OK", Headers([("Content-Type", "application/json"),
                                            ("Content-Length", str(len(body)))]), body)
    if path == "/reject":
        return connection.respond(http.HTTPStatus.FORBIDDEN, "no\n")
    return None


def process_response(connection, request, response):
    if request.path == "/bad-accept":
        response.headers["Sec-WebSocket-Accept"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    return response


def flip(message):
    """The message with its last character or byte changed (same length, same opcode)."""
    if isinstance(message, str):
        return message[:-1] + ("b" if message[-1] != "b" else "c")
    data = bytearray(message)
    data[-1] ^= 0x01
    return bytes(data)


def pieces(message):
    third = max(1, len(message) // 3)
    return [message[:third], message[third:2 * third], message[2 * third:]]


async def handler(ws):
    STATS["connections"] += 1
    path = ws.request.path
    count = 0
    held = None
    try:
        async for message in ws:
            STATS["messages"] += 1
            count += 1
            if path.startswith("/corrupt/") and count % int(path.rsplit("/", 1)[1]) == 0:
                await ws.send(flip(message))
            elif path == "/fragment":
                pong = await ws.ping()
                pong.add_done_callback(lambda _: STATS.__setitem__("pongs", STATS["pongs"] + 1))
                await ws.send(pieces(message))
            elif path == "/swap":
                if held is None:
                    held = message
                else:
                    await ws.send(message)
                    await ws.send(held)
                    held = None
            else:
                await ws.send(message)
            if path.startswith("/close-after/") and count >= int(path.rsplit("/", 1)[1]):
                await ws.close(1000)
                return
    except Exception:  # noqa: BLE001 - a client that goes away mid-message is normal here
        pass


async def main(port: int) -> None:
    # compression=None: the load generator offers no extension, but be explicit; no
    # keepalive pings except the ones /fragment sends, so counts are exact
    async with serve(handler, "127.0.0.1", port, process_request=process_request,
                     process_response=process_response, compression=None, ping_interval=None,
                     max_size=2 ** 26) as server:
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
