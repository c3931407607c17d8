"""FastAPI's security schemes (``fastapi.security``): ringbolt's own (ringbolt.security),
which read the credential and describe the scheme in the OpenAPI document, with
FastAPI's readings where ringbolt's are stricter (``HTTPBasic``, the OAuth2 bearers)."""

from __future__ import annotations

from ...params import SecurityScopes
from ...security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBase,
                         HTTPBasicCredentials, HTTPBearer, HTTPDigest, OAuth2, OAuth2PasswordRequestForm,
                         OpenIdConnect, SecurityBase)
from .http import HTTPBasic
from .oauth2 import OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OAuth2PasswordRequestFormStrict

__all__ = ["APIKeyCookie", "APIKeyHeader", "APIKeyQuery", "HTTPAuthorizationCredentials", "HTTPBase", "HTTPBasic",
           "HTTPBasicCredentials", "HTTPBearer", "HTTPDigest", "OAuth2", "OAuth2AuthorizationCodeBearer",
           "OAuth2PasswordBearer", "OAuth2PasswordRequestForm", "OAuth2PasswordRequestFormStrict", "OpenIdConnect",
           "SecurityBase", "SecurityScopes"]
