"""Litestar's app of its framework benchmark (litestar-org/api-performance-tests, MIT per its
README, frameworks/litestar_app.py at commit 1eadaf1): the endpoints apiperf_bench.py
measures, declared as that file declares them, on the data of apiperf_data.py (its
test_data). Run under uvicorn or Granian from this folder:

    uvicorn litestar_app:app --app-dir benchmarks/load/apps/apiperf --loop uvloop --http httptools
"""
from typing import Any

from litestar import Litestar, MediaType, get, post
from litestar.status_codes import HTTP_204_NO_CONTENT

import apiperf_data as test_data

# JSON


@get("/async-json-1K", media_type=MediaType.JSON)
async def async_json_1k() -> list[dict[str, Any]]:
    return test_data.JSON_1K


@get("/async-json-1M", media_type=MediaType.JSON)
async def async_json_1m() -> list[dict[str, Any]]:
    return test_data.JSON_1M


@get("/sync-json-1K", media_type=MediaType.JSON)
def sync_json_1k() -> list[dict[str, Any]]:
    return test_data.JSON_1K


@get("/sync-json-1M", media_type=MediaType.JSON)
def sync_json_1m() -> list[dict[str, Any]]:
    return test_data.JSON_1M


# params


@get("/async-path-params/{first:int}", status_code=HTTP_204_NO_CONTENT, media_type=MediaType.TEXT)
async def async_path_params(first: int) -> None:
    pass


@get("/sync-path-params/{first:int}", status_code=HTTP_204_NO_CONTENT, media_type=MediaType.TEXT)
def sync_path_params(first: int) -> None:
    pass


@get("/async-query-param", status_code=HTTP_204_NO_CONTENT, media_type=MediaType.TEXT)
async def async_query_params(first: int) -> None:
    pass


@get("/sync-query-param", status_code=HTTP_204_NO_CONTENT, media_type=MediaType.TEXT)
def sync_query_params(first: int) -> None:
    pass


# serialize pydantic


@get("/sync-serialize-pydantic-50")
def sync_serialize_pydantic_50() -> list[test_data.PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_50


@get("/sync-serialize-pydantic-500")
def sync_serialize_pydantic_500() -> list[test_data.PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_500


@get("/async-serialize-pydantic-50")
async def async_serialize_pydantic_50() -> list[test_data.PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_50


@get("/async-serialize-pydantic-500")
async def async_serialize_pydantic_500() -> list[test_data.PersonPydantic]:
    return test_data.PERSONS_PYDANTIC_500


# serialize dataclasses


@get("/sync-serialize-dataclasses-50")
def sync_serialize_dataclasses_50() -> list[test_data.PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_50


@get("/sync-serialize-dataclasses-500")
def sync_serialize_dataclasses_500() -> list[test_data.PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_500


@get("/async-serialize-dataclasses-50")
async def async_serialize_dataclasses_50() -> list[test_data.PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_50


@get("/async-serialize-dataclasses-500")
async def async_serialize_dataclasses_500() -> list[test_data.PersonDataclass]:
    return test_data.PERSONS_DATACLASSES_500


# request body json


@post("/sync-post-json", status_code=HTTP_204_NO_CONTENT, media_type=MediaType.TEXT)
def sync_post_json(data: list) -> None:
    pass


@post("/async-post-json", status_code=HTTP_204_NO_CONTENT, media_type=MediaType.TEXT)
async def async_post_json(data: list) -> None:
    pass


app = Litestar(
    route_handlers=[
        async_json_1k, async_json_1m, sync_json_1k, sync_json_1m,
        async_path_params, sync_path_params, async_query_params, sync_query_params,
        sync_serialize_pydantic_50, sync_serialize_pydantic_500,
        async_serialize_pydantic_50, async_serialize_pydantic_500,
        sync_serialize_dataclasses_50, sync_serialize_dataclasses_500,
        async_serialize_dataclasses_50, async_serialize_dataclasses_500,
        sync_post_json, async_post_json,
    ],
    openapi_config=None,
)
