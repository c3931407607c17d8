"""req.cookies (RFC 6265 Cookie parsing) and Set-Cookie from Response.set_cookie /
req.set_cookie: secure defaults, Secure on https (a trusted proxy's X-Forwarded-Proto),
and every injection attempt refused with a ValueError naming the cause."""

from __future__ import annotations

import pytest

from conftest import ServerProcess, get, request
from reqresp_helpers import APP
from ringbolt import Response


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP, "--threads", "2", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    yield s
    assert s.stop() == 0, s.output()


def set_cookies(r) -> list[str]:
    return [v for k, v in r.headers if k.lower() == "set-cookie"]


@pytest.mark.parametrize(
    "header, expected",
    [
        ("Cookie: a=1\r\n", {"a": "1"}),
        ("Cookie: a=1; b=2\r\n", {"a": "1", "b": "2"}),
        ("Cookie: a=1;b=2;  c = 3 \r\n", {"a": "1", "b": "2", "c": "3"}),
        ('Cookie: q="quoted value"\r\n', {"q": "quoted value"}),
        ("Cookie: a=first; a=second\r\n", {"a": "first"}),
        ("Cookie: empty=; =noname; novalue; x=y=z\r\n", {"empty": "", "x": "y=z"}),
        ("Cookie: a=1\r\nCookie: b=2\r\n", {"a": "1", "b": "2"}),
        ("Cookie: ;;; \r\n", {}),
        ("", {}),
        ("Cookie: utf=%C3%A9\r\n", {"utf": "%C3%A9"}),  # not decoded: RFC 6265 defines no encoding
        ("Cookie: tok=abc.def-ghi_jkl\r\n", {"tok": "abc.def-ghi_jkl"}),
    ],
)
def test_request_cookies(srv, header, expected):
    r = get(srv, "/cookies", header)
    assert r.status == 200 and r.json() == expected


@pytest.mark.parametrize(
    "header, names",
    [
        ("Cookie: a=1; b=2\r\n", "a,b"),
        ('Cookie: q="quoted value"; a=first; a=second\r\n', "q,a"),
        ("Cookie: empty=; =noname; novalue; x=y=z\r\n", "empty,x,novalue"),
        ("Cookie: a=1\r\nCookie: b=2; a=3\r\n", "a,b"),
        ("", "a"),
    ],
)
def test_one_cookie_is_what_the_dict_says(srv, header, names):
    """req.cookie(name) reads one cookie from the request's bytes (a session's, a typed
    Cookie() parameter's) by the same rules as req.cookies, before and after the dict."""
    r = get(srv, f"/cookie-each?names={names}", header)
    assert r.status == 200, r.body
    seen = r.json()
    want = {repr(n): seen["cookies"].get(repr(n)) for n in [*names.split(","), "missing"]}
    assert seen["before"] == want and seen["after"] == want, seen
    assert any(v is not None for v in want.values()) or header == "", seen


def test_one_cookie_whose_name_is_not_utf8(srv):
    """A name sent as bytes that are not UTF-8 is decoded with surrogates (as the dict's
    keys are); asked for by that name, req.cookie finds it too."""
    r = request(srv, b"GET /cookie-each?surrogate=1 HTTP/1.1\r\nHost: test\r\nCookie: \xff=1; b=2\r\n\r\n")
    assert r.status == 200, r.body
    seen = r.json()
    assert seen["cookies"] == {"'\\udcff'": "1", "'b'": "2"}, seen
    assert seen["before"]["'\\udcff'"] == "1" and seen["after"]["'\\udcff'"] == "1", seen


def test_one_cookie_needs_a_str_name(srv):
    r = get(srv, "/cookie-bad-name", "Cookie: a=1\r\n")
    assert r.status == 200 and r.json() == {"error": "cookie() takes a cookie name (str), not int"}, r.body


def test_set_cookie_defaults_and_options(srv):
    r = get(srv, "/set-cookie")
    assert r.status == 200 and r.json() == {"ok": True}
    assert set_cookies(r) == [
        "sid=abc123; Path=/; HttpOnly; SameSite=Lax",
        "pref=dark; Max-Age=3600; Path=/app; SameSite=Strict",
        "cross=1; Path=/; Secure; HttpOnly; SameSite=None; Partitioned",
        "old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax",
    ]


def test_secure_when_the_request_was_https(srv):
    r = get(srv, "/set-cookie", "X-Forwarded-Proto: https\r\n")
    assert set_cookies(r)[0] == "sid=abc123; Path=/; Secure; HttpOnly; SameSite=Lax"
    r = get(srv, "/req-cookie", "X-Forwarded-Proto: https\r\n")
    assert set_cookies(r)[0] == "a=1; Path=/; Secure; HttpOnly; SameSite=Lax"
    assert get(srv, "/info", "X-Forwarded-Proto: https\r\n").json()["scheme"] == "https"


