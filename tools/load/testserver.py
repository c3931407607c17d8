#!/usr/bin/env python3
"""Owns: a tiny asyncio HTTP/1.1 server that exercises ringbolt-load's response framing
and connection handling (chunked bodies, Connection: close, HTTP/1.0 bodies delimited by
close, arbitrary status codes, pipelining, slow responses). Not a general server.

Why its own: python3 -m http.server neither chunks nor pipelines.

Usage: python3 testserver.py [PORT]   (0 or none: any free port; prints "PORT n" when ready)

Routes (the query string is ignored unless stated):
  /                      200 "Hello, World!" with Content-Length
  /chunked               200, Transfer-Encoding: chunked, three chunks, a chunk extension
                         and a trailer
  /big                   200, 100000-byte Content-Length body
  /status/NNN            status NNN, with an empty body
  /close                 200 with Connection: close, then the server closes
  /close-after/K         keep-alive, but the K-th response on a connection says close
  /http10                HTTP/1.0 200 with Content-Length and no keep-alive, then close
  /http10-until-close    HTTP/1.0 200 without Content-Length: the body ends at close
  /drop                  closes the connection without answering
  /slow/MS               200 after MS milliseconds (one connection's requests stay in order)
  /echo                  200, the request body echoed back
  /__stats               JSON {"requests": n, "connections": n, "paths": {...}}
  /__reset               clears the counters
"""
from __future__ import annotations

import asyncio
import json
import sys

STATS = {"requests": 0, "connections": 0, "paths": {}}


def response(status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
             version: str = "HTTP/1.1", length: bool = True) -> bytes:
    reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Status")
    lines = [f"{version} {status} {reason}"]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked_response() -> bytes:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    body = (b"7\r\nHello, \r\n"
            b"6;ext=1\r\nWorld!\r\n"
            b"1A\r\n" + b"z" * 26 + b"\r\n"
            b"0\r\nX-Trailer: yes\r\n\r\n")
    return head + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    STATS["connections"] += 1
    served = 0
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = b""
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            path = target.split("?", 1)[0]
            served += 1
            if not path.startswith("/__"):
                STATS["requests"] += 1
                key = "/" + path.strip("/").split("/")[0] if path != "/" else "/"
                STATS["paths"][key] = STATS["paths"].get(key, 0) + 1
            close = False
            if path == "/":
                out = response(200, b"Hello, World!", [("Content-Type", "text/plain")])
            elif path == "/chunked":
                out = chunked_response()
            elif path == "/big":
                out = response(200, b"b" * 100000)
            elif path.startswith("/status/"):
                out = response(int(path.rsplit("/", 1)[1]), b"")
            elif path == "/close":
                out, close = response(200, b"bye", [("Connection", "close")]), True
            elif path.startswith("/close-after/"):
                k = int(path.rsplit("/", 1)[1])
                if served >= k:
                    out, close = response(200, b"last", [("Connection", "close")]), True
                else:
                    out = response(200, b"more")
            elif path == "/http10":
                out, close = response(200, b"old style", version="HTTP/1.0"), True
            elif path == "/http10-until-close":
                out, close = response(200, b"until close " * 10, version="HTTP/1.0", length=False), True
            elif path == "/drop":
                return
            elif path.startswith("/slow/"):
                await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
                out = response(200, b"slow")
            elif path == "/echo":
                out = response(200, body)
            elif path == "/__stats":
                out = response(200, json.dumps(STATS).encode(), [("Content-Type", "application/json")])
            elif path == "/__reset":
                STATS.update(requests=0, connections=0, paths={})
                out = response(200, b"ok")
            else:
                out = response(404, b"not found")
            writer.write(out)
            # pipelined requests already buffered are answered before draining
            if close or not reader._buffer:  # noqa: SLF001 (a peek, not a read)
                await writer.drain()
            if close:
                return
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
