"""socketify native WebSocket echo (uWebSockets underneath) for
benchmarks/load/ws_bench.py: every message back with its own opcode. HTTP: 200 "ok".

    python benchmarks/load/ws/socketify_echo.py PORT
"""
from __future__ import annotations

import sys

from socketify import App, AppListenOptions, CompressOptions


def on_message(ws, message, opcode):
    ws.send(message, opcode)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    app = App()
    app.ws("/*", {
        "compression": CompressOptions.DISABLED,
        # uWS closes a connection whose message exceeds this (default 16 KiB, which a
        # 16 KiB payload already reaches with nothing to spare)
        "max_payload_length": 64 * 1024 * 1024,
        "idle_timeout": 120,
        # a 16 KiB echo to a slow reader must not close the connection
        "max_backpressure": 64 * 1024 * 1024,
        "message": on_message,
    })
    app.get("/*", lambda res, req: res.end("ok"))
    app.listen(AppListenOptions(port=port, host="127.0.0.1"), lambda config: None)
    app.run()


if __name__ == "__main__":
    main()
