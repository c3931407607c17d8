"""CSRF protection for cookie-authenticated unsafe requests (POST, PUT, PATCH, DELETE, and
any method not GET/HEAD/OPTIONS/TRACE): a signed token bound to the session, sent back in
a header or a form field, and the Origin (else Referer) checked against the allowed
origins. Requests authenticated by ``Authorization: Bearer`` with no session cookie are
exempt: a browser never adds that header on its own.

The token is ``nonce.HMAC-SHA256(key, nonce + session's CSRF secret)``: the secret is
random per session (kept in it, replaced by ``session.regenerate()``), so a token made
for another session is refused; a fresh nonce per token keeps the page's bytes
changing (BREACH).
"""

from __future__ import annotations

import binascii
import logging
import secrets
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from ..errors import HTTPError
from ..forms import FormData
from .sessions import _CSRF_KEY, Session, Sessions, Signer, _b64, _unb64

logger = logging.getLogger("ringbolt.csrf")

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))  # RFC 9110 §9.2.1
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class CSRFError(HTTPError):
    """403 with a problem+json body whose ``detail`` says why and whose ``csrf`` member
    names the cause: ``origin``, ``referer``, ``missing-token``, ``no-session``,
    ``invalid-token``, ``streamed-form``."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(403, detail, title="CSRF check failed", extensions={"csrf": cause})
        self.cause = cause


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class CSRF:
    """The CSRF check of an app's ``sessions`` (``app.add_csrf(sessions)`` makes one).

    ``allowed_origins``: origins (``"https://app.example"``) a request's Origin or
    Referer may name besides the request's own (its scheme and Host; off with
    ``same_origin=False``, e.g. behind a proxy that rewrites Host). ``header_name``
    ("X-CSRF-Token") and ``field_name`` ("csrf_token"): where the token is looked for,
    the header first. ``exempt_bearer`` (True): a request with ``Authorization: Bearer``
    and no session cookie passes.

    Use: ``Depends(csrf)`` (route dependency, sync; ``Depends(csrf.verify_async)`` for an
    async route whose form bodies may be streamed), ``router.middleware(csrf.middleware)``
    (async) or ``csrf.sync_middleware``; ``csrf.token(req)`` and ``csrf.hidden_field(req)``
    for pages and scripts.
    """

    def __init__(self, sessions: Sessions, *, allowed_origins: Iterable[str] = (), same_origin: bool = True,
                 header_name: str = "X-CSRF-Token", field_name: str = "csrf_token",
                 exempt_bearer: bool = True) -> None:
        if not isinstance(sessions, Sessions):
            raise TypeError(f"CSRF needs the app's Sessions, not {type(sessions).__name__}")
        if isinstance(allowed_origins, str):
            raise TypeError("allowed_origins is a list of origins, not one str")
        origins = set()
        for o in allowed_origins:
            norm = _origin_of(o)
            if norm is None or norm != o.lower().rstrip("/"):
                raise ValueError(f"allowed origin {o!r} is not scheme://host[:port]")
            origins.add(norm)
        self.sessions = sessions
        self.allowed_origins = frozenset(origins)
        self.same_origin = same_origin
        self.header_name = header_name
        self.field_name = field_name
        self.exempt_bearer = exempt_bearer
        self._signer = Signer(sessions.secret_keys, b"csrf")

    def __repr__(self) -> str:
        return f"CSRF(allowed_origins={sorted(self.allowed_origins)!r}, same_origin={self.same_origin!r})"

    # ---- tokens ----
    def token(self, req: Any) -> str:
        """A token for the request's session (made on first use: the session then changes
        and its cookie is sent)."""
        return self._make(self.sessions.get(req))

    def hidden_field(self, req: Any) -> str:
        """``<input type="hidden" name="csrf_token" value="...">`` for an HTML form (the
        token is URL-safe base64, nothing to escape)."""
        return f'<input type="hidden" name="{self.field_name}" value="{self.token(req)}">'

    def _make(self, session: Session) -> str:
        secret = session.get(_CSRF_KEY)
        if not isinstance(secret, str):
            secret = session[_CSRF_KEY] = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{_b64(self._signer.digest(f'{nonce}.{secret}'.encode()))}"

    def _valid(self, token: str, session: Session) -> str | None:
        """None when ``token`` is this session's, else the cause."""
        secret = session.get(_CSRF_KEY)
        if not isinstance(secret, str):
            return "no-session"
        nonce, dot, sig_text = token.partition(".")
        if not dot or not nonce:
            return "invalid-token"
        try:
            sig = _unb64(sig_text)
        except (binascii.Error, ValueError):
            return "invalid-token"
        if not self._signer.verify(f"{nonce}.{secret}".encode(), sig):
            return "invalid-token"
        return None

    # ---- the check ----
    def _before_token(self, req: Any) -> bool:
        """The checks that need no token; True when the request passes outright."""
        if req.method in SAFE_METHODS:
            return True
        headers = req.headers
        if self.exempt_bearer and req.cookie(self.sessions.cookie_name) is None:
            auth = headers.get("authorization") or ""
            if auth[:7].lower() == "bearer " and auth[7:].strip():
                return True
        origin = headers.get("origin")
        if origin is not None:
            if not self._allowed(req, origin):
                raise CSRFError("origin", f"cross-site request: Origin {origin!r} is not an allowed origin")
        else:
            referer = headers.get("referer")
            if referer is not None and not self._allowed(req, _origin_of(referer) or "null"):
                raise CSRFError("referer", "cross-site request: the Referer is not from an allowed origin")
        return False

    def _allowed(self, req: Any, origin: str) -> bool:
        norm = origin.lower().rstrip("/")
        if norm in self.allowed_origins:
            return True
        return self.same_origin and norm == f"{req.scheme}://{req.host}".lower()

    def _check(self, token: Any, session: Session) -> None:
        if not isinstance(token, str) or not token:
            raise CSRFError("missing-token", f"no CSRF token: send it in the {self.header_name} header or the "
                                             f"{self.field_name} form field")
        cause = self._valid(token, session)
        if cause == "no-session":
            raise CSRFError(cause, "the CSRF token was not issued to this session (it has none)")
        if cause is not None:
            raise CSRFError(cause, "the CSRF token is not valid for this session")

    def _is_form(self, req: Any) -> bool:
        ctype = req.headers.get("content-type") or ""
        return ctype.split(";", 1)[0].strip().lower() in _FORMS

    def verify(self, req: Any) -> None:
        """Raise ``CSRFError`` (403) unless the request passes (a sync dependency)."""
        if self._before_token(req):
            return
        token = req.headers.get(self.header_name)
        if token is None and self._is_form(req):
            form = req.form()
            if not isinstance(form, FormData):  # an awaitable of one: a body streamed to an async route
                close = getattr(form, "close", None)
                if close is not None:
                    close()
                raise CSRFError("streamed-form", "the form body is streamed: the route must check it with "
                                                 "Depends(csrf.verify_async), or send the token in "
                                                 f"{self.header_name}")
            token = form.get(self.field_name)
        self._check(token, self.sessions.get(req))

    __call__ = verify  # Depends(csrf)

    async def verify_async(self, req: Any) -> None:
        """``verify`` for async routes: a streamed form is awaited, Redis read without blocking."""
        if self._before_token(req):
            return
        token = req.headers.get(self.header_name)
        if token is None and self._is_form(req):
            form = req.form()
            if not isinstance(form, FormData):
                form = await form
            token = form.get(self.field_name)
        self._check(token, await self.sessions.load(req))

    async def middleware(self, req: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        """``router.middleware(csrf.middleware)``: every route of the router checked."""
        try:
            await self.verify_async(req)
        except CSRFError as exc:
            return exc.response()
        return await call_next(req)

    def sync_middleware(self, req: Any, call_next: Callable[[Any], Any]) -> Any:
        """``middleware`` for routers of sync routes."""
        try:
            self.verify(req)
        except CSRFError as exc:
            return exc.response()
        return call_next(req)
