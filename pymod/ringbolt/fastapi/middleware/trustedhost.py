"""``TrustedHostMiddleware``: requests whose Host is not allowed get a 400."""

from __future__ import annotations

from typing import Any, Sequence

from ..responses import PlainTextResponse, RedirectResponse


class TrustedHostMiddleware:
    def __init__(self, app: Any = None, allowed_hosts: Sequence[str] | None = None, www_redirect: bool = True) -> None:
        hosts = list(allowed_hosts) if allowed_hosts is not None else ["*"]
        for pattern in hosts:
            if "*" in pattern[1:]:
                raise ValueError("Domain wildcard patterns must be like '*.example.com'.")
        self.allowed = hosts
        self.any = "*" in hosts
        self.www_redirect = www_redirect

    def check(self, host: str, scheme: str, target: str) -> Any:
        """None when ``host`` is allowed, else the answer."""
        name = host.split(":")[0]
        for pattern in self.allowed:
            if name == pattern or (pattern.startswith("*") and name.endswith(pattern[1:])):
                return None
        if self.www_redirect and f"www.{name}" in self.allowed:
            return RedirectResponse(f"{scheme}://www.{host}{target}")
        return PlainTextResponse("Invalid host header", status_code=400)

    @classmethod
    def _rb_install(cls, app: Any, **options: Any) -> None:
        mw = cls(None, **options)
        if mw.any:
            return

        async def trusted_host(req: Any, call_next: Any) -> Any:
            refused = mw.check(req.host, req.scheme, req.target)
            return refused if refused is not None else await call_next(req)

        app._rb_add_check(trusted_host)
