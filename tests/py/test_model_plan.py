"""Write plans (ringbolt/typed/model_plan.py): a FastAPI response model of plain pydantic
models written natively, byte for byte as FastAPI writes it (pydantic's check, then its
JSON writer), and every value the plan does not declare exactly left to pydantic. The
reference is pydantic itself, on values made to differ from the plan in every way a
served value can (wrong types, a model's subclass, a dict for a model, a missing field,
NaN, a lone surrogate, a None key)."""

from __future__ import annotations

import dataclasses
import enum
import math
import random
from typing import Any, Optional

import pytest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, computed_field, field_serializer

from ringbolt._native import json_dumps
from ringbolt.typed import model_plan
from ringbolt.typed.model_plan import plan_of


class Species(str, enum.Enum):
    DOG = "Dog"
    CAT = "Cat"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Pet(BaseModel):
    name: str
    age: float
    species: Species = Species.DOG


class Person(BaseModel):
    first_name: str
    id: int
    optional: str | None
    score: Optional[float] = None
    active: bool = True
    level: Level = Level.LOW
    complex: dict[str, list[dict[str, str]]] = {}
    pets: list[Pet] = Field(default_factory=list)
    extra: Any = None
    tags: list[str] = Field(default_factory=list, max_length=10)


class PersonChild(Person):
    nickname: str = "n"


def fastapi_writes(tp: Any, value: Any) -> tuple[str, Any]:
    """What FastAPI answers for ``value`` under response model ``tp``: its check, then its
    JSON writer (500 for a value the check or the writer refuses)."""
    adapter = TypeAdapter(tp)
    try:
        checked = adapter.validate_python(value, from_attributes=True)
        return "ok", adapter.dump_json(checked, by_alias=True, warnings=False)
    except Exception as exc:  # noqa: BLE001 (any refusal is FastAPI's 500)
        return "refused", type(exc).__name__


def ours(tp: Any, value: Any) -> tuple[str, Any]:
    """The plan's answer, and pydantic's (FastAPI's) when the writer refuses the value."""
    plan = plan_of(tp)
    assert plan is not None, tp
    try:
        body = json_dumps(value, plan=plan)
    except ValueError:
        body = None
    return ("ok", body) if body is not None else fastapi_writes(tp, value)


def person(rng: random.Random, cls: type[Person] = Person) -> Person:
    def s() -> str:
        return "".join(rng.choice("aé\u2028\"\\\x01z") for _ in range(rng.randint(0, 5)))

    pets = [Pet(name=s(), age=rng.choice([1.5, -2e-7, 1e16, 3.0, 0.1]), species=rng.choice(list(Species)))
            for _ in range(rng.randint(0, 2))]
    return cls(first_name=s(), id=rng.randint(-10**20, 10**20), optional=rng.choice([None, s()]),
               score=rng.choice([None, rng.random(), 1e-5, 2.5e-9]), active=rng.random() < 0.5,
               level=rng.choice(list(Level)), complex={s(): [{s(): s()}]}, pets=pets,
               extra=rng.choice([None, {"a": [1, 2.5e-7]}, "x", [True]]), tags=[s()])


def spoiled(rng: random.Random, p: Person) -> Any:
    """``p`` made to differ from its declared types in one way, as a handler's value can."""
    how = rng.randrange(12)
    if how == 0:
        return Person.model_construct(**{**p.__dict__, "id": 2.5})  # a float in an int field
    if how == 1:
        return Person.model_construct(**{**p.__dict__, "first_name": 1})  # an int in a str field
    if how == 2:
        return Person.model_construct(**{**p.__dict__, "score": 2})  # an int in a float field: 2.0
    if how == 3:
        return Person.model_construct(**{**p.__dict__, "active": 1})
    if how == 4:
        return p.model_dump()  # a dict for the model: checked and made one by pydantic
    if how == 5:
        return PersonChild(**p.model_dump())  # a subclass: written as Person
    if how == 6:
        d = dict(p.__dict__)
        del d["first_name"]  # (a required one: model_construct fills in those with defaults)
        return Person.model_construct(**d)  # a field missing
    if how == 7:
        return Person.model_construct(**{**p.__dict__, "score": math.nan})
    if how == 8:
        return Person.model_construct(**{**p.__dict__, "optional": "a\ud800"})
    if how == 9:
        return Person.model_construct(**{**p.__dict__, "extra": {None: 1}})
    if how == 10:
        return Person.model_construct(**{**p.__dict__, "level": 1})  # the value, not the member
    return Person.model_construct(**{**p.__dict__, "pets": [{"name": "x", "age": 1.0}]})


