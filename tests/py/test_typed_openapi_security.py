"""ringbolt.security (docs/openapi.md, "Security"): each scheme class as a dependency
reads its credential from a real request and answers 401 (with its WWW-Authenticate)
when it is missing or of another scheme, or hands None with ``auto_error=False``; and a
callable object (a class with ``__call__``, annotated under ``from __future__ import
annotations``) is a dependency like a function."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Iterator

import pytest

from ringbolt import App, Depends, Request
from ringbolt.security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBasic,
                               HTTPBasicCredentials, HTTPBearer, OAuth2PasswordBearer, OAuth2PasswordRequestForm,
                               OpenIdConnect)
from ringbolt.testing import TestClient


class Threshold:
    """A callable object dependency: its ``__call__``'s parameters are planned."""

    limit: int

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, request: Request, n: int = 0) -> dict[str, Any]:
        return {"over": n >= self.limit, "path": request.path}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# module-level: the handlers' annotations (text, under `from __future__ import
# annotations`) are resolved with the module's names
bearer = HTTPBearer()
bearer_opt = HTTPBearer(auto_error=False)
basic = HTTPBasic(realm="shop")
in_header = APIKeyHeader(name="x-key")
in_query = APIKeyQuery(name="key")
in_cookie = APIKeyCookie(name="key")
oauth2 = OAuth2PasswordBearer(tokenUrl="/token")
oidc = OpenIdConnect(openIdConnectUrl="/.well-known/openid-configuration")
threshold = Threshold(3)


def make_app() -> App:
    app = App()

    @app.get("/bearer")
    def r_bearer(c: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
        return {"scheme": c.scheme, "credentials": c.credentials}

    @app.get("/bearer-optional")
    def r_bearer_opt(c: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_opt)]) -> dict[str, Any]:
        return {"credentials": None if c is None else c.credentials}

    @app.get("/basic")
    def r_basic(c: Annotated[HTTPBasicCredentials, Depends(basic)]) -> dict[str, Any]:
        return {"username": c.username, "password": c.password}

    @app.get("/key/header")
    def r_header(key: Annotated[str, Depends(in_header)]) -> dict[str, Any]:
        return {"key": key}

    @app.get("/key/query")
    def r_query(key: Annotated[str, Depends(in_query)]) -> dict[str, Any]:
        return {"key": key}

    @app.get("/key/cookie")
    def r_cookie(key: Annotated[str, Depends(in_cookie)]) -> dict[str, Any]:
        return {"key": key}

    @app.get("/oauth2")
    def r_oauth2(token: Annotated[str, Depends(oauth2)]) -> dict[str, Any]:
        return {"token": token}

    @app.get("/oidc")
    def r_oidc(value: Annotated[str, Depends(oidc)]) -> dict[str, Any]:
        return {"value": value}

    @app.post("/token")
    def r_token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
        return {"username": form.username, "password": form.password, "scopes": form.scopes,
                "grant_type": form.grant_type}

    @app.get("/threshold")
    def r_threshold(t: Annotated[dict[str, Any], Depends(threshold)]) -> dict[str, Any]:
        return t

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


CASES: list[tuple[str, dict[str, str], int, Any, str | None]] = [
    # path, headers, status, body (or the 401's detail), WWW-Authenticate
    ("/bearer", {"authorization": "Bearer abc"}, 200, {"scheme": "Bearer", "credentials": "abc"}, None),
    ("/bearer", {"authorization": "bearer  abc "}, 200, {"scheme": "bearer", "credentials": "abc"}, None),
    ("/bearer", {}, 401, "Not authenticated", "Bearer"),
    ("/bearer", {"authorization": "Basic abc"}, 401, "Not authenticated", "Bearer"),
    ("/bearer", {"authorization": "Bearer"}, 401, "Not authenticated", "Bearer"),
    ("/bearer-optional", {}, 200, {"credentials": None}, None),
    ("/bearer-optional", {"authorization": "Bearer t"}, 200, {"credentials": "t"}, None),
    ("/basic", {"authorization": _basic("ann", "s:e")}, 200, {"username": "ann", "password": "s:e"}, None),
    ("/basic", {}, 401, "Not authenticated", 'Basic realm="shop"'),
    ("/basic", {"authorization": "Basic !!!"}, 401, "Not authenticated", 'Basic realm="shop"'),
    ("/basic", {"authorization": "Basic " + base64.b64encode(b"nocolon").decode()}, 401, "Not authenticated",
     'Basic realm="shop"'),
    ("/key/header", {"x-key": "k1"}, 200, {"key": "k1"}, None),
    ("/key/header", {}, 401, "Not authenticated", "APIKey"),
    ("/key/query?key=k2", {}, 200, {"key": "k2"}, None),
    ("/key/query?other=1", {}, 401, "Not authenticated", "APIKey"),
    ("/key/cookie", {"cookie": "key=k3"}, 200, {"key": "k3"}, None),
    ("/key/cookie", {"cookie": "other=1"}, 401, "Not authenticated", "APIKey"),
    ("/oauth2", {"authorization": "Bearer tok"}, 200, {"token": "tok"}, None),
    ("/oauth2", {"authorization": "Token tok"}, 401, "Not authenticated", "Bearer"),
    ("/oidc", {"authorization": "Bearer x"}, 200, {"value": "Bearer x"}, None),
    ("/oidc", {}, 401, "Not authenticated", "Bearer"),
    ("/threshold?n=5", {}, 200, {"over": True, "path": "/threshold"}, None),
    ("/threshold", {}, 200, {"over": False, "path": "/threshold"}, None),
]


@pytest.mark.parametrize("path,headers,status,expected,challenge", CASES)
def test_scheme_reads_its_credential(client: TestClient, path: str, headers: dict[str, str], status: int,
                                     expected: Any, challenge: str | None) -> None:
    r = client.get(path, headers=headers)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == expected
    else:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == expected
        assert r.headers["www-authenticate"] == challenge


FORMS = [
    ({"username": "ann", "password": "pw", "scope": "a b"}, 200,
     {"username": "ann", "password": "pw", "scopes": ["a", "b"], "grant_type": None}),
    ({"username": "ann", "password": "pw", "grant_type": "password"}, 200,
     {"username": "ann", "password": "pw", "scopes": [], "grant_type": "password"}),
    ({"username": "ann", "password": "pw", "grant_type": "code"}, 422, [("body", "grant_type")]),
    ({"username": "ann"}, 422, [("body", "password")]),
]


@pytest.mark.parametrize("form,status,expected", FORMS)
def test_password_request_form(client: TestClient, form: dict[str, str], status: int, expected: Any) -> None:
    r = client.post("/token", data=form)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == expected
    else:
        assert [tuple(e["loc"]) for e in r.json()["detail"]] == expected


def test_a_scheme_needs_its_name() -> None:
    with pytest.raises(ValueError, match="API key needs the name"):
        APIKeyHeader(name="")
