"""Authentication that verifies: bearer JWTs (PyJWT on ``cryptography``, a static key or
a JWKS URL), API keys and HTTP Basic checked in constant time, and scopes and roles
composed with ``&`` and ``|``. Each verifier is a ``ringbolt.security`` scheme, so it is
a dependency (``Security(jwt_auth, scopes=[...])``) that hands the route a ``Principal``
and shows in the OpenAPI document with its 401 and 403 answers.

    jwt_auth = JWTAuth(key=os.environ["JWT_SECRET"], algorithms=["HS256"], audience="api")

    @app.get("/items")
    def items(user: Annotated[Principal, Security(jwt_auth, scopes=["items:read"])]): ...

Everything a request needs (keys, the PyJWT decoder) is built when the verifier is made.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import time
from typing import Any, Callable, Collection, Iterable, Mapping, Sequence

from .jwks import JWKSUnavailable, KeySet
from .._native import KeptBearer, Request
from ..errors import HTTPException
from ..params import SecurityScopes
from . import SecurityBase, get_authorization_scheme_param

# RFC 7519 §2 NumericDate, bounded as a date is: 0001-01-01T00:00:00Z to the last second
# of the year 9999 (a time beyond, 10**400 say, is no time any clock reaches)
FIRST_TIME, LAST_TIME = -62135596800, 253402300799
TIME_CLAIMS = ("exp", "nbf", "iat")
HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}  # RFC 7518 §3.2: a key at least the hash's size
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                         "ES256K", "EdDSA")


def _jwt() -> "Any":
    try:
        import jwt
        import jwt.algorithms
    except ImportError as exc:
        raise ImportError("ringbolt.auth.JWTAuth needs PyJWT with cryptography: pip install 'ringbolt[auth]'") from exc
    if not jwt.algorithms.has_crypto:
        raise ImportError("ringbolt.auth.JWTAuth needs the cryptography package: pip install 'ringbolt[auth]'")
    return jwt


def compare_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Whether ``given`` equals ``expected``, in a time that does not depend on where
    they differ (``hmac.compare_digest`` on their UTF-8 bytes)."""
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


# ---- who the request is ----

class Principal:
    """Who a verified request is: ``subject`` (a JWT's ``sub``, a Basic user name, what an
    API key stands for), its ``scopes`` and ``roles`` (frozensets) and ``claims`` (a JWT's
    payload; empty for the others). ``principal["name"]`` reads a claim."""

    __slots__ = ("subject", "scopes", "roles", "claims")

    def __init__(self, subject: str | None = None, *, scopes: Iterable[str] = (), roles: Iterable[str] = (),
                 claims: Mapping[str, Any] | None = None) -> None:
        self.subject = subject
        self.scopes = frozenset(scopes)
        self.roles = frozenset(roles)
        self.claims: Mapping[str, Any] = claims if claims is not None else {}

    def __getitem__(self, name: str) -> Any:
        return self.claims[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.claims.get(name, default)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Principal) and (self.subject, self.scopes, self.roles, dict(self.claims)) == (
            other.subject, other.scopes, other.roles, dict(other.claims))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Principal({self.subject!r}, scopes={sorted(self.scopes)}, roles={sorted(self.roles)})"


def _names(value: Any) -> list[str]:
    """A claim holding names: a space-separated string (OAuth2's ``scope``) or a list."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


# ---- scopes and roles, composed ----

class Requirement:
    """What a principal must hold; ``a & b`` needs both, ``a | b`` either. Made by
    ``requires(*scopes)`` and ``has_role(*roles)``."""

    __slots__ = ()

    def allows(self, principal: Principal) -> bool:
        raise NotImplementedError

    def alternatives(self) -> list[tuple[str, ...]]:
        """The requirement as alternatives (any one suffices) of names that are all needed,
        as an OpenAPI security requirement lists them."""
        raise NotImplementedError

    def scope_names(self) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        """In words, for a 403's ``error_description``: ``scope a and (role b or role c)``."""
        raise NotImplementedError

    def __and__(self, other: "Requirement") -> "Requirement":
        return _Composed("and", (self, _requirement(other)))

    def __or__(self, other: "Requirement") -> "Requirement":
        return _Composed("or", (self, _requirement(other)))


