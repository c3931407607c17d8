"""``fastapi.security.http``."""

from ...security import HTTPAuthorizationCredentials, HTTPBase, HTTPBasic, HTTPBasicCredentials, HTTPBearer

__all__ = ["HTTPAuthorizationCredentials", "HTTPBase", "HTTPBasic", "HTTPBasicCredentials", "HTTPBearer"]
