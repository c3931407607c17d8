"""Every point of the Python API, checked over a real socket."""

from __future__ import annotations

import json

import pytest

from conftest import Reader, get, request


def test_dict_is_json(server):
    r = get(server, "/")
    assert r.status == 200
    assert r.header("content-type") == "application/json"
    assert r.json() == {"message": "Hello, World!"}
    assert r.header("server") == "ringbolt"
    assert r.header("date").endswith(" GMT") and len(r.header("date")) == 29
    assert int(r.header("content-length")) == len(r.body)


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/users/42", {"id": 42, "type": "int"}),
        ("/users/-7", {"id": -7, "type": "int"}),
        ("/users/9223372036854775807", {"id": 9223372036854775807, "type": "int"}),
        ("/files/report.pdf/v/3", {"name": "report.pdf", "ver": 3}),
        ("/files/a%20b/v/1", {"name": "a b", "ver": 1}),
        ("/files/a%2Fb/v/1", {"name": "a/b", "ver": 1}),
    ],
)
def test_typed_params(server, path, expected):
    r = get(server, path)
    assert r.status == 200, r
    assert r.json() == expected


@pytest.mark.parametrize("path", ["/users/abc", "/users/", "/users/1.5", "/users/99999999999999999999", "/files/x/v/y"])
def test_param_type_mismatch_is_404(server, path):
    assert get(server, path).status == 404


def test_request_attributes(server):
    body = b"0123456789"
    raw = (
        b"POST /insp%65ct?a=1&b=two%20words&a=3&flag&e=%zz HTTP/1.1\r\n"
        b"Host: test\r\nX-Test: hello\r\nX-Multi: one\r\nx-multi: two\r\n"
        b"Content-Length: 10\r\n\r\n" + body
    )
    r = request(server, raw)
    assert r.status == 200, r
    d = r.json()
    assert d["method"] == "POST"
    assert d["path"] == "/inspect"
    assert d["raw_path"] == "/insp%65ct"
    assert d["query_string"] == "a=1&b=two%20words&a=3&flag&e=%zz"
    assert d["query"] == {"a": "1", "b": "two words", "flag": "", "e": "%zz"}
    assert d["query_all"]["a"] == ["1", "3"]
    assert d["x_test"] == "hello"
    assert d["x_multi"] == ["one", "two"]
    assert d["has_host"] is True
    assert ["x-test", "hello"] in d["headers"]
    assert d["client"][0] == "127.0.0.1" and isinstance(d["client"][1], int)
    assert d["http_version"] == "1.1"
    assert d["body_len"] == 10


