"""``fastapi.encoders``: ``jsonable_encoder`` (ringbolt._jsonable, which FastAPI's
conventions also write every return value with)."""

from .._jsonable import jsonable_encoder

__all__ = ["jsonable_encoder"]
