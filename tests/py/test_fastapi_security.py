"""``ringbolt.fastapi.security`` (FastAPI's schemes on ringbolt): each scheme answers as
FastAPI 0.165 does (the rows below are FastAPI's own answers to the same requests, taken
with its TestClient): the credential, or 401 ``{"detail": "Not authenticated"}`` with the
scheme's ``WWW-Authenticate``, or None with ``auto_error=False``; a subclass's
``make_not_authenticated_error``/``make_authenticate_headers`` decide the refusal; and
where FastAPI reads a credential more loosely than ``ringbolt.security`` (Basic's base64
and charset, a bearer header without a token), each module keeps its own reading
(docs/from-fastapi.md, "What differs on purpose")."""

# (no `from __future__ import annotations`: the routes below are made in loops and read
# their scheme from the closure when the annotation is evaluated)

import base64
from typing import Annotated, Any, Callable, Iterator

import pytest

import ringbolt.security as rb_security
from ringbolt import App
from ringbolt.fastapi import Depends, FastAPI, HTTPException, status
from ringbolt.fastapi.security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBasic, HTTPBearer, HTTPDigest,
                                       OAuth2, OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OpenIdConnect)
from ringbolt.fastapi.security.http import HTTPBase
from ringbolt.fastapi.testclient import TestClient
from ringbolt.testing import TestClient as RingboltClient


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode()


SCHEMES: dict[str, Callable[[bool], Any]] = {
    "bearer": lambda on: HTTPBearer(auto_error=on),
    "basic": lambda on: HTTPBasic(auto_error=on),
    "realm": lambda on: HTTPBasic(realm="simple", auto_error=on),
    "digest": lambda on: HTTPDigest(auto_error=on),
    "base": lambda on: HTTPBase(scheme="other", auto_error=on),
    "keyh": lambda on: APIKeyHeader(name="key", auto_error=on),
    "keyq": lambda on: APIKeyQuery(name="key", auto_error=on),
    "keyc": lambda on: APIKeyCookie(name="key", auto_error=on),
    "oauth2": lambda on: OAuth2(auto_error=on),
    "password": lambda on: OAuth2PasswordBearer(tokenUrl="token", auto_error=on),
    "authcode": lambda on: OAuth2AuthorizationCodeBearer(authorizationUrl="a", tokenUrl="t", auto_error=on),
    "oidc": lambda on: OpenIdConnect(openIdConnectUrl="/oidc", auto_error=on),
}


def _value(cred: Any) -> Any:
    if cred is None or isinstance(cred, str):
        return cred
    return {k: getattr(cred, k) for k in cred.__dataclass_fields__}


def make_app() -> FastAPI:
    app = FastAPI()
    for name, make in SCHEMES.items():
        for on in (True, False):
            scheme = make(on)

            def read(cred: Annotated[Any, Depends(scheme)]) -> Any:
                return {"value": _value(cred)}
            app.get(f"/{name}/{'on' if on else 'off'}")(read)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


