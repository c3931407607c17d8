"""``fastapi.security.http``: ringbolt's HTTP schemes, with FastAPI's reading of Basic
credentials where ringbolt's own is stricter (docs/from-fastapi.md, "What differs")."""

from __future__ import annotations

import base64

from ... import security
from ...security import HTTPAuthorizationCredentials, HTTPBase, HTTPBasicCredentials, HTTPBearer, HTTPDigest


class HTTPBasic(security.HTTPBasic):
    """``ringbolt.security.HTTPBasic`` reading the credentials as FastAPI does: base64
    without validation (a character outside its alphabet is skipped, not refused), the
    ``user:password`` in ASCII (anything else is a 401)."""

    def _decode(self, param: str) -> str:
        return base64.b64decode(param).decode("ascii")


__all__ = ["HTTPAuthorizationCredentials", "HTTPBase", "HTTPBasic", "HTTPBasicCredentials", "HTTPBearer",
           "HTTPDigest"]
