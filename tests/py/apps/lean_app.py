"""A JSON hello app with sync routes only (test_memory_budget.py): ``/modules`` says which
of the modules such an app never uses its worker has imported (none, or the saving of
deferring them has regressed)."""
import sys

from ringbolt import App

#: what serving plain sync routes needs none of: workers, --reload, ASGI/WSGI serving, an
#: event loop, WebSockets, the typed layer's runner and FastAPI bodies, health probes, and
#: the libraries behind them (asyncio brings ssl, and OpenSSL's set-up: 7 MB together)
UNUSED = (
    "ringbolt.serving.supervisor", "ringbolt.serving.reloader", "ringbolt.serving.asgi_server",
    "ringbolt.serving.asgi_app", "ringbolt.serving.wsgi_server", "ringbolt.asgi", "ringbolt.wsgi",
    "ringbolt.serving.aio", "ringbolt._tasks", "ringbolt.websocket", "ringbolt.typed.runner",
    "ringbolt.typed.fastapi_bodies", "ringbolt.health",
    "asyncio", "ssl", "ctypes", "decimal", "pydantic", "email.utils", "difflib",
)

app = App()


@app.get("/")
def index(req):
    return {"message": "Hello, World!"}


@app.get("/modules")
def modules(req):
    return {"loaded": [name for name in UNUSED if name in sys.modules]}
