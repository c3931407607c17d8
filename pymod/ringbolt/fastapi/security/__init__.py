"""FastAPI's security schemes (``fastapi.security``): ringbolt's own (ringbolt.security),
which read the credential and describe the scheme in the OpenAPI document."""

from __future__ import annotations

from ...params import SecurityScopes
from ...security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBase, HTTPBasic,
                         HTTPBasicCredentials, HTTPBearer, OAuth2, OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer,
                         OAuth2PasswordRequestForm, OpenIdConnect, SecurityBase)
from .oauth2 import OAuth2PasswordRequestFormStrict

__all__ = ["APIKeyCookie", "APIKeyHeader", "APIKeyQuery", "HTTPAuthorizationCredentials", "HTTPBase", "HTTPBasic",
           "HTTPBasicCredentials", "HTTPBearer", "OAuth2", "OAuth2AuthorizationCodeBearer", "OAuth2PasswordBearer",
           "OAuth2PasswordRequestForm", "OAuth2PasswordRequestFormStrict", "OpenIdConnect", "SecurityBase",
           "SecurityScopes"]
