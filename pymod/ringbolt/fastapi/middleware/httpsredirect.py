"""``HTTPSRedirectMiddleware``: plain-HTTP requests are redirected to https (307)."""

from __future__ import annotations

from typing import Any

from ..responses import RedirectResponse


class HTTPSRedirectMiddleware:
    def __init__(self, app: Any = None) -> None:
        pass

    @classmethod
    def _rb_install(cls, app: Any, **options: Any) -> None:
        async def https_redirect(req: Any, call_next: Any) -> Any:
            if req.scheme == "http":
                host = req.host
                name, _, port = host.partition(":")
                netloc = name if port in ("", "80", "443") else host
                return RedirectResponse(f"https://{netloc}{req.target}", status_code=307)
            return await call_next(req)

        app._rb_add_check(https_redirect)
