"""req.text() over a real socket: the body as str, strict UTF-8. An ASCII body (the usual
one) is copied as it is; anything else goes through the decoder; a body that is not UTF-8
is a 400 naming the cause, and the server goes on serving. In a sync-only app and in one
whose event loop is hosted on the reactor's thread."""

from __future__ import annotations

from typing import Any

import pytest

from ringbolt import App

from conftest import sync_and_hosted_client

BODIES = [
    b"",
    b"a",
    b"20",
    b"\x00a\x7f",  # NUL and DEL are ASCII
    b"hello world 123\r\n\t",
    b"x" * 100_000,
    "h\u00e9llo \u20ac \U0001f600".encode(),
    b"y" * 5000 + "\u00e9".encode(),  # one non-ASCII character at the end of a long body
]

NOT_UTF8 = [
    b"\xff\xfe",
    b"abc\xff",
    b"x" * 5000 + b"\xc3",  # a character cut at the end
    b"\xed\xa0\x80",  # an encoded surrogate
]


def make_app() -> App:
    app = App()

    @app.post("/text")
    def text(req: Any) -> dict[str, Any]:
        t = req.text()
        return {"type": type(t).__name__, "text": t, "again": req.text() == t}

    return app


client = sync_and_hosted_client(make_app)


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_text_is_the_body_decoded(client: Any, body: bytes) -> None:
    r = client.post("/text", content=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "str", "text": body.decode("utf-8"), "again": True}


@pytest.mark.parametrize("body", NOT_UTF8, ids=range(len(NOT_UTF8)))
def test_a_body_not_utf8_is_a_400_naming_it(client: Any, body: bytes) -> None:
    r = client.post("/text", content=body)
    assert r.status_code == 400, r.text
    assert "Request body is not valid UTF-8" in r.text
    ok = client.post("/text", content=b"after")
    assert ok.status_code == 200 and ok.json()["text"] == "after"
