"""ringbolt._native.ValueSigner (tls/signed_value.cpp), what sessions and CSRF sign with:
values the old Python signer wrote still open, each refusal has its code, and wrong
arguments raise a TypeError or IndexError naming the cause."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from ringbolt._native import ValueSigner
from ringbolt.sessions import Signer

KEY = b"k" * 32
DERIVED = hmac.new(KEY, b"ringbolt:session", hashlib.sha256).digest()
# Signer([KEY], b"session").sign(b'{"visits":3}', 1795843160) as the Python signer wrote it
PYTHON_VALUE = "eyJ2aXNpdHMiOjN9.1795843160.8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK4"


def test_a_value_the_python_signer_wrote_opens() -> None:
    v = ValueSigner([DERIVED])
    assert v.open(PYTHON_VALUE, None, 0) == (b'{"visits":3}', 1795843160, 0)
    assert v.sign(b'{"visits":3}', 1795843160) == PYTHON_VALUE
    assert Signer([KEY], b"session").unsign(PYTHON_VALUE, None, 0) == (b'{"visits":3}', 1795843160, 0)
    assert v.mac(0, b"x") == hmac.new(DERIVED, b"x", hashlib.sha256).digest()


def test_each_refusal_has_its_code() -> None:
    v = ValueSigner([b"n" * 32, DERIVED])
    assert v.open(PYTHON_VALUE, None, 0)[2] == 1  # verified by the second key
    assert v.open(PYTHON_VALUE, 10, 1795843160 + 11) == 3  # expired
    assert v.open(PYTHON_VALUE[:-1] + "A", None, 0) == 2  # tampered
    assert v.open("not.a-value", None, 0) == 1  # malformed
    assert v.open("é" + PYTHON_VALUE, None, 0) == 1  # not ASCII
    assert v.open_session(v.sign(b"[1, 2]", int(time.time())), None) == 4  # signed, not an object
    assert v.open_session(v.sign(b'{"a": [1]}', int(time.time())), 60) == ({"a": [1]}, 0)
    assert v.open_session(v.sign(b'{"a": 1}', int(time.time()) - 61), 60) == 3


@pytest.mark.parametrize("call, says", [
    (lambda v: v.open(b"bytes", None, 0), "value must be str"),
    (lambda v: v.open("x", "60", 0), "max_age must be int"),
    (lambda v: v.open("x", None), "takes 3 arguments"),
    (lambda v: v.open_session("x"), "takes 2 arguments"),
    (lambda v: v.sign("text", 0), "payload must be bytes"),
    (lambda v: v.mac(0, "text"), "data must be bytes"),
    (lambda v: ValueSigner(["text"]), "a key must be bytes"),
    (lambda v: ValueSigner(5), "list of keys"),
])
def test_wrong_arguments_say_what_is_wrong(call, says) -> None:
    with pytest.raises(TypeError, match=says):
        call(ValueSigner([DERIVED]))


def test_no_keys_and_a_key_out_of_range() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        ValueSigner([])
    with pytest.raises(IndexError, match="key 2: the signer has 1"):
        ValueSigner([DERIVED]).mac(2, b"x")