AUTH = "authorization"
NA = "Not authenticated"
# path, request headers (and query), status, the value handed to the route or the 401's
# detail, WWW-Authenticate: FastAPI 0.165's answers
CASES: list[tuple[str, dict[str, str], int, Any, str | None]] = [
    ("/bearer/on", {AUTH: "Bearer tok"}, 200, {"scheme": "Bearer", "credentials": "tok"}, None),
    ("/bearer/on", {AUTH: "bearer   tok  x"}, 200, {"scheme": "bearer", "credentials": "tok  x"}, None),
    ("/bearer/on", {}, 401, NA, "Bearer"),
    ("/bearer/on", {AUTH: ""}, 401, NA, "Bearer"),
    ("/bearer/on", {AUTH: "Bearer"}, 401, NA, "Bearer"),
    ("/bearer/on", {AUTH: "Basic " + b64("u:p")}, 401, NA, "Bearer"),
    ("/bearer/off", {AUTH: "Digest abc"}, 200, None, None),
    ("/bearer/off", {}, 200, None, None),
    ("/basic/on", {AUTH: "Basic " + b64("u:p:q")}, 200, {"username": "u", "password": "p:q"}, None),
    ("/basic/on", {AUTH: "basic " + b64("u:")}, 200, {"username": "u", "password": ""}, None),
    # FastAPI's base64 skips a character outside the alphabet; its pair is ASCII only
    ("/basic/on", {AUTH: "Basic dT!pw"}, 200, {"username": "u", "password": "p"}, None),
    ("/basic/on", {AUTH: "Basic " + b64("\u00fc:p")}, 401, NA, "Basic"),
    ("/basic/on", {AUTH: "Basic " + b64("up")}, 401, NA, "Basic"),
    ("/basic/on", {AUTH: "Basic !!!"}, 401, NA, "Basic"),
    ("/basic/on", {AUTH: "Basic"}, 401, NA, "Basic"),
    ("/basic/on", {AUTH: "Bearer tok"}, 401, NA, "Basic"),
    ("/basic/off", {AUTH: "Bearer tok"}, 200, None, None),
    # credentials that are there but broken are refused even with auto_error off
    ("/basic/off", {AUTH: "Basic " + b64("up")}, 401, NA, "Basic"),
    ("/realm/on", {}, 401, NA, 'Basic realm="simple"'),
    ("/realm/off", {AUTH: "Basic !!!"}, 401, NA, 'Basic realm="simple"'),
    ("/digest/on", {AUTH: "Digest abc"}, 200, {"scheme": "Digest", "credentials": "abc"}, None),
    ("/digest/on", {AUTH: "Bearer abc"}, 401, NA, "Digest"),
    ("/digest/on", {}, 401, NA, "Digest"),
    ("/digest/off", {AUTH: "Basic abc"}, 200, None, None),
    ("/base/on", {AUTH: "Anything goes"}, 200, {"scheme": "Anything", "credentials": "goes"}, None),
    ("/base/on", {AUTH: "tok"}, 401, NA, "Other"),
    ("/base/off", {AUTH: "tok"}, 200, None, None),
    ("/keyh/on", {"key": "k"}, 200, "k", None),
    ("/keyh/on", {"key": ""}, 401, NA, "APIKey"),
    ("/keyh/on", {}, 401, NA, "APIKey"),
    ("/keyh/off", {}, 200, None, None),
    ("/keyq/on?key=k", {}, 200, "k", None),
    ("/keyq/on?key=", {}, 401, NA, "APIKey"),
    ("/keyq/on", {"key": "k"}, 401, NA, "APIKey"),
    ("/keyq/off?key=", {}, 200, None, None),
    ("/keyc/on", {"cookie": "key=k"}, 200, "k", None),
    ("/keyc/on", {"cookie": "key="}, 401, NA, "APIKey"),
    ("/keyc/off", {"key": "k"}, 200, None, None),
    ("/oauth2/on", {AUTH: "tok"}, 200, "tok", None),
    ("/oauth2/on", {}, 401, NA, "Bearer"),
    ("/oauth2/off", {AUTH: ""}, 200, None, None),
    ("/password/on", {AUTH: "Bearer tok"}, 200, "tok", None),
    ("/password/on", {AUTH: "bearer   tok  x"}, 200, "tok  x", None),
    # FastAPI hands "" for a bearer header without its token
    ("/password/on", {AUTH: "Bearer"}, 200, "", None),
    ("/password/on", {AUTH: "Basic abc"}, 401, NA, "Bearer"),
    ("/password/on", {AUTH: "tok"}, 401, NA, "Bearer"),
    ("/password/off", {AUTH: "tok"}, 200, None, None),
    ("/authcode/on", {AUTH: "Bearer"}, 200, "", None),
    ("/authcode/on", {}, 401, NA, "Bearer"),
    ("/authcode/off", {AUTH: "Basic abc"}, 200, None, None),
    ("/oidc/on", {AUTH: "Bearer tok"}, 200, "Bearer tok", None),
    ("/oidc/on", {}, 401, NA, "Bearer"),
    ("/oidc/off", {}, 200, None, None),
]


@pytest.mark.parametrize("path,headers,status,expected,challenge", CASES)
def test_each_scheme_answers_as_fastapi(client: TestClient, path: str, headers: dict[str, str], status: int,
                                        expected: Any, challenge: str | None) -> None:
    r = client.get(path, headers=headers)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == {"value": expected}
        assert "www-authenticate" not in r.headers
    else:
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"detail": expected}
        assert r.headers["www-authenticate"] == challenge


class Bearer403(HTTPBearer):
    def make_not_authenticated_error(self) -> HTTPException:
        return HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Not authenticated")


class KeyRealm(APIKeyHeader):
    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'APIKey realm="shop"'}


class DigestTeapot(HTTPDigest):
    def make_not_authenticated_error(self) -> HTTPException:
        return HTTPException(418, detail="no digest", headers={"X-Why": "none"})


