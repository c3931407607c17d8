"""``fastapi.security.oauth2``."""

from __future__ import annotations

from typing import Annotated

from ...params import Form, SecurityScopes
from ...security import OAuth2, OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OAuth2PasswordRequestForm


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """The password-flow form with ``grant_type`` required (RFC 6749 §4.3.2)."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        super().__init__(grant_type=grant_type, username=username, password=password, scope=scope,
                         client_id=client_id, client_secret=client_secret)


__all__ = ["OAuth2", "OAuth2AuthorizationCodeBearer", "OAuth2PasswordBearer", "OAuth2PasswordRequestForm",
           "OAuth2PasswordRequestFormStrict", "SecurityScopes"]