@pytest.mark.parametrize("tp", [Person, list[Person], dict[str, Person], Optional[Person]])
def test_plain_models_are_written_as_fastapi_writes_them(tp: Any) -> None:
    rng = random.Random(5)
    for _ in range(300):
        p = person(rng)
        value = {"k": p} if tp == dict[str, Person] else [p, person(rng)] if tp == list[Person] else p
        assert ours(tp, value) == fastapi_writes(tp, value)
        assert ours(tp, value)[0] == "ok"
    assert ours(Optional[Person], None) == ("ok", b"null")


def test_values_not_of_the_declared_types_are_written_by_pydantic() -> None:
    rng = random.Random(6)
    natively = 0
    for _ in range(600):
        value = [person(rng), spoiled(rng, person(rng))]
        assert ours(list[Person], value) == fastapi_writes(list[Person], value)
        try:
            natively += json_dumps(value, plan=plan_of(list[Person])) is not None
        except ValueError:
            pass
    assert natively == 0  # every spoiled value was refused by the writer


def test_the_writer_is_what_writes_them() -> None:
    """The plan is followed natively: a model written with pydantic's own serializer
    replaced would differ from one written by the plan."""
    p = person(random.Random(1))
    assert json_dumps(p, plan=plan_of(Person)) == TypeAdapter(Person).dump_json(p)
    assert json_dumps(Person.model_construct(**{**p.__dict__, "id": "7"}), plan=plan_of(Person)) is None
    assert json_dumps({"first_name": "a"}, plan=plan_of(Person)) is None  # a dict for the model


class Aliased(BaseModel):
    name: str = Field(alias="Name")


class Serialized(BaseModel):
    name: str

    @field_serializer("name")
    def upper(self, v: str) -> str:
        return v.upper()


class Computed(BaseModel):
    name: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def size(self) -> int:
        return len(self.name)


