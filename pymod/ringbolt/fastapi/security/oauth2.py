"""``fastapi.security.oauth2``: ringbolt's OAuth2 schemes, with FastAPI's answer to a
bearer header without a token, and FastAPI's two token-request forms."""

from __future__ import annotations

from typing import Annotated

from ... import security
from ..._native import Request
from ...params import Form, SecurityScopes
from ...security import OAuth2, OAuth2PasswordRequestForm, get_authorization_scheme_param


def _bearer_token(scheme: security.OAuth2, request: Request) -> str | None:
    """FastAPI's reading of ``Authorization: Bearer <token>``: the token, "" for a header
    that is only ``Bearer`` (ringbolt's own schemes refuse that)."""
    kind, token = get_authorization_scheme_param(request.header("authorization"))
    if kind.lower() != "bearer":
        scheme._refuse()
        return None
    return token


class OAuth2PasswordBearer(security.OAuth2PasswordBearer):
    """``ringbolt.security.OAuth2PasswordBearer``; ``Authorization: Bearer`` alone gives ""."""

    def __call__(self, request: Request) -> str | None:
        return _bearer_token(self, request)


class OAuth2AuthorizationCodeBearer(security.OAuth2AuthorizationCodeBearer):
    """``ringbolt.security.OAuth2AuthorizationCodeBearer``; ``Authorization: Bearer``
    alone gives ""."""

    def __call__(self, request: Request) -> str | None:
        return _bearer_token(self, request)


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """The password-flow form with ``grant_type`` required (RFC 6749 §4.3.2)."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> None:
        super().__init__(grant_type=grant_type, username=username, password=password, scope=scope,
                         client_id=client_id, client_secret=client_secret)


__all__ = ["OAuth2", "OAuth2AuthorizationCodeBearer", "OAuth2PasswordBearer", "OAuth2PasswordRequestForm",
           "OAuth2PasswordRequestFormStrict", "SecurityScopes"]
