"""Large JSON answers from an unchanged FastAPI app (test_large_answers.py): the rows of
large_answer_app.py through a response model FastAPI infers from the return annotation
(``list[dict[str, Any]]``: validated, then written by pydantic-core), as in the FastAPI app
of Litestar's api-performance-tests 1M case."""
from typing import Any

from fastapi import FastAPI

from large_answer_app import ROWS

app = FastAPI()


@app.get("/big")
def big() -> list[dict[str, Any]]:
    return ROWS


@app.get("/big-async")
async def big_async() -> list[dict[str, Any]]:
    return ROWS
