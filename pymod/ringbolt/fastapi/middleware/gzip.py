"""``GZipMiddleware``: ringbolt's native compression, gzip only."""

from __future__ import annotations

from typing import Any


class GZipMiddleware:
    def __init__(self, app: Any = None, minimum_size: int = 500, compresslevel: int = 9) -> None:
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    @classmethod
    def _rb_install(cls, app: Any, **options: Any) -> None:
        mw = cls(None, **options)
        app.enable_compression(min_size=mw.minimum_size, algorithms=("gzip",), level=mw.compresslevel)
