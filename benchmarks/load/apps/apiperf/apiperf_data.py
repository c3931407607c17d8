"""The data and models of Litestar's framework benchmark, litestar-org/api-performance-tests
(MIT, per its README) at commit 1eadaf1: its ``test_data/__init__.py`` and
``test_data/objects.py``, for the endpoints apiperf_bench.py measures. The JSON files are
that repository's own, read from ``$APIPERF_DATA`` (default: benchmarks/load/.apiperf-data/
test_data, which setup_peers.sh checks out); the models are its models written for
pydantic 2 (``TypeAdapter`` where it called ``parse_obj_as``; its ``Field(len=1)`` on
``pets``, an unknown keyword pydantic ignores, is left out; a pet dataclass's ``species``
is made a ``Species`` as its annotation says, where the original kept the JSON's string,
which pydantic's serializer warns about on every request). ringbolt's, Litestar's and
FastAPI's apps all import this one module, so they answer from the same objects."""
from __future__ import annotations

import dataclasses
import json
import os
from enum import Enum
from pathlib import Path
from typing import Any

import pydantic

DATA = Path(os.environ.get("APIPERF_DATA")
            or Path(__file__).resolve().parents[2] / ".apiperf-data" / "test_data")
if not (DATA / "1M.json").is_file():
    raise RuntimeError(f"{DATA} lacks api-performance-tests' test_data: run benchmarks/load/setup_peers.sh "
                       "or set APIPERF_DATA to a checkout's test_data folder")


class Species(str, Enum):
    DOG = "Dog"
    CAT = "Cat"
    MONKEY = "Monkey"
    PIG = "Pig"


@dataclasses.dataclass
class PetDataclass:
    name: str
    age: float
    species: Species = Species.MONKEY


@dataclasses.dataclass
class PersonDataclass:
    first_name: str
    last_name: str
    id: str
    optional: str | None
    complex: dict[str, list[dict[str, str]]]
    pets: list[PetDataclass]


class PetPydantic(pydantic.BaseModel):
    name: str
    age: float
    species: Species = Species.MONKEY


class PersonPydantic(pydantic.BaseModel):
    first_name: str
    last_name: str
    id: str
    optional: str | None
    complex: dict[str, list[dict[str, str]]]
    pets: list[PetPydantic]


def _read(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def load(raw_data: list[dict[str, Any]]) -> tuple[list[PersonPydantic], list[PersonDataclass]]:
    pydantic_data = pydantic.TypeAdapter(list[PersonPydantic]).validate_python(raw_data)
    dataclass_data = []
    for person_data in raw_data:
        kwargs = {**person_data}
        if person_data["pets"]:
            kwargs["pets"] = [PetDataclass(**{**pet, "species": Species(pet["species"])}) for pet in person_data["pets"]]
        dataclass_data.append(PersonDataclass(**kwargs))
    return pydantic_data, dataclass_data


JSON_1K = _read("1K.json")
JSON_1M = _read("1M.json")
PERSONS_PYDANTIC_50, PERSONS_DATACLASSES_50 = load(_read("persons_50.json"))
PERSONS_PYDANTIC_500, PERSONS_DATACLASSES_500 = load(_read("persons_500.json"))
