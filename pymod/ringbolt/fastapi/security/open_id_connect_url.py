"""``fastapi.security.open_id_connect_url``."""

from ...security import OpenIdConnect

__all__ = ["OpenIdConnect"]
