"""A FastAPI app (test_memory_budget.py): ``/modules`` says which of the modules a FastAPI
app served by ``ringbolt serve`` never uses its worker has imported: ringbolt's own OpenAPI
generator (the app's document is FastAPI's)."""
import sys

from fastapi import FastAPI

UNUSED = ("ringbolt.openapi._document", "ringbolt.openapi.schemas", "ringbolt.openapi.request")

app = FastAPI()


@app.get("/")
def index() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/modules")
def modules() -> dict[str, list[str]]:
    return {"loaded": [name for name in UNUSED if name in sys.modules]}
