"""subject_key: HMAC-SHA256 of the normalised address under the pepper."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from lethe_common.subject import subject_key

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

PEPPER = "test-pepper-1"


def test_subject_key_is_64_lower_case_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", subject_key(PEPPER, "alice@example.com"))


def test_subject_key_ignores_case_and_surrounding_space() -> None:
    assert subject_key(PEPPER, " Alice@Example.COM ") == subject_key(PEPPER, "alice@example.com")


def test_subject_key_is_the_hmac_sha256_of_the_normalised_address() -> None:
    expected = hmac.new(PEPPER.encode(), b"alice@example.com", hashlib.sha256).hexdigest()
    assert subject_key(PEPPER, "ALICE@example.com") == expected


def test_subject_key_treats_composed_and_decomposed_unicode_alike() -> None:
    composed, decomposed = "jos\u00e9@example.com", "jose\u0301@example.com"
    assert subject_key(PEPPER, composed) == subject_key(PEPPER, decomposed)


def test_another_pepper_gives_another_key() -> None:
    assert subject_key(PEPPER, "alice@example.com") != subject_key("test-pepper-2", "alice@example.com")


def test_another_address_gives_another_key() -> None:
    assert subject_key(PEPPER, "alice@example.com") != subject_key(PEPPER, "bob@example.com")


def test_empty_pepper_is_refused() -> None:
    with pytest.raises(ValueError, match="pepper"):
        subject_key("", "alice@example.com")


@pytest.mark.parametrize("email", ["", "   "])
def test_empty_address_is_refused(email: str) -> None:
    with pytest.raises(ValueError, match="e-mail"):
        subject_key(PEPPER, email)