class Extra(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class Revalidated(BaseModel):
    model_config = ConfigDict(revalidate_instances="always")
    name: str


class Excluded(BaseModel):
    name: str
    secret: str = Field(exclude=True)


class ExcludedIf(BaseModel):
    name: str
    note: str = Field("", exclude_if=lambda v: not v)


class Tree(BaseModel):
    children: list[Tree] = []


@pytest.mark.parametrize("tp", [Aliased, Serialized, Computed, Extra, Revalidated, Excluded, ExcludedIf, Tree,
                                list[Tree], "set", "annotated", "union", "datetime"])
def test_no_plan_where_pydantic_writes_its_own_way(tp: Any) -> None:
    import datetime
    from typing import Annotated

    from annotated_types import Gt
    tp = {"set": set[int], "annotated": list[Annotated[int, Gt(0)]], "union": list[int | str],
          "datetime": datetime.datetime}.get(tp, tp) if isinstance(tp, str) else tp
    assert plan_of(tp) is None


def test_plans_of_json_types() -> None:
    assert plan_of(Any) == (model_plan.ANY, None, None)
    assert plan_of(dict[str, Any]) == (model_plan.DICT, (model_plan.ANY, None, None), None)
    assert plan_of(list[Optional[int]]) == (model_plan.LIST, (model_plan.NULLABLE, (model_plan.INT, None, None),
                                                              None), None)


@dataclasses.dataclass
class PetData:
    name: str
    age: float
    species: Species = Species.DOG


@dataclasses.dataclass
class PersonData:
    first_name: str
    optional: str | None
    complex: dict[str, list[dict[str, str]]]
    pets: list[PetData]


@dataclasses.dataclass(slots=True)
class Slotted:
    name: str


def test_dataclasses_are_written_as_fastapi_writes_them() -> None:
    """A standard library dataclass's instances are not checked again by pydantic either:
    written by the plan, and a field of another type left to pydantic."""
    rng = random.Random(8)
    for _ in range(200):
        p = person(rng)
        value = [PersonData(p.first_name, p.optional, p.complex,
                            [PetData(x.name, x.age, x.species) for x in p.pets])]
        assert ours(list[PersonData], value) == fastapi_writes(list[PersonData], value)
        assert json_dumps(value, plan=plan_of(list[PersonData])) is not None  # natively
    odd = [PersonData("a", None, {}, [PetData("x", 2)])]  # an int for a float: pydantic writes 2.0
    assert ours(list[PersonData], odd) == fastapi_writes(list[PersonData], odd)
    assert fastapi_writes(list[PersonData], odd)[1].endswith(b'"age":2.0,"species":"Dog"}]}]')
    assert plan_of(Slotted) is None


def test_a_value_not_of_jsons_own_types_under_any_is_refused() -> None:
    """Under a plan's Any, a value that is not JSON's own type raises ValueError (the
    caller's cue to hand the whole value to pydantic), not the TypeError of a value the
    writer cannot write at all; a plan never calls a json_default."""
    class Money:
        pass

    with pytest.raises(ValueError, match="strict"):
        json_dumps([Money()], plan=plan_of(list[Any]))
    with pytest.raises(TypeError):
        json_dumps([Money()])


def test_ringbolts_own_response_models_use_the_plan() -> None:
    """ringbolt's typed layer (``-> list[Person]`` on an App route) writes by the plan too:
    pydantic's bytes for exact instances, pydantic itself for anything else."""
    from ringbolt.typed.models import response_writer

    write = response_writer(list[Person])
    rng = random.Random(9)
    people = [person(rng) for _ in range(20)]
    assert write(people) == TypeAdapter(list[Person]).dump_json(people)
    child = [PersonChild(**people[0].model_dump())]  # pydantic's: written as Person
    assert write(child) == TypeAdapter(list[Person]).dump_json(child)


def test_field_names_of_every_length() -> None:
    """A model's keys are copied a word or two at a time: names of 1 to 40 characters
    (non-ASCII ones, and ones to escape, too: a field's name may be any str) written as
    pydantic writes them."""
    from pydantic import create_model

    names = ["a" * k for k in range(1, 41)] + ["é" * k for k in (1, 3, 7, 12)] + ['a"b', "c\\d", "e\nf"]
    model = create_model("Wide", **{n: (int, i) for i, n in enumerate(names)})  # type: ignore[call-overload]
    value = [model(), model(**{n: -i for i, n in enumerate(names)})]
    assert json_dumps(value, plan=plan_of(list[model])) == TypeAdapter(list[model]).dump_json(value)


@pytest.mark.parametrize("plan, error", [
    ((model_plan.INT,), TypeError),                          # not (kind, a, b)
    (("int", None, None), TypeError),                        # a kind that is not an int
    ((99, None, None), ValueError),                          # a kind the writer does not know
    ((model_plan.LIST, None, None), TypeError),              # a list's node that is not a node
    ((model_plan.MODEL, Pet, (("name", "not bytes", (model_plan.STR, None, None)),)), TypeError),
    ((model_plan.MODEL, Pet, ("not a field",)), TypeError),
])
def test_a_malformed_plan_is_refused(plan: Any, error: type[Exception]) -> None:
    """json_dumps(plan=) checks the plan it is given as it follows it: a malformed one
    raises, naming the plan, and writes nothing (no crash on a tuple of the wrong shape)."""
    value = [1] if plan[0] == model_plan.LIST else Pet(name="x", age=1.0)
    with pytest.raises(error, match="plan"):
        json_dumps(value, plan=plan)


def test_plan_must_be_a_node() -> None:
    with pytest.raises(TypeError, match="write plan"):
        json_dumps(1, plan=[model_plan.INT, None, None])  # type: ignore[arg-type]
