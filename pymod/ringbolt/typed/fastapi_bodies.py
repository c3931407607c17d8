"""A JSON body read by FastAPI's rules (the routes of ``ringbolt.fastapi``), planned once.
The bytes still go to pydantic-core's ``validate_json`` first, so a body that validates
costs what ringbolt's own bodies cost; a refusal is read again as FastAPI reads a body,
so that its 422 is FastAPI's, error by error: the bytes parsed by Python's ``json`` (a
malformed body is a 422 ``json_invalid`` at its position, anything else ``json.loads``
raises a 400 "There was an error parsing the body"), JSON ``null`` as no body, and the
value validated in Python mode (FastAPI's ``validate_python(..., from_attributes=True)``:
"Input should be a valid list", ``model_attributes_type``). With several body parameters
(or ``Body(embed=True)``) each member is validated on its own: a missing member is
``missing`` with a null ``input``, a body that is not an object misses every member."""

from __future__ import annotations

import copy
import dataclasses
import json
import types
from typing import Any, Callable

from . import problem as _problem
from .models import BodyInvalid, Decoder
from ..errors import HTTPError

Absent = Callable[[], Any]  #: the value of a body not sent: the default, or a BodyInvalid


def _parse(raw: bytes) -> Any:
    """The body as Python's ``json`` reads it (``json.loads``, looked up at each call as
    FastAPI's request does), or a BodyInvalid for malformed JSON."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        return BodyInvalid([{"type": "json_invalid", "loc": ["body", exc.pos], "msg": "JSON decode error",
                             "input": {}, "ctx": {"error": exc.msg}}])
    except Exception as exc:  # noqa: BLE001 - FastAPI's answer to any other failure of the parser
        raise HTTPError(400, "There was an error parsing the body") from exc


def _strict(schema: Any) -> bool:
    """Whether a core schema asks for strict validation anywhere (a ``strict=True`` model,
    field or type): its JSON mode then takes what FastAPI's Python mode refuses (a string
    for a UUID, a date, an Enum), so such a body is read as FastAPI reads it only."""
    if isinstance(schema, dict):
        return schema.get("strict") is True or any(_strict(v) for v in schema.values())
    if isinstance(schema, (list, tuple)):
        return any(_strict(v) for v in schema)
    return False


def _json_entry(adapter: Any) -> Callable[[bytes], Any] | None:
    """pydantic-core's ``validate_json`` of ``adapter``, or None when it may take what
    FastAPI refuses (``_strict``)."""
    return None if _strict(adapter.core_schema) else adapter.validator.validate_json


def _decoder(validate_json: Callable[[bytes], Any] | None, absent: Absent,
             validate: Callable[[Any], Any]) -> Decoder:
    """The decoder of a body: pydantic-core's ``validate_json`` when it takes the body (the
    usual way, one call), else the body read as JSON (``absent()`` for JSON null) and handed
    to ``validate``, which answers what FastAPI answers (the value, or ``BodyInvalid``)."""
    import pydantic
    PydanticError = pydantic.ValidationError

    def decode(raw: bytes) -> Any:
        if validate_json is not None:
            try:
                return validate_json(raw)
            except PydanticError:
                pass
        value = _parse(raw)
        if type(value) is BodyInvalid:
            return value
        if value is None:
            return absent()
        return validate(value)
    return decode


def single(adapter: Any, absent: Absent, times: int = 1) -> Decoder:
    """The decoder of one body parameter validated by ``adapter`` (a TypeAdapter);
    ``times``: how many parameters take it (a dependency's of the handler's name), each
    refusal listed that many times, as FastAPI validates each."""
    import pydantic
    validate_python = adapter.validator.validate_python
    PydanticError = pydantic.ValidationError

    def validate(value: Any) -> Any:
        try:
            return validate_python(value, from_attributes=True)
        except PydanticError as exc:
            errors = _problem.from_pydantic(exc.errors(include_url=False), ("body",))
            return BodyInvalid(errors * times)
    decode = _decoder(_json_entry(adapter), absent, validate)
    if times == 1:
        return decode

    def each(raw: bytes) -> Any:
        value = decode(raw)
        if type(value) is BodyInvalid and len(value) == 1 and value[0]["type"] == "missing":
            return BodyInvalid(list(value) * times)  # JSON null: missing for each
        return value
    return each


@dataclasses.dataclass(frozen=True)
class Member:
    """One member of an embedded body: its key, validator, and value when absent."""

    key: str
    adapter: Any  #: a pydantic TypeAdapter of the member's type (its constraints included)
    required: bool
    default: Any
    factory: Callable[[], Any] | None
    fresh: bool  #: the default is copied for each request


def _default(m: Member) -> Any:
    if m.factory is not None:
        return m.factory()
    return copy.deepcopy(m.default) if m.fresh else m.default


def embedded(model_adapter: Any, members: list[Member]) -> tuple[Decoder, Decoder]:
    """``(decode, absent)`` of an embedded body: ``model_adapter`` validates the whole
    object (a model made once with a field per member) for the way that succeeds;
    ``absent(raw)`` answers a body not sent, or not JSON (each required member missing,
    the others their default)."""
    import pydantic
    PydanticError = pydantic.ValidationError
    required = [m for m in members if m.required]
    missing_required = BodyInvalid([{"type": "missing", "loc": ["body", m.key], "msg": "Field required",
                                     "input": None} for m in required])
    missing_all = BodyInvalid([{"type": "missing", "loc": ["body", m.key], "msg": "Field required", "input": None}
                               for m in members])

    def absent(raw: bytes = b"") -> Any:
        if required:
            return missing_required
        return types.SimpleNamespace(**{m.key: _default(m) for m in members})

    def validate(value: Any) -> Any:
        if not isinstance(value, dict):
            return missing_all
        errors: list[dict[str, Any]] = []
        out: dict[str, Any] = {}
        for m in members:
            if m.key in value:
                try:
                    out[m.key] = m.adapter.validator.validate_python(value[m.key], from_attributes=True)
                except PydanticError as exc:
                    errors += _problem.from_pydantic(exc.errors(include_url=False), ("body", m.key))
            elif m.required:
                errors.append({"type": "missing", "loc": ["body", m.key], "msg": "Field required", "input": None})
            else:
                out[m.key] = _default(m)
        if errors:
            return BodyInvalid(errors)
        return types.SimpleNamespace(**out)
    return _decoder(_json_entry(model_adapter), absent, validate), absent
