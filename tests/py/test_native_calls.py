"""The native module's calls off a request's path (pymod/native/py_call.hpp: the Server's
configuration, forms, TLS checks, listeners): arguments matched by position and keyword
as Python matches them, and a wrong one refused with an exception naming it, never a
crash or a silent default. What a configured server then serves is the rest of the suite's."""

from __future__ import annotations

import os
import socket

import pytest

from ringbolt import _native


def handler(req: object) -> str:
    return "ok"


def test_server_takes_one_dict_and_names_a_bad_option() -> None:
    with pytest.raises(TypeError, match=r"Server\(config\) takes one dict"):
        _native.Server(5)
    with pytest.raises(TypeError, match=r"Server\(config\) takes one dict"):
        _native.Server({}, {})
    with pytest.raises(ValueError, match=r"port must be 0\.\.65535, not 70000"):
        _native.Server({"port": 70000})
    with pytest.raises(TypeError, match="threads has the wrong type: float 1.5"):
        _native.Server({"threads": 1.5})


def test_an_uninitialised_server_says_so() -> None:
    server = _native.Server.__new__(_native.Server)
    with pytest.raises(RuntimeError, match=r"Server.__init__ was not called"):
        server.stats()


def test_add_route_matches_arguments_as_python_does() -> None:
    server = _native.Server({})
    assert server.add_route("/a", ["GET"], handler) == 0
    assert server.add_route(pattern="/b", methods=("GET", "POST"), handler=handler, is_coroutine=False) == 1
    assert server.add_route("/c", ["GET"], handler, websocket=False) == 2
    with pytest.raises(TypeError, match=r"add_route\(\) missing required argument 'handler'"):
        server.add_route("/d", ["GET"])
    with pytest.raises(TypeError, match=r"add_route\(\) got an unexpected keyword argument 'async_'"):
        server.add_route("/d", ["GET"], handler, async_=True)
    with pytest.raises(TypeError, match=r"add_route\(\) got multiple values for argument 'pattern'"):
        server.add_route("/d", ["GET"], handler, pattern="/e")
    with pytest.raises(TypeError, match=r"argument 'methods' has the wrong type: str 'GET'"):
        server.add_route("/d", "GET", handler)  # a str is not a list of methods
    with pytest.raises(ValueError, match="CONNECT cannot be routed"):
        server.add_route("/d", ["CONNECT"], handler)
    assert server.port == 0 and server.tls is False
    assert server.stats() == [] and server.request_limit_reached() is None


def test_a_rate_limit_out_of_range_is_refused_by_name() -> None:
    server = _native.Server({})
    assert server.add_rate_limit(5, 60_000, "sliding_window", "client", "", True, 1024) == 0
    with pytest.raises(ValueError, match="argument 'limit' is out of range: -1"):
        server.add_rate_limit(-1, 60_000, "sliding_window", "client", "", True, 1024)
    with pytest.raises(ValueError, match="a rate limit's algorithm is"):
        server.add_rate_limit(5, 60_000, "leaky", "client", "", True, 1024)
    assert server.add_rate_limit(5, 60_000, "sliding_window", "client", "", True, 1024, ipv6_prefix=48) == 1
    for prefix in (15, 129):
        with pytest.raises(ValueError, match=f"a rate limit's ipv6_prefix is 16 to 128 bits, not {prefix}"):
            server.add_rate_limit(5, 60_000, "sliding_window", "client", "", True, 1024, ipv6_prefix=prefix)


def test_forms_parse_and_refuse_by_name() -> None:
    assert _native.parse_urlencoded(b"a=1&b=%C3%A9+x", 10, 100) == [("a", "1"), ("b", "\u00e9 x")]
    assert _native.parse_urlencoded(data=b"k=v", max_fields=1, max_name_length=10) == [("k", "v")]
    with pytest.raises(TypeError, match="argument 'data' has the wrong type: str"):
        _native.parse_urlencoded("a=1", 10, 100)
    with pytest.raises(_native.MultipartError) as refused:
        _native.parse_urlencoded(b"a=1&b=2", 1, 100)
    assert refused.value.args == (413, "form with more than 1 fields (max_fields)")
    assert _native.multipart_boundary("multipart/form-data; boundary=xyz") == "xyz"
    with pytest.raises(ValueError, match="argument 'max_parts' is out of range: -1"):
        _native.MultipartParser("xyz", -1, 1 << 20, 1 << 20, 100, 8192, 1 << 20, "/tmp")
    with pytest.raises(TypeError, match=r"MultipartParser\(\) takes 8 arguments \(1 given\)"):
        _native.MultipartParser("xyz")


def test_a_multipart_body_in_pieces_gives_its_parts() -> None:
    parser = _native.MultipartParser("xyz", 10, 1 << 20, 1 << 20, 100, 8192, 1 << 20, "/tmp")
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n"
            b"--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"n.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nfile body\r\n--xyz--\r\n")
    for i in range(0, len(body), 7):
        parser.feed(body[i:i + 7])
    parts = parser.finish()
    assert [(p[0], p[1], p[2], p[4], p[5], p[7]) for p in parts] == [
        ("a", None, None, b"hello", -1, 5), ("f", "n.txt", "text/plain", b"file body", -1, 9)]
    with pytest.raises(TypeError, match=r"feed\(data\) takes bytes"):
        parser.feed("text")
    parser.close()


def test_tls_and_listener_calls_refuse_what_they_cannot_use() -> None:
    assert _native.tls_check({}) is False
    with pytest.raises(TypeError, match=r"tls_check\(config\) takes a dict"):
        _native.tls_check([])
    with pytest.raises(ValueError, match="TLS options need --ssl-certfile and --ssl-keyfile"):
        _native.tls_check({"ssl_ciphers": "HIGH"})
    assert isinstance(_native.ktls_unavailable_reason(), str)
    assert all(isinstance(c, str) for c in _native.ktls_ciphers())
    with pytest.raises(OSError) as not_listening:
        with socket.socket() as s:
            _native.refuse_new_connections(s.fileno())
    assert "not a listening stream socket" in str(not_listening.value)
    fds = _native.bind_listeners("127.0.0.1", 0, 1, 16)
    try:
        assert len(fds) == 1
        with socket.socket(fileno=os.dup(fds[0])) as listener:
            assert listener.getsockname()[0] == "127.0.0.1"
    finally:
        for fd in fds:
            os.close(fd)
    with pytest.raises(TypeError, match=r"bind_listeners\(\) missing required argument 'backlog'"):
        _native.bind_listeners("127.0.0.1", 0, 1)


def test_json_loads_takes_str_or_bytes() -> None:
    assert _native.json_loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    assert _native.json_loads('{"\u00e9": null}') == {"\u00e9": None}
    with pytest.raises(TypeError, match=r"json_loads\(data\) takes str or bytes, not int"):
        _native.json_loads(5)
