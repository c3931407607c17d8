"""ringbolt.RawJSON: JSON text written in its place as it is (a jsonb column as asyncpg
hands it over, a cached body), checked once when made: through json_dumps, Response.json
and a handler's returned dict over a real socket (sync and async), and bad text refused
with an exception naming the cause."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ringbolt import App, RawJSON, Response
from ringbolt._native import json_dumps
from ringbolt.testing import TestClient

# (text given, bytes written): kept byte for byte, spaces and key order included.
KEPT = [
    ('["fast", "new"]', b'["fast", "new"]'),  # PostgreSQL's jsonb text (a space after each comma)
    (b'{"b": 1, "a": [true, null]}', b'{"b": 1, "a": [true, null]}'),
    (bytearray(b"12.50"), b"12.50"),
    (memoryview(b'"x"'), b'"x"'),
    ('"caf\u00e9 \u2603"', '"caf\u00e9 \u2603"'.encode()),  # str: written as UTF-8
    ("123456789012345678901234567890", b"123456789012345678901234567890"),  # beyond 64 bits: json checks it
    (" [1] ", b" [1] "),  # whitespace around one value is JSON
    ("[1e99999]", b"[1e99999]"),  # JSON's grammar has no range: simdjson refuses it, json reads it
]


@pytest.mark.parametrize("text,written", KEPT)
def test_text_is_written_as_given(text: Any, written: bytes) -> None:
    raw = RawJSON(text)
    assert raw.text == written
    out = json_dumps({"v": raw, "list": [raw, 1]})
    assert out == b'{"v":' + written + b',"list":[' + written + b",1]}"
    assert json.loads(out) == {"v": json.loads(written), "list": [json.loads(written), 1]}
    assert json_dumps(raw) == written  # at the top too


# (argument, exception, words its message must hold)
REFUSED = [
    ("", ValueError, "not one JSON value"),
    ("[1,", ValueError, "not one JSON value"),
    ("1 2", ValueError, "not one JSON value"),
    ("{'a': 1}", ValueError, "not one JSON value"),
    ("nul", ValueError, "not one JSON value"),
    (b"\xff", ValueError, "not one JSON value"),  # not UTF-8
    ("-Infinity", ValueError, "not one JSON value"),  # json.loads takes these; JSON has no such numbers
    ("[NaN]", ValueError, "not one JSON value"),
    ("[1, -Infinity]", ValueError, "not one JSON value"),
    ("\ud800", UnicodeEncodeError, "surrogate"),
    (12, TypeError, "RawJSON takes JSON text as str or bytes, not int"),
    (None, TypeError, "not NoneType"),
]


@pytest.mark.parametrize("arg,exc,words", REFUSED)
def test_bad_text_is_refused_naming_the_cause(arg: Any, exc: type[Exception], words: str) -> None:
    with pytest.raises(exc) as info:
        RawJSON(arg)
    assert words in str(info.value)


def test_repr_shows_the_text() -> None:
    assert repr(RawJSON("[1, 2]")) == "RawJSON(b'[1, 2]')"


def _app() -> App:
    app = App()
    tags = RawJSON('["fast", "new"]')

    @app.get("/sync")
    def sync(req: Any) -> Any:
        return {"items": [{"id": 1, "tags": tags}], "count": 1}

    @app.get("/async")
    async def in_async(req: Any) -> Any:
        return {"items": [{"id": 2, "tags": RawJSON(b'{"k": [1, 2]}')}], "count": 1}

    @app.get("/response-json")
    def response_json(req: Any) -> Any:
        return Response.json({"tags": tags}, status=201)

    return app


def test_over_a_socket() -> None:
    with TestClient(_app()) as c:
        r = c.get("/sync")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.content == b'{"items":[{"id":1,"tags":["fast", "new"]}],"count":1}'
        r = c.get("/async")
        assert r.status_code == 200
        assert r.json() == {"items": [{"id": 2, "tags": {"k": [1, 2]}}], "count": 1}
        r = c.get("/response-json")
        assert r.status_code == 201
        assert r.content == b'{"tags":["fast", "new"]}'
