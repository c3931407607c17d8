"""``CORSMiddleware``: ringbolt's native CORS (preflights answered by the server)."""

from __future__ import annotations

from typing import Any, Sequence


class CORSMiddleware:
    def __init__(self, app: Any = None, allow_origins: Sequence[str] = (), allow_methods: Sequence[str] = ("GET",),
                 allow_headers: Sequence[str] = (), allow_credentials: bool = False,
                 allow_origin_regex: str | None = None, allow_private_network: bool = False,
                 expose_headers: Sequence[str] = (), max_age: int = 600) -> None:
        self.options = {"allow_origins": allow_origins, "allow_methods": allow_methods,
                        "allow_headers": allow_headers, "allow_credentials": allow_credentials,
                        "expose_headers": expose_headers, "max_age": max_age}
        if allow_origin_regex is not None:
            raise ValueError("ringbolt's CORS takes exact origins and https://*.example.com patterns, not "
                             "allow_origin_regex: list the origins (docs/middleware-native.md)")

    @classmethod
    def _rb_install(cls, app: Any, **options: Any) -> None:
        mw = cls(None, **options)
        app.enable_cors(**mw.options)
