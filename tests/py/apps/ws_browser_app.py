"""An ASGI app for the browser WebSocket test (tests/py/test_websocket_browser.py): GET /
serves a page whose script opens a WebSocket to /ws on the same origin, reads the first
message (the HTTP version the server saw the handshake on), has a message echoed, and
POSTs what it got to /report, which the app prints as one "REPORT {json}" line (the test
reads the server's output: no headless virtual time to race). /ws sends that version,
then echoes every message."""

from __future__ import annotations

import json
import sys
from typing import Any, Awaitable, Callable

from asgi_body import read_body

PAGE = b"""<!doctype html><html><body><pre id="out">running</pre><script>
(async () => {
  await fetch("/warm");  // the page's connection is up before the WebSocket opens
  const result = await new Promise((resolve) => {
    const ws = new WebSocket("wss://" + location.host + "/ws");
    const got = [];
    ws.onmessage = (ev) => {
      got.push(ev.data);
      if (got.length === 1) ws.send("echo me");
      if (got.length === 2) { ws.close(1000); resolve({first: JSON.parse(got[0]), echo: got[1]}); }
    };
    ws.onerror = () => resolve({error: true});
  });
  await fetch("/report", {method: "POST", body: JSON.stringify(result)});
  document.getElementById("out").textContent = "done";
})();
</script></body></html>"""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        body = await read_body(receive)
        if scope["path"] == "/report":
            print("REPORT " + body.decode(), file=sys.stderr, flush=True)
        page = scope["path"] == "/"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html" if page else b"text/plain")]})
        await send({"type": "http.response.body", "body": PAGE if page else b"ok"})
    elif scope["type"] == "websocket":
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"http_version": scope["http_version"]})})
        while True:
            event = await receive()
            if event["type"] != "websocket.receive":
                return
            await send({"type": "websocket.send", "text": event.get("text") or ""})
