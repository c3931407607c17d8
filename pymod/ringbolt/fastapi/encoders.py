"""``fastapi.encoders``: ``jsonable_encoder`` (ringbolt.typed.jsonable, which FastAPI's
conventions also write every return value with)."""

from ..typed.jsonable import jsonable_encoder

__all__ = ["jsonable_encoder"]
