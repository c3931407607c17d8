"""The WebSocket echo that ws_app.py, tls_app.py and hosted_app.py all serve: every
message goes back as it came (text as text, bytes as bytes) until the client closes."""

from ringbolt import App


def add_ws_echo(app: App, path: str) -> None:
    @app.websocket(path)
    async def echo(ws):
        await ws.accept()
        async for message in ws:
            await ws.send(message)
