"""Routes for tests/py/test_tls.py: served over TLS (and plain for the comparisons); the
routes it shares with h2_app.py are in transfer_routes.py, its WebSocket echo in ws_echo.py."""

import os

from ringbolt import App, FileResponse
from transfer_routes import add_transfer_routes
from ws_echo import add_ws_echo

app = App()
add_transfer_routes(app)
add_ws_echo(app, "/ws")
FILE = os.environ.get("TLS_TEST_FILE", "")


@app.get("/scheme")
def scheme(req):
    return {"scheme": req.scheme, "url": req.url}


@app.get("/file")
def file(req):
    return FileResponse(FILE)


@app.websocket("/ws-url")
async def ws_url(ws):
    await ws.accept()
    await ws.send_json({"url": ws.url})
    await ws.close()
