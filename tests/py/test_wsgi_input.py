"""ringbolt._native.WSGIInput (pymod/native/wsgi/wsgi_input.cpp), wsgi.input for a body in
memory: every reading method checked against io.BytesIO over the same bytes, one table of
call sequences, results and exceptions compared step by step."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ringbolt import _native

import ringbolt.wsgi  # noqa: F401  (registers WSGIInput as an io.BufferedIOBase)

BODIES = [b"", b"x", b"line one\nline two\nend", b"a\nb\nc\n", b"\n\n\n", b"no newline at all", bytes(range(256)) * 3]

# Each case: a list of (method, args) applied in order to both objects.
CASES: list[list[tuple[str, tuple[Any, ...]]]] = [
    [("read", ())],
    [("read", (-1,))],
    [("read", (None,))],
    [("read", (0,)), ("read", ())],
    [("read", (1,)), ("read", (2,)), ("read", (100,)), ("read", (1,))],
    [("read1", (3,)), ("read1", ())],
    [("readline", ()), ("readline", ()), ("readline", ()), ("readline", ()), ("readline", ())],
    [("readline", (0,)), ("readline", (3,)), ("readline", (None,)), ("readline", (-1,))],
    [("readline", (5,)), ("readline", (5,)), ("readline", (5,)), ("readline", (5,))],
    [("readlines", ())],
    [("readlines", (None,))],
    [("readlines", (1,)), ("readlines", (1,)), ("readlines", ())],
    [("readlines", (10,)), ("read", ())],
    [("readlines", (0,))],
    [("read", (4,)), ("readlines", (-5,))],
    [("tell", ()), ("read", (3,)), ("tell", ()), ("seek", (0,)), ("read", ()), ("tell", ())],
    [("seek", (2,)), ("readline", ()), ("seek", (-1, 1)), ("read", (2,))],
    [("seek", (-3, 2)), ("read", ()), ("seek", (-100, 2)), ("tell", ())],
    [("seek", (1000,)), ("read", ()), ("readline", ()), ("readlines", ()), ("tell", ())],
    [("seek", (-1,))],
    [("seek", (0, 3))],
    [("read", ("1",))],
    [("readline", (1.5,))],
    [("read", (1, 2))],
    [("readable", ()), ("seekable", ()), ("isatty", ()), ("flush", ())],
    [("getvalue", ()), ("read", (2,)), ("getvalue", ())],
    [("close", ()), ("read", ())],
    [("close", ()), ("readline", ())],
    [("close", ()), ("readlines", ())],
    [("close", ()), ("tell", ())],
    [("close", ()), ("seek", (0,))],
    [("close", ()), ("readable", ())],
    [("close", ()), ("close", ()), ("getvalue", ())],
    [("fileno", ())],
]


def run(obj: Any, steps: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
    """What each step returned, or the type of what it raised."""
    out: list[Any] = []
    for name, args in steps:
        try:
            out.append(getattr(obj, name)(*args))
        except Exception as exc:  # noqa: BLE001 - compared between the two objects
            out.append(type(exc))
    return out


@pytest.mark.parametrize("body", BODIES, ids=lambda b: f"{len(b)}B")
@pytest.mark.parametrize("steps", CASES, ids=lambda s: "-".join(n for n, _ in s))
def test_reads_as_bytesio_does(body, steps):
    assert run(_native.WSGIInput(body), steps) == run(io.BytesIO(body), steps)


@pytest.mark.parametrize("body", BODIES, ids=lambda b: f"{len(b)}B")
def test_iteration_and_readinto(body):
    assert list(_native.WSGIInput(body)) == list(io.BytesIO(body))
    for size in (0, 1, 5, 1000):
        ours, theirs = _native.WSGIInput(body), io.BytesIO(body)
        while True:
            a, b = bytearray(size), bytearray(size)
            n = ours.readinto(a)
            assert n == theirs.readinto(b) and a == b
            if n == 0:
                break
    ours = _native.WSGIInput(body)
    assert ours.readinto1(memoryview(bytearray(3))) == min(3, len(body))
    with pytest.raises(TypeError):
        ours.readinto(b"read-only")


def test_whole_body_read_is_the_body_itself():
    body = b"shared, not copied"
    assert _native.WSGIInput(body).read() is body
    assert _native.WSGIInput(body).read(len(body)) is body


def test_closed_and_context_manager():
    inp = _native.WSGIInput(b"abc")
    assert inp.closed is False
    with inp as entered:
        assert entered is inp and inp.read(1) == b"a"
    assert inp.closed is True
    with pytest.raises(ValueError, match="closed file"):
        iter(inp)
    with pytest.raises(ValueError):
        next(inp)


def test_is_an_io_reader_and_read_only():
    inp = _native.WSGIInput(b"abc")
    assert isinstance(inp, io.BufferedIOBase) and isinstance(inp, io.IOBase)
    assert inp.writable() is False  # where it differs from io.BytesIO: PEP 3333's input is read-only
    with pytest.raises(io.UnsupportedOperation):
        inp.write(b"x")
    with pytest.raises(io.UnsupportedOperation):
        inp.fileno()
    with pytest.raises(AttributeError):
        inp.anything = 1  # no __dict__


def test_recycled_inputs_start_fresh():
    # Inputs are recycled natively (a free list): one closed or read to the end, once
    # dropped, must not leave its state to the next one.
    for i in range(12):
        inp = _native.WSGIInput(b"body %d" % i)
        assert (inp.closed, inp.tell(), inp.read()) == (False, 0, b"body %d" % i)
        if i % 2:
            inp.close()
        del inp


def test_constructor():
    assert _native.WSGIInput().read() == b""
    assert _native.WSGIInput(bytearray(b"ab")).read() == b"ab"  # a copy of any bytes-like
    assert _native.WSGIInput(body=b"kw").read() == b"kw"
    with pytest.raises(TypeError):
        _native.WSGIInput("text")
