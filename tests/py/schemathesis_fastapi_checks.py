"""schemathesis checks for FastAPI's tutorial apps served by ringbolt.fastapi
(tests/py/test_fastapi_schemathesis.py loads this file with SCHEMATHESIS_HOOKS).

``fastapi_status_code_conformance`` is schemathesis's ``status_code_conformance`` with
the two answers FastAPI gives and documents nowhere, kept as FastAPI gives them: a JSON
body that is not UTF-8 (so not JSON at all) is 400 ``{"detail": "There was an error
parsing the body"}``, and a multipart body that is not multipart (a part without its
headers...) is 400 ``{"detail": ...}`` (Starlette's "Invalid multipart data."; ringbolt's
detail names what is wrong). Any other status the document does not list fails."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import status_code_conformance

PARSE_ERROR = {"detail": "There was an error parsing the body"}


def _not_utf8(case: Any) -> bool:
    body = case.body
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    if isinstance(body, str):  # sent as the text's UTF-8: a lone surrogate cannot be
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


@schemathesis.check
def fastapi_status_code_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code == 400:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if answer == PARSE_ERROR and (_not_utf8(case) or _sent_not_utf8(response)):
            return None
        if _multipart(response) and isinstance(answer, dict) and isinstance(answer.get("detail"), str) and \
                answer["detail"].startswith("malformed multipart body"):
            return None
    return status_code_conformance(ctx, response, case)  # type: ignore[no-any-return]


def _multipart(response: Any) -> bool:
    headers = getattr(getattr(response, "request", None), "headers", None) or {}
    return str(headers.get("content-type", headers.get("Content-Type", ""))).startswith("multipart/form-data")


def _sent_not_utf8(response: Any) -> bool:
    """What was sent, as it went (schemathesis may send bytes its case shows otherwise)."""
    sent = getattr(getattr(response, "request", None), "body", None)
    if isinstance(sent, (bytes, bytearray)):
        try:
            bytes(sent).decode("utf-8")
        except UnicodeDecodeError:
            return True
    return False
