"""The key set of a JWKS URL (RFC 7517 §5) for ``ringbolt.auth.JWTAuth``: fetched at first
use, kept for a TTL and then refreshed on a thread while the old keys keep answering,
and fetched again when a token names an unknown ``kid``, at most once per interval, so
a flood of made-up key ids never reaches the key server more than that."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Collection

if TYPE_CHECKING:
    from jwt import PyJWK

logger = logging.getLogger("ringbolt.auth")

#: what each algorithm's key is in a JWK: (kty, crv or None for any)
_KEY_KINDS: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"), "ES256K": ("EC", "secp256k1"),
    "EdDSA": ("OKP", None),
}

#: the largest key set read (a JWKS is a few KiB; this bounds a misbehaving server)
MAX_JWKS_BYTES = 1 << 20


class JWKSUnavailable(Exception):
    """The key set has never been fetched (the server is down or answers garbage)."""


def keys_of(document: Any, algorithms: Collection[str]) -> dict[tuple[str | None, str], "PyJWK"]:
    """The signing keys of a JWKS document by (kid, algorithm), for the allowed algorithms
    only: a key that names its ``alg`` gives that one, a key without gives each allowed
    algorithm its type fits. Keys for encryption (``use: enc``), of another type or that
    do not load are left out."""
    from jwt import PyJWK
    from jwt.exceptions import PyJWTError

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS document is an object with a 'keys' list")
    out: dict[tuple[str | None, str], PyJWK] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        named = jwk.get("alg")
        fits: Collection[str] = algorithms if named is None else [named] if named in algorithms else []
        for alg in fits:
            kty, crv = _KEY_KINDS.get(alg, ("", None))
            if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
                continue
            try:
                out[(kid, alg)] = PyJWK(jwk, alg)
            except (PyJWTError, ValueError, TypeError) as exc:
                logger.warning("JWKS key %r (%s) left out: %s", kid, alg, exc)
    return out


class KeySet:
    """The keys of ``url``: ``key(kid, alg)`` answers the key to verify with, or None."""

    def __init__(self, url: str, algorithms: Collection[str], *, ttl: float, refetch_interval: float,
                 timeout: float) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"jwks_url must be an http(s) URL, not {url!r}")
        for name, value in (("jwks_ttl", ttl), ("jwks_refetch_interval", refetch_interval),
                            ("jwks_timeout", timeout)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
        self.url = url
        self.algorithms = tuple(algorithms)
        self.ttl = float(ttl)
        self.refetch_interval = float(refetch_interval)
        self.timeout = float(timeout) or 5.0
        self.fetches = 0  #: how many fetches were tried (successful or not)
        self._keys: dict[tuple[str | None, str], PyJWK] | None = None
        self._expires = 0.0
        self._last_refetch = -float("inf")  # the last fetch an unknown kid caused
        self._first_tried = -float("inf")  # the last try while no key set was ever fetched
        self._lock = threading.Lock()
        self._refreshing = False
        self.generation = 0  #: counts the key sets fetched: what was verified with an older one is verified again

    def current_generation(self) -> int:
        """The key set's generation, a refresh started first when the TTL has passed (a
        token verified before is then verified again once the new set is in)."""
        if self._keys is not None and time.monotonic() >= self._expires:
            self._refresh_in_background()
        return self.generation

    def key(self, kid: str | None, alg: str) -> "PyJWK | None":
        keys = self._keys
        if keys is None:
            keys = self._first()
        elif time.monotonic() >= self._expires:
            self._refresh_in_background()
        found = self._find(keys, kid, alg)
        if found is not None:
            return found
        # An unknown kid: the keys may have rotated. Fetch again, but at most once per
        # refetch_interval, whatever the tokens say.
        with self._lock:
            keys = self._keys or {}
            found = self._find(keys, kid, alg)
            if found is not None:
                return found
            now = time.monotonic()
            if now - self._last_refetch < self.refetch_interval:
                return None
            self._last_refetch = now
            self._fetch_locked()
            return self._find(self._keys or {}, kid, alg)

    @staticmethod
    def _find(keys: dict[tuple[str | None, str], "PyJWK"], kid: str | None, alg: str) -> "PyJWK | None":
        found = keys.get((kid, alg))
        if found is None and kid is None:
            # a token without kid: the key set's one key for the algorithm, if it has one only
            matching = [k for (_, a), k in keys.items() if a == alg]
            if len(matching) == 1:
                return matching[0]
        return found

    def _first(self) -> dict[tuple[str | None, str], "PyJWK"]:
        with self._lock:
            if self._keys is None:
                # never fetched yet: try, and after a failure again once per refetch_interval
                now = time.monotonic()
                if self.fetches == 0 or now - self._first_tried >= self.refetch_interval:
                    self._first_tried = now
                    self._fetch_locked()
            if self._keys is None:
                raise JWKSUnavailable(self.url)
            return self._keys

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
            self._expires = time.monotonic() + self.ttl  # the next look waits a TTL, failed or not
        threading.Thread(target=self._refresh, name="ringbolt-jwks", daemon=True).start()

    def _refresh(self) -> None:
        try:
            with self._lock:
                self._fetch_locked()
        finally:
            self._refreshing = False

    def _fetch_locked(self) -> None:
        """Fetch and replace the keys (the lock held); on failure the old keys stay."""
        self.fetches += 1
        try:
            request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - http(s) checked
                body = answer.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
            keys = keys_of(json.loads(body), self.algorithms)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            logger.warning("fetching the JWKS %s failed: %s", self.url, exc)
            return
        self._keys = keys
        self._expires = time.monotonic() + self.ttl
        self.generation += 1
