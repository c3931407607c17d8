"""Security dependencies with FastAPI's names: each reads a credential from the request
(``Authorization`` header, an API key in a header, query or cookie) and answers 401
when it is missing, and each carries the OpenAPI security scheme it stands for
(``model``, named ``scheme_name``), so the document lists the scheme under
``components.securitySchemes`` and every operation that depends on it, directly or
through other dependencies, under ``security``.

    bearer = HTTPBearer()

    @app.get("/me")
    def me(cred: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]): ...

They are plain ``def``: a sync route that uses one stays sync (inline on the reactor).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Annotated, Any, Sequence

from .._native import Request
from ..errors import HTTPException
from ..params import Form


@dataclasses.dataclass(frozen=True, slots=True)
class HTTPAuthorizationCredentials:
    """What ``HTTPBearer`` (and ``HTTPBase``) return: ``Authorization: <scheme> <credentials>``."""

    scheme: str
    credentials: str


@dataclasses.dataclass(frozen=True, slots=True)
class HTTPBasicCredentials:
    """What ``HTTPBasic`` returns: the decoded ``user:password`` of ``Authorization: Basic``."""

    username: str
    password: str


def get_authorization_scheme_param(value: str | None) -> tuple[str, str]:
    """``("Bearer", "abc")`` for ``"Bearer abc"``; ``("", "")`` for none."""
    if not value:
        return "", ""
    scheme, _, param = value.partition(" ")
    return scheme, param.strip()


class SecurityBase:
    """A dependency that is also an OpenAPI security scheme: ``model`` is the scheme's
    object (``{"type": "http", "scheme": "bearer"}``), ``scheme_name`` its key under
    ``components.securitySchemes``. Subclass it (and set both) for a scheme of your own;
    ``__call__`` reads the credential."""

    model: dict[str, Any]
    scheme_name: str
    auto_error: bool

    def _init(self, model: dict[str, Any], scheme_name: str | None, description: str | None,
              auto_error: bool) -> None:
        if description is not None:
            model["description"] = description
        self.model = model
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def not_authenticated(self, www_authenticate: str) -> HTTPException:
        return HTTPException(401, detail="Not authenticated", headers={"WWW-Authenticate": www_authenticate})

    def missing(self, www_authenticate: str) -> None:
        """No usable credentials: 401 with the challenge; with ``auto_error`` off the caller
        answers None (the route decides)."""
        if self.auto_error:
            raise self.not_authenticated(www_authenticate)

    # FastAPI's two hooks, which the schemes below refuse with: a subclass that overrides
    # ``make_not_authenticated_error`` answers its own refusal (a 403, another detail),
    # one that overrides ``make_authenticate_headers`` its own challenge.
    def make_authenticate_headers(self) -> dict[str, str]:
        """The headers of the refusal: the scheme's ``WWW-Authenticate`` challenge."""
        return {"WWW-Authenticate": "Bearer"}

    def make_not_authenticated_error(self) -> HTTPException:
        """The refusal of a request without usable credentials: 401, ``Not authenticated``."""
        return HTTPException(401, detail="Not authenticated", headers=self.make_authenticate_headers())

    def _refuse(self) -> None:
        """No usable credentials: the refusal raised; with ``auto_error`` off the scheme
        returns None (the route decides)."""
        if self.auto_error:
            raise self.make_not_authenticated_error()

    def security_alternatives(self, scopes: Sequence[str]) -> list[list[str]]:
        """The OpenAPI security requirement(s) of a route that depends on this scheme
        with ``scopes``: alternatives, each the scope (or role) names all needed."""
        return [list(dict.fromkeys(scopes))]

    def openapi_responses(self, scopes: Sequence[str]) -> dict[str, str]:
        """The refusals (status: description) this scheme adds to each operation's
        responses; none for a scheme that only reads the credential."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme_name={self.scheme_name!r})"


# ---- HTTP authentication (RFC 9110 §11) ----

class HTTPBase(SecurityBase):
    """``Authorization: <scheme> <credentials>`` for the HTTP authentication ``scheme``
    (an IANA name: ``bearer``, ``basic``, ``digest``...): returns
    ``HTTPAuthorizationCredentials``; 401 when missing (None with ``auto_error=False``)."""

    def __init__(self, *, scheme: str, scheme_name: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        self._init({"type": "http", "scheme": scheme}, scheme_name, description, auto_error)

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": str(self.model["scheme"]).title()}

    def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        scheme, credentials = get_authorization_scheme_param(request.header("authorization"))
        if not (scheme and credentials):
            self._refuse()
            return None
        return HTTPAuthorizationCredentials(scheme, credentials)


class _SchemeOnly(HTTPBase):
    """``Authorization: <_scheme> <credentials>``, the scheme in any case."""

    _scheme = ""

    def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        scheme, credentials = get_authorization_scheme_param(request.header("authorization"))
        if scheme.lower() != self._scheme or not credentials:
            self._refuse()
            return None
        return HTTPAuthorizationCredentials(scheme, credentials)


class HTTPBearer(_SchemeOnly):
    """``Authorization: Bearer <token>`` (RFC 6750 §2.1): ``HTTPAuthorizationCredentials``
    whose ``credentials`` is the token; 401 with ``WWW-Authenticate: Bearer`` when the
    header is missing or of another scheme."""

    _scheme = "bearer"

    def __init__(self, *, bearerFormat: str | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        model: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if bearerFormat is not None:
            model["bearerFormat"] = bearerFormat
        self._init(model, scheme_name, description, auto_error)


class HTTPDigest(_SchemeOnly):
    """``Authorization: Digest <credentials>`` (RFC 7616), not checked: the
    ``HTTPAuthorizationCredentials`` for a subclass (or the route) to verify, and the
    scheme in the OpenAPI document; 401 with ``WWW-Authenticate: Digest`` when the header
    is missing or of another scheme."""

    _scheme = "digest"

    def __init__(self, *, scheme_name: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        self._init({"type": "http", "scheme": "digest"}, scheme_name, description, auto_error)


class HTTPBasic(HTTPBase):
    """``Authorization: Basic <base64 user:password>`` (RFC 7617): ``HTTPBasicCredentials``;
    401 with ``WWW-Authenticate: Basic`` (and the ``realm``) when missing or not
    decodable."""

    def __init__(self, *, scheme_name: str | None = None, realm: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        self._init({"type": "http", "scheme": "basic"}, scheme_name, description, auto_error)
        self.realm = realm

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{self.realm}"' if self.realm else "Basic"}

    def _decode(self, param: str) -> str:
        """``user:password`` from the base64 ``param``: strict base64, UTF-8 (RFC 7617 §2.1)."""
        return base64.b64decode(param, validate=True).decode("utf-8")

    def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        scheme, param = get_authorization_scheme_param(request.header("authorization"))
        if scheme.lower() != "basic":
            self._refuse()
            return None
        try:
            data = self._decode(param)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise self.make_not_authenticated_error() from None
        username, sep, password = data.partition(":")
        if not sep:
            raise self.make_not_authenticated_error()
        return HTTPBasicCredentials(username, password)


# ---- API keys ----

class APIKeyBase(SecurityBase):
    _location = ""

    def __init__(self, *, name: str, scheme_name: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"an API key needs the name of its {self._location}, not {name!r}")
        self._init({"type": "apiKey", "in": self._location, "name": name}, scheme_name, description, auto_error)
        self.name = name

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "APIKey"}

    def _check(self, key: str | None) -> str | None:
        if not key:
            self._refuse()
            return None
        return key


class APIKeyHeader(APIKeyBase):
    """An API key in the request header ``name``: the key; 401 when missing."""

    _location = "header"

    def __call__(self, request: Request) -> str | None:
        return self._check(request.header(self.name))


class APIKeyQuery(APIKeyBase):
    """An API key in the query parameter ``name``: the key; 401 when missing."""

    _location = "query"

    def __call__(self, request: Request) -> str | None:
        return self._check(request.query.get(self.name))


class APIKeyCookie(APIKeyBase):
    """An API key in the cookie ``name``: the key; 401 when missing."""

    _location = "cookie"

    def __call__(self, request: Request) -> str | None:
        return self._check(request.cookies.get(self.name))


# ---- OAuth2 (RFC 6749) and OpenID Connect ----

def _authorization_value(scheme: SecurityBase, request: Request) -> str | None:
    """The ``Authorization`` header's whole value; missing: the scheme's refusal."""
    value = request.header("authorization")
    if not value:
        scheme._refuse()
        return None
    return value


class OAuth2(SecurityBase):
    """An OAuth2 scheme with the given ``flows`` (OpenAPI's OAuth Flows object): the
    ``Authorization`` header's value; 401 when missing."""

    def __init__(self, *, flows: dict[str, Any] | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self._init({"type": "oauth2", "flows": dict(flows or {})}, scheme_name, description, auto_error)

    def __call__(self, request: Request) -> str | None:
        return _authorization_value(self, request)


class _OAuth2Bearer(OAuth2):
    def __call__(self, request: Request) -> str | None:
        scheme, token = get_authorization_scheme_param(request.header("authorization"))
        if scheme.lower() != "bearer" or not token:
            self._refuse()
            return None
        return token


def _flow(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class OAuth2PasswordBearer(_OAuth2Bearer):
    """OAuth2's password flow, the token obtained at ``tokenUrl``: the bearer token of
    ``Authorization: Bearer <token>``; 401 with ``WWW-Authenticate: Bearer`` when
    missing. ``scopes`` (name: description) are listed for the Swagger UI's login."""

    def __init__(self, tokenUrl: str, scheme_name: str | None = None, scopes: dict[str, str] | None = None,
                 description: str | None = None, auto_error: bool = True, refreshUrl: str | None = None) -> None:
        flows = {"password": _flow(tokenUrl=tokenUrl, refreshUrl=refreshUrl, scopes=dict(scopes or {}))}
        super().__init__(flows=flows, scheme_name=scheme_name, description=description, auto_error=auto_error)


class OAuth2AuthorizationCodeBearer(_OAuth2Bearer):
    """OAuth2's authorization code flow: the bearer token, as ``OAuth2PasswordBearer``."""

    def __init__(self, authorizationUrl: str, tokenUrl: str, refreshUrl: str | None = None,
                 scheme_name: str | None = None, scopes: dict[str, str] | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        flows = {"authorizationCode": _flow(authorizationUrl=authorizationUrl, tokenUrl=tokenUrl,
                                            refreshUrl=refreshUrl, scopes=dict(scopes or {}))}
        super().__init__(flows=flows, scheme_name=scheme_name, description=description, auto_error=auto_error)


class OpenIdConnect(SecurityBase):
    """OpenID Connect discovered at ``openIdConnectUrl``: the ``Authorization`` header's
    value; 401 when missing."""

    def __init__(self, *, openIdConnectUrl: str, scheme_name: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        self._init({"type": "openIdConnect", "openIdConnectUrl": openIdConnectUrl}, scheme_name, description,
                   auto_error)

    def __call__(self, request: Request) -> str | None:
        return _authorization_value(self, request)


class OAuth2PasswordRequestForm:
    """The form of an OAuth2 password-flow token request (RFC 6749 §4.3.2), as a class
    dependency: ``form: Annotated[OAuth2PasswordRequestForm, Depends()]``. ``scopes``
    is ``scope`` split on spaces."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret


__all__ = [
    "APIKeyBase", "APIKeyCookie", "APIKeyHeader", "APIKeyQuery", "HTTPAuthorizationCredentials", "HTTPBase",
    "HTTPBasic", "HTTPBasicCredentials", "HTTPBearer", "HTTPDigest", "OAuth2", "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer", "OAuth2PasswordRequestForm", "OpenIdConnect", "SecurityBase",
    "get_authorization_scheme_param",
]
