"""``fastapi.security.api_key``."""

from ...security import APIKeyBase, APIKeyCookie, APIKeyHeader, APIKeyQuery

__all__ = ["APIKeyBase", "APIKeyCookie", "APIKeyHeader", "APIKeyQuery"]
