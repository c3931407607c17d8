"""``fastapi.security.base``."""

from ...security import SecurityBase

__all__ = ["SecurityBase"]
