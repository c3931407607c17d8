"""FastAPI's app of Litestar's framework benchmark (litestar-org/api-performance-tests, MIT
per its README, frameworks/fastapi_app.py at commit 1eadaf1): the endpoints
apiperf_bench.py measures, declared as that file declares them, on the data of
apiperf_data.py (its test_data). Run under uvicorn from this folder:

    uvicorn fastapi_app:app --app-dir benchmarks/load/apps/apiperf --loop uvloop --http httptools
"""
from typing import Any

from fastapi import FastAPI
from starlette.status import HTTP_204_NO_CONTENT

import apiperf_data as test_data

app = FastAPI()

# JSON


@app.get("/async-json-1K")
async def async_json_1k() -> list[dict[str, Any]]:
    return test_data.JSON_1K


@app.get("/async-json-1M")
async def async_json_1m() -> list[dict[str, Any]]:
    return test_data.JSON_1M


@app.get("/sync-json-1K")
def sync_json_1k() -> list[dict[str, Any]]:
    return test_data.JSON_1K


@app.get("/sync-json-1M")
def sync_json_1m() -> list[dict[str, Any]]:
    return test_data.JSON_1M


# params


@app.get("/async-path-params/{first:int}", status_code=HTTP_204_NO_CONTENT)
async def async_path_params(first: int) -> None:
    pass


@app.get("/sync-path-params/{first:int}", status_code=HTTP_204_NO_CONTENT)
def sync_path_params(first: int) -> None:
    pass


@app.get("/async-query-param", status_code=HTTP_204_NO_CONTENT)
async def async_query_params(first: int) -> None:
    pass


@app.get("/sync-query-param", status_code=HTTP_204_NO_CONTENT)
def sync_query_params(first: int) -> None:
    pass


# serialize pydantic models and dataclasses: their four endpoints of each, registered here
# in a loop (each as that file declares it: the response model, `def` and `async def`)


def _serialize(kind: str, model: Any, n: int) -> None:
    data = getattr(test_data, f"PERSONS_{kind.upper()}_{n}")

    def sync_handler() -> Any:
        return data

    async def async_handler() -> Any:
        return data

    app.get(f"/sync-serialize-{kind}-{n}", response_model=list[model])(sync_handler)
    app.get(f"/async-serialize-{kind}-{n}", response_model=list[model])(async_handler)


for _n in (50, 500):
    _serialize("pydantic", test_data.PersonPydantic, _n)
    _serialize("dataclasses", test_data.PersonDataclass, _n)


# request body json (their `data: list`: this FastAPI reads a bare `list` as a form's files and
# answers a JSON body 422, so `list[Any]`, the JSON body as a list, as older FastAPI read it)


@app.post("/sync-post-json", status_code=HTTP_204_NO_CONTENT)
def sync_post_json(data: list[Any]) -> None:
    pass


@app.post("/async-post-json", status_code=HTTP_204_NO_CONTENT)
async def async_post_json(data: list[Any]) -> None:
    pass
