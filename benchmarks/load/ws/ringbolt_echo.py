"""ringbolt's own WebSocket API echo (the benchmark's `ringbolt` system): every message
back as it came, text as text, bytes as bytes."""

from ringbolt import App

app = App()


@app.websocket("/")
async def echo(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(message)
