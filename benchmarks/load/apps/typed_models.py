"""The models of the typed endpoints' benchmark (issue 51, "Speed"), one copy for every
framework's app: Pydantic v2 models (``ItemIn``, ``ItemOut``) and msgspec Structs
(``MItemIn``, ``MItemOut``) with the same fields and constraints: a 6-field body with a
nested model and a list, and the answer. Imports no web framework, so the peers' venv
(benchmarks/load/setup_peers.sh) runs it as it is."""

from __future__ import annotations

from typing import Annotated

import msgspec
from pydantic import BaseModel, Field


class Dimensions(BaseModel):
    width: float = Field(ge=0)
    height: float = Field(ge=0)


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(ge=0)
    quantity: int = Field(ge=0)
    tags: list[str]
    dims: Dimensions
    description: str | None = None


class ItemOut(BaseModel):
    id: int
    owner: str
    name: str
    price: float
    quantity: int
    tags: list[str]


class MDimensions(msgspec.Struct):
    width: Annotated[float, msgspec.Meta(ge=0)]
    height: Annotated[float, msgspec.Meta(ge=0)]


class MItemIn(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    price: Annotated[float, msgspec.Meta(ge=0)]
    quantity: Annotated[int, msgspec.Meta(ge=0)]
    tags: list[str]
    dims: MDimensions
    description: str | None = None


# the answer's fields as ItemOut declares them (no constraints to carry over)
MItemOut = msgspec.defstruct("MItemOut", [(name, f.annotation) for name, f in ItemOut.model_fields.items()],
                             module=__name__)
