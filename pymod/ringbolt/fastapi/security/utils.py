"""``fastapi.security.utils``."""

from ...security import get_authorization_scheme_param

__all__ = ["get_authorization_scheme_param"]