def _requirement(value: Any) -> Requirement:
    if not isinstance(value, Requirement):
        raise TypeError(f"scopes and roles compose with requires(...) and has_role(...), not {value!r}")
    return value


class _Held(Requirement):
    __slots__ = ("kind", "names")

    def __init__(self, kind: str, names: Sequence[str]) -> None:
        # RFC 6749 §3.3 scope-token: printable ASCII but space, '"' and '\\' (so a name
        # can stand in a WWW-Authenticate parameter as it is)
        if not names or not all(isinstance(n, str) and n and all(0x21 <= ord(c) <= 0x7e and c not in '"\\'
                                                                for c in n) for n in names):
            raise ValueError(f"{'requires' if kind == 'scope' else 'has_role'}() takes one or more names "
                             f"of printable ASCII without spaces, quotes or backslashes, not {list(names)!r}")
        self.kind = kind
        self.names = tuple(dict.fromkeys(names))

    def allows(self, principal: Principal) -> bool:
        held = principal.scopes if self.kind == "scope" else principal.roles
        return held.issuperset(self.names)

    def alternatives(self) -> list[tuple[str, ...]]:
        return [self.names]

    def scope_names(self) -> list[str]:
        return list(self.names) if self.kind == "scope" else []

    def __repr__(self) -> str:
        return f"{'requires' if self.kind == 'scope' else 'has_role'}({', '.join(map(repr, self.names))})"

    def describe(self) -> str:
        return " and ".join(f"{self.kind} {n}" for n in self.names)


class _Composed(Requirement):
    __slots__ = ("op", "parts")

    def __init__(self, op: str, parts: tuple[Requirement, ...]) -> None:
        self.op = op
        self.parts = parts

    def allows(self, principal: Principal) -> bool:
        if self.op == "and":
            return all(p.allows(principal) for p in self.parts)
        return any(p.allows(principal) for p in self.parts)

    def alternatives(self) -> list[tuple[str, ...]]:
        if self.op == "or":
            return [alt for p in self.parts for alt in p.alternatives()]
        return [tuple(dict.fromkeys(itertools.chain(*combo)))
                for combo in itertools.product(*(p.alternatives() for p in self.parts))]

    def scope_names(self) -> list[str]:
        return list(dict.fromkeys(n for p in self.parts for n in p.scope_names()))

    def __repr__(self) -> str:
        return "(" + f" {'&' if self.op == 'and' else '|'} ".join(map(repr, self.parts)) + ")"

    def describe(self) -> str:
        def part(p: Requirement) -> str:
            # an "and" inside an "or" (or the reverse) is bracketed
            own = "and" if isinstance(p, _Held) and len(p.names) > 1 else getattr(p, "op", self.op)
            return p.describe() if own == self.op or (isinstance(p, _Held) and len(p.names) == 1) \
                else f"({p.describe()})"
        return f" {self.op} ".join(part(p) for p in self.parts)


def requires(*scopes: str) -> Requirement:
    """Every one of ``scopes`` (a JWT's ``scope``/``scp`` claim, an API key's scopes)."""
    return _Held("scope", scopes)


def has_role(*roles: str) -> Requirement:
    """Every one of ``roles`` (a JWT's ``roles`` claim, or the claim ``roles_claim`` names)."""
    return _Held("role", roles)


# ---- the verifiers ----

