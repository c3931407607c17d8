"""What a request's parameters and body become under FastAPI's conventions
(``ringbolt.fastapi``): parameter models (a pydantic model as ``Query()``, ``Header()``,
``Cookie()`` or ``Form()``), several body parameters, forms and files, each answer (and
each 422, field by field) as FastAPI 0.165 gives it, over a real socket to the app served
in this process by ``ringbolt.fastapi.testclient.TestClient``."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from ringbolt import forms
from ringbolt.fastapi import Body, Cookie, FastAPI, File, Form, Header, Query, UploadFile
from ringbolt.fastapi.testclient import TestClient

app = FastAPI()


@app.post("/upload")
async def upload(file: UploadFile) -> Any:
    head = await file.read(4)
    return {"filename": file.filename, "head": head.decode(), "size": file.size}


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(app) as c:
        yield c


# ---- files ----

@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("size", [10, 2 << 20])  # in memory, and spooled to a temp file
def test_upload_file_is_closed_after_the_response(client: Any, tmp_path: Any, monkeypatch: Any, size: int) -> None:
    # FastAPI's UploadFile.close is a coroutine: the form's clean-up after the response
    # must close the file itself, not make a coroutine nobody awaits (a RuntimeWarning,
    # and a temp file left on disk)
    monkeypatch.setitem(forms.DEFAULTS, "spool_dir", str(tmp_path))
    r = client.post("/upload", files={"file": ("a.txt", b"abcd" + b"x" * (size - 4), "text/plain")})
    assert r.status_code == 200, r.text
    assert r.json() == {"filename": "a.txt", "head": "abcd", "size": size}
    deadline = time.monotonic() + 5
    while list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(tmp_path.iterdir()) == []