SUBCLASSES = [
    (Bearer403(), {}, 403, {"detail": "Not authenticated"}, {}),
    (Bearer403(), {AUTH: "Basic abc"}, 403, {"detail": "Not authenticated"}, {}),
    (Bearer403(), {AUTH: "Bearer t"}, 200, {"value": {"scheme": "Bearer", "credentials": "t"}}, {}),
    (Bearer403(auto_error=False), {}, 200, {"value": None}, {}),
    (KeyRealm(name="key"), {}, 401, {"detail": "Not authenticated"}, {"www-authenticate": 'APIKey realm="shop"'}),
    (DigestTeapot(), {AUTH: "Bearer t"}, 418, {"detail": "no digest"}, {"x-why": "none"}),
]


@pytest.mark.parametrize("scheme,headers,code,body,answer_headers", SUBCLASSES)
def test_a_subclass_decides_the_refusal(scheme: Any, headers: dict[str, str], code: int, body: Any,
                                        answer_headers: dict[str, str]) -> None:
    app = FastAPI()

    @app.get("/me")
    def me(cred: Annotated[Any, Depends(scheme)]) -> Any:
        return {"value": _value(cred)}

    with TestClient(app) as c:
        r = c.get("/me", headers=headers)
    assert r.status_code == code, r.text
    assert r.json() == body
    for name, value in answer_headers.items():
        assert r.headers[name] == value
    if code == 403:  # the subclass gave no challenge
        assert "www-authenticate" not in r.headers


def test_the_bearer_token_follows_the_slash_redirect() -> None:
    # /items redirects to /items/ (307, same origin): the client sends Authorization again
    app = FastAPI()
    oauth2 = OAuth2PasswordBearer(tokenUrl="token")

    @app.get("/items/")
    def items(token: Annotated[str, Depends(oauth2)]) -> Any:
        return {"token": token}

    with TestClient(app) as c:
        r = c.get("/items", headers={AUTH: "Bearer tok"})
        assert r.status_code == 200, r.text
        assert r.json() == {"token": "tok"}
        assert [h.status_code for h in r.history] == [307]


# ringbolt.security's own schemes keep their stricter reading, in a FastAPI app too
STRICT = [
    (rb_security.HTTPBasic(), {AUTH: "Basic dT!pw"}, 401, {"detail": NA}),
    (rb_security.HTTPBasic(), {AUTH: "Basic " + b64("\u00fc:p")}, 200, {"value": {"username": "\u00fc",
                                                                                  "password": "p"}}),
    (rb_security.OAuth2PasswordBearer(tokenUrl="t"), {AUTH: "Bearer"}, 401, {"detail": NA}),
    (HTTPBasic(), {AUTH: "Basic dT!pw"}, 200, {"value": {"username": "u", "password": "p"}}),
    (HTTPBasic(), {AUTH: "Basic " + b64("\u00fc:p")}, 401, {"detail": NA}),
    (OAuth2PasswordBearer(tokenUrl="t"), {AUTH: "Bearer"}, 200, {"value": ""}),
]


@pytest.mark.parametrize("app_class", [FastAPI, App])
@pytest.mark.parametrize("scheme,headers,code,body", STRICT)
def test_each_module_keeps_its_reading(app_class: type, scheme: Any, headers: dict[str, str], code: int,
                                       body: Any) -> None:
    app = app_class()

    @app.get("/me")
    def me(cred: Annotated[Any, Depends(scheme)]) -> Any:
        return {"value": _value(cred)}

    with (TestClient(app) if app_class is FastAPI else RingboltClient(app)) as c:
        r = c.get("/me", headers=headers)
    assert r.status_code == code, r.text
    if code == 200:
        assert r.json() == body
    else:  # each app writes the refusal in its own conventions
        assert r.json()["detail"] == body["detail"]


def test_the_schemes_keep_their_openapi_names() -> None:
    assert HTTPBasic().scheme_name == "HTTPBasic" and HTTPBasic().model == {"type": "http", "scheme": "basic"}
    assert HTTPDigest().model == {"type": "http", "scheme": "digest"}
    assert OAuth2PasswordBearer(tokenUrl="t").scheme_name == "OAuth2PasswordBearer"
    assert isinstance(HTTPBasic(), rb_security.HTTPBasic)
    assert isinstance(OAuth2PasswordBearer(tokenUrl="t"), rb_security.OAuth2PasswordBearer)