def test_unicode_route_and_path(server):
    r = get(server, "/caf%C3%A9/x%C3%BF")
    assert r.status == 200, r
    assert r.json() == {"path": "/caf\u00e9/x\u00ff", "name": "x\u00ff"}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_echo_methods(server, method):
    body = b"payload-\x00\xff"
    r = request(server, f"{method} /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    assert r.status == 200
    assert r.body == body
    assert r.header("x-method") == method
    assert r.header("content-type") == "application/octet-stream"


def test_json_body(server):
    payload = {"a": [1, 2.5, "x", None, True], "b": {"c": "\u00e9\u4e2d"}, "big": 2**70}
    data = json.dumps(payload).encode()
    r = request(server, b"POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
    assert r.status == 200, r
    assert r.json() == {"received": payload}


@pytest.mark.parametrize("data", [b"{bad", b"", b"[1,2", b'{"a": nan}', b"\xff\xfe"])
def test_invalid_json_is_400(server, data):
    r = request(server, b"POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
    assert r.status == 400, r
    assert r.header("content-type") == "application/problem+json"
    assert "Invalid JSON" in r.json()["detail"] or "no body" in r.json()["detail"]


@pytest.mark.parametrize(
    "path, status, ctype, body",
    [
        ("/text", 200, "text/plain; charset=utf-8", "h\u00e9llo".encode()),
        ("/bytes", 200, "application/octet-stream", b"\x00\x01binary"),
        ("/text-subclass", 200, "text/plain; charset=utf-8", "sub\u00e9".encode()),
        ("/bytes-subclass", 200, "application/octet-stream", b"\x00sub"),
        ("/response-status", 418, "text/plain; charset=utf-8", b"teapot"),
        ("/const", 200, "application/json", b'{"const":true}'),
    ],
)
def test_return_types(server, path, status, ctype, body):
    r = get(server, path)
    assert (r.status, r.header("content-type"), r.body) == (status, ctype, body)


def test_list_is_json(server):
    assert get(server, "/list").json() == [1, 2.5, "three", None, True, {"nested": [False]}]


def test_none_is_204_without_body(server):
    with server.connect() as s:
        from conftest import Reader

        s.sendall(b"GET /none HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = Reader(s)
        r = rd.read()
        assert r.status == 204
        assert r.header("content-length") is None and r.header("content-type") is None
        assert rd.read().json() == {"message": "Hello, World!"}  # framing intact after a 204


def test_tuple_and_response_json(server):
    r = get(server, "/tuple")
    assert (r.status, r.header("location"), r.json()) == (201, "/things/1", {"created": True})
    r = get(server, "/response-json")
    assert (r.status, r.header("x-custom"), r.json()) == (202, "yes", {"ok": True})


def test_http_error(server):
    r = get(server, "/http-error")
    assert r.status == 409
    assert r.header("x-reason") == "dup"
    assert r.header("content-type") == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "already exists"}


@pytest.mark.parametrize("path", ["/boom", "/bad-header", "/bad-header-raw", "/unserializable", "/nan", "/bad-return"])
def test_handler_errors_are_500_and_server_keeps_serving(server, path):
    r = get(server, path)
    assert r.status == 500, r
    assert b"Injected" not in r.body and r.header("injected") is None
    assert get(server, "/").status == 200


@pytest.mark.parametrize("path", ["/bad-header-raw", "/unserializable", "/nan"])
def test_a_result_that_fails_part_way_leaves_nothing_in_the_500(server, path):
    """A body converted before the conversion fails ("x" before a bad header, a JSON
    object cut at a value it cannot write) goes nowhere: the 500 is the one a handler's
    exception gets, byte for byte, and the next answer is its own."""
    boom = get(server, "/boom")
    r = get(server, path)
    assert r.status == 500, r
    assert r.body == boom.body
    assert r.header("content-length") == str(len(boom.body))
    assert r.header("content-type") == boom.header("content-type")
    ok = get(server, "/")
    assert ok.status == 200 and ok.body == get(server, "/").body


def test_kept_request_stays_valid(server):
    for i in range(3):
        r = get(server, f"/keep?i={i}")
        assert r.status == 200
    d = r.json()
    assert d["first_path"] == "/keep" and d["first_query"] == {"i": "0"}


def test_async_handler(server):
    assert get(server, "/async?x=1").json() == {"async": True, "path": "/async"}


def test_head_has_no_body(server):
    r = request(server, b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", head_request=True)
    assert r.status == 200
    assert r.header("content-length") == "27"
    assert r.body == b""


def test_large_response(server):
    r = get(server, "/big")
    assert r.status == 200 and r.body == b"x" * (1 << 20)


def test_large_json_answers_pipelined_among_small_ones(server):
    # A JSON answer of 64 KiB or more moves into the connection's queue instead of being
    # copied there (http1_response.cpp, move_body_from); smaller ones are copied. Both
    # kinds, pipelined between small answers on one connection, come back whole, in order.
    sizes = [2000, 0, 20000, 60000, 0, 2000, 20000]  # 0: a small answer
    paths = [f"/big-json/{n}" if n else "/async?x=1" for n in sizes]
    with server.connect() as s:
        s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for p in paths))
        reader = Reader(s)
        answers = [reader.read() for _ in paths]
    for n, r in zip(sizes, answers):
        assert r.status == 200, r
        if n:
            assert r.json() == {"n": n, "items": [f"item-{i}" for i in range(n)]}
        else:
            assert r.json() == {"async": True, "path": "/async"}
    assert len(answers[3].body) > 64 * 1024 > len(answers[0].body)  # both sides of the line


def test_str_results_of_every_length_are_sent_whole():
    # A str result is copied into the response's body: short ones (into the string's own
    # room), long ones, empty, non-ASCII (UTF-8), one after another on one connection, and
    # the same text as a Response body and as a (body, status) tuple.
    from ringbolt import App, Response
    from ringbolt.testing import TestClient

    app = App()

    @app.get("/s/{n:int}")
    def text(req):
        n = req.params["n"]
        return ("é" * (n % 3) + "x" * n)[:n] if n % 2 else "y" * n

    @app.get("/r/{n:int}")
    def response(req):
        return Response("z" * req.params["n"])

    @app.get("/t/{n:int}")
    def pair(req):
        return ("w" * req.params["n"], 201)

    def expected(n):
        return ("é" * (n % 3) + "x" * n)[:n] if n % 2 else "y" * n

    lengths = [0, 1, 2, 15, 16, 17, 3, 100, 0, 5000, 14, 31, 2, 70000, 1]
    with TestClient(app) as c:
        for n in lengths:
            r = c.get(f"/s/{n}")
            assert r.status_code == 200, r.text
            assert r.text == expected(n), n
            assert r.headers["content-length"] == str(len(expected(n).encode())), n
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
            r = c.get(f"/r/{n}")
            assert (r.status_code, r.text) == (200, "z" * n), n
            r = c.get(f"/t/{n}")
            assert (r.status_code, r.text) == (201, "w" * n), n
