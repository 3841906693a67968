"""Opaque tokens, their stored digests and keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from lethe_common import tokens

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

URLSAFE_43 = re.compile(r"^[A-Za-z0-9_-]{43}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_new_token_is_43_urlsafe_characters() -> None:
    for _ in range(200):
        token = tokens.new_token()
        assert len(token) == 43
        assert URLSAFE_43.match(token), token
        assert "=" not in token


def test_new_tokens_do_not_repeat() -> None:
    issued = [tokens.new_token() for _ in range(2000)]
    assert len(set(issued)) == len(issued)


def test_digest_is_the_sha256_hex_of_the_token() -> None:
    assert tokens.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    token = tokens.new_token()
    stored = tokens.digest(token)
    assert HEX64.match(stored)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored


def test_digest_is_deterministic_and_tells_tokens_apart() -> None:
    token = tokens.new_token()
    assert tokens.digest(token) == tokens.digest(token)
    assert tokens.digest(token) != tokens.digest(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert tokens.digest(tokens.new_token()) != tokens.digest(tokens.new_token())


def test_looks_like_token_accepts_what_new_token_issues() -> None:
    assert all(tokens.looks_like_token(tokens.new_token()) for _ in range(200))
    assert tokens.looks_like_token("A" * 43) is True
    assert tokens.looks_like_token("-_" * 21 + "x") is True


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A" * 42,
        "A" * 44,
        "A" * 42 + "=",
        "A" * 42 + "+",
        "A" * 42 + "/",
        "A" * 42 + ".",
        "A" * 21 + " " + "A" * 21,
        "A" * 42 + "\u00e9",
        " " + "A" * 43,
        "A" * 43 + " ",
        "A" * 43 + "\n",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  # a digest, not a token
    ],
)
def test_looks_like_token_refuses_other_shapes(value: str) -> None:
    assert tokens.looks_like_token(value) is False


def test_keyed_is_hmac_sha256_of_purpose_and_value_under_the_pepper() -> None:
    expected = hmac.new(b"pepper", b"login\x00jane@example.com", hashlib.sha256).hexdigest()
    assert tokens.keyed("pepper", "login", "jane@example.com") == expected
    assert HEX64.match(expected)


def test_keyed_is_deterministic() -> None:
    assert tokens.keyed("pepper", "client", "192.0.2.1") == tokens.keyed("pepper", "client", "192.0.2.1")


def test_keyed_depends_on_pepper_purpose_and_value() -> None:
    base = tokens.keyed("pepper", "client", "192.0.2.1")
    assert tokens.keyed("other pepper", "client", "192.0.2.1") != base
    assert tokens.keyed("pepper", "login", "192.0.2.1") != base
    assert tokens.keyed("pepper", "client", "192.0.2.2") != base
    # Without the pepper the value is not a plain hash anyone could recompute.
    assert base != hashlib.sha256(b"client:192.0.2.1").hexdigest()
    assert "192.0.2.1" not in base


def test_new_id_is_prefix_and_32_hex_digits_and_unique() -> None:
    made = {tokens.new_id("acc") for _ in range(500)}
    assert len(made) == 500
    assert all(re.fullmatch(r"acc_[0-9a-f]{32}", value) for value in made)


def test_ordered_ids_sort_as_created_and_look_like_every_other_id() -> None:
    ids = [tokens.new_ordered_id("cr") for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
    assert all(re.fullmatch(r"cr_[0-9a-f]{32}", i) for i in ids)