def test_untrusted_proxy_header_does_not_make_it_secure():
    s = ServerProcess(APP, "--threads", "1", "--proxy-headers", "--forwarded-allow-ips", "10.0.0.1")  # 127.0.0.1 is not trusted
    try:
        r = get(s, "/set-cookie", "X-Forwarded-Proto: https\r\n")
        assert set_cookies(r)[0] == "sid=abc123; Path=/; HttpOnly; SameSite=Lax"
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize(
    "path, status, cookies, extra",
    [
        ("/req-cookie", 200, ["a=1; Path=/; HttpOnly; SameSite=Lax",
                              "gone=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/x; HttpOnly; SameSite=Lax"],
         None),
        ("/req-cookie-tuple", 201, ["t=3; Path=/; HttpOnly; SameSite=Lax"], ("X-Extra", "yes")),
        ("/async-cookie", 200, ["as=ync; Path=/; HttpOnly; SameSite=Lax"], None),
        ("/req-cookie-constant", 200, ["c=2; Path=/; HttpOnly; SameSite=Lax"], None),
        ("/file-cookie", 200, ["f=1; Path=/; HttpOnly; SameSite=Lax"], ("Content-Type", "text/plain")),
    ],
)
def test_cookies_set_on_the_request(srv, path, status, cookies, extra):
    r = get(srv, path)
    assert r.status == status, r
    assert set_cookies(r) == cookies
    if extra is not None:
        assert r.header(extra[0]) == extra[1]


def test_a_shared_response_object_is_not_modified(srv):
    assert get(srv, "/req-cookie-constant").status == 200
    r = get(srv, "/constant")
    assert set_cookies(r) == [] and r.body == b"constant"


CAUSES = {
    "semicolon": "value contains ';'",
    "crlf": "value contains CR",
    "lf": "value contains LF",
    "space": "value contains a space",
    "comma": "value contains ','",
    "name_eq": "invalid character '=' in cookie name",
    "name_space": "invalid character ' ' in cookie name",
    "name_semicolon": "invalid character ';' in cookie name",
    "name_empty": "cookie name must be a non-empty str",
    "name_crlf": "invalid character '\\r' in cookie name",
    "path_semicolon": "path contains ';'",
    "path_crlf": "path contains CR/LF",
    "domain_semicolon": "domain contains ';'",
    "samesite_none_insecure": "samesite='none' requires secure=True",
    "samesite_bogus": "samesite must be 'lax', 'strict', 'none' or None",
    "host_prefix_domain": "__Host- prefix requires Secure, path='/' and no domain",
    "secure_prefix_insecure": "__Secure- prefix requires Secure",
    "expires_crlf": "expires contains CR/LF",
}


@pytest.mark.parametrize("kind", sorted(CAUSES))
def test_cookie_injection_is_refused(srv, kind):
    r = get(srv, f"/bad-cookie/{kind}")
    assert r.status == 400, r
    assert r.json()["type"] == "ValueError"
    assert CAUSES[kind] in r.json()["error"], r.json()
    assert set_cookies(r) == []


# ---- one definition of the cookie options ----


@pytest.mark.parametrize("how, status, message", [
    ("set-typo", 400, "cookie 'a': unknown option 'max_agee'; did you mean 'max_age'?"),
    ("set-unknown", 400, "cookie 'a': unknown option 'colour' (options: domain, expires, httponly, max_age,"),
    ("delete-max-age", 400, "cookie 'a': unknown option 'max_age' (options: domain, httponly, path, samesite, secure)"),
    ("valid", 200, None),
])
def test_request_cookie_options_are_checked(srv, how, status, message):
    r = get(srv, f"/cookie-option/{how}")
    assert r.status == status, r
    if message is not None:
        assert message in r.json()["error"], r.json()
        assert set_cookies(r) == []
    else:
        assert set_cookies(r) == ["a=1; Max-Age=5; Path=/p; HttpOnly; SameSite=Strict"]


def test_one_definition_of_the_cookie_options():
    import inspect

    from ringbolt import _native, _reqresp
    from ringbolt.serving import asgi_app as _asgi_app
    from ringbolt.cookies import COOKIE_DEFAULTS, Cookie, CookieOptions, DeleteCookieOptions, deletion

    assert set(COOKIE_DEFAULTS) == set(CookieOptions.__annotations__)
    assert set(DeleteCookieOptions.__annotations__) < set(CookieOptions.__annotations__)
    # Every spelling takes **options typed by the one TypedDict (no second list of keywords).
    for fn in (Cookie.__init__, Response.set_cookie, _reqresp.request_set_cookie, _asgi_app.ASGIRequest.set_cookie):
        params = inspect.signature(fn).parameters
        assert str(params["options"].annotation) == "Unpack[CookieOptions]", fn
        assert not set(params) & set(COOKIE_DEFAULTS), fn
    for fn in (deletion, Response.delete_cookie, _reqresp.request_delete_cookie, _asgi_app.ASGIRequest.delete_cookie):
        assert str(inspect.signature(fn).parameters["options"].annotation) == "Unpack[DeleteCookieOptions]", fn
    assert "set_cookie" in dir(_native.Request)


def test_response_cookie_options_are_checked():
    r = Response("x")
    with pytest.raises(TypeError, match="unknown option 'max_agee'; did you mean 'max_age'"):
        r.set_cookie("a", "1", max_agee=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unknown option 'partitioned'"):
        r.delete_cookie("a", partitioned=True)  # type: ignore[call-arg]
    r.set_cookie("b", "2", secure=True, samesite="none", partitioned=True, expires=0)
    r.delete_cookie("c", path="/x", domain="example.com")
    lines = [c.render(False) for c in r._cookies]
    assert lines[0].startswith("b=2; Expires=") and lines[0].endswith("; Secure; HttpOnly; SameSite=None; Partitioned")
    assert lines[1] == "c=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=example.com; Path=/x; HttpOnly; " \
                       "SameSite=Lax"
