"""req.form() for application/x-www-form-urlencoded (and the form API in general): sync
and async handlers, repeated keys, bad percent-encoding, wrong content types, limits."""

from __future__ import annotations

import pytest

from conftest import ServerProcess, get
from reqresp_helpers import APP, multipart, post

URLENC = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def srv():
    s = ServerProcess(APP, "--threads", "2")
    yield s
    assert s.stop() == 0, s.output()


@pytest.mark.parametrize("path", ["/form", "/aform"])
@pytest.mark.parametrize(
    "body, fields",
    [
        (b"a=1&b=2", [["a", "1"], ["b", "2"]]),
        (b"a=1&a=2&a=3", [["a", "1"], ["a", "2"], ["a", "3"]]),
        (b"q=hello+world&x=%41%42&e=", [["q", "hello world"], ["x", "AB"], ["e", ""]]),
        (b"flag&&z=%E2%82%AC", [["flag", ""], ["z", "\u20ac"]]),
        (b"", []),
        (b"k%3Dv=a%26b", [["k=v", "a&b"]]),
    ],
)
def test_urlencoded(srv, path, body, fields):
    r = post(srv, path, body, URLENC)
    assert r.status == 200, r
    assert r.json()["fields"] == fields


@pytest.mark.parametrize(
    "body, cause",
    [
        (b"a=%zz", "invalid percent-encoding in form field 1"),
        (b"ok=1&b=%4", "invalid percent-encoding in form field 2"),
        (b"%=x", "invalid percent-encoding"),
        (b"a=%FF%FE", "not valid UTF-8"),
    ],
)
def test_urlencoded_bad_input_is_400(srv, body, cause):
    for path in ("/form", "/aform"):
        r = post(srv, path, body, URLENC)
        assert r.status == 400, r
        assert cause in r.json()["detail"]
    assert get(srv, "/plain").status == 200  # the server keeps serving


def test_urlencoded_limits(srv):
    r = post(srv, "/form?max_parts=3", b"a=1&b=2&c=3&d=4", URLENC)
    assert r.status == 413 and "more than 3 fields" in r.json()["detail"]
    r = post(srv, "/form?max_field_name_length=4", b"abcde=1", URLENC)
    assert r.status == 400 and "longer than 4 bytes" in r.json()["detail"]
    assert post(srv, "/form?max_parts=4", b"a=1&b=2&c=3&d=4", URLENC).status == 200


@pytest.mark.parametrize(
    "ctype, status, cause",
    [
        ("application/json", 415, "application/x-www-form-urlencoded or multipart/form-data"),
        ("text/plain", 415, "not 'text/plain'"),
        ("multipart/form-data", 400, "without a boundary"),
        ("multipart/form-data; boundary=", 400, "without a boundary"),
        ('multipart/form-data; boundary="semi;colon"', 400, "valid boundary"),
        ('multipart/form-data; boundary="ends with space "', 400, "valid boundary"),
        ("multipart/form-data; boundary=" + "x" * 71, 400, "valid boundary"),
    ],
)
def test_wrong_content_type(srv, ctype, status, cause):
    r = post(srv, "/form", b"a=1", ctype)
    assert r.status == status, r
    assert cause in r.json()["detail"]


def test_no_content_type(srv):
    raw = b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\na=1"
    from conftest import request

    r = request(srv, raw)
    assert r.status == 415 and "none was sent" in r.json()["detail"]


def test_charset_parameter_and_case(srv):
    r = post(srv, "/form", b"a=1", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")
    assert r.status == 200 and r.json()["fields"] == [["a", "1"]]
