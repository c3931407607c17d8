"""The endpoints of Litestar's framework benchmark (litestar-org/api-performance-tests at
commit 1eadaf1; its Litestar and FastAPI apps are litestar_app.py and fastapi_app.py
beside this file) in ringbolt's typed API: the same paths, status codes and JSON, on the
same data (apiperf_data.py). ``async def`` handlers at ``/async-...``, ``def`` ones at
``/sync-...``, as in those apps:

    GET  /{mode}-json-1K, /{mode}-json-1M            a list of dicts (1.3 kB, 1.3 MB of JSON)
    GET  /{mode}-path-params/42                      a path parameter read as int; 204
    GET  /{mode}-query-param?first=42                a query parameter read as int; 204
    GET  /{mode}-serialize-pydantic-{50,500}         a list of pydantic models, response-checked
    GET  /{mode}-serialize-dataclasses-{50,500}      a list of dataclasses, response-checked
    POST /{mode}-post-json                           a JSON list body, validated; 204

    ringbolt serve ringbolt_app:app --app-dir benchmarks/load/apps/apiperf --threads 1
"""
from __future__ import annotations

from typing import Annotated, Any

import apiperf_data as test_data
from apiperf_data import PersonDataclass, PersonPydantic

from ringbolt import App, Body

app = App()

# JSON (no response model: ringbolt's C++ writer)


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


# params (a {name:int} path converter hands an int; the query parameter is read as int)


@app.get("/async-path-params/{first:int}", status_code=204)
async def async_path_params(first: int) -> None:
    pass


@app.get("/sync-path-params/{first:int}", status_code=204)
def sync_path_params(first: int) -> None:
    pass


@app.get("/async-query-param", status_code=204)
async def async_query_params(first: int) -> None:
    pass


@app.get("/sync-query-param", status_code=204)
def sync_query_params(first: int) -> None:
    pass


# serialize: the return annotation is the response model (checked, written by pydantic-core)


@app.get("/async-serialize-pydantic-50")
async def async_serialize_pydantic_50() -> list[PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_50


@app.get("/async-serialize-pydantic-500")
async def async_serialize_pydantic_500() -> list[PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_500


@app.get("/sync-serialize-pydantic-50")
def sync_serialize_pydantic_50() -> list[PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_50


@app.get("/sync-serialize-pydantic-500")
def sync_serialize_pydantic_500() -> list[PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_500


@app.get("/async-serialize-dataclasses-50")
async def async_serialize_dataclasses_50() -> list[PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_50


@app.get("/async-serialize-dataclasses-500")
async def async_serialize_dataclasses_500() -> list[PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_500


@app.get("/sync-serialize-dataclasses-50")
def sync_serialize_dataclasses_50() -> list[PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_50


@app.get("/sync-serialize-dataclasses-500")
def sync_serialize_dataclasses_500() -> list[PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_500


# request body json (validated from the body's bytes as a list)


@app.post("/async-post-json", status_code=204)
async def async_post_json(data: Annotated[list[Any], Body()]) -> None:
    pass


@app.post("/sync-post-json", status_code=204)
def sync_post_json(data: Annotated[list[Any], Body()]) -> None:
    pass