def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Verifier(SecurityBase):
    """What every verifier shares: the 401 and 403 answers, the scope check of
    ``Security(verifier, scopes=[...])`` and ``require(...)``."""

    realm: str | None
    lacks_scope = "the credentials lack a required scope"  #: the 403's detail for a missing Security scope

    def challenge(self, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
        raise NotImplementedError

    def unauthorized(self, description: str) -> HTTPException:
        """401 for credentials that are there but do not verify."""
        return HTTPException(401, detail=description,
                             headers={"WWW-Authenticate": self.challenge("invalid_token", description)})

    def forbidden(self, description: str, scopes: Sequence[str]) -> HTTPException:
        """403: verified, but without the scopes or roles the route needs."""
        return HTTPException(403, detail=description, headers={
            "WWW-Authenticate": self.challenge("insufficient_scope", description, " ".join(scopes) or None)})

    def check_scopes(self, principal: Principal, security_scopes: SecurityScopes) -> Principal:
        if security_scopes.scopes and not principal.scopes.issuperset(security_scopes.scopes):
            raise self.forbidden(self.lacks_scope, security_scopes.scopes)
        return principal

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal | None:
        raise NotImplementedError

    def require(self, requirement: Requirement) -> "Guard":
        """This verifier, then ``requirement`` (``requires("a") | has_role("admin")``)
        checked on the principal: 403 when it does not hold."""
        return Guard(self, _requirement(requirement))

    def openapi_responses(self, scopes: Sequence[str]) -> dict[str, str]:
        return {"401": "Not authenticated, or the credentials do not verify",
                "403": "The credentials lack a required scope or role"}


class Guard(SecurityBase):
    """A verifier with a ``Requirement``: the principal, or 403 (``Verifier.require``)."""

    def __init__(self, verifier: Verifier, requirement: Requirement) -> None:
        self.verifier = verifier
        self.requirement = requirement
        self.model = verifier.model
        self.scheme_name = verifier.scheme_name
        self.auto_error = True
        self._scopes = requirement.scope_names()
        self._description = f"requires {requirement.describe()}"

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal = self.verifier(request, security_scopes)
        if principal is None:  # auto_error=False and no credentials: not enough for a requirement
            raise self.verifier.not_authenticated(self.verifier.challenge())
        if not self.requirement.allows(principal):
            raise self.verifier.forbidden(self._description, self._scopes)
        return principal

    def security_alternatives(self, scopes: Sequence[str]) -> list[list[str]]:
        return [list(dict.fromkeys([*scopes, *alt])) for alt in self.requirement.alternatives()]

    def openapi_responses(self, scopes: Sequence[str]) -> dict[str, str]:
        return self.verifier.openapi_responses(scopes)

    def __repr__(self) -> str:
        return f"Guard({self.verifier!r}, {self.requirement!r})"


class JWTAuth(Verifier):
    """``Authorization: Bearer <JWT>`` verified with PyJWT: the signature by ``key`` (an
    HMAC secret, a PEM public key or a ``cryptography`` key) or by the key set at
    ``jwks_url``, with one of ``algorithms`` (fixed here, never taken from the token),
    then ``exp``, ``nbf``, ``iat`` (with ``leeway`` seconds), ``aud`` (``audience``) and
    ``iss`` (``issuer``); the claims named by ``require`` must be there. Hands a
    ``Principal`` whose scopes come from ``scope``/``scp`` and roles from ``roles_claim``
    (a dotted path: ``realm_access.roles``). The last ``cache_size`` tokens that verified
    are kept with their principal: the same token again is checked against the clock
    (and the JWKS key set's generation) instead of verified again (docs/auth.md). A
    subclass's ``verify``, ``principal`` or ``__call__`` runs for every request: an
    override of ``verify`` keeps no tokens, one of the others calls it for kept ones too.

    Refusals (RFC 6750 §3): no bearer token, 401 ``WWW-Authenticate: Bearer realm="..."``
    (None with ``auto_error=False``); a token that does not verify, 401 with
    ``error="invalid_token"`` and an ``error_description`` saying why; a missing scope,
    403 with ``error="insufficient_scope"``."""

    lacks_scope = "the token lacks a required scope"

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        key: Any = None,
        jwks_url: str | None = None,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        leeway: float = 0,
        require: Sequence[str] = ("exp",),
        roles_claim: str = "roles",
        realm: str | None = None,
        jwks_ttl: float = 300.0,
        jwks_refetch_interval: float = 30.0,
        jwks_timeout: float = 5.0,
        cache_size: int = 1024,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        jwt = _jwt()
        if isinstance(algorithms, str) or not algorithms:
            raise ValueError(f"algorithms must be a non-empty list of JWS algorithm names, not {algorithms!r}")
        algs = list(dict.fromkeys(algorithms))
        for alg in algs:
            if alg not in HMAC_ALGORITHMS and alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(f"unsupported JWT algorithm {alg!r} (one of "
                                 f"{', '.join([*HMAC_ALGORITHMS, *ASYMMETRIC_ALGORITHMS])})")
        if (key is None) == (jwks_url is None):
            raise ValueError("JWTAuth takes a key= or a jwks_url=, one of them")
        if not isinstance(leeway, (int, float)) or leeway < 0:
            raise ValueError(f"leeway must be a number of seconds >= 0, not {leeway!r}")
        if isinstance(require, str) or not all(isinstance(c, str) for c in require):
            raise ValueError(f"require must be a list of claim names, not {require!r}")
        if not isinstance(cache_size, int) or isinstance(cache_size, bool) or cache_size < 0:
            raise ValueError(f"cache_size must be a number of tokens >= 0, not {cache_size!r}")
        self._init({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}, scheme_name, description, auto_error)
        self.algorithms = algs
        self.audience = audience
        self.issuer = issuer
        self.leeway = float(leeway)
        self.realm = realm
        self.roles_path = tuple(roles_claim.split("."))
        self.keys: KeySet | None = None
        self._key: Any = None
        if jwks_url is not None:
            hmac_algs = [a for a in algs if a in HMAC_ALGORITHMS]
            if hmac_algs:
                raise ValueError(f"a JWKS holds public keys: {', '.join(hmac_algs)} takes a key= secret")
            self.keys = KeySet(jwks_url, algs, ttl=jwks_ttl, refetch_interval=jwks_refetch_interval,
                               timeout=jwks_timeout)
        else:
            self._key = _static_key(jwt, key, algs)
        self._decoder = jwt.PyJWT(options={"require": list(require), "enforce_minimum_key_length": True})
        self._errors = _error_texts(jwt)
        self._jwt_error = jwt.exceptions.PyJWTError
        self._header_of = jwt.get_unverified_header
        self._missing = self.challenge()
        # A kept token skips what a subclass may have made a check of its own (a revoked
        # jti refused in verify or principal): each override turns off the shortcuts that
        # skip it. verify: nothing is kept (keeping a token is not verifying it again);
        # principal: the kept answer in __call__ and the native one; __call__: the native one.
        own = {m: getattr(type(self), m) is getattr(JWTAuth, m) for m in ("verify", "principal", "__call__")}
        if not own["verify"]:
            cache_size = 0
        # token -> (principal, valid until, valid from, key set generation): the tokens
        # verified lately, so a client's next requests with the same token skip PyJWT
        self.cache_size = cache_size
        self._verified: dict[str, tuple[Principal, float, float, int]] = {}
        self._kept_in_call = bool(cache_size) and own["principal"]
        # What a route's plan calls (ringbolt.typed.runner): a kept token's principal with no
        # Python run, this object's __call__ for everything else (_native.KeptBearer)
        if self.keys is None and self._kept_in_call and own["__call__"]:
            self._rb_fast_call = KeptBearer(self._verified, self.__call__)

    def challenge(self, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
        parts = [] if self.realm is None else [f"realm={_quoted(self.realm)}"]
        if error is not None:
            parts.append(f'error="{error}"')
        if description is not None:
            parts.append(f"error_description={_quoted(description)}")
        if scope is not None:
            parts.append(f"scope={_quoted(scope)}")
        return "Bearer " + ", ".join(parts) if parts else "Bearer"

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal | None:
        value = request.header("authorization")
        if value is not None and self._kept_in_call and value.startswith("Bearer "):
            # The usual spelling and a token kept: its clock and key set checked here, with
            # no parsing of the header (principal() does the same for every other case).
            hit = self._verified.get(value[7:])
            if hit is not None and hit[2] <= time.time() < hit[1] and (
                    self.keys is None or hit[3] == self.keys.current_generation()):
                return self.check_scopes(hit[0], security_scopes) if security_scopes.scopes else hit[0]
        token = value[7:].strip() if value is not None and value[:7].lower() == "bearer " else ""
        if not token:
            self.missing(self._missing)
            return None
        principal = self.principal(token)
        return self.check_scopes(principal, security_scopes) if security_scopes.scopes else principal

    def principal(self, token: str) -> Principal:
        """The ``Principal`` of ``token``, or the 401 ``HTTPException``. A token verified
        lately (the last ``cache_size`` ones) is not verified again: its time claims
        (``exp``, ``nbf``, ``iat``, with the leeway) are checked against the clock, and
        it is verified again once the JWKS key set has changed."""
        hit = self._verified.get(token)
        generation = 0 if self.keys is None else self.keys.current_generation()
        if hit is not None:
            if hit[2] <= time.time() < hit[1] and hit[3] == generation:
                return hit[0]
            self._verified.pop(token, None)  # expired, or keys changed: PyJWT says why
        claims = self.verify(token)
        sub = claims.get("sub")
        principal = Principal(sub if isinstance(sub, str) else None,
                              scopes=_names(claims.get("scope")) + _names(claims.get("scp")),
                              roles=_names(self._roles(claims)), claims=claims)
        if self.cache_size:
            self._remember(token, principal, claims, generation)
        return principal

    def _remember(self, token: str, principal: Principal, claims: dict[str, Any], generation: int) -> None:
        # PyJWT has checked these are integers; the bounds are its own comparisons:
        # expired when exp <= now - leeway, immature when nbf or iat > now + leeway
        until = int(claims["exp"]) + self.leeway if "exp" in claims else float("inf")
        since = max((int(claims[c]) for c in ("nbf", "iat") if c in claims), default=-float("inf")) - self.leeway
        verified = self._verified
        while len(verified) >= self.cache_size:
            try:
                del verified[next(iter(verified))]  # the oldest
            except (KeyError, StopIteration, RuntimeError):  # another thread took it
                break
        verified[token] = (principal, until, since, generation)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` once it verifies, else the 401 ``HTTPException``."""
        try:
            key = self._key if self.keys is None else self._jwks_key(token)
            claims: dict[str, Any] = self._decoder.decode(token, key, algorithms=self.algorithms,
                                                          audience=self.audience, issuer=self.issuer,
                                                          leeway=self.leeway)
        except self._jwt_error as exc:
            raise self.unauthorized(self._why(exc)) from None
        for claim in TIME_CLAIMS:
            # PyJWT has compared them with the clock; a number beyond any date is not a
            # valid time (and would overflow a float when the token is kept)
            if claim in claims and not _is_time(claims[claim]):
                raise self.unauthorized(f"the token's {claim} is not a valid time")
        return claims

    def _jwks_key(self, token: str) -> Any:
        assert self.keys is not None
        header = self._header_of(token)
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise self.unauthorized("the token's algorithm is not allowed")
        kid = header.get("kid")
        try:
            key = self.keys.key(kid if isinstance(kid, str) else None, alg)
        except JWKSUnavailable:
            raise HTTPException(503, detail="the signing keys could not be fetched",
                                headers={"Retry-After": str(max(1, int(self.keys.refetch_interval)))}) from None
        if key is None:
            raise self.unauthorized("no key of the key set has this token's kid")
        return key

    def _why(self, exc: Exception) -> str:
        for cls in type(exc).__mro__:
            text = self._errors.get(cls)
            if text is not None:
                claim = getattr(exc, "claim", None)  # MissingRequiredClaimError
                return f"the token has no {claim} claim" if isinstance(claim, str) else text
        return "the token is not valid"

    def _roles(self, claims: Mapping[str, Any]) -> Any:
        value: Any = claims
        for step in self.roles_path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(step)
        return value

    def __repr__(self) -> str:
        source = f"jwks_url={self.keys.url!r}" if self.keys is not None else "key=..."
        return f"{type(self).__name__}(algorithms={self.algorithms!r}, {source}, scheme_name={self.scheme_name!r})"


def _is_time(value: Any) -> bool:
    """Whether a time claim's value (what PyJWT took: int() of it) is a second of the
    years 1 to 9999."""
    try:
        return FIRST_TIME <= int(value) <= LAST_TIME
    except (TypeError, ValueError, OverflowError):
        return False


def _error_texts(jwt: Any) -> dict[type, str]:
    """PyJWT's exceptions and the ``error_description`` each becomes (fixed texts: no
    part of the token is echoed into the header)."""
    e = jwt.exceptions
    return {
        e.ExpiredSignatureError: "the token has expired",
        e.ImmatureSignatureError: "the token is not valid yet",
        e.InvalidAudienceError: "the token is not for this audience",
        e.InvalidIssuerError: "the token's issuer is not trusted",
        e.MissingRequiredClaimError: "the token lacks a required claim",
        e.InvalidSignatureError: "the signature does not verify",
        e.InvalidAlgorithmError: "the token's algorithm is not allowed",
        e.InvalidIssuedAtError: "the token's iat is not a number",
        e.InvalidSubjectError: "the token's sub is not a string",
        e.InvalidJTIError: "the token's jti is not a string",
        e.DecodeError: "the token is malformed",
        e.InvalidKeyError: "the token's key is not usable",
        e.PyJWKError: "the token's key is not usable",
        e.InvalidTokenError: "the token is not valid",
    }


def _static_key(jwt: Any, key: Any, algorithms: Sequence[str]) -> Any:
    """``key`` loaded once for ``algorithms``: each must accept it (so an RSA public key
    is refused as an HS256 secret here, not per request) and its length must suffice."""
    families = {"hmac" if a in HMAC_ALGORITHMS else "public" for a in algorithms}
    if len(families) > 1:
        raise ValueError("algorithms mixes HMAC (HS*) with public-key algorithms: one key cannot serve both "
                         "(that mix is the algorithm-confusion attack)")
    if isinstance(key, str):
        key = key.encode()
    prepared: Any = None
    for alg in algorithms:
        algorithm = jwt.algorithms.get_default_algorithms()[alg]
        if alg in HMAC_ALGORITHMS:
            if not isinstance(key, bytes):
                raise ValueError(f"{alg} takes a secret (str or bytes) as key, not {type(key).__name__}")
            if len(key) < HMAC_ALGORITHMS[alg]:
                raise ValueError(f"an {alg} secret needs at least {HMAC_ALGORITHMS[alg]} bytes "
                                 f"(RFC 7518 §3.2), this one has {len(key)}")
        try:
            loaded = algorithm.prepare_key(key)
        except Exception as exc:  # noqa: BLE001 - said with the algorithm
            raise ValueError(f"the key= is not a key for {alg}: {exc}") from exc
        loaded = _public(loaded)
        short = algorithm.check_key_length(loaded)
        if short:
            raise ValueError(f"the key= is too short for {alg}: {short}")
        if alg.startswith("ES"):
            wanted = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1", "ES256K": "secp256k1"}[alg]
            if loaded.curve.name != wanted:
                raise ValueError(f"{alg} needs a key on {wanted}, this one is on {loaded.curve.name}")
        prepared = loaded
    return prepared


def _public(key: Any) -> Any:
    """The public half of a private key given to verify with."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey,
                        ed448.Ed448PrivateKey)):
        return key.public_key()
    return key


# ---- API keys and HTTP Basic ----

def _principal_of(result: Any, default_subject: str | None) -> Principal | None:
    """What a key table or verify callable answered, as a principal (None: refused)."""
    if isinstance(result, Principal):
        return result
    if isinstance(result, str):
        return Principal(result)
    if result is True:
        return Principal(default_subject)
    return None


class _KeyTable:
    """API keys compared in constant time: each key's SHA-256 against the presented
    one's with ``hmac.compare_digest``, every key looked at whatever matches."""

    def __init__(self, keys: Mapping[str, Principal | str] | Collection[str]) -> None:
        items = keys.items() if isinstance(keys, Mapping) else ((k, True) for k in keys)
        self.entries: list[tuple[bytes, Any]] = []
        for key, who in items:
            if not isinstance(key, str) or not key:
                raise ValueError(f"API keys are non-empty strings, not {key!r}")
            self.entries.append((hashlib.sha256(key.encode()).digest(), who))

    def __call__(self, key: str) -> Any:
        digest = hashlib.sha256(key.encode()).digest()
        found: Any = None
        for known, who in self.entries:
            if hmac.compare_digest(digest, known) and found is None:
                found = who
        return found


class APIKeyAuth(Verifier):
    """An API key in the header, query parameter or cookie ``name`` (``location``),
    checked against ``keys``: a collection of keys, a mapping of key to what it stands
    for (a subject name or a ``Principal`` with scopes and roles), or a callable taking
    the key and answering that (or True/None). Hands a ``Principal``; 401 with
    ``WWW-Authenticate: APIKey`` when missing (None with ``auto_error=False``) or
    unknown; 403 when a ``Security`` scope is missing."""

    def __init__(self, name: str, *, keys: Mapping[str, Principal | str] | Collection[str] | Callable[[str], Any],
                 location: str = "header", realm: str | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        if location not in ("header", "query", "cookie"):
            raise ValueError(f"location is 'header', 'query' or 'cookie', not {location!r}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"an API key needs the name of its {location}, not {name!r}")
        self._init({"type": "apiKey", "in": location, "name": name}, scheme_name, description, auto_error)
        self.name = name.lower() if location == "header" else name
        self.location = location
        self.realm = realm
        if callable(keys):
            self._lookup: Callable[[str], Any] = keys
        else:
            self._lookup = _KeyTable(keys)
        self._missing = self.challenge()

    def challenge(self, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
        return "APIKey" if self.realm is None else f"APIKey realm={_quoted(self.realm)}"

    def unauthorized(self, description: str) -> HTTPException:
        return HTTPException(401, detail=description, headers={"WWW-Authenticate": self._missing})

    def forbidden(self, description: str, scopes: Sequence[str]) -> HTTPException:
        return HTTPException(403, detail=description)

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal | None:
        source = request.headers if self.location == "header" else (
            request.query if self.location == "query" else request.cookies)
        key = source.get(self.name)
        if not key:
            self.missing(self._missing)
            return None
        principal = _principal_of(self._lookup(key), None)
        if principal is None:
            raise self.unauthorized("the API key is not valid")
        return self.check_scopes(principal, security_scopes)


class BasicAuth(Verifier):
    """``Authorization: Basic`` (RFC 7617) checked by ``verify(username, password)``
    (answering a subject name, a ``Principal``, True or None/False) or against
    ``users``, a mapping of user name to password compared with ``compare_secret``.
    Hands a ``Principal``; 401 with ``WWW-Authenticate: Basic realm="...",
    charset="UTF-8"`` when missing, undecodable or refused."""

    def __init__(self, *, verify: Callable[[str, str], Any] | None = None, users: Mapping[str, str] | None = None,
                 realm: str = "ringbolt", scheme_name: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        if (verify is None) == (users is None):
            raise ValueError("BasicAuth takes a verify= callable or a users= mapping, one of them")
        if verify is not None and not callable(verify):
            raise TypeError(f"verify must be callable, not {type(verify).__name__}")
        self._init({"type": "http", "scheme": "basic"}, scheme_name, description, auto_error)
        self.realm = realm
        self._users = dict(users) if users is not None else None
        self._verify = verify if verify is not None else self._check_users
        self._missing = self.challenge()

    def challenge(self, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
        return f'Basic realm={_quoted(self.realm or "")}, charset="UTF-8"'

    def unauthorized(self, description: str) -> HTTPException:
        return HTTPException(401, detail=description, headers={"WWW-Authenticate": self._missing})

    def forbidden(self, description: str, scopes: Sequence[str]) -> HTTPException:
        return HTTPException(403, detail=description)

    def _check_users(self, username: str, password: str) -> bool:
        assert self._users is not None
        expected = self._users.get(username)
        # an unknown user costs the same comparison as a known one
        same = compare_secret(password, expected if expected is not None else password + "\0")
        return same and expected is not None

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal | None:
        scheme, param = get_authorization_scheme_param(request.header("authorization"))
        if scheme.lower() != "basic" or not param:
            self.missing(self._missing)
            return None
        try:
            username, sep, password = base64.b64decode(param, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise self.unauthorized("the Basic credentials are not base64 of user:password") from None
        if not sep:
            raise self.unauthorized("the Basic credentials are not base64 of user:password")
        principal = _principal_of(self._verify(username, password), username)
        if principal is None:
            raise self.unauthorized("wrong user name or password")
        return self.check_scopes(principal, security_scopes)


__all__ = ["APIKeyAuth", "BasicAuth", "Guard", "JWTAuth", "Principal", "Requirement", "Verifier", "compare_secret",
           "has_role", "requires"]
