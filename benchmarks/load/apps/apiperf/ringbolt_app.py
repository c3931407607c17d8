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


def _both(path: str, answer: Any, returns: Any = None, **options: Any) -> None:
    """``/async-<path>`` (an ``async def`` handler) and ``/sync-<path>`` (a ``def`` one), each
    answering ``answer`` (None: nothing, the status alone), typed ``-> returns``: the
    response model when it is one."""
    async def async_handler() -> Any:
        return answer

    def sync_handler() -> Any:
        return answer

    for mode, handler in (("async", async_handler), ("sync", sync_handler)):
        handler.__annotations__["return"] = returns
        app.get(f"/{mode}-{path}", **options)(handler)


# JSON (no response model: ringbolt's C++ writer)
_both("json-1K", test_data.JSON_1K, list[dict[str, Any]])
_both("json-1M", test_data.JSON_1M, list[dict[str, Any]])

# serialize: the return annotation is the response model (checked, written by pydantic-core)
for n in (50, 500):
    _both(f"serialize-pydantic-{n}", getattr(test_data, f"PERSONS_PYDANTIC_{n}"), list[PersonPydantic])
    _both(f"serialize-dataclasses-{n}", getattr(test_data, f"PERSONS_DATACLASSES_{n}"), list[PersonDataclass])


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


# request body json (validated from the body's bytes as a list)


@app.post("/async-post-json", status_code=204)
async def async_post_json(data: Annotated[list[Any], Body()]) -> None:
    pass


@app.post("/sync-post-json", status_code=204)
def sync_post_json(data: Annotated[list[Any], Body()]) -> None:
    pass
